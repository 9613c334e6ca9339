//! ERC-7715 over `POST /v1/erc7715` with the ERC's JSON shapes: a dapp asks for an ERC-20
//! periodic permission for its own key, the owner approves it asynchronously, the dapp redeems
//! it through prepare and submit signing with its key (the service never sees it); what does
//! not map is refused with -32602 naming the field; revoke stops it.

#[path = "support/harness.rs"]
mod harness;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use serde_json::{Value, json};

async fn rpc(h: &Harness, key: &str, method: &str, params: Value) -> Value {
    let (status, answer) = h
        .call(
            "POST",
            "/v1/erc7715",
            Some(key),
            Some(json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (&answer["jsonrpc"], &answer["id"]),
        (&json!("2.0"), &json!(1))
    );
    answer
}

/// The ERC's request shape: 5 USDC a day for `to`, for an hour.
fn periodic_request(from: Address, to: Address, now: u64) -> Value {
    json!({
        "chainId": "0x7a69",
        "from": from,
        "to": to,
        "permission": {
            "type": "erc20-token-periodic",
            "isAdjustmentAllowed": false,
            "data": {
                "tokenAddress": usdc(),
                "periodAmount": format!("{:#x}", 5 * USDC),
                "periodDuration": 86400,
                "justification": "5 USDC a day for the subscription"
            }
        },
        "rules": [{ "type": "expiry", "data": { "timestamp": now + 3600 } }]
    })
}

fn refusal_path(answer: &Value) -> &str {
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    answer["error"]["data"]["path"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_dapp_is_granted_an_erc20_periodic_permission_and_redeems_it_with_its_own_key() {
    let h = harness();
    let (_, key) = h.app("dapp");
    let (owner, account) = h.funded_owner().await;
    // The service knows the account (a session it requested for the owner), not deployed yet.
    let (held, _) = h.approved_session(&key, &owner).await;
    let now = h.now().await;
    let dapp_key = PrivateKeySigner::random();

    let supported = rpc(
        &h,
        &key,
        "wallet_getSupportedExecutionPermissions",
        json!([]),
    )
    .await;
    assert_eq!(
        supported["result"]["erc20-token-periodic"],
        json!({ "chainIds": ["0x7a69"], "ruleTypes": ["expiry"] })
    );

    let asked = periodic_request(account, dapp_key.address(), now);
    let granted = rpc(
        &h,
        &key,
        "wallet_requestExecutionPermissions",
        json!([asked]),
    )
    .await;
    let response = &granted["result"][0];
    assert_eq!(response["status"], "pending", "{granted}");
    assert_eq!(response["permission"], asked["permission"], "not adjusted");
    assert_eq!(response["to"], asked["to"]);
    let manager: Address = response["delegationManager"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        manager,
        validator(),
        "the validator: not an ERC-7710 manager"
    );
    assert_eq!(
        response["dependencies"].as_array().unwrap().len(),
        1,
        "the account is not deployed: its factory is a dependency"
    );
    let context: B256 = response["context"].as_str().unwrap().parse().unwrap();
    let id = response["sessionkeys"]["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let digest: B256 = response["sessionkeys"]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        response["sessionkeys"]["redeem"]
            .as_str()
            .unwrap()
            .contains("/prepare")
    );

    // Pending: not granted yet, and nothing can be prepared.
    let listed = rpc(&h, &key, "wallet_getGrantedExecutionPermissions", json!([])).await;
    assert_eq!(listed["result"], json!([]));
    let prepare = format!("/v1/sessions/{id}/prepare");
    let (status, early) = h
        .call("POST", &prepare, Some(&key), Some(calls(ALICE, 2 * USDC)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{early}");

    // The owner approves, asynchronously, with any wallet.
    let signature = owner.sign_hash_sync(&digest).unwrap();
    let (status, approved) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/approve"),
            Some(&key),
            Some(json!({ "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())) })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let listed = rpc(&h, &key, "wallet_getGrantedExecutionPermissions", json!([])).await;
    assert_eq!(listed["result"][0]["context"], json!(context));
    assert_eq!(listed["result"][0]["status"], "approved");

    // The service does not hold the key: execute is refused, prepare and submit work.
    let (status, refused) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("external_signer")),
        "{refused}"
    );
    let (status, prepared) = h
        .call("POST", &prepare, Some(&key), Some(calls(ALICE, 2 * USDC)))
        .await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    assert_eq!(prepared["mode"], "enable", "its first op enables it");
    let op_digest: B256 = prepared["digest"].as_str().unwrap().parse().unwrap();
    let submit = |signer: &PrivateKeySigner| {
        let signature = signer.sign_hash_sync(&op_digest).unwrap();
        json!({
            "userOp": prepared["userOp"],
            "timeHint": prepared["timeHint"],
            "mode": prepared["mode"],
            "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())),
        })
    };
    let submit_path = format!("/v1/sessions/{id}/submit");
    let stranger = PrivateKeySigner::random();
    let (status, wrong) = h
        .call("POST", &submit_path, Some(&key), Some(submit(&stranger)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{wrong}");
    let message = wrong["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&stranger.address().to_string())
            && message.contains(&dapp_key.address().to_string()),
        "{message}"
    );
    assert_eq!(
        usdc_balance(h.backend.as_ref(), ALICE).await,
        U256::ZERO,
        "nothing sent"
    );
    let (status, landed) = h
        .call("POST", &submit_path, Some(&key), Some(submit(&dapp_key)))
        .await;
    assert_eq!(status, StatusCode::OK, "{landed}");
    assert_eq!(landed["userOpHash"], prepared["userOpHash"]);
    assert_eq!(
        usdc_balance(h.backend.as_ref(), ALICE).await,
        U256::from(2 * USDC)
    );

    // The budget holds: 3 of 5 USDC left today.
    let (status, over) = h
        .call(
            "POST",
            &prepare,
            Some(&key),
            Some(calls(ALICE, 3 * USDC + 1)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{over}");
    assert_eq!(over["error"]["violation"], "LimitExceeded");

    // prepare is for keys the app holds; the service's own sessions use execute.
    let (status, own) = h
        .call(
            "POST",
            &format!("/v1/sessions/{held}/prepare"),
            Some(&key),
            Some(calls(ALICE, USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{own}");

    // The dapp gives the permission up: nothing more is prepared or listed.
    let revoked = rpc(
        &h,
        &key,
        "wallet_revokeExecutionPermission",
        json!({ "permissionContext": context }),
    )
    .await;
    assert_eq!(revoked["result"], json!({}), "{revoked}");
    let (status, after) = h
        .call("POST", &prepare, Some(&key), Some(calls(ALICE, USDC)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{after}");
    assert_eq!(after["error"]["code"], "session_revoked");
    let listed = rpc(&h, &key, "wallet_getGrantedExecutionPermissions", json!([])).await;
    assert_eq!(listed["result"], json!([]));
}

#[tokio::test]
async fn requests_that_cannot_be_granted_are_refused_naming_the_field_and_store_nothing() {
    let h = harness();
    let (app, key) = h.app("dapp");
    let (owner, account) = h.funded_owner().await;
    h.approved_session(&key, &owner).await;
    let now = h.now().await;
    let to = PrivateKeySigner::random().address();
    let before = h.service.db().sessions(&app, None, 100, 0).unwrap().len();

    let mut native = periodic_request(account, to, now);
    native["permission"] = json!({ "type": "native-token-periodic", "isAdjustmentAllowed": true,
        "data": { "periodAmount": "0x1", "periodDuration": 3600 } });
    let mut contract_key = periodic_request(account, usdc(), now);
    contract_key["permission"]["isAdjustmentAllowed"] = json!(true);
    let unknown_account = periodic_request(Address::repeat_byte(0x42), to, now);
    let mut no_expiry = periodic_request(account, to, now);
    no_expiry["rules"] = json!([]);
    let mut other_chain = periodic_request(account, to, now);
    other_chain["chainId"] = json!("0x1");
    let good = periodic_request(account, to, now);
    for (params, path) in [
        (json!([native]), "params[0].permission.type"),
        (json!([contract_key]), "params[0].to"),
        (json!([unknown_account]), "params[0].from"),
        (json!([no_expiry]), "params[0].rules"),
        // Checked before anything is stored: the good first request is not kept either.
        (json!([good, other_chain]), "params[1].chainId"),
        (json!({ "not": "an array" }), "params"),
        (
            json!(vec![periodic_request(account, to, now); 17]),
            "params",
        ),
    ] {
        let answer = rpc(&h, &key, "wallet_requestExecutionPermissions", params).await;
        assert_eq!(refusal_path(&answer), path, "{answer}");
    }
    assert_eq!(
        h.service.db().sessions(&app, None, 100, 0).unwrap().len(),
        before,
        "nothing stored"
    );

    let unknown = rpc(&h, &key, "wallet_grantPermissions", json!([])).await;
    assert_eq!(unknown["error"]["code"], -32601);
    let revoke_unknown = rpc(
        &h,
        &key,
        "wallet_revokeExecutionPermission",
        json!([{ "permissionContext": B256::repeat_byte(1) }]),
    )
    .await;
    assert_eq!(refusal_path(&revoke_unknown), "params.permissionContext");
    // Another app cannot see or revoke this app's permissions, nor learn of its accounts.
    let (_, other_key) = h.app("other");
    let theirs = rpc(
        &h,
        &other_key,
        "wallet_requestExecutionPermissions",
        json!([periodic_request(account, to, now)]),
    )
    .await;
    assert_eq!(refusal_path(&theirs), "params[0].from");
    let granted = rpc(
        &h,
        &key,
        "wallet_requestExecutionPermissions",
        json!([periodic_request(account, to, now)]),
    )
    .await;
    let context = granted["result"][0]["context"].clone();
    let theirs = rpc(
        &h,
        &other_key,
        "wallet_revokeExecutionPermission",
        json!({ "permissionContext": context }),
    )
    .await;
    assert_eq!(refusal_path(&theirs), "params.permissionContext");
    let (status, _) = h
        .call(
            "POST",
            "/v1/erc7715",
            None,
            Some(json!({ "jsonrpc": "2.0", "id": 1, "method": "wallet_getGrantedExecutionPermissions" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
