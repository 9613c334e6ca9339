//! Owners sign in with their wallets (EIP-4361 + personal_sign), see every session of their
//! accounts across apps, and revoke any of them; app keys and owner tokens open only their own
//! endpoints. `Idempotency-Key` makes a retried POST return the first result and send once.

#[path = "support/harness.rs"]
mod harness;

use alloy::primitives::{Address, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use serde_json::{Value, json};
use sessionkeys_service::idempotency::REPLAYED;

/// Signs `owner` in through the API: its token.
async fn sign_in(h: &Harness, owner: &PrivateKeySigner) -> String {
    let (status, challenge) = h
        .call(
            "POST",
            "/v1/owner/challenge",
            None,
            Some(json!({ "address": owner.address() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let message = challenge["message"].as_str().unwrap();
    assert!(
        message.contains(&owner.address().to_checksum(None)),
        "{message}"
    );
    assert!(message.contains("Chain ID: 31337"), "{message}");
    let signature = owner.sign_message_sync(message.as_bytes()).unwrap();
    let (status, signed_in) = h
        .call(
            "POST",
            "/v1/owner/sign-in",
            None,
            Some(json!({
                "message": message,
                "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())),
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(
        signed_in["owner"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        owner.address()
    );
    signed_in["token"].as_str().unwrap().to_string()
}

fn hashes(list: &Value) -> Vec<String> {
    let mut hashes: Vec<String> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionHash"].as_str().unwrap().to_string())
        .collect();
    hashes.sort();
    hashes
}

#[tokio::test]
async fn an_owner_sees_the_sessions_of_every_app_on_their_accounts_and_revokes_one() {
    let h = harness();
    let (app_a, key_a) = h.app("a");
    let (app_b, key_b) = h.app("b");
    let (owner, _) = h.funded_owner().await;
    let (stranger, _) = h.funded_owner().await;
    let (id_a, requested_a) = h.approved_session(&key_a, &owner).await;
    let (_, requested_b) = h.approved_session(&key_b, &owner).await;
    let (_, requested_stranger) = h.approved_session(&key_a, &stranger).await;

    let token = sign_in(&h, &owner).await;
    let (status, listed) = h
        .call("GET", "/v1/owner/sessions", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let mut expected = vec![
        requested_a["session"]["sessionHash"]
            .as_str()
            .unwrap()
            .to_string(),
        requested_b["session"]["sessionHash"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    expected.sort();
    assert_eq!(
        hashes(&listed),
        expected,
        "both apps' sessions, not the stranger's"
    );
    let apps: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["appId"].as_str().unwrap())
        .collect();
    assert!(apps.contains(&app_a.id.as_str()) && apps.contains(&app_b.id.as_str()));

    // The stranger's session is not the owner's to revoke: 404, and it stays usable.
    let stranger_hash = requested_stranger["session"]["sessionHash"]
        .as_str()
        .unwrap();
    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/owner/sessions/{stranger_hash}/revoke"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Revoking app A's session stops app A at once.
    let hash_a = requested_a["session"]["sessionHash"].as_str().unwrap();
    let (status, revoked) = h
        .call(
            "POST",
            &format!("/v1/owner/sessions/{hash_a}/revoke"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(
        revoked["ownerRevokeTypedData"]["primaryType"],
        "RevokeSessions"
    );
    let (status, refused) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id_a}/execute"),
            Some(&key_a),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "session_revoked");
    let (_, listed) = h
        .call("GET", "/v1/owner/sessions", Some(&token), None)
        .await;
    let statuses: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "revoked").count(),
        1,
        "{listed}"
    );
}

#[tokio::test]
async fn app_keys_open_no_owner_endpoint_and_owner_tokens_open_no_app_endpoint() {
    let h = harness();
    let (_, key) = h.app("a");
    let (owner, _) = h.funded_owner().await;
    let (_, requested) = h.approved_session(&key, &owner).await;
    let hash = requested["session"]["sessionHash"].as_str().unwrap();
    let token = sign_in(&h, &owner).await;
    for (method, path) in [
        ("GET", "/v1/owner/sessions".to_string()),
        ("POST", format!("/v1/owner/sessions/{hash}/revoke")),
    ] {
        for bearer in [Some(key.as_str()), None, Some("sk_own_0")] {
            let (status, body) = h.call(method, &path, bearer, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        }
    }
    for (method, path) in [
        ("GET", "/v1/sessions".to_string()),
        ("GET", format!("/v1/sessions/{hash}")),
        ("POST", format!("/v1/sessions/{hash}/revoke")),
    ] {
        let (status, body) = h.call(method, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn a_sign_in_by_another_wallet_or_with_a_changed_message_is_refused() {
    let h = harness();
    let owner = PrivateKeySigner::random();
    let other = PrivateKeySigner::random();
    let (_, challenge) = h
        .call(
            "POST",
            "/v1/owner/challenge",
            None,
            Some(json!({ "address": owner.address(), "chainId": 8453 })),
        )
        .await;
    let message = challenge["message"].as_str().unwrap();
    assert!(message.contains("Chain ID: 8453"));
    let sign = |who: &PrivateKeySigner, text: &str| {
        format!(
            "0x{}",
            alloy::hex::encode(who.sign_message_sync(text.as_bytes()).unwrap().as_bytes())
        )
    };
    let changed = message.replace("Chain ID: 8453", "Chain ID: 1");
    for (text, signature, says) in [
        (message.to_string(), sign(&other, message), "not by"),
        (
            changed.clone(),
            sign(&owner, &changed),
            "not issued by this service",
        ),
    ] {
        let (status, body) = h
            .call(
                "POST",
                "/v1/owner/sign-in",
                None,
                Some(json!({ "message": text, "signature": signature })),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "sign_in_refused");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_retried_execute_with_one_idempotency_key_returns_the_first_result_and_sends_once() {
    let h = harness();
    let (_, key) = h.app("a");
    let (owner, account) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let path = format!("/v1/sessions/{id}/execute");
    let auth = format!("Bearer {key}");
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "pay-alice-1"),
    ];
    let (status, first_headers, first) = h
        .call_headers("POST", &path, &headers, Some(calls(ALICE, USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first_headers.get(REPLAYED).is_none());
    let (status, replay_headers, replay) = h
        .call_headers("POST", &path, &headers, Some(calls(ALICE, USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay, first, "the first result, userOp hash and all");
    assert_eq!(replay_headers.get(REPLAYED).unwrap(), "true");
    assert_eq!(
        usdc_balance(h.backend.as_ref(), ALICE).await,
        U256::from(USDC),
        "sent once"
    );
    let left = usdc_balance(h.backend.as_ref(), account).await;

    // The same key for another body is refused, never replayed for the wrong request.
    let (status, _, reused) = h
        .call_headers("POST", &path, &headers, Some(calls(BOB, USDC)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    assert_eq!(usdc_balance(h.backend.as_ref(), BOB).await, U256::ZERO);

    // A refusal is kept under its key too.
    let refused_headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "pay-carol"),
    ];
    for _ in 0..2 {
        let (status, _, refused) = h
            .call_headers("POST", &path, &refused_headers, Some(calls(CAROL, 1)))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["error"]["violation"], "ConstraintViolated");
    }
    assert_eq!(usdc_balance(h.backend.as_ref(), account).await, left);
}

#[tokio::test]
async fn a_retry_while_the_first_request_runs_is_told_to_wait_and_sends_nothing() {
    let h = harness();
    let (app, key) = h.app("a");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let path = format!("/v1/sessions/{id}/execute");
    let body = calls(ALICE, USDC);
    // The first request reserved the key and is still running: reserve it as it would.
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hasher, b"POST\0");
    sha2::Digest::update(&mut hasher, path.as_bytes());
    sha2::Digest::update(&mut hasher, b"\0");
    sha2::Digest::update(&mut hasher, body.to_string().as_bytes());
    let fingerprint: [u8; 32] = sha2::Digest::finalize(hasher).into();
    h.service
        .db()
        .reserve_idempotency_key(&app.id, "slow", &fingerprint)
        .unwrap();
    let auth = format!("Bearer {key}");
    let (status, headers, busy) = h
        .call_headers(
            "POST",
            &path,
            &[
                ("authorization", auth.as_str()),
                ("idempotency-key", "slow"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{busy}");
    assert_eq!(busy["error"]["code"], "idempotency_key_in_progress");
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert_eq!(usdc_balance(h.backend.as_ref(), ALICE).await, U256::ZERO);

    // A key that is not 1..=255 visible characters is a 400.
    let (status, _, bad) = h
        .call_headers(
            "POST",
            &path,
            &[
                ("authorization", auth.as_str()),
                ("idempotency-key", "has space"),
            ],
            Some(calls(ALICE, 1)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}

#[tokio::test]
async fn a_retried_session_request_returns_the_same_session_and_keeps_one() {
    let h = harness();
    let (app, key) = h.app("a");
    let owner = PrivateKeySigner::random();
    let now = h.now().await;
    let auth = format!("Bearer {key}");
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "req-1"),
    ];
    let body = json!({ "owner": owner.address(), "session": usdc_session_json(now) });
    let (status, _, first) = h
        .call_headers("POST", "/v1/sessions", &headers, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, _, again) = h
        .call_headers("POST", "/v1/sessions", &headers, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["session"]["id"], first["session"]["id"]);
    assert_eq!(
        h.service.db().sessions(&app, None, 100, 0).unwrap().len(),
        1
    );
}

/// `owner`'s session request by the app with `key`: (its id, hash, the request's answer).
async fn requested(h: &Harness, key: &str, owner: &PrivateKeySigner) -> (String, String, Value) {
    let now = h.now().await;
    let (status, requested) = h
        .call(
            "POST",
            "/v1/sessions",
            Some(key),
            Some(json!({ "owner": owner.address(), "session": usdc_session_json(now) })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{requested}");
    let id = requested["session"]["id"].as_str().unwrap().to_string();
    let hash = requested["session"]["sessionHash"]
        .as_str()
        .unwrap()
        .to_string();
    (id, hash, requested)
}

fn hex_signature(signature: alloy::signers::Signature) -> String {
    format!("0x{}", alloy::hex::encode(signature.as_bytes()))
}

#[tokio::test]
async fn an_owner_reads_the_approval_a_request_waits_for_and_approves_it_from_their_wallet() {
    let h = harness();
    let (_, key) = h.app("a");
    let (owner, _) = h.funded_owner().await;
    let (stranger, _) = h.funded_owner().await;
    let (id, hash, requested) = requested(&h, &key, &owner).await;
    let token = sign_in(&h, &owner).await;

    // What the wallet will sign: the typed data the app was given, hashing to its digest.
    let (status, approval) = h
        .call(
            "GET",
            &format!("/v1/owner/sessions/{hash}/approval"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approval}");
    assert_eq!(approval["typedData"], requested["typedData"]);
    assert_eq!(approval["digest"], requested["digest"]);
    // The page's own reading of it (the engine's review): the canonical form, this digest.
    let read =
        sessionkeys_engine::typed_data::read_enable_typed_data(&approval["typedData"]).unwrap();
    let digest =
        sessionkeys_engine::enable_digest(read.validator, read.account, &read.spec, &read.chains);
    assert_eq!(format!("{digest}"), approval["digest"].as_str().unwrap());

    // Not the stranger's to read or approve; an app key opens neither.
    let stranger_token = sign_in(&h, &stranger).await;
    for (method, path, body) in [
        ("GET", format!("/v1/owner/sessions/{hash}/approval"), None),
        (
            "POST",
            format!("/v1/owner/sessions/{hash}/approve"),
            Some(json!({ "signature": hex_signature(stranger.sign_hash_sync(&digest).unwrap()) })),
        ),
    ] {
        let (status, body_out) = h
            .call(method, &path, Some(&stranger_token), body.clone())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body_out}");
        let (status, _) = h.call(method, &path, Some(&key), body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    // Another wallet's signature, through the owner's token: refused, nothing approved.
    let (status, refused) = h
        .call(
            "POST",
            &format!("/v1/owner/sessions/{hash}/approve"),
            Some(&token),
            Some(json!({ "signature": hex_signature(stranger.sign_hash_sync(&digest).unwrap()) })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&stranger.address().to_checksum(None)),
        "{refused}"
    );

    // The owner's wallet signs: approved, and the app's session works.
    let (status, approved) = h
        .call(
            "POST",
            &format!("/v1/owner/sessions/{hash}/approve"),
            Some(&token),
            Some(json!({ "signature": hex_signature(owner.sign_hash_sync(&digest).unwrap()) })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["session"]["status"], "approved");
    let (status, executed) = h.execute_to_alice(&key, &id).await;
    assert_eq!(status, StatusCode::OK, "{executed}");

    // Nothing waits for an approval any more.
    let (status, body) = h
        .call(
            "GET",
            &format!("/v1/owner/sessions/{hash}/approval"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn an_owners_signed_revocation_is_relayed_and_stops_the_session_here_and_on_chain() {
    let relayer = PrivateKeySigner::random();
    let h = harness_configured(test_database(), |s| s.with_relayer(relayer.clone()));
    h.backend.with_devnet(|d| {
        d.chain
            .set_balance(relayer.address(), U256::from(10u64).pow(U256::from(20)))
    });
    let (_, key) = h.app("a");
    let (owner, account) = h.funded_owner().await;
    let (stranger, _) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key, &owner).await;
    let hash: alloy::primitives::B256 = requested["session"]["sessionHash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Its first op enables it on-chain.
    let (status, executed) = h.execute_to_alice(&key, &id).await;
    assert_eq!(status, StatusCode::OK, "{executed}");
    let validator = sessionkeys::deployment::session_key_validator(Address::ZERO).address();
    let revocation = sessionkeys::relay::RevokeRequest::new(
        h.backend.as_ref(),
        validator,
        account,
        sessionkeys::relay::RevokeTarget::Sessions(vec![hash]),
    )
    .await
    .unwrap();
    let chains: Vec<Value> = revocation
        .chains
        .iter()
        .map(|c| json!({ "chainId": c.chainId, "epoch": c.epoch }))
        .collect();
    let token = sign_in(&h, &owner).await;
    let path = format!("/v1/owner/accounts/{account}/revocations");
    // This revocation of the session, with `signer`'s signature of `digest`.
    let relay = async |signer: &PrivateKeySigner, digest: alloy::primitives::B256| {
        h.call(
            "POST",
            &path,
            Some(&token),
            Some(json!({ "sessionHashes": [hash], "chains": chains,
                "signature": hex_signature(signer.sign_hash_sync(&digest).unwrap()) })),
        )
        .await
    };

    // Signed by another wallet: refused, and the session still works.
    let (status, refused) = relay(&stranger, revocation.digest()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    // The owner's signature of another revocation (every session) given as this one: refused.
    let all = sessionkeys::relay::RevokeApproval::digest(
        validator,
        account,
        &sessionkeys::relay::RevokeTarget::All,
        &revocation.chains,
    );
    let (status, refused) = relay(&owner, all).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, executed) = h.execute_to_alice(&key, &id).await;
    assert_eq!(status, StatusCode::OK, "still usable: {executed}");
    assert!(
        sessionkeys::sessions::session_status(h.backend.as_ref(), validator, account, hash)
            .await
            .unwrap()
            .1,
        "still usable on-chain"
    );

    // The owner's signature: relayed; revoked here and on-chain.
    let (status, relayed) = relay(&owner, revocation.digest()).await;
    assert_eq!(status, StatusCode::OK, "{relayed}");
    assert_eq!(relayed["revoked"][0]["status"], "revoked");
    assert_eq!(
        sessionkeys::sessions::session_status(h.backend.as_ref(), validator, account, hash)
            .await
            .unwrap(),
        (sessionkeys_contracts::vocabulary::Status::Revoked, false)
    );
    let (status, refused) = h.execute_to_alice(&key, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "session_revoked");
    let (_, activity) = h
        .call(
            "GET",
            "/v1/owner/activity?kind=owner_revoke",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        activity["activity"].as_array().map(Vec::len),
        Some(1),
        "{activity}"
    );
    assert_eq!(activity["activity"][0]["actor"], "owner");

    // The stranger's token opens nothing of this account.
    let stranger_token = sign_in(&h, &stranger).await;
    let (status, body) = h
        .call(
            "POST",
            &path,
            Some(&stranger_token),
            Some(json!({ "chains": chains,
                "signature": hex_signature(stranger.sign_hash_sync(&all).unwrap()) })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_service_without_a_relayer_says_so_before_reading_any_signature() {
    let h = harness();
    let (_, key) = h.app("a");
    let (owner, account) = h.funded_owner().await;
    h.approved_session(&key, &owner).await;
    let token = sign_in(&h, &owner).await;
    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/owner/accounts/{account}/revocations"),
            Some(&token),
            Some(json!({ "chains": [{ "chainId": 31337, "epoch": 0 }],
                "signature": format!("0x{}", "11".repeat(65)) })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no relayer key"),
        "{body}"
    );
}
