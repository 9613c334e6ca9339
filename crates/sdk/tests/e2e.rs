//! The end-to-end tier: the SDK against a real node (anvil, `--hardfork prague`) and a real
//! ERC-4337 bundler (Alto), both started per test on loopback inside a private network
//! namespace. Ignored by a plain `cargo test`; `scripts/e2e` runs them (and CI runs
//! `scripts/e2e`, which fails if no test ran).

mod support;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::backend::Backend;
use sessionkeys::client::session_usage;
use sessionkeys::deploy::deploy;
use sessionkeys::{Call, EntryPointVersion, SdkError, SessionClient, SessionGrant, SmartAccount};
use sessionkeys_chain::RevertReason;
use sessionkeys_chain::deployment;
use sessionkeys_contracts::abi::SessionAccount;
use sessionkeys_contracts::session::ISessionKeyValidator;
use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as VErr;
use sessionkeys_contracts::vocabulary::{CounterKind, SignatureMode};
use sessionkeys_devnet::Devnet;
use std::sync::Arc;
use support::scenario::*;
use support::stack::{Stack, StalledNode, foundry_binary};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn deploy_lands_every_contract_at_its_devnet_address_and_twice_is_a_no_op() {
    let stack = Stack::start("deploy").await;
    let devnet = Devnet::new().unwrap();
    let at = |name: &str| {
        stack
            .deployed
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} not deployed"))
            .address
    };
    assert_eq!(at("EntryPoint v0.7"), EntryPointVersion::V07.address());
    assert_eq!(at("EntryPoint v0.8"), EntryPointVersion::V08.address());
    assert_eq!(at("SessionKeyValidator"), devnet.addresses.validator);
    assert_eq!(
        at("SessionAccountFactory (v0.7)"),
        devnet.addresses.factory_v07
    );
    assert_eq!(
        at("SessionAccountFactory (v0.8)"),
        devnet.addresses.factory_v08
    );
    assert_eq!(at("TestToken USDC"), devnet.addresses.usdc);
    assert_eq!(at("Game"), devnet.addresses.game);
    assert!(stack.deployed.iter().all(|c| c.newly_deployed));
    let plan: Vec<_> = deployment::core_contracts(deployment::DEFAULT_FACTORY_OWNER);
    let again = deploy(&stack.backend, &funder(), &plan).await.unwrap();
    assert!(again.iter().all(|c| !c.newly_deployed), "{again:?}");
    let entry_points = stack.backend.supported_entry_points().await.unwrap();
    assert_eq!(
        entry_points,
        vec![
            EntryPointVersion::V07.address(),
            EntryPointVersion::V08.address()
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn a_session_granted_on_chain_spends_to_its_limit_and_stops_when_revoked() {
    let stack = Stack::start("granted").await;
    let backend: Arc<dyn Backend> = Arc::new(stack.backend.clone());
    let (account, owner) = new_account(backend.as_ref(), EntryPointVersion::V07).await;
    assert!(!account.is_deployed(backend.as_ref()).await.unwrap());

    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let grant = SessionGrant::new(usdc_session(key.address(), now), validator()).unwrap();
    assert!(grant.lint(now).is_empty(), "{:?}", grant.lint(now));
    // The grant is the account's first op: it deploys the account and enables the session.
    grant
        .grant_on_chain(backend.as_ref(), &account, &owner, wait())
        .await
        .unwrap();
    assert!(account.is_deployed(backend.as_ref()).await.unwrap());

    let client = SessionClient::new(
        backend.clone(),
        account.clone(),
        grant.spec.clone(),
        key,
        validator(),
    )
    .unwrap();
    let sent = client.send(&[transfer(ALICE, 60 * USDC)]).await.unwrap();
    assert!(sent.actual_gas_cost > U256::ZERO);
    assert_eq!(
        usdc_balance(backend.as_ref(), ALICE).await,
        U256::from(60 * USDC)
    );

    // One unit over the remaining 40 USDC: the engine refuses before anything is sent …
    let over = [transfer(BOB, 40 * USDC + 1)];
    assert_eq!(refused_name(client.send(&over).await), "LimitExceeded");
    // … and the bundler refuses the same op, naming the validator's error.
    match client.send_without_precheck(&over).await {
        Err(SdkError::BundlerRefused { reason, .. }) => {
            let reason = reason.expect("the bundler's refusal carries the validator's revert");
            assert!(
                matches!(*reason, RevertReason::Validator(VErr::LimitExceeded(_))),
                "{reason}"
            );
        }
        other => panic!("expected the bundler to refuse, got {other:?}"),
    }
    assert_eq!(
        refused_name(client.send(&[transfer(CAROL, USDC)]).await),
        "ConstraintViolated"
    );
    // Exactly at the limit passes.
    client.send(&[transfer(BOB, 40 * USDC)]).await.unwrap();
    assert_eq!(
        usdc_balance(backend.as_ref(), BOB).await,
        U256::from(40 * USDC)
    );
    let usage = client.usage().await.unwrap();
    let spent = usage
        .iter()
        .find(|row| row.kind == u8::from(CounterKind::ConstraintSum))
        .expect("the constraint sum row");
    assert_eq!(spent.used, U256::from(100 * USDC));
    assert_eq!(spent.remaining, U256::ZERO);

    revoke_session(backend.as_ref(), &account, &owner, grant.hash().unwrap()).await;
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 1)]).await),
        "SessionRevoked"
    );
    match client.send_without_precheck(&[transfer(ALICE, 1)]).await {
        Err(SdkError::BundlerRefused { reason, .. }) => {
            assert!(matches!(
                reason.as_deref(),
                Some(RevertReason::Validator(VErr::SessionRevoked(_)))
            ));
        }
        other => panic!("expected the bundler to refuse, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn a_session_enabled_in_its_first_use_on_v08_ends_with_revoke_all() {
    let stack = Stack::start("first-use").await;
    let backend: Arc<dyn Backend> = Arc::new(stack.backend.clone());
    let (account, owner) = new_account(backend.as_ref(), EntryPointVersion::V08).await;
    // Deploy the account with an owner op that does nothing but exist.
    account
        .execute_as_owner(
            backend.as_ref(),
            &owner,
            &[Call::transfer(owner.address(), U256::ZERO)],
            wait(),
        )
        .await
        .unwrap();

    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let grant = SessionGrant::new(usdc_session(key.address(), now), validator()).unwrap();
    let chain = grant
        .current_chain(backend.as_ref(), account.address)
        .await
        .unwrap();
    let approval = grant.approve(&owner, account.address, vec![chain]);
    let client = SessionClient::new(
        backend.clone(),
        account.clone(),
        grant.spec.clone(),
        key,
        validator(),
    )
    .unwrap()
    .with_enable_approval(approval);
    assert_eq!(
        client
            .precheck(&[transfer(ALICE, USDC)])
            .await
            .unwrap()
            .mode,
        SignatureMode::Enable
    );
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    // Enabled now: the next op uses it plainly.
    assert_eq!(
        client
            .precheck(&[transfer(ALICE, USDC)])
            .await
            .unwrap()
            .mode,
        SignatureMode::Use
    );
    client.send(&[transfer(BOB, 2 * USDC)]).await.unwrap();
    assert_eq!(
        usdc_balance(backend.as_ref(), BOB).await,
        U256::from(2 * USDC)
    );

    let revoke_all = ISessionKeyValidator::revokeAllCall {};
    account
        .execute_as_owner(
            backend.as_ref(),
            &owner,
            &[Call::typed(validator(), &revoke_all)],
            wait(),
        )
        .await
        .unwrap();
    // Every session enabled before the new epoch is dead, and the old approval cannot revive it.
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 1)]).await),
        "SessionEpochStale"
    );
    match client.send_without_precheck(&[transfer(ALICE, 1)]).await {
        Err(SdkError::BundlerRefused { reason, .. }) => {
            assert!(matches!(
                reason.as_deref(),
                Some(RevertReason::Validator(VErr::SessionEpochStale(_)))
            ));
        }
        other => panic!("expected the bundler to refuse, got {other:?}"),
    }
    let usage = session_usage(backend.as_ref(), validator(), account.address, &grant.spec)
        .await
        .unwrap();
    assert!(!usage.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn an_eoa_delegated_with_eip7702_uses_a_session() {
    let stack = Stack::start("eip7702").await;
    let backend: Arc<dyn Backend> = Arc::new(stack.backend.clone());
    let version = EntryPointVersion::V08;
    let eoa = PrivateKeySigner::random();
    fund(backend.as_ref(), eoa.address()).await;
    let implementation = sessionkeys::delegation::implementation(
        backend.as_ref(),
        version,
        deployment::DEFAULT_FACTORY_OWNER,
    )
    .await
    .unwrap();
    sessionkeys::delegation::delegate(backend.as_ref(), &funder(), &eoa, implementation)
        .await
        .unwrap();
    let code = backend.code(eoa.address()).await.unwrap();
    assert_eq!(
        &code[..3],
        &[0xef, 0x01, 0x00],
        "an EIP-7702 delegation designator"
    );
    assert_eq!(&code[3..], implementation.as_slice());

    let account = SmartAccount::eip7702(eoa.address(), version);
    let install = SessionAccount::installModuleCall {
        moduleTypeId: U256::from(1),
        module: validator(),
        initData: Default::default(),
    };
    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let grant = SessionGrant::new(usdc_session(key.address(), now), validator()).unwrap();
    let enable = ISessionKeyValidator::enableSessionCall {
        spec: sessionkeys_contracts::vocabulary::packed::encode_spec(&grant.spec)
            .unwrap()
            .into(),
    };
    // One owner op, signed by the EOA itself: install the validator and enable the session.
    account
        .execute_as_owner(
            backend.as_ref(),
            &eoa,
            &[
                Call::typed(eoa.address(), &install),
                Call::typed(validator(), &enable),
            ],
            wait(),
        )
        .await
        .unwrap();
    let client = SessionClient::new(
        backend.clone(),
        account,
        grant.spec.clone(),
        key,
        validator(),
    )
    .unwrap();
    client.send(&[transfer(ALICE, 5 * USDC)]).await.unwrap();
    assert_eq!(
        usdc_balance(backend.as_ref(), ALICE).await,
        U256::from(5 * USDC)
    );
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 96 * USDC)]).await),
        "LimitExceeded"
    );
}

