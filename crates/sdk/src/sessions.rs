//! An account's sessions as the chain knows them: every `SessionEnabled` event of the account,
//! with its stored status and its remaining budgets from the validator's views. It finds the
//! sessions granted from any machine, not only those in the local store.

use crate::backend::{Backend, LogQuery};
use crate::client::session_usage;
use crate::error::SdkError;
use alloy::primitives::{Address, B256};
use alloy::sol_types::{SolCall, SolEvent};
use sessionkeys_contracts::session::{ChainEpoch, CounterUsage, ISessionKeyValidator, SessionSpec};
use sessionkeys_contracts::vocabulary::Status;
use sessionkeys_contracts::vocabulary::packed::decode_spec;

/// One session of an account, read from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSession {
    /// The session hash.
    pub hash: B256,
    /// The spec, from its `SessionEnabled` event.
    pub spec: SessionSpec,
    /// Stored status.
    pub status: Status,
    /// Active and of the account's current epoch.
    pub usable: bool,
    /// Budgets in the current period (`sessionUsage`).
    pub usage: Vec<CounterUsage>,
}

/// The stored status of a session: `(status, usable)`.
pub async fn session_status(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
    hash: B256,
) -> Result<(Status, bool), SdkError> {
    let call = ISessionKeyValidator::sessionStatusCall {
        account,
        sessionHash: hash,
    };
    let out = backend.call(validator, call.abi_encode().into()).await?;
    let status = ISessionKeyValidator::sessionStatusCall::abi_decode_returns(&out)
        .map_err(|e| SdkError::Decode(format!("sessionStatus: {e}")))?;
    let stored = Status::try_from(status.status)
        .map_err(|e| SdkError::Decode(format!("sessionStatus: {e}")))?;
    Ok((stored, status.usable))
}

/// Every session ever enabled for `account` under `validator` (oldest first), with its status
/// and remaining budgets.
///
/// The logs are asked from block 0: nodes that cap `eth_getLogs` ranges need an archive or
/// indexer in front.
pub async fn account_sessions(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
) -> Result<Vec<AccountSession>, SdkError> {
    let logs = enabled_logs(backend, validator, account).await?;
    let mut sessions: Vec<AccountSession> = Vec::new();
    for log in logs {
        let event = ISessionKeyValidator::SessionEnabled::decode_log(&log)
            .map_err(|e| SdkError::Decode(format!("SessionEnabled: {e}")))?;
        if sessions.iter().any(|s| s.hash == event.sessionHash) {
            continue;
        }
        let (status, usable) =
            session_status(backend, validator, account, event.sessionHash).await?;
        // The event carries the packed spec (docs/compact-signatures.md).
        let spec = decode_spec(&event.spec)
            .map_err(|e| SdkError::Decode(format!("SessionEnabled {}: {e}", event.sessionHash)))?;
        let usage = session_usage(backend, validator, account, &spec).await?;
        sessions.push(AccountSession {
            hash: event.sessionHash,
            spec,
            status,
            usable,
            usage,
        });
    }
    Ok(sessions)
}

/// The account's `SessionEnabled` events under `validator` (from block 0).
pub(crate) async fn enabled_logs(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
) -> Result<Vec<alloy::primitives::Log>, SdkError> {
    Ok(backend
        .logs(LogQuery {
            address: validator,
            topic0: ISessionKeyValidator::SessionEnabled::SIGNATURE_HASH,
            topic1: Some(account.into_word()),
            topic2: None,
        })
        .await?)
}

/// The backend's chain with `account`'s current revocation epoch under `validator`: what an
/// owner's approval (enable or revoke) must list to be usable there.
pub async fn current_chain(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
) -> Result<ChainEpoch, SdkError> {
    let chain_id = backend.chain_id().await?;
    let output = backend
        .call(
            validator,
            ISessionKeyValidator::epochOfCall { account }
                .abi_encode()
                .into(),
        )
        .await?;
    let epoch = ISessionKeyValidator::epochOfCall::abi_decode_returns(&output)
        .map_err(|e| SdkError::Decode(format!("epochOf: {e}")))?;
    Ok(ChainEpoch {
        chainId: chain_id,
        epoch,
    })
}
