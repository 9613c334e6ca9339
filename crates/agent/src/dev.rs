//! `sessionkeys agent --dev`: the embedded devnet with a funded account and one session for
//! the agent, the one of docs/session-format.md's "An agent with a daily allowance" — USDC to
//! Alice or Bob (at most 25 each time, 50 a day), ETH to Alice (at most 0.01 each time, 0.02 a
//! day) — enabled on-chain by the owner before the agent starts.
//!
//! # Security
//! The owner's and the session's keys are made here, held in memory only and never printed:
//! a development setup, gone when the process ends.

use crate::agent::Agent;
use alloy::primitives::{Address, B256, address};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::backend::Backend;
use sessionkeys::{Call, DevnetBackend, EntryPointVersion, SdkError, SessionClient, SmartAccount};
use sessionkeys_contracts::session::{ISessionKeyValidator, SessionSpec};
use sessionkeys_contracts::vocabulary::packed;
use sessionkeys_devnet::funded::Funds;
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::format::parse_session_json;
use std::sync::Arc;

/// Alice: USDC and ETH may go to her.
pub const ALICE: Address = address!("0x00000000000000000000000000000000000A11cE");
/// Bob: USDC may go to him.
pub const BOB: Address = address!("0x0000000000000000000000000000000000000B0b");

/// What `--dev` set up, for the banner and for tests.
#[derive(Debug, Clone)]
pub struct DevSetup {
    /// The owner's account the agent acts for.
    pub account: Address,
    /// The session's hash.
    pub session: B256,
    /// The USDC-like token (6 decimals).
    pub usdc: Address,
    /// Another token the session does not cover (GOLD, 18 decimals).
    pub gold: Address,
    /// The session validator.
    pub validator: Address,
}

/// The devnet, the funded account, and the agent of its session.
///
/// # Errors
/// The devnet could not start (its EntryPoints are read from npm: `npm ci --prefix contracts`).
pub async fn dev_agent() -> Result<(Arc<Agent>, Arc<DevnetBackend>, DevSetup), SdkError> {
    dev_agent_over(|devnet| devnet).await
}

/// [`dev_agent`] whose agent reaches the devnet through `reach` (for tests: a backend that
/// answers as slowly as a network does, so concurrent tool calls interleave).
///
/// # Errors
/// As [`dev_agent`].
pub async fn dev_agent_over(
    reach: impl FnOnce(Arc<DevnetBackend>) -> Arc<dyn Backend>,
) -> Result<(Arc<Agent>, Arc<DevnetBackend>, DevSetup), SdkError> {
    let backend = Arc::new(DevnetBackend::new()?);
    let owner = PrivateKeySigner::random();
    let key = PrivateKeySigner::random();
    let version = EntryPointVersion::V07;
    let now = backend.latest_timestamp().await?;
    let (validator, usdc, gold) =
        backend.with_devnet(|d| (d.addresses.validator, d.addresses.usdc, d.addresses.token18));
    let spec = dev_session(usdc, key.address(), now)?;
    let account = backend.with_devnet(|d| -> Result<Address, SdkError> {
        let devnet_error =
            |e: sessionkeys_devnet::DevnetError| SdkError::Account(format!("the devnet: {e}"));
        let account = d
            .funded_account(
                version,
                owner.address(),
                vec![validator],
                Funds::eth_and_usdc(1, 1000).with_gold(100),
            )
            .map_err(devnet_error)?;
        let enable = Call::typed(
            validator,
            &ISessionKeyValidator::enableSessionCall {
                spec: packed::encode_spec(&spec)?.into(),
            },
        );
        let op = d
            .owner_op(version, account, &owner, &[enable])
            .map_err(devnet_error)?;
        d.handle_ops(version, &[op]).map_err(devnet_error)?;
        Ok(account)
    })?;
    let smart_account = SmartAccount {
        address: account,
        owner: owner.address(),
        version,
        factory: None,
    };
    let reached = reach(backend.clone());
    let client = SessionClient::new(reached.clone(), smart_account, spec.clone(), key, validator)?;
    let labels = Labels::well_known()
        .with_token(usdc, "USDC", 6)
        .with_token(gold, "GOLD", 18);
    let agent = Agent::new(client, reached, validator, spec, labels);
    let setup = DevSetup {
        account,
        session: agent.session_hash(),
        usdc,
        gold,
        validator,
    };
    Ok((Arc::new(agent), backend, setup))
}

/// The agent's session: a day from `now`.
fn dev_session(usdc: Address, signer: Address, now: u64) -> Result<SessionSpec, SdkError> {
    let json = serde_json::json!({
        "validUntil": now + 86_400,
        "feeLimit": {"limit": "50000000000000000", "per": "1d"},
        "opLimit": {"limit": 50, "per": "1d"},
        "callPolicies": [{
            "target": usdc.to_checksum(None),
            "selector": "transfer(address,uint256)",
            "constraints": [
                {"index": 0, "condition": "oneOf", "oneOf": [ALICE.to_checksum(None), BOB.to_checksum(None)], "bits": 160},
                {"index": 1, "condition": "lessOrEqual", "value": "25000000", "limit": {"limit": "50000000", "per": "1d"}}
            ]
        }],
        "transferPolicies": [{
            "target": ALICE.to_checksum(None),
            "maxValuePerUse": "10000000000000000",
            "valueLimit": {"limit": "20000000000000000", "per": "1d"}
        }]
    });
    let invalid = |e: &dyn std::fmt::Display| SdkError::Account(format!("the dev session: {e}"));
    parse_session_json(&json.to_string())
        .map_err(|e| invalid(&e))?
        .to_spec(Some(signer))
        .map_err(|e| invalid(&e))
}
