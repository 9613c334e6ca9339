//! The activity log (every request with its verdict, reason, op and gas; per session, app and
//! account; paged), alerts on unusual use (a refusal burst, a budget past 80 %, a first
//! target, an attempt after revoke; owners' rules), their server-sent-event stream, and
//! webhooks signed with HMAC that retry until delivered.

#[path = "support/harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::scenario::*;
use harness::*;
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

fn kinds(list: &Value) -> Vec<String> {
    list["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let verdict = e["verdict"]
                .as_str()
                .map(|v| format!(":{v}"))
                .unwrap_or_default();
            format!("{}{verdict}", e["kind"].as_str().unwrap())
        })
        .collect()
}

fn rules_of(alerts: &Value) -> Vec<String> {
    let mut rules: Vec<String> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_string())
        .collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn the_activity_log_records_each_request_with_its_verdict_reason_op_and_gas() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (_, other_key) = h.app("other");
    let (owner, account) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let session = |step: &str| format!("/v1/sessions/{id}/{step}");
    h.call("POST", &session("check"), Some(&key), Some(calls(CAROL, 1)))
        .await;
    let (_, executed) = h
        .call(
            "POST",
            &session("execute"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    h.call(
        "POST",
        &session("execute"),
        Some(&key),
        Some(calls(ALICE, 200 * USDC)),
    )
    .await;
    h.call("POST", &session("revoke"), Some(&key), None).await;
    h.call(
        "POST",
        &session("execute"),
        Some(&key),
        Some(calls(ALICE, 1)),
    )
    .await;

    let (status, log) = h
        .call(
            "GET",
            &format!("/v1/activity?session={id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(
        kinds(&log),
        [
            "attempt_after_revoke:refused",
            "self_revoke:allowed",
            "revoked",
            "execute:refused",
            "execute:allowed",
            "enabled",
            "check:refused",
            "approved",
            "requested",
        ]
    );
    let entries = log["activity"].as_array().unwrap();
    let landed = &entries[4];
    assert_eq!(landed["userOpHash"], executed["userOpHash"]);
    assert_eq!(landed["transactionHash"], executed["transactionHash"]);
    assert_eq!(landed["gasUsed"], executed["actualGasUsed"]);
    assert_eq!(landed["targets"], json!([usdc()]));
    assert!(
        entries[3]["reason"]
            .as_str()
            .unwrap()
            .starts_with("LimitExceeded: "),
        "{}",
        entries[3]
    );
    assert!(
        entries[6]["reason"]
            .as_str()
            .unwrap()
            .starts_with("ConstraintViolated: ")
    );
    assert_eq!(entries[2]["actor"], "app");

    // Filtered by kind and account, and paged by id.
    let (_, executes) = h
        .call(
            "GET",
            &format!("/v1/activity?kind=execute&account={account}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(kinds(&executes), ["execute:refused", "execute:allowed"]);
    let (_, first_page) = h
        .call("GET", "/v1/activity?limit=2", Some(&key), None)
        .await;
    let last_id = first_page["activity"][1]["id"].as_i64().unwrap();
    let (_, next_page) = h
        .call(
            "GET",
            &format!("/v1/activity?limit=2&before={last_id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(kinds(&next_page), ["revoked", "execute:refused"]);
    let (status, bad) = h
        .call("GET", "/v1/activity?kind=lunch", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Another app sees none of it; the owner sees all of it.
    let (_, none) = h.call("GET", "/v1/activity", Some(&other_key), None).await;
    assert_eq!(none["activity"], json!([]));
    let token = h.owner_token(&owner).await;
    let (_, owners) = h
        .call("GET", "/v1/owner/activity", Some(&token), None)
        .await;
    assert_eq!(owners["activity"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn alerts_fire_once_each_for_a_budget_a_first_target_a_refusal_burst_and_an_attempt_after_revoke()
 {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let session = |step: &str| format!("/v1/sessions/{id}/{step}");
    // 79 of 100 USDC: a first target, no budget alert yet.
    h.call(
        "POST",
        &session("execute"),
        Some(&key),
        Some(calls(ALICE, 79 * USDC)),
    )
    .await;
    let (_, alerts) = h.call("GET", "/v1/alerts", Some(&key), None).await;
    assert_eq!(rules_of(&alerts), ["first_target"]);
    // 80 of 100: the budget alert; 85: not again in this period.
    h.call(
        "POST",
        &session("execute"),
        Some(&key),
        Some(calls(BOB, USDC)),
    )
    .await;
    h.call(
        "POST",
        &session("execute"),
        Some(&key),
        Some(calls(BOB, 5 * USDC)),
    )
    .await;
    let (_, alerts) = h.call("GET", "/v1/alerts", Some(&key), None).await;
    assert_eq!(rules_of(&alerts), ["budget", "first_target"]);
    let budget = &alerts["alerts"][0];
    assert!(
        budget["message"].as_str().unwrap().contains("past 80 %"),
        "{budget}"
    );
    // Four refusals are not a burst; the fifth and sixth are one.
    for n in 1..=6 {
        h.call("POST", &session("check"), Some(&key), Some(calls(CAROL, 1)))
            .await;
        let (_, alerts) = h.call("GET", "/v1/alerts", Some(&key), None).await;
        let bursts = rules_of(&alerts)
            .iter()
            .filter(|r| *r == "refusal_burst")
            .count();
        assert_eq!(bursts, usize::from(n >= 5), "after {n} refusals");
    }
    h.call("POST", &session("revoke"), Some(&key), None).await;
    h.call("POST", &session("check"), Some(&key), Some(calls(ALICE, 1)))
        .await;
    let token = h.owner_token(&owner).await;
    let (_, alerts) = h.call("GET", "/v1/owner/alerts", Some(&token), None).await;
    assert_eq!(
        rules_of(&alerts),
        ["after_revoke", "budget", "first_target", "refusal_burst"]
    );
}

#[tokio::test]
async fn an_owner_turns_rules_off_and_nobody_else_can() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, account) = h.funded_owner().await;
    let (stranger, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let token = h.owner_token(&owner).await;
    let rules_path = format!("/v1/owner/accounts/{account}/alert-rules");
    let (status, defaults) = h.call("GET", &rules_path, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{defaults}");
    assert_eq!(defaults["budgetPercent"], 80);
    assert_eq!(
        defaults["refusalBurst"],
        json!({ "count": 5, "seconds": 60 })
    );
    let quiet = json!({ "refusalBurst": null, "budgetPercent": null, "firstTarget": false,
        "rateSpike": null, "afterRevoke": true });
    let (status, set) = h
        .call("PUT", &rules_path, Some(&token), Some(quiet.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (status, bad) = h
        .call(
            "PUT",
            &rules_path,
            Some(&token),
            Some(json!({ "refusalBurst": null,
            "budgetPercent": 0, "firstTarget": true, "rateSpike": null, "afterRevoke": true })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let stranger_token = h.owner_token(&stranger).await;
    let (status, _) = h
        .call("PUT", &rules_path, Some(&stranger_token), Some(quiet))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.call("GET", &rules_path, Some(&key), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an app key sets no owner's rules"
    );

    h.call(
        "POST",
        &format!("/v1/sessions/{id}/execute"),
        Some(&key),
        Some(calls(ALICE, 90 * USDC)),
    )
    .await;
    let (_, alerts) = h.call("GET", "/v1/alerts", Some(&key), None).await;
    assert_eq!(
        alerts["alerts"],
        json!([]),
        "no budget, no first-target alert: {alerts}"
    );
}

/// A webhook receiver on loopback that answers 500 to the first `failures` deliveries.
async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let recorded = recorded.clone();
            async move {
                let signature = headers
                    .get("sessionkeys-signature")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let mut seen = recorded.lock().unwrap();
                seen.push((signature, body));
                if seen.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn webhooks_get_alerts_signed_with_hmac_and_retry_until_delivered() {
    let h = harness_configured(test_database(), |s| {
        s.with_webhook_backoff(Duration::from_millis(20))
            .with_private_webhooks(true)
    });
    let (_, key) = h.app("shop");
    let (url, seen) = receiver(2).await;
    let (status, made) = h
        .call(
            "POST",
            "/v1/webhooks",
            Some(&key),
            Some(json!({ "url": url })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap().to_string();
    let webhook = made["webhook"]["id"].as_str().unwrap().to_string();
    let (_, listed) = h.call("GET", "/v1/webhooks", Some(&key), None).await;
    assert!(
        !listed.to_string().contains(&secret),
        "listing shows no secret"
    );
    let (status, _) = h
        .call(
            "POST",
            "/v1/webhooks",
            Some(&key),
            Some(json!({ "url": "ftp://x" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    h.call(
        "POST",
        &format!("/v1/sessions/{id}/execute"),
        Some(&key),
        Some(calls(ALICE, USDC)),
    )
    .await;
    // The first-target alert: two 500s, then delivered on the third attempt.
    let deliveries = format!("/v1/webhooks/{webhook}/deliveries");
    let mut log = Value::Null;
    for _ in 0..200 {
        log = h.call("GET", &deliveries, Some(&key), None).await.1;
        if log["deliveries"]
            .as_array()
            .is_some_and(|d| d.iter().any(|a| a["delivered"] == true))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let attempts: Vec<(u64, Value, bool)> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["status"].clone(),
                a["delivered"] == true,
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (1, json!(500), false),
            (2, json!(500), false),
            (3, json!(200), true)
        ],
        "{log}"
    );
    // Every delivery is signed: HMAC-SHA256 of "<t>.<body>" under the secret.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for (header, body) in &seen {
        let (t, v1) = header
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
            .unwrap_or_else(|| panic!("{header}"));
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        mac.verify_slice(&alloy::hex::decode(v1).unwrap())
            .expect("the signature verifies under the secret");
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["alert"]["rule"], "first_target");
    }
    // Another app sees no such webhook; deleting it stops the log.
    let (_, other_key) = h.app("other");
    let (status, _) = h.call("GET", &deliveries, Some(&other_key), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/webhooks/{webhook}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn alerts_stream_to_the_app_and_the_owner_as_server_sent_events() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let token = h.owner_token(&owner).await;
    let open = |bearer: String| {
        let router = h.service.clone().router();
        async move {
            let request = Request::get(if bearer.starts_with("sk_own_") {
                "/v1/owner/alerts/stream"
            } else {
                "/v1/alerts/stream"
            })
            .header("authorization", format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap();
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["content-type"], "text/event-stream");
            response.into_body()
        }
    };
    let mut app_stream = open(key.clone()).await;
    let mut owner_stream = open(token).await;
    let (id, _) = h.approved_session(&key, &owner).await;
    h.call(
        "POST",
        &format!("/v1/sessions/{id}/execute"),
        Some(&key),
        Some(calls(ALICE, USDC)),
    )
    .await;
    for stream in [&mut app_stream, &mut owner_stream] {
        let frame = tokio::time::timeout(Duration::from_secs(5), stream.frame())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
        assert!(text.starts_with("event: alert\n"), "{text}");
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        let alert: Value = serde_json::from_str(data).unwrap();
        assert_eq!(alert["rule"], "first_target");
    }
}
