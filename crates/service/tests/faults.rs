//! A replica that dies mid-execute: the journal says which op it sent, a new replica settles
//! it from the bundler's receipt, and the request's retry under its `Idempotency-Key` gets
//! the op's outcome — or runs again, once, when the op never reached the bundler. The death is
//! a runtime shut down under the request (its tasks dropped at their await points); the
//! process kill on anvil + Alto is the e2e tier's.

#[path = "support/harness.rs"]
mod harness;

use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use serde_json::Value;
use sessionkeys::backend::Backend;
use sessionkeys_service::journal::{JournalOp, OpState};
use sessionkeys_service::{Database, MasterKey, Service};
use std::sync::Arc;
use std::time::Duration;

/// Short enough for a test: an op without a receipt for 2 s can no longer land, a request
/// silent for 1 s was cut off.
const LEASE_TERM: i64 = 2;
const STALE_AFTER: i64 = 1;

/// One database, opened again by each replica: a file, or a PostgreSQL schema.
fn reopenable() -> Box<dyn Fn() -> Database> {
    let master = MasterKey::random();
    match postgres_settings() {
        Some(settings) => {
            let settings = fresh_schema(&settings);
            Box::new(move || Database::postgres(&settings, master.clone()).unwrap())
        }
        None => {
            let path = std::env::temp_dir().join(format!(
                "sk-faults-{}-{}.sqlite",
                std::process::id(),
                alloy::hex::encode(rand::random::<[u8; 8]>())
            ));
            Box::new(move || Database::open(&path, master.clone()).unwrap())
        }
    }
}

fn replica(open: &dyn Fn() -> Database, backend: Arc<dyn Backend>) -> Arc<Service> {
    Arc::new(
        Service::new(open(), backend)
            .with_lease_term(LEASE_TERM)
            .with_stale_after(STALE_AFTER)
            .with_rate_limit(0),
    )
}

struct Scene {
    runtime: tokio::runtime::Runtime,
    h: Harness,
    key: String,
    id: String,
    open: Box<dyn Fn() -> Database>,
}

/// An app, a funded owner and their USDC session, enabled by a first payment.
fn scene() -> Scene {
    let open = reopenable();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let h = harness_with(open());
    let (_, key) = h.app("shop");
    let (owner, _) = runtime.block_on(h.funded_owner());
    let (id, _) = runtime.block_on(h.approved_session(&key, &owner));
    let (status, first) = runtime.block_on(execute(&h, &key, &id, None));
    assert_eq!(status, StatusCode::OK, "{first}");
    Scene {
        runtime,
        h,
        key,
        id,
        open,
    }
}

async fn execute(
    h: &Harness,
    key: &str,
    id: &str,
    idempotency: Option<&str>,
) -> (StatusCode, Value) {
    let bearer = format!("Bearer {key}");
    let mut headers = vec![("authorization", bearer.as_str())];
    if let Some(idempotency) = idempotency {
        headers.push(("idempotency-key", idempotency));
    }
    let (status, replayed, body) = h
        .call_headers(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            &headers,
            Some(calls(ALICE, 10 * USDC)),
        )
        .await;
    let mut body = body;
    if replayed.contains_key("idempotent-replayed") {
        body["replayed"] = Value::Bool(true);
    }
    (status, body)
}

/// Starts an execute on a replica whose bundler stalls as `stall` says, waits until its op is
/// in the journal (and, unless the send stalls, on chain), then kills the replica.
fn cut_off(scene: &Scene, stalled: Scripted, idempotency: &str) -> JournalOp {
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reaches_chain = !stalled.stall_sends;
    let replica = Harness {
        backend: scene.h.backend.clone(),
        service: replica(&scene.open, Arc::new(stalled)),
    };
    let (key, id, idempotency) = (scene.key.clone(), scene.id.clone(), idempotency.to_string());
    doomed.spawn(async move { execute(&replica, &key, &id, Some(&idempotency)).await });
    let op = loop {
        std::thread::sleep(Duration::from_millis(10));
        let ops = scene.h.service.db().unsettled_ops(None).unwrap();
        let Some(op) = ops.first() else { continue };
        let landed = scene
            .runtime
            .block_on(scene.h.backend.user_operation_receipt(op.user_op_hash))
            .unwrap()
            .is_some();
        if landed == reaches_chain {
            break op.clone();
        }
    };
    // The replica dies: its tasks stop where they wait.
    doomed.shutdown_background();
    op
}

