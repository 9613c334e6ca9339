//! Tool calls that arrive together are acted one at a time: three payments of 25 USDC against
//! a 50 USDC daily budget, sent at once, give two payments and one refusal naming the budget,
//! never a third op signed for a budget already spent or two ops for one nonce.

#[path = "../../service/tests/support/harness.rs"]
mod harness;

use alloy::primitives::U256;
use serde_json::{Map, Value, json};
use sessionkeys_agent::agent::balance_of;
use sessionkeys_agent::dev::{ALICE, dev_agent_over};
use sessionkeys_agent::{AgentServer, Sent};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_sent_at_once_spend_the_budget_once() {
    // A node and a bundler that answer after a pause, as over a network: without the agent's
    // turn-taking the three pre-checks all pass before any op lands.
    let (agent, backend, setup) =
        dev_agent_over(|devnet| Arc::new(harness::Scripted::network_like(devnet)))
            .await
            .unwrap();
    let server = AgentServer::new(agent);
    let Value::Object(pay) = json!({"to": ALICE.to_checksum(None), "amount": "25"}) else {
        unreachable!()
    };
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let (server, pay) = (server.clone(), pay.clone());
            tokio::spawn(async move { server.call("send_usdc", &pay).await })
        })
        .collect();
    let mut done = 0;
    let mut refused = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(answer) => {
                assert_eq!(answer["done"], true, "{answer}");
                done += 1;
            }
            Err(refusal) => refused.push(refusal),
        }
    }
    assert_eq!(done, 2, "refusals: {refused:?}");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason, "LimitExceeded", "{:?}", refused[0]);
    assert_eq!(refused[0].sent, Sent::No);
    assert_eq!(
        balance_of(backend.as_ref(), Some(setup.usdc), ALICE)
            .await
            .unwrap(),
        U256::from(50_000_000u64)
    );
    let history = server.call("history", &Map::new()).await.unwrap();
    let ops = history["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 2, "{history}");
    assert!(ops.iter().all(|op| op["success"] == true), "{history}");
}
