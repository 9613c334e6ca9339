//! An account's sessions from the chain (those the service holds and those granted elsewhere,
//! with budgets), the session key's own revoke on-chain, and revoke-all for apps and owners.

#[path = "support/harness.rs"]
mod harness;

use alloy::signers::local::PrivateKeySigner;
use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use serde_json::{Value, json};
use sessionkeys::{AccountPlan, EntryPointVersion, SessionGrant};

fn by_hash<'a>(list: &'a Value, hash: &str) -> &'a Value {
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sessionHash"] == hash)
        .unwrap_or_else(|| panic!("{hash} not in {list}"))
}

#[tokio::test]
async fn an_account_lists_its_sessions_from_the_chain_including_one_granted_elsewhere() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (_, other_key) = h.app("other");
    let (owner, account) = h.funded_owner().await;
    let (id, requested) = h.approved_session(&key, &owner).await;
    let ours = requested["session"]["sessionHash"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, executed) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(&key),
            Some(calls(ALICE, 30 * USDC)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{executed}");
    // The owner grants another session with the SDK, not through the service.
    let smart = AccountPlan::new(owner.address(), EntryPointVersion::V07)
        .account(h.backend.as_ref())
        .await
        .unwrap();
    let now = h.now().await;
    let elsewhere = SessionGrant::new(
        usdc_session(PrivateKeySigner::random().address(), now + 1),
        validator(),
    )
    .unwrap();
    elsewhere
        .grant_on_chain(h.backend.as_ref(), &smart, &owner, wait())
        .await
        .unwrap();
    let elsewhere_hash = format!("{:#x}", elsewhere.hash().unwrap());

    let (status, listed) = h
        .call(
            "GET",
            &format!("/v1/accounts/{account}/sessions"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 2, "{listed}");
    let held = by_hash(&listed, &ours);
    assert_eq!(held["id"], id.as_str());
    assert_eq!(held["status"], "granted");
    assert_eq!(held["onchain"], "active");
    assert_eq!(held["usable"], true);
    let sum = held["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "sum")
        .unwrap_or_else(|| panic!("{held}"));
    assert_eq!(sum["used"], (30 * USDC).to_string());
    assert_eq!(sum["remaining"], (70 * USDC).to_string());
    // The scenario's budget is for the session's whole life: no period, no reset.
    assert_eq!(
        (&sum["period"], &sum["resetsAt"]),
        (&json!(0), &json!(0)),
        "{sum}"
    );
    let other = by_hash(&listed, &elsewhere_hash);
    assert_eq!(other["id"], Value::Null, "not held here");
    assert_eq!(other["onchain"], "active");

    // Another app sees what the chain says, and holds neither.
    let (_, seen) = h
        .call(
            "GET",
            &format!("/v1/accounts/{account}/sessions"),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(by_hash(&seen, &ours)["id"], Value::Null);

    // Revoking: the kill switch, then the session key's own revokeSession lands on-chain.
    let (status, revoked) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id}/revoke"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(
        revoked["selfRevoke"]["userOpHash"].as_str().is_some(),
        "{revoked}"
    );
    let (_, listed) = h
        .call(
            "GET",
            &format!("/v1/accounts/{account}/sessions"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(by_hash(&listed, &ours)["onchain"], "revoked");
    assert_eq!(by_hash(&listed, &ours)["usable"], false);
    assert_eq!(by_hash(&listed, &elsewhere_hash)["onchain"], "active");
}

#[tokio::test]
async fn revoke_all_stops_every_session_of_the_account_and_only_its_owner_may_ask() {
    let h = harness();
    let (_, key_a) = h.app("a");
    let (_, key_b) = h.app("b");
    let (owner, account) = h.funded_owner().await;
    let (stranger, stranger_account) = h.funded_owner().await;
    let (id_a, _) = h.approved_session(&key_a, &owner).await;
    let (id_b, _) = h.approved_session(&key_b, &owner).await;
    let (id_stranger, _) = h.approved_session(&key_a, &stranger).await;

    // An app's revoke-all stops its own sessions of the account only.
    let (status, revoked) = h
        .call(
            "POST",
            &format!("/v1/accounts/{account}/revoke-all"),
            Some(&key_a),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 1, "{revoked}");
    assert_eq!(revoked["revoked"][0]["id"], id_a.as_str());
    assert!(revoked["ownerRevokeAllTypedData"]["primaryType"].is_string());
    let (_, b) = h
        .call("GET", &format!("/v1/sessions/{id_b}"), Some(&key_b), None)
        .await;
    assert_eq!(
        b["status"], "approved",
        "app b's session is not app a's to stop"
    );

    // The owner stops every app's; the stranger's account is not theirs.
    let token = h.owner_token(&owner).await;
    for path in [
        format!("/v1/owner/accounts/{stranger_account}/sessions"),
        format!("/v1/owner/accounts/{stranger_account}/revoke-all"),
    ] {
        let method = if path.ends_with("sessions") {
            "GET"
        } else {
            "POST"
        };
        let (status, body) = h.call(method, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, listed) = h
        .call(
            "GET",
            &format!("/v1/owner/accounts/{account}/sessions"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 2, "{listed}");
    let (status, revoked) = h
        .call(
            "POST",
            &format!("/v1/owner/accounts/{account}/revoke-all"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["revoked"][0]["id"], id_b.as_str());
    let (status, refused) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id_b}/check"),
            Some(&key_b),
            Some(calls(ALICE, 1)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (_, still) = h
        .call(
            "POST",
            &format!("/v1/sessions/{id_stranger}/check"),
            Some(&key_a),
            Some(calls(ALICE, 1)),
        )
        .await;
    assert_eq!(
        still["mode"], "enable",
        "the stranger's session goes on: {still}"
    );
}