#[test]
fn an_execute_cut_off_after_sending_is_settled_from_its_receipt_and_its_retry_sends_nothing() {
    let scene = scene();
    let op = cut_off(
        &scene,
        Scripted {
            stall_receipts: true,
            ..Scripted::network_like(scene.h.backend.clone())
        },
        "pay-1",
    );
    assert_eq!(op.idempotency_key.as_deref(), Some("pay-1"));
    let paid = scene
        .runtime
        .block_on(usdc_balance(scene.h.backend.as_ref(), ALICE));

    // A new replica settles what the dead one sent, from the bundler's receipt.
    let restarted = Harness {
        backend: scene.h.backend.clone(),
        service: replica(&scene.open, scene.h.backend.clone()),
    };
    assert_eq!(
        scene
            .runtime
            .block_on(restarted.service.reconcile())
            .unwrap(),
        0
    );
    let settled = restarted
        .service
        .db()
        .journal_op(op.user_op_hash)
        .unwrap()
        .unwrap();
    assert_eq!(settled.state, OpState::Landed);
    assert!(settled.transaction_hash.is_some());

    // The client's retry, once the first request counts as cut off: the op's own outcome,
    // and nothing sent again.
    std::thread::sleep(Duration::from_millis(2_100));
    let (status, answer) =
        scene
            .runtime
            .block_on(execute(&restarted, &scene.key, &scene.id, Some("pay-1")));
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["userOpHash"], format!("{:#x}", op.user_op_hash));
    assert_eq!(answer["replayed"], true);
    let (status, again) =
        scene
            .runtime
            .block_on(execute(&restarted, &scene.key, &scene.id, Some("pay-1")));
    assert_eq!(
        (status, &again["userOpHash"]),
        (StatusCode::OK, &answer["userOpHash"])
    );
    assert_eq!(
        scene
            .runtime
            .block_on(usdc_balance(scene.h.backend.as_ref(), ALICE)),
        paid,
        "the retries sent nothing"
    );

    // The log holds the op with its final state, settled by the reconciler.
    let (status, log) = scene.runtime.block_on(restarted.call(
        "GET",
        "/v1/activity?kind=execute&limit=50",
        Some(&scene.key),
        None,
    ));
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(
        log["activity"].as_array().unwrap().iter().any(|e| {
            e["userOpHash"] == format!("{:#x}", op.user_op_hash)
                && e["verdict"] == "allowed"
                && e["actor"] == "reconciler"
        }),
        "{log}"
    );
}

#[test]
fn an_op_whose_nonce_moved_is_not_dropped_until_the_chain_shows_which_op_took_it() {
    // Found on anvil + Alto: the restarted replica read the lane's nonce past the op before
    // the bundler had its receipt or the node's logs its event, settled it dropped, and ran the
    // request's retry again on the same nonce (AA25). The nonce alone does not say which op
    // took it.
    let scene = scene();
    let op = cut_off(
        &scene,
        Scripted {
            stall_receipts: true,
            ..Scripted::network_like(scene.h.backend.clone())
        },
        "pay-3",
    );
    let lagging = replica(
        &scene.open,
        Arc::new(Scripted {
            lagging_receipts: true,
            lagging_logs: true,
            ..Scripted::network_like(scene.h.backend.clone())
        }),
    );
    assert_eq!(
        scene.runtime.block_on(lagging.reconcile()).unwrap(),
        1,
        "still in flight"
    );
    let open = lagging.db().journal_op(op.user_op_hash).unwrap().unwrap();
    assert_eq!(open.state, OpState::Sent);

    // The node's logs catch up (the bundler still has no receipt): the event settles it.
    let caught_up = replica(
        &scene.open,
        Arc::new(Scripted {
            lagging_receipts: true,
            ..Scripted::network_like(scene.h.backend.clone())
        }),
    );
    assert_eq!(scene.runtime.block_on(caught_up.reconcile()).unwrap(), 0);
    let settled = caught_up.db().journal_op(op.user_op_hash).unwrap().unwrap();
    assert_eq!(settled.state, OpState::Landed);
}