#[test]
#[ignore = "end-to-end tier: needs cast from e2e/node_modules; run scripts/e2e"]
fn cast_wallet_reads_a_session_key_file_from_the_store() {
    let dir = std::env::temp_dir().join(format!("sk-e2e-cast-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = sessionkeys::store::SessionStore::open(&dir).unwrap();
    let (key, name) = store.new_key(b"a password for cast").unwrap();
    let output = std::process::Command::new(foundry_binary("cast"))
        .args(["wallet", "address", "--keystore"])
        .arg(store.keys_dir().join(name))
        .args(["--password", "a password for cast"])
        .output()
        .expect("run cast");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Address = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(printed, key.address());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn an_op_sent_in_the_last_seconds_of_its_rate_limit_minute_lands_in_the_next_minute() {
    let stack = Stack::start("boundary").await;
    let backend: Arc<dyn Backend> = Arc::new(stack.backend.clone());
    let (client, ..) = granted(backend.clone(), EntryPointVersion::V08).await;

    // Four seconds before a minute ends, an op under the 10-a-minute limit would be valid for
    // less than Alto's 5 s: Alto refuses it ("expires too soon"). The client waits for a block
    // of the next minute and sends it there.
    let clock = backend.clock().await.unwrap();
    let mut boundary = clock - clock % 60 + 60;
    if boundary - clock < 6 {
        boundary += 60;
    }
    while backend.clock().await.unwrap() < boundary - 4 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    let landed = backend.latest_timestamp().await.unwrap();
    assert!(
        landed > boundary,
        "landed at {landed}, the minute ends at {boundary}"
    );
    let usage = client.usage().await.unwrap();
    let ops = usage
        .iter()
        .find(|row| row.kind == u8::from(CounterKind::Ops))
        .unwrap();
    assert_eq!(ops.used, U256::from(1), "charged in the new minute");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil in a private network namespace; run scripts/e2e"]
async fn a_transaction_a_node_never_mines_is_given_up_naming_its_hash() {
    let node = StalledNode::start().await;
    let backend = sessionkeys::RpcBackend::with_timeout(
        &node.url,
        &node.url,
        std::time::Duration::from_secs(5),
    )
    .unwrap()
    .with_mining_wait(std::time::Duration::from_secs(2));
    let started = std::time::Instant::now();
    let error = backend
        .send_transaction(
            &funder(),
            sessionkeys::backend::PlainTransaction {
                to: ALICE,
                value: U256::from(1),
                data: Default::default(),
                authorizations: vec![],
            },
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let text = error.to_string();
    let sessionkeys::BackendError::NotMined { hash, seconds } = error else {
        panic!("expected NotMined, got {error:?}");
    };
    assert_eq!(seconds, 2);
    assert!(text.contains(&hash.to_string()), "{text}");
    // The node holds it: it may still be mined, as the error says.
    use alloy::providers::Provider;
    let pending: serde_json::Value = alloy::providers::ProviderBuilder::new()
        .connect_http(node.url.parse().unwrap())
        .raw_request("eth_getTransactionByHash".into(), (hash,))
        .await
        .unwrap();
    assert_eq!(pending["hash"], serde_json::json!(hash));
}
