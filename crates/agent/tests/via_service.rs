//! The agent through the session service (`--service`): the service holds the session key and
//! the agent acts with an app's API key over HTTP on loopback. The tools come from the
//! session the service holds; an in-scope payment lands and the budget drops; refusals carry
//! the validator's reason and what would pass instead, with nothing sent; after the agent
//! gives up its session, the service refuses it.

#[path = "../../service/tests/support/harness.rs"]
mod harness;

use alloy::primitives::U256;
use harness::scenario::*;
use harness::*;
use serde_json::{Map, Value, json};
use sessionkeys_agent::via_service::{ServiceRoute, ServiceRouteError};
use sessionkeys_agent::{Agent, AgentServer, Sent};
use sessionkeys_engine::explain::Labels;
use std::sync::Arc;

/// The service on a loopback port until the returned sender is dropped; its base URL.
async fn serve(h: &Harness) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = h.service.clone().router();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (url, stop)
}

fn labels() -> Labels {
    Labels::well_known().with_token(usdc(), "USDC", 6)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_acts_through_the_service_within_the_session_it_holds() {
    let h = harness();
    let (_, key) = h.app("agent");
    let (owner, account) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key, &owner).await;
    let (url, _stop) = serve(&h).await;

    let route = ServiceRoute::new(&url, key.clone(), id.clone()).unwrap();
    let agent = Arc::new(Agent::through_service(route, labels()).await.unwrap());
    assert_eq!(
        format!("{}", agent.session_hash()),
        requested["session"]["sessionHash"].as_str().unwrap()
    );
    assert_eq!(agent.account(), account);
    let names: Vec<&str> = agent
        .policy_tools()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["send_usdc"]);
    let server = AgentServer::new(agent.clone());

    let described = server.call("describe_session", &Map::new()).await.unwrap();
    assert_eq!(described["usable"], true, "{described}");
    assert_eq!(described["balances"], Value::Null, "the service tells none");
    assert!(
        described["actsThrough"]
            .as_str()
            .unwrap()
            .contains("service"),
        "{described}"
    );

    let pay = object(json!({"to": ALICE.to_checksum(None), "amount": "30"}));
    let done = server.call("send_usdc", &pay).await.unwrap();
    assert_eq!(done["done"], true, "{done}");
    assert_eq!(
        usdc_balance(h.backend.as_ref(), ALICE).await,
        U256::from(30 * USDC)
    );

    // One unit over what is left: refused with the validator's reason and what is left.
    let over = object(json!({"calls": [
        {"tool": "send_usdc", "arguments": {"to": BOB.to_checksum(None), "amount": "70.000001"}}
    ]}));
    for step in ["check", "execute"] {
        let refused = server.call(step, &over).await.unwrap_err();
        assert_eq!(refused.reason, "LimitExceeded", "{step}: {refused:?}");
        assert_eq!(refused.sent, Sent::No);
        assert_eq!(
            refused.instead.as_deref(),
            Some("at most 70 USDC left"),
            "{step}: {refused:?}"
        );
    }
    let within = object(json!({"calls": [
        {"tool": "send_usdc", "arguments": {"to": BOB.to_checksum(None), "amount": "70"}}
    ]}));
    assert_eq!(
        server.call("check", &within).await.unwrap()["wouldPass"],
        true
    );

    let history = server.call("history", &Map::new()).await.unwrap();
    let ops = history["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{history}");
    assert_eq!(ops[0]["userOpHash"], done["userOpHash"]);

    let revoked = server.call("revoke_session", &Map::new()).await.unwrap();
    assert_eq!(revoked["revoked"], true, "{revoked}");
    assert_eq!(revoked["revokedInService"], true, "{revoked}");
    let before = usdc_balance(h.backend.as_ref(), account).await;
    let after_revoke = server.call("send_usdc", &pay).await.unwrap_err();
    assert_eq!(after_revoke.reason, "SessionRevoked", "{after_revoke:?}");
    assert_eq!(after_revoke.sent, Sent::No);
    assert_eq!(usdc_balance(h.backend.as_ref(), account).await, before);
    let described = server.call("describe_session", &Map::new()).await.unwrap();
    assert_eq!(described["usable"], false, "{described}");
    let tools = server.tools().await;
    assert!(
        tools[0]
            .description
            .as_deref()
            .unwrap()
            .starts_with("UNAVAILABLE"),
        "{:?}",
        tools[0].description
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_app_key_or_another_apps_session_is_refused_without_echoing_the_key() {
    let h = harness();
    let (_, key) = h.app("agent");
    let (_, other_key) = h.app("other");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let (url, _stop) = serve(&h).await;

    let wrong = format!("{key}0");
    for (key, code) in [
        (wrong.clone(), "unauthorized"),
        (other_key.clone(), "not_found"),
    ] {
        let route = ServiceRoute::new(&url, key.clone(), id.clone()).unwrap();
        let error = Agent::through_service(route, labels()).await.unwrap_err();
        let ServiceRouteError::Refused { code: got, .. } = &error else {
            panic!("not a refusal: {error:?}");
        };
        assert_eq!(got, code);
        assert!(!error.to_string().contains(&key), "the key leaked: {error}");
    }
    // Nobody listens there: a clear error, not a panic.
    drop(_stop);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let route = ServiceRoute::new(&closed, key.clone(), id).unwrap();
    let error = Agent::through_service(route, labels()).await.unwrap_err();
    assert!(
        matches!(error, ServiceRouteError::Unreachable(_)),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(&key));
    assert!(matches!(
        ServiceRoute::new("ftp://x", key, "latest".into()),
        Err(ServiceRouteError::Url(_))
    ));
}

/// A loopback port nothing listens on (bound, then freed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
