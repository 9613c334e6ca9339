//! One scenario's pieces, shared by the end-to-end tier (anvil + Alto) and the same tests on
//! the devnet: a USDC spending session, funded accounts, and refusal helpers.
#![allow(dead_code)] // each test binary uses its own subset

use alloy::primitives::{Address, B256, U256, address};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys::backend::{Backend, PlainTransaction};
use sessionkeys::{
    Call, EntryPointVersion, SdkError, SessionClient, SessionGrant, SmartAccount, WaitPolicy,
};
use sessionkeys_chain::deployment::{self, fixtures};
use sessionkeys_contracts::abi::TestToken;
use sessionkeys_contracts::session::{ISessionKeyValidator, SessionSpec};
use sessionkeys_engine::format::parse_session_json;
use std::sync::Arc;

/// anvil's published development keys (from its default mnemonic; not secrets): the deployer
/// and funder, Alto's executor, and Alto's utility account.
pub const ANVIL_KEYS: [&str; 3] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// Deploys and pays for plain transactions (the embedded tests fund its address).
pub fn funder() -> PrivateKeySigner {
    ANVIL_KEYS[0].parse().unwrap()
}

pub const ALICE: Address = address!("0x00000000000000000000000000000000000a11ce");
pub const BOB: Address = address!("0x0000000000000000000000000000000000000b0b");
pub const CAROL: Address = address!("0x00000000000000000000000000000000000ca401");
pub const USDC: u64 = 1_000_000;

pub fn validator() -> Address {
    deployment::session_key_validator(Address::ZERO).address()
}

pub fn usdc() -> Address {
    fixtures::usdc().address()
}

/// At most 100 USDC in all, only to Alice or Bob, 10 ops a minute, 0.05 ETH of fees, for an
/// hour.
pub fn usdc_session(signer: Address, now: u64) -> SessionSpec {
    let json = format!(
        r#"{{
          "validAfter": {after},
          "validUntil": {until},
          "feeLimit": {{ "limit": "50000000000000000" }},
          "opLimit": {{ "limit": 10, "per": "1m" }},
          "callPolicies": [{{
            "target": "{usdc}",
            "selector": "transfer(address,uint256)",
            "constraints": [
              {{ "index": 0, "condition": "oneOf", "oneOf": ["{ALICE}", "{BOB}"], "bits": 160 }},
              {{ "index": 1, "condition": "unconstrained", "limit": {{ "limit": "{limit}" }} }}
            ]
          }}]
        }}"#,
        after = now - 60,
        until = now + 3600,
        usdc = usdc(),
        limit = 100 * USDC,
    );
    parse_session_json(&json)
        .unwrap()
        .to_spec(Some(signer))
        .unwrap()
}

pub fn transfer(to: Address, amount: u64) -> Call {
    Call::typed(
        usdc(),
        &TestToken::transferCall {
            to,
            amount: U256::from(amount),
        },
    )
}

pub async fn usdc_balance(backend: &dyn Backend, who: Address) -> U256 {
    let out = backend
        .call(
            usdc(),
            TestToken::balanceOfCall::new((who,)).abi_encode().into(),
        )
        .await
        .unwrap();
    TestToken::balanceOfCall::abi_decode_returns(&out).unwrap()
}

pub async fn send_plain(backend: &dyn Backend, to: Address, value: U256, data: Vec<u8>) {
    backend
        .send_transaction(
            &funder(),
            PlainTransaction {
                to,
                value,
                data: data.into(),
                authorizations: Vec::new(),
            },
        )
        .await
        .unwrap();
}

/// Gives `account` 1 ETH for fees and 1,000 USDC.
pub async fn fund(backend: &dyn Backend, account: Address) {
    send_plain(
        backend,
        account,
        U256::from(10u64).pow(U256::from(18)),
        vec![],
    )
    .await;
    let mint = TestToken::mintCall {
        to: account,
        amount: U256::from(1000 * USDC),
    };
    send_plain(backend, usdc(), U256::ZERO, mint.abi_encode()).await;
}

pub async fn new_account(
    backend: &dyn Backend,
    version: EntryPointVersion,
) -> (SmartAccount, PrivateKeySigner) {
    let owner = PrivateKeySigner::random();
    let factory =
        deployment::session_account_factory(version, deployment::DEFAULT_FACTORY_OWNER).address();
    let account = SmartAccount::counterfactual(
        backend,
        version,
        factory,
        owner.address(),
        vec![validator()],
        U256::ZERO,
    )
    .await
    .unwrap();
    fund(backend, account.address).await;
    (account, owner)
}

/// A new funded account whose owner granted the USDC session on-chain (its first op, which
/// deploys it), and the session key's client.
pub async fn granted(
    backend: Arc<dyn Backend>,
    version: EntryPointVersion,
) -> (SessionClient, SessionGrant, SmartAccount, PrivateKeySigner) {
    let (account, owner) = new_account(backend.as_ref(), version).await;
    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let grant = SessionGrant::new(usdc_session(key.address(), now), validator()).unwrap();
    grant
        .grant_on_chain(backend.as_ref(), &account, &owner, wait())
        .await
        .unwrap();
    let client = SessionClient::new(
        backend,
        account.clone(),
        grant.spec.clone(),
        key,
        validator(),
    )
    .unwrap();
    (client, grant, account, owner)
}

/// The owner revokes one session with an owner op calling `revokeSession`.
pub async fn revoke_session(
    backend: &dyn Backend,
    account: &SmartAccount,
    owner: &PrivateKeySigner,
    hash: B256,
) {
    let revoke = ISessionKeyValidator::revokeSessionCall { sessionHash: hash };
    account
        .execute_as_owner(backend, owner, &[Call::typed(validator(), &revoke)], wait())
        .await
        .unwrap();
}

/// The owner revokes every session of the account with an owner op calling `revokeAll`.
pub async fn revoke_all(backend: &dyn Backend, account: &SmartAccount, owner: &PrivateKeySigner) {
    let revoke = ISessionKeyValidator::revokeAllCall {};
    account
        .execute_as_owner(backend, owner, &[Call::typed(validator(), &revoke)], wait())
        .await
        .unwrap();
}

pub fn wait() -> WaitPolicy {
    WaitPolicy::default()
}

pub fn refused_name(result: Result<sessionkeys::Executed, SdkError>) -> &'static str {
    match result {
        Err(SdkError::Refused { violation }) => violation.name(),
        other => panic!("expected a local refusal, got {other:?}"),
    }
}