#[test]
fn an_execute_cut_off_before_its_op_reached_the_bundler_runs_again_once_under_the_same_key() {
    let scene = scene();
    let before = scene
        .runtime
        .block_on(usdc_balance(scene.h.backend.as_ref(), ALICE));
    let op = cut_off(
        &scene,
        Scripted {
            stall_sends: true,
            ..Scripted::network_like(scene.h.backend.clone())
        },
        "pay-2",
    );
    // A lease term long enough to see the retry while the op might still land (times here
    // are whole seconds).
    const LONGER_LEASE: i64 = 5;
    let restarted = Harness {
        backend: scene.h.backend.clone(),
        service: Arc::new(
            Service::new((scene.open)(), scene.h.backend.clone())
                .with_lease_term(LONGER_LEASE)
                .with_stale_after(STALE_AFTER)
                .with_rate_limit(0),
        ),
    };

    // While the dead replica's op might still land, the session sends nothing else.
    let (status, busy) =
        scene
            .runtime
            .block_on(execute(&restarted, &scene.key, &scene.id, Some("other")));
    assert_eq!(status, StatusCode::CONFLICT, "{busy}");
    assert!(
        busy["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{}", op.user_op_hash)),
        "{busy}"
    );

    // Its own retry, once the request counts as cut off but while its op might still land:
    // retry later — an answer not kept, so the retry after the lease term looks again (found
    // on anvil + Alto: this 409 was stored and replayed for ever).
    std::thread::sleep(Duration::from_millis(2_100));
    let (status, waiting) =
        scene
            .runtime
            .block_on(execute(&restarted, &scene.key, &scene.id, Some("pay-2")));
    assert_eq!(status, StatusCode::CONFLICT, "{waiting}");
    assert_eq!(waiting["error"]["code"], "idempotency_key_in_progress");
    assert!(waiting.get("replayed").is_none(), "{waiting}");

    // Past the lease term without a receipt it can no longer land: the retry runs again,
    // on the same nonce, and lands once.
    std::thread::sleep(Duration::from_millis(4_100));
    let (status, answer) =
        scene
            .runtime
            .block_on(execute(&restarted, &scene.key, &scene.id, Some("pay-2")));
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The same calls on the same nonce: often the very same op (the userOp hash leaves the
    // signature out), else a new one on the nonce the first would have taken.
    let second: alloy::primitives::B256 = answer["userOpHash"].as_str().unwrap().parse().unwrap();
    let second = restarted.service.db().journal_op(second).unwrap().unwrap();
    assert_eq!((second.state, second.nonce), (OpState::Landed, op.nonce));
    if second.user_op_hash != op.user_op_hash {
        let first = restarted
            .service
            .db()
            .journal_op(op.user_op_hash)
            .unwrap()
            .unwrap();
        assert_eq!(first.state, OpState::Dropped);
    }
    assert_eq!(
        scene
            .runtime
            .block_on(usdc_balance(scene.h.backend.as_ref(), ALICE)),
        before + alloy::primitives::U256::from(10 * USDC),
        "paid once"
    );

    // The busy answer was not kept under its key: the same key now runs.
    assert_eq!(busy["error"]["code"], "session_busy");
    let (status, now_free) =
        scene
            .runtime
            .block_on(execute(&restarted, &scene.key, &scene.id, Some("other")));
    assert_eq!(status, StatusCode::OK, "{now_free}");
    assert!(now_free.get("replayed").is_none());
}
