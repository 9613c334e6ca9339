//! Deploying sessionkeys to a chain: CREATE2 through the deterministic deployer, so every
//! contract lands at the same address on every chain, and deploying twice is a no-op.

use crate::backend::{Backend, PlainTransaction};
use crate::error::SdkError;
use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys_chain::deployment::DETERMINISTIC_DEPLOYER;
use sessionkeys_chain::deployment::PlannedContract;

/// What happened to one planned contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedContract {
    /// What it is.
    pub name: String,
    /// Where it is.
    pub address: Address,
    /// False when it was already there.
    pub newly_deployed: bool,
}

/// Deploys each planned contract that has no code yet, paid by `payer`, in order.
///
/// # Errors
/// [`SdkError::NotDeployed`] when the chain has no deterministic deployer, or a deployment
/// leaves no code at the expected address.
pub async fn deploy(
    backend: &dyn Backend,
    payer: &PrivateKeySigner,
    plan: &[PlannedContract],
) -> Result<Vec<DeployedContract>, SdkError> {
    if backend.code(DETERMINISTIC_DEPLOYER).await?.is_empty() {
        return Err(SdkError::NotDeployed(format!(
            "no deterministic deployer at {DETERMINISTIC_DEPLOYER} on {}; deploy it first \
             (it is predeployed on anvil and on most public chains)",
            backend.describe()
        )));
    }
    let mut report = Vec::with_capacity(plan.len());
    for contract in plan {
        let address = contract.address();
        let already = !backend.code(address).await?.is_empty();
        if !already {
            backend
                .send_transaction(
                    payer,
                    PlainTransaction {
                        to: DETERMINISTIC_DEPLOYER,
                        value: U256::ZERO,
                        data: contract.deployer_calldata(),
                        authorizations: Vec::new(),
                    },
                )
                .await?;
            if backend.code(address).await?.is_empty() {
                return Err(SdkError::NotDeployed(format!(
                    "deploying {} left no code at {address}",
                    contract.name
                )));
            }
        }
        report.push(DeployedContract {
            name: contract.name.clone(),
            address,
            newly_deployed: !already,
        });
    }
    Ok(report)
}

/// Checks that every planned contract has code, naming the first missing one.
pub async fn ensure_deployed(
    backend: &dyn Backend,
    plan: &[PlannedContract],
) -> Result<(), SdkError> {
    for contract in plan {
        if backend.code(contract.address()).await?.is_empty() {
            return Err(SdkError::NotDeployed(format!(
                "{} is not deployed at {} on {}; run `sessionkeys deploy` first",
                contract.name,
                contract.address(),
                backend.describe()
            )));
        }
    }
    Ok(())
}

/// Stakes `factory` in its EntryPoint with `wei` and an unstake delay of `unstake_delay` s, so
/// bundlers that enforce ERC-7562 accept a new account's first op from it (STO-022). Only the
/// factory's stake owner may: `stake_owner` signs and pays.
///
/// # Security
/// The key signs in memory only.
pub async fn stake_factory(
    backend: &dyn Backend,
    stake_owner: &PrivateKeySigner,
    factory: Address,
    wei: U256,
    unstake_delay: u32,
) -> Result<(), SdkError> {
    let call = sessionkeys_contracts::abi::SessionAccountFactory::addStakeCall {
        unstakeDelaySec: unstake_delay,
    };
    backend
        .send_transaction(
            stake_owner,
            PlainTransaction {
                to: factory,
                value: wei,
                data: alloy::sol_types::SolCall::abi_encode(&call).into(),
                authorizations: Vec::new(),
            },
        )
        .await?;
    Ok(())
}
