//! The HTTP API on the devnet: an app requests a session, the owner approves it with a
//! wallet's signature, in-scope calls land and out-of-scope ones are refused with the named
//! violation and nothing sent; apps see only their own sessions; a revoked session signs
//! nothing; keys never appear in a response and are sealed in the database.

#[path = "support/harness.rs"]
mod harness;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use serde_json::json;
use sessionkeys::SessionRecords;
use sessionkeys::backend::Backend;
use sessionkeys_service::{Database, MasterKey};

#[tokio::test]
async fn an_app_requests_a_session_the_owner_approves_and_an_in_scope_transfer_lands() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, account) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key, &owner).await;
    assert_eq!(requested["typedData"]["primaryType"], "EnableSession");
    assert_eq!(
        requested["session"]["account"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        account
    );
    assert_eq!(requested["session"]["status"], "requested");
    let lines = requested["explanation"]["lines"].as_array().unwrap();
    assert!(!lines.is_empty(), "{requested}");

    let (status, checked) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/check"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(
        checked["mode"], "enable",
        "the first op enables the session"
    );

    let (status, executed) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{executed}");
    assert!(executed["userOpHash"].as_str().unwrap().starts_with("0x"));
    assert_eq!(
        usdc_balance(h.backend.as_ref(), ALICE).await,
        U256::from(USDC)
    );

    // Its first op enabled it; the next is a plain use, chosen here by hash, then by `latest`.
    let hash = requested["session"]["sessionHash"].as_str().unwrap();
    let (status, session) = h
        .call("GET", &format!("/v1/sessions/{hash}"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["status"], "granted");
    let (status, checked) = h
        .call(
            "POST",
            &format!("/v1/sessions/latest/check?account={account}"),
            Some(&key),
            Some(calls(BOB, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["mode"], "use");
}

#[tokio::test]
async fn an_out_of_scope_call_is_422_naming_the_violation_and_nothing_is_sent() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, account) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let before = usdc_balance(h.backend.as_ref(), account).await;
    for (to, amount, violation) in [
        (CAROL, USDC, "ConstraintViolated"),
        (ALICE, 100 * USDC + 1, "LimitExceeded"),
    ] {
        for step in ["check", "execute"] {
            let (status, refused) = h
                .call(
                    "POST",
                    &format!("/v1/sessions/{id}/{step}"),
                    Some(&key),
                    Some(calls(to, amount)),
                )
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
            assert_eq!(refused["error"]["code"], "refused");
            assert_eq!(refused["error"]["violation"], violation, "{refused}");
            assert!(refused["error"]["message"].as_str().unwrap().len() > 20);
        }
    }
    assert_eq!(usdc_balance(h.backend.as_ref(), account).await, before);
    let code = h.backend.code(account).await.unwrap();
    assert!(
        code.is_empty(),
        "nothing was sent: the account is still counterfactual"
    );
}

