//! What the commands against a real chain (a node `--rpc`, a bundler `--bundler`) share: the
//! async runtime, the exit code of an SDK error, the counterfactual account and the stored
//! session's client.

use crate::InputError;
use alloy::primitives::{Address, U256};
use sessionkeys::backend::Backend;
use sessionkeys::store::{SessionStore, StoredSession};
use sessionkeys::{
    AccountPlan, EntryPointVersion, SdkError, SessionClient, SmartAccount, deployment,
};
use std::process::ExitCode;
use std::sync::Arc;

pub fn runtime() -> Result<tokio::runtime::Runtime, InputError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| InputError(format!("cannot start the async runtime: {e}")))
}

/// Runs one future to completion on a fresh runtime.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, InputError> {
    Ok(runtime()?.block_on(future))
}

pub fn progress(json: bool, message: &str) {
    if !json {
        errln!("… {message}");
    }
}

/// Refusals are exit 1; anything else the user must fix is exit 2.
pub fn outcome(error: SdkError) -> Result<ExitCode, InputError> {
    match error {
        SdkError::Refused { .. }
        | SdkError::LaneTaken { .. }
        | SdkError::OutOfTimeRange { .. }
        | SdkError::BundlerRefused { .. }
        | SdkError::ExecutionReverted { .. }
        | SdkError::SessionExpired { .. }
        | SdkError::LintErrors { .. }
        | SdkError::ApprovalStale { .. } => {
            errln!("refused: {error}");
            Ok(ExitCode::from(1))
        }
        other => Err(InputError(other.to_string())),
    }
}

pub fn validator() -> Address {
    deployment::session_key_validator(Address::ZERO).address()
}

/// The counterfactual `SessionAccount` of `owner` (the SDK's [`AccountPlan`]: its factory and
/// the validator are checked to be deployed).
pub async fn counterfactual(
    backend: &dyn Backend,
    version: EntryPointVersion,
    factory_owner: Address,
    owner: Address,
    salt: U256,
) -> Result<SmartAccount, SdkError> {
    AccountPlan {
        owner,
        version,
        factory_owner,
        salt,
    }
    .account(backend)
    .await
}

/// The clock, in unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The stored session's client: its account (deployable by its first op when the store keeps
/// the factory) and key.
pub fn client_for(
    store: &SessionStore,
    stored: &StoredSession,
    backend: Arc<dyn Backend>,
    password: &[u8],
) -> Result<SessionClient, InputError> {
    Ok(SessionClient::from_store(backend, store, stored, password)?)
}

pub fn resolve_target(name: &str, account: Address, path: &str) -> Result<Address, InputError> {
    let fixture = match name {
        "usdc" => Some(deployment::fixtures::usdc().address()),
        "gold" => Some(deployment::fixtures::gold().address()),
        "game" => Some(deployment::fixtures::game().address()),
        "account" => Some(account),
        "validator" => Some(validator()),
        _ => None,
    };
    match fixture {
        Some(address) => Ok(address),
        None => name.parse::<Address>().map_err(|_| {
            InputError(format!(
                "{path}: expected an address or one of usdc, gold, game, account, validator; got {name:?}"
            ))
        }),
    }
}
