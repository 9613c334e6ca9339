//! Request → approve on the devnet: the owner approves with a wallet's signature of
//! the typed data, the session is enabled by its first op (which deploys a counterfactual
//! account) or by a relayer; wrong signers, stale approvals and ended sessions are refused; a
//! grant that fails leaves no key behind.

#[path = "support/scenario.rs"]
mod scenario;

use alloy::primitives::{Address, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use scenario::*;
use sessionkeys::backend::Backend;
use sessionkeys::relay::{OwnerConsent, RevokeRequest, RevokeTarget, relay_revoke};
use sessionkeys::request::{self, RequestOptions};
use sessionkeys::store::{SessionStore, StoredStatus};
use sessionkeys::{
    AccountPlan, DevnetBackend, Enable, Enabled, EntryPointVersion, GrantRoute, Requested,
    SdkError, SessionClient, SessionTemplate,
};
use sessionkeys_contracts::vocabulary::SignatureMode;
use std::sync::Arc;

const PASSWORD: &[u8] = b"request tests";

fn backend() -> Arc<DevnetBackend> {
    let backend = DevnetBackend::new().expect("the devnet (run `npm ci --prefix contracts`)");
    backend.with_devnet(|d| {
        d.chain
            .set_balance(funder().address(), U256::from(10u64).pow(U256::from(24)))
    });
    Arc::new(backend)
}

fn temp_store(name: &str) -> SessionStore {
    let dir = std::env::temp_dir().join(format!("sk-request-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    SessionStore::open(dir).unwrap()
}

/// The USDC session of the scenario as a session file without a signer.
fn template(now: u64) -> SessionTemplate {
    template_until(now, now + 3600)
}

fn template_until(now: u64, until: u64) -> SessionTemplate {
    let spec = usdc_session(Address::with_last_byte(1), now);
    let mut json = sessionkeys_engine::format::SessionJson::from_spec(&spec);
    json.signer = None;
    json.valid_until = sessionkeys_engine::format::scalars::Timestamp(until);
    SessionTemplate::from_json(json).unwrap()
}

/// A request of the USDC session for `plan`'s account, now.
async fn request_usdc(
    backend: &DevnetBackend,
    store: &SessionStore,
    plan: &AccountPlan,
) -> Requested {
    let now = backend.latest_timestamp().await.unwrap();
    request::request(
        backend,
        &store.unlocked(PASSWORD),
        &template(now),
        plan,
        RequestOptions::default(),
    )
    .await
    .unwrap()
}

/// What a wallet does with the typed data: sign its EIP-712 digest.
fn wallet_sign(owner: &PrivateKeySigner, digest: alloy::primitives::B256) -> Vec<u8> {
    owner.sign_hash_sync(&digest).unwrap().as_bytes().to_vec()
}

fn keys_in(store: &SessionStore) -> usize {
    std::fs::read_dir(store.keys_dir())
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_wallet_approved_session_deploys_a_counterfactual_account_in_its_first_op() {
    let backend = backend();
    let store = temp_store("first-use");
    let owner = PrivateKeySigner::random();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V08);
    let account = plan.account(backend.as_ref()).await.unwrap();
    fund(backend.as_ref(), account.address).await;
    let requested = request_usdc(&backend, &store, &plan).await;
    assert_eq!(requested.session.status, StoredStatus::Requested);
    assert_eq!(requested.typed_data["primaryType"], "EnableSession");
    // Not usable before the owner approves.
    let stored = store.find("latest").unwrap();
    assert!(matches!(
        SessionClient::from_store(backend.clone(), &store, &stored, PASSWORD),
        Err(SdkError::Account(_))
    ));

    let signature = wallet_sign(&owner, requested.digest);
    let approved = request::approve(
        backend.as_ref(),
        &store.records(),
        requested.session.hash,
        &signature,
        Enable::FirstUse,
    )
    .await
    .unwrap();
    assert_eq!(approved.enabled, Enabled::AtFirstUse);
    assert!(!account.is_deployed(backend.as_ref()).await.unwrap());

    // Another process: everything it needs comes from the store.
    let stored = store.find("latest").unwrap();
    assert_eq!(stored.status, StoredStatus::Approved);
    let client = SessionClient::from_store(backend.clone(), &store, &stored, PASSWORD).unwrap();
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    assert!(account.is_deployed(backend.as_ref()).await.unwrap());
    assert_eq!(
        usdc_balance(backend.as_ref(), ALICE).await,
        U256::from(USDC)
    );
    assert_eq!(
        refused_name(client.send(&[transfer(CAROL, 1)]).await),
        "ConstraintViolated"
    );
}

#[tokio::test]
async fn a_signature_by_another_wallet_is_refused_naming_both_and_the_request_stays() {
    let backend = backend();
    let store = temp_store("wrong-signer");
    let owner = PrivateKeySigner::random();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let requested = request_usdc(&backend, &store, &plan).await;
    let stranger = PrivateKeySigner::random();
    let signature = wallet_sign(&stranger, requested.digest);
    match request::approve(
        backend.as_ref(),
        &store.records(),
        requested.session.hash,
        &signature,
        Enable::FirstUse,
    )
    .await
    {
        Err(SdkError::WrongSigner {
            expected,
            recovered,
            ..
        }) => assert_eq!((expected, recovered), (owner.address(), stranger.address())),
        other => panic!("expected WrongSigner, got {other:?}"),
    }
    assert_eq!(
        store.find("latest").unwrap().status,
        StoredStatus::Requested
    );
    // The owner's signature still approves it; approving twice is refused.
    let signature = wallet_sign(&owner, requested.digest);
    let records = store.records();
    let approve = || {
        request::approve(
            backend.as_ref(),
            &records,
            requested.session.hash,
            &signature,
            Enable::FirstUse,
        )
    };
    approve().await.unwrap();
    assert!(matches!(
        approve().await,
        Err(SdkError::NotRequested { .. })
    ));
}

#[tokio::test]
async fn a_request_on_a_deployed_account_is_enabled_now_by_a_relayer() {
    let backend = backend();
    let store = temp_store("relayed");
    let (client, _, account, owner) = granted(backend.clone(), EntryPointVersion::V07).await;
    client.send(&[transfer(ALICE, 1)]).await.unwrap();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let requested = request_usdc(&backend, &store, &plan).await;
    assert_eq!(requested.session.account, account.address);
    let signature = wallet_sign(&owner, requested.digest);
    let relayer = funder();
    let approved = request::approve(
        backend.as_ref(),
        &store.records(),
        requested.session.hash,
        &signature,
        Enable::Relayed(&relayer),
    )
    .await
    .unwrap();
    assert!(matches!(
        approved.enabled,
        Enabled::Relayed {
            deployed_account: false,
            ..
        }
    ));
    assert_eq!(approved.session.status, StoredStatus::Granted);
    let stored = store.find("latest").unwrap();
    let client = SessionClient::from_store(backend.clone(), &store, &stored, PASSWORD).unwrap();
    assert_eq!(
        client.precheck(&[transfer(BOB, 1)]).await.unwrap().mode,
        SignatureMode::Use,
        "enabled already: plain use"
    );
    client.send(&[transfer(BOB, USDC)]).await.unwrap();
}

#[tokio::test]
async fn a_wallet_signed_revocation_is_relayed_and_a_strangers_is_refused() {
    let backend = backend();
    let (client, grant, account, owner) = granted(backend.clone(), EntryPointVersion::V08).await;
    let revoke = RevokeRequest::new(
        backend.as_ref(),
        validator(),
        account.address,
        RevokeTarget::Sessions(vec![grant.hash().unwrap()]),
    )
    .await
    .unwrap();
    assert_eq!(revoke.typed_data()["primaryType"], "RevokeSessions");
    let stranger = PrivateKeySigner::random();
    match revoke
        .clone()
        .with_wallet_signature(owner.address(), &wallet_sign(&stranger, revoke.digest()))
    {
        Err(SdkError::WrongSigner { recovered, .. }) => {
            assert_eq!(recovered, stranger.address())
        }
        other => panic!("expected WrongSigner, got {other:?}"),
    }
    let approval = revoke
        .clone()
        .approve(&OwnerConsent::Wallet {
            owner: owner.address(),
            signature: wallet_sign(&owner, revoke.digest()),
        })
        .unwrap();
    relay_revoke(backend.as_ref(), validator(), &approval, &funder())
        .await
        .unwrap();
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 1)]).await),
        "SessionRevoked"
    );
}