#[tokio::test]
async fn lint_errors_refuse_the_request_with_the_findings_and_keep_no_session() {
    let h = harness();
    let (app, key) = h.app("shop");
    let owner = PrivateKeySigner::random();
    let (status, refused) = h
        .call(
            "POST",
            "/v1/sessions",
            Some(&key),
            Some(json!({
                "owner": owner.address(),
                "session": { "validUntil": 4000000000u64, "callPolicies": [{
                    "target": usdc(), "selector": "approve(address,uint256)" }] },
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "lint_errors");
    let codes: Vec<&str> = refused["error"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["SK001", "SK011"], "{refused}");
    assert!(
        h.service
            .db()
            .sessions(&app, None, 100, 0)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn without_a_valid_api_key_every_session_endpoint_is_401() {
    let h = harness();
    let (_, key) = h.app("shop");
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('0') { '1' } else { '0' }
    );
    for key in [None, Some("sk_app_nonsense"), Some(forged.as_str())] {
        for (method, path) in [
            ("GET", "/v1/sessions"),
            ("POST", "/v1/sessions"),
            ("GET", "/v1/sessions/latest"),
            ("POST", "/v1/sessions/ses_0/execute"),
        ] {
            let (status, body) = h.call(method, path, key, Some(json!({}))).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {key:?}: {body}"
            );
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
}

#[tokio::test]
async fn an_app_cannot_read_use_or_revoke_another_apps_session_by_id_or_hash() {
    let h = harness();
    let (_, key_a) = h.app("a");
    let (_, key_b) = h.app("b");
    let (owner, account) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key_a, &owner).await;
    let hash = requested["session"]["sessionHash"]
        .as_str()
        .unwrap()
        .to_string();
    for selector in [
        id.clone(),
        hash.clone(),
        format!("latest?account={account}"),
    ] {
        let (sep, rest) = match selector.split_once('?') {
            Some((s, q)) => (s.to_string(), format!("?{q}")),
            None => (selector.clone(), String::new()),
        };
        for (method, step, body) in [
            ("GET", "", None),
            ("POST", "/check", Some(calls(ALICE, 1))),
            ("POST", "/execute", Some(calls(ALICE, 1))),
            ("POST", "/revoke", None),
            ("POST", "/approve", Some(json!({ "signature": "0x00" }))),
            ("GET", "/scope", None),
        ] {
            let path = format!("/v1/sessions/{sep}{step}{rest}");
            let (status, body) = h.call(method, &path, Some(&key_b), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        }
    }
    let (_, listed) = h.call("GET", "/v1/sessions", Some(&key_b), None).await;
    assert_eq!(listed["sessions"], json!([]));
    // App A still has it, unrevoked and usable.
    let (_, listed) = h.call("GET", "/v1/sessions", Some(&key_a), None).await;
    assert_eq!(listed["sessions"][0]["id"], id.as_str());
    assert_eq!(listed["sessions"][0]["status"], "approved");
}

#[tokio::test]
async fn a_revoked_session_signs_nothing_more_and_the_owner_gets_the_revoke_typed_data() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, account) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let (status, executed) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{executed}");
    let (status, revoked) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/revoke"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["session"]["status"], "revoked");
    assert_eq!(
        revoked["ownerRevokeTypedData"]["primaryType"],
        "RevokeSessions"
    );
    let balance = usdc_balance(h.backend.as_ref(), account).await;
    for step in ["check", "execute"] {
        let (status, refused) = h
            .call(
                "POST",
                &format!("/v1/sessions/{id}/{step}"),
                Some(&key),
                Some(calls(ALICE, USDC)),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(refused["error"]["code"], "session_revoked");
    }
    assert_eq!(usdc_balance(h.backend.as_ref(), account).await, balance);
}

#[tokio::test]
async fn the_session_key_is_never_in_a_response_and_is_sealed_in_the_database_file() {
    let path = std::env::temp_dir().join(format!("sk-service-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let master = MasterKey::random();
    let h = harness_with(Database::open(&path, master.clone()).unwrap());
    let (app, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key, &owner).await;
    let (_, executed) = h
        .call_raw(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(&key),
            Some(calls(ALICE, USDC).to_string()),
        )
        .await;
    let (_, listed) = h.call_raw("GET", "/v1/sessions", Some(&key), None).await;

    let row = h.service.db().session_by_id(&app, &id).unwrap().unwrap();
    let session_key = h.service.db().records(&app).open_key(&row.record).unwrap();
    assert_eq!(
        requested["session"]["sessionKey"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        session_key.address()
    );
    let secret = session_key.to_bytes();
    let secret_hex = alloy::hex::encode(secret);
    for text in [requested.to_string(), executed, listed] {
        assert!(
            !text.to_lowercase().contains(&secret_hex),
            "a response carries the key"
        );
    }
    // Close the database (the WAL is checkpointed), then read every byte of its files.
    drop(h);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default());
    assert!(
        !bytes.windows(32).any(|w| w == secret.as_slice()),
        "the key is in the file in plaintext"
    );
    assert!(
        !bytes.windows(64).any(|w| w == secret_hex.as_bytes()),
        "the key is in the file as hex"
    );
    // The same master key opens it again after a restart; another does not.
    let reopened = Database::open(&path, master).unwrap();
    assert_eq!(
        reopened
            .records(&app)
            .open_key(&row.record)
            .unwrap()
            .address(),
        session_key.address()
    );
    let other = Database::open(&path, MasterKey::random()).unwrap();
    assert!(other.records(&app).open_key(&row.record).is_err());
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_malformed_request_is_400_saying_what_was_wrong() {
    let h = harness();
    let (_, key) = h.app("shop");
    for (body, says) in [
        ("{not json", "not what this endpoint takes"),
        (r#"{"owner": "0x12"}"#, "owner"),
        (
            r#"{"owner": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "session": {}, "extra": 1}"#,
            "extra",
        ),
    ] {
        let (status, text) = h
            .call_raw("POST", "/v1/sessions", Some(&key), Some(body.to_string()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let (status, text) = h
        .call_raw(
            "POST",
            "/v1/sessions/ses_0/execute",
            Some(&key),
            Some(r#"{"calls": []}"#.into()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let (status, body) = h
        .call("GET", "/v1/sessions?limit=0", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = h.call("GET", "/v1/sessions/latest", Some(&key), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("?account=")
    );
    let huge = format!(
        r#"{{"calls": [{{"to": "{}", "data": "0x{}"}}]}}"#,
        ALICE,
        "00".repeat(300_000)
    );
    let (status, text) = h
        .call_raw("POST", "/v1/sessions/ses_0/check", Some(&key), Some(huge))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("too_large"), "{text}");
    let (status, body) = h.call("GET", "/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn openapi_is_3_1_and_lists_every_route() {
    let h = harness();
    let (status, doc) = h.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for path in [
        "/v1/sessions",
        "/v1/sessions/{session}",
        "/v1/sessions/{session}/approve",
        "/v1/sessions/{session}/check",
        "/v1/sessions/{session}/execute",
        "/v1/sessions/{session}/revoke",
        "/v1/sessions/{session}/scope",
        "/v1/owner/sessions/{hash}/approval",
        "/v1/owner/sessions/{hash}/approve",
        "/v1/owner/accounts/{account}/revocations",
    ] {
        assert!(
            paths.iter().any(|p| p.as_str() == path),
            "{path} missing from {paths:?}"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorResponse"].is_object());
}

#[tokio::test]
async fn a_revoked_session_is_never_written_back_to_life_by_a_late_save() {
    let h = harness();
    let (app, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let before = h.service.db().session_by_id(&app, &id).unwrap().unwrap();
    let (status, _) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/revoke"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A step that read the session before the revoke (an approve, a first use) saves late.
    let mut late = before.record.clone();
    late.status = sessionkeys::store::StoredStatus::Granted;
    let saved = h.service.db().records(&app).save(&late);
    assert!(
        matches!(saved, Err(sessionkeys::store::StoreError::Revoked { .. })),
        "{saved:?}"
    );
    let (_, session) = h
        .call("GET", &format!("/v1/sessions/{id}"), Some(&key), None)
        .await;
    assert_eq!(session["status"], "revoked");
}

#[tokio::test]
async fn checks_are_answered_from_the_service_state_and_read_the_chain_again_once_it_moves() {
    let (h, reads, key, id) = counted_session(|chain| Scripted {
        heads: true,
        ..chain
    })
    .await;
    let execute = format!("/v1/sessions/{id}/execute");
    let check = format!("/v1/sessions/{id}/check");
    let (status, first) = h
        .call("POST", &execute, Some(&key), Some(calls(ALICE, 10 * USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let verdict = |amount: u64| {
        let (h, check, key) = (&h, &check, &key);
        async move {
            let (status, body) = h
                .call("POST", check, Some(key), Some(calls(ALICE, amount)))
                .await;
            (status, body["error"]["violation"].clone())
        }
    };

    // 90 of the 100 USDC are left. The first check reads the chain; the next ones, allowed or
    // refused, are answered from what it read.
    assert_eq!(verdict(90 * USDC).await.0, StatusCode::OK);
    let kept = reads.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..3 {
        assert_eq!(verdict(90 * USDC).await.0, StatusCode::OK);
    }
    assert_eq!(
        verdict(90 * USDC + 1).await,
        (StatusCode::UNPROCESSABLE_ENTITY, json!("LimitExceeded"))
    );
    assert_eq!(
        reads.load(std::sync::atomic::Ordering::SeqCst),
        kept,
        "answered from the service's state: no chain read"
    );

    // The service's own op spends 10 more: the next check reads the chain again and sees it.
    let (status, second) = h
        .call("POST", &execute, Some(&key), Some(calls(ALICE, 10 * USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let before = reads.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        verdict(90 * USDC).await,
        (StatusCode::UNPROCESSABLE_ENTITY, json!("LimitExceeded"))
    );
    assert!(reads.load(std::sync::atomic::Ordering::SeqCst) > before);
    assert_eq!(verdict(80 * USDC).await.0, StatusCode::OK);

    // A change the service did not make — the chain's time passing the session's end — is
    // seen at the very next check.
    h.backend.with_devnet(|d| d.chain.advance(2 * 3600));
    let (status, expired) = h
        .call("POST", &check, Some(&key), Some(calls(ALICE, USDC)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expired}");
    assert!(
        expired["error"]["message"]
            .as_str()
            .unwrap()
            .contains("time"),
        "{expired}"
    );
}

#[tokio::test]
async fn without_a_head_from_the_chain_every_check_reads_the_chain() {
    // A backend that cannot say where the chain stands: nothing read from it is kept.
    let (h, reads, key, id) = counted_session(|chain| chain).await;
    let check = format!("/v1/sessions/{id}/check");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (status, body) = h
            .call("POST", &check, Some(&key), Some(calls(ALICE, USDC)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.push(reads.load(std::sync::atomic::Ordering::SeqCst));
    }
    assert!(
        seen[0] > 0 && seen[1] > seen[0] && seen[2] > seen[1],
        "{seen:?}"
    );
}

#[tokio::test]
async fn the_services_own_op_drops_what_it_kept_even_before_the_head_moves() {
    // A head that never moves stands for a node asked less often than it makes blocks: the
    // service's own send is what must make the next check read the chain again.
    let (h, reads, key, id) = counted_session(|chain| Scripted {
        frozen_head: true,
        ..chain
    })
    .await;
    let execute = format!("/v1/sessions/{id}/execute");
    let check = format!("/v1/sessions/{id}/check");
    let (status, first) = h
        .call("POST", &execute, Some(&key), Some(calls(ALICE, 10 * USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    for _ in 0..2 {
        let (status, body) = h
            .call("POST", &check, Some(&key), Some(calls(ALICE, 90 * USDC)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let kept = reads.load(std::sync::atomic::Ordering::SeqCst);
    let (status, body) = h
        .call("POST", &check, Some(&key), Some(calls(ALICE, 90 * USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), kept);

    let (status, second) = h
        .call("POST", &execute, Some(&key), Some(calls(ALICE, 10 * USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, refused) = h
        .call("POST", &check, Some(&key), Some(calls(ALICE, 90 * USDC)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["violation"], "LimitExceeded");
}

#[tokio::test]
async fn a_check_logged_in_a_group_commit_keeps_its_place_before_what_came_after() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let (status, checked) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/check"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    let (status, revoked) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/revoke"),
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let (status, log) = h
        .call(
            "GET",
            &format!("/v1/activity?session={id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let kinds: Vec<&str> = log["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let at = |kind: &str| kinds.iter().position(|k| *k == kind).unwrap();
    // Newest first: the revoke above the check it followed.
    assert!(at("revoked") < at("check"), "{kinds:?}");
}

/// An approved session of a funded owner, on a service whose chain is the devnet as `adjust`
/// sets it up; with the chain's count of state reads, the app's key and the session's id.
async fn counted_session(
    adjust: impl FnOnce(Scripted) -> Scripted,
) -> (
    Harness,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    String,
    String,
) {
    let base = harness();
    let chain = adjust(Scripted {
        pause: std::time::Duration::ZERO,
        ..Scripted::network_like(base.backend.clone())
    });
    let reads = chain.reads.clone();
    let h = Harness {
        backend: base.backend.clone(),
        service: std::sync::Arc::new(
            sessionkeys_service::Service::new(test_database(), std::sync::Arc::new(chain))
                .with_rate_limit(0),
        ),
    };
    let (_, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    (h, reads, key, id)
}

#[tokio::test]
async fn the_scope_gives_the_policies_and_budgets_that_drop_after_an_execute() {
    let h = harness();
    let (_, key) = h.app("agent");
    let (owner, account) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key, &owner).await;
    let scope_path = format!("/v1/sessions/{id}/scope");

    let (status, before) = h.call("GET", &scope_path, Some(&key), None).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["session"]["id"], id.as_str());
    assert_eq!(before["onchain"], "notEnabled");
    assert_eq!(before["usable"], true, "approved: its first op enables it");
    assert_eq!(before["entryPoint"], "v0.7");
    assert_eq!(before["chainTime"], h.now().await);
    // The validator answers for a counterfactual account too: every budget whole.
    let kinds: Vec<&str> = before["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ops", "fee", "constraintSum"], "{before}");
    assert_eq!(before["budgets"][0]["limitType"], "allowance");
    assert!(before["budgets"][0]["resetsAt"].as_u64().unwrap() > h.now().await);
    assert_eq!(before["budgets"][2]["used"], "0");
    // The session JSON is the approved session: its hash is the one the owner signed.
    let spec: sessionkeys_engine::format::SessionJson =
        serde_json::from_value(before["spec"].clone()).unwrap();
    let spec = spec.to_spec(None).unwrap();
    let hash = sessionkeys_contracts::vocabulary::packed::session_hash(&spec).unwrap();
    assert_eq!(
        format!("{hash}"),
        requested["session"]["sessionHash"].as_str().unwrap()
    );

    let (status, _) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(&key),
            Some(calls(ALICE, 30 * USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = h.call("GET", &scope_path, Some(&key), None).await;
    assert_eq!(after["onchain"], "active");
    let sum = after["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "constraintSum")
        .unwrap_or_else(|| panic!("no constraintSum budget in {after}"));
    assert_eq!(sum["limitType"], "lifetime", "{sum}");
    assert_eq!(sum["limit"], (100 * USDC).to_string());
    assert_eq!(sum["used"], (30 * USDC).to_string());
    assert_eq!(sum["remaining"], (70 * USDC).to_string());
    assert_eq!(sum["resetsAt"], 0);

    let (_, revoked) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/revoke"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(revoked["session"]["status"], "revoked");
    let (_, gone) = h.call("GET", &scope_path, Some(&key), None).await;
    assert_eq!(
        gone["usable"], false,
        "revoked here: nothing more is signed"
    );
    assert_eq!(gone["session"]["status"], "revoked");
    let _ = account;
}

#[tokio::test]
async fn a_refusal_carries_the_validators_error_as_the_chain_reverts_with_it() {
    let h = harness();
    let (_, key) = h.app("agent");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let (status, refused) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/check"),
            Some(&key),
            Some(calls(ALICE, 100 * USDC + 1)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let data: alloy::primitives::Bytes = refused["error"]["revertData"]
        .as_str()
        .unwrap_or_else(|| panic!("no revertData in {refused}"))
        .parse()
        .unwrap();
    let violation = sessionkeys_engine::violation::violation_from_revert(&data).unwrap();
    use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as E;
    let Some(E::LimitExceeded(limit)) = violation.as_validator() else {
        panic!("not LimitExceeded: {violation}");
    };
    assert_eq!(limit.limit, U256::from(100 * USDC));
    assert_eq!(limit.used, U256::ZERO);
    assert_eq!(limit.requested, U256::from(100 * USDC + 1));
    assert!(
        refused["error"].get("userOpHash").is_none(),
        "nothing was sent"
    );
}
