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