#[tokio::test]
async fn an_approval_after_revoke_all_is_refused_as_stale() {
    let backend = backend();
    let store = temp_store("stale");
    let (_, _, account, owner) = granted(backend.clone(), EntryPointVersion::V07).await;
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let requested = request_usdc(&backend, &store, &plan).await;
    revoke_all(backend.as_ref(), &account, &owner).await;
    let signature = wallet_sign(&owner, requested.digest);
    match request::approve(
        backend.as_ref(),
        &store.records(),
        requested.session.hash,
        &signature,
        Enable::FirstUse,
    )
    .await
    {
        Err(SdkError::ApprovalStale {
            signed, current, ..
        }) => assert_eq!((signed, current), (0, 1)),
        other => panic!("expected ApprovalStale, got {other:?}"),
    }
}

#[tokio::test]
async fn a_session_that_has_already_ended_is_refused_before_a_key_is_made() {
    let backend = backend();
    let store = temp_store("expired");
    let owner = PrivateKeySigner::random();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let now = backend.latest_timestamp().await.unwrap();
    for until in [now - 1, now] {
        match request::grant(
            backend.as_ref(),
            &store.unlocked(PASSWORD),
            &template_until(now - 3600, until),
            &plan,
            &owner,
            GrantRoute::OwnerOp,
            RequestOptions {
                allow_lint_errors: true,
            },
        )
        .await
        {
            Err(SdkError::SessionExpired { valid_until, .. }) => assert_eq!(valid_until, until),
            other => panic!("expected SessionExpired, got {other:?}"),
        }
    }
    assert_eq!(keys_in(&store), 0);
    assert!(store.list().unwrap().sessions.is_empty());
}

