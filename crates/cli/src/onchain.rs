//! What the commands against a real chain (a node `--rpc`, a bundler `--bundler`) share: the
//! async runtime, the exit code of an SDK error, the counterfactual account, nonce lanes, and
//! the stored session's client.

use crate::InputError;
use alloy::primitives::{Address, B256, U256};
use sessionkeys::backend::Backend;
use sessionkeys::lanes;
use sessionkeys::store::{SessionStore, StoredSession, StoredStatus};
use sessionkeys::{EntryPointVersion, SdkError, SessionClient, SmartAccount, deployment};
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

pub async fn counterfactual(
    backend: &dyn Backend,
    version: EntryPointVersion,
    factory_owner: Address,
    owner: Address,
    salt: U256,
) -> Result<SmartAccount, SdkError> {
    let factory = deployment::session_account_factory(version, factory_owner);
    sessionkeys::deploy::ensure_deployed(
        backend,
        &[
            factory.clone(),
            deployment::session_key_validator(Address::ZERO),
        ],
    )
    .await?;
    SmartAccount::counterfactual(
        backend,
        version,
        factory.address(),
        owner,
        vec![validator()],
        salt,
    )
    .await
}

/// The clock, in unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The hashes whose nonce lanes are taken on `account`: its live sessions (none while it has
/// no code) and `pending` ones.
pub async fn taken_lanes(
    backend: &dyn Backend,
    account: &SmartAccount,
    pending: &[B256],
) -> Result<Vec<B256>, SdkError> {
    let mut taken = pending.to_vec();
    if account.is_deployed(backend).await? {
        taken.extend(lanes::live_sessions(backend, validator(), account.address).await?);
    }
    Ok(taken)
}

/// The stored session, its account and a client for it.
pub fn client_for(
    store: &SessionStore,
    stored: &StoredSession,
    backend: Arc<dyn Backend>,
    password: &[u8],
) -> Result<SessionClient, InputError> {
    let spec = stored.spec()?;
    let key = store.open_key(stored, password)?;
    let version = crate::args::parse_version(&stored.entry_point).map_err(InputError)?;
    let account = SmartAccount {
        address: stored.account,
        owner: stored.owner,
        version,
        factory: None,
    };
    let mut client = SessionClient::new(backend, account, spec, key, stored.validator)?;
    if let (StoredStatus::Approved, Some(approval)) = (stored.status, &stored.approval) {
        client = client.with_enable_approval(approval.to_approval());
    }
    Ok(client)
}