#[tokio::test]
async fn a_request_signed_after_the_session_ended_is_not_enabled() {
    let backend = backend();
    let store = temp_store("ended-before-approval");
    let owner = PrivateKeySigner::random();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let requested = request_usdc(&backend, &store, &plan).await;
    // The owner signs a day later, after the session's hour is over.
    backend.with_devnet(|d| d.chain.advance(86_400));
    let signature = wallet_sign(&owner, requested.digest);
    match request::approve(
        backend.as_ref(),
        &store.records(),
        requested.session.hash,
        &signature,
        Enable::Relayed(&funder()),
    )
    .await
    {
        Err(SdkError::SessionExpired { valid_until, now }) => assert!(valid_until <= now),
        other => panic!("expected SessionExpired, got {other:?}"),
    }
    // Nothing was sent: the relayer deployed nothing, and the request is still on record.
    let account = plan.account(backend.as_ref()).await.unwrap();
    assert!(!account.is_deployed(backend.as_ref()).await.unwrap());
    assert_eq!(
        store.find("latest").unwrap().status,
        StoredStatus::Requested
    );
}

#[tokio::test]
async fn a_grant_that_fails_after_making_the_key_leaves_no_key_and_no_record() {
    let backend = backend();
    let store = temp_store("orphan");
    // An account with no ETH: the owner op that would deploy it and enable the session is
    // refused by the bundler (AA21), after the key was made.
    let owner = PrivateKeySigner::random();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let now = backend.latest_timestamp().await.unwrap();
    let result = request::grant(
        backend.as_ref(),
        &store.unlocked(PASSWORD),
        &template(now),
        &plan,
        &owner,
        GrantRoute::OwnerOp,
        RequestOptions::default(),
    )
    .await;
    assert!(
        matches!(result, Err(SdkError::BundlerRefused { .. })),
        "{result:?}"
    );
    assert_eq!(keys_in(&store), 0, "the key of the failed grant is deleted");
    assert!(store.list().unwrap().sessions.is_empty());

    // The same grant with the account funded succeeds and keeps exactly one key.
    let account = plan.account(backend.as_ref()).await.unwrap();
    fund(backend.as_ref(), account.address).await;
    let approved = request::grant(
        backend.as_ref(),
        &store.unlocked(PASSWORD),
        &template(now),
        &plan,
        &owner,
        GrantRoute::OwnerOp,
        RequestOptions::default(),
    )
    .await
    .unwrap();
    assert!(matches!(approved.enabled, Enabled::OwnerOp { .. }));
    assert_eq!(keys_in(&store), 1);
    assert_eq!(approved.session.factory, Some(plan.stored_factory()));
}

#[tokio::test]
async fn lint_errors_refuse_a_request_unless_accepted() {
    let backend = backend();
    let store = temp_store("lint");
    let owner = PrivateKeySigner::random();
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let unscoped = SessionTemplate::parse(&format!(
        r#"{{ "validUntil": 4000000000, "callPolicies": [{{ "target": "{}",
              "selector": "approve(address,uint256)" }}] }}"#,
        usdc()
    ))
    .unwrap();
    let records = store.unlocked(PASSWORD);
    let ask = |allow_lint_errors| {
        request::request(
            backend.as_ref(),
            &records,
            &unscoped,
            &plan,
            RequestOptions { allow_lint_errors },
        )
    };
    match ask(false).await {
        Err(SdkError::LintErrors { count }) => assert_eq!(count, 2, "SK001 and SK011"),
        other => panic!("expected LintErrors, got {other:?}"),
    }
    assert_eq!(keys_in(&store), 0);
    ask(true).await.unwrap();
    assert_eq!(keys_in(&store), 1);
}

#[test]
fn a_session_file_naming_a_signer_is_no_template() {
    let with_signer = r#"{ "signer": "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf",
        "validUntil": 4000000000, "transferPolicies": [{ "target":
        "0x000000000000000000000000000000000000b0b0", "maxValuePerUse": "1" }] }"#;
    assert!(matches!(
        SessionTemplate::parse(with_signer),
        Err(sessionkeys::template::TemplateError::HasSigner)
    ));
    let template = SessionTemplate::parse(&with_signer.replace(
        r#""signer": "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","#,
        "",
    ))
    .unwrap();
    let key = Address::repeat_byte(0x42);
    assert_eq!(template.with_signer(key).unwrap().signer, key);
    assert_eq!(template.valid_until(), 4_000_000_000);
}
