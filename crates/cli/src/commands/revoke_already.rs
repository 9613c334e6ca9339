//! Sessions `revoke` need not pay for: the ones the chain already counts as revoked.

use crate::args::ChainArgs;
use crate::error::CliError;
use crate::onchain::runtime;
use alloy::primitives::Address;
use sessionkeys::SdkError;
use sessionkeys::session_rows::OnchainState;
use sessionkeys::sessions::session_status;
use sessionkeys::store::StoredSession;

pub fn hashes_of(sessions: &[StoredSession]) -> Vec<String> {
    sessions.iter().map(|s| s.hash.to_string()).collect()
}

/// The targets the chain already counts as revoked (on their own or by a `revokeAll`), and the
/// others, read through a backend of its own (its connections belong to this runtime).
pub fn split_revoked(
    chain: &ChainArgs,
    account: Address,
    targets: Vec<StoredSession>,
) -> Result<(Vec<StoredSession>, Vec<StoredSession>), CliError> {
    let backend = chain.backend(false)?;
    let states = runtime()?.block_on(async {
        let mut states = Vec::new();
        for session in &targets {
            let (status, usable) =
                session_status(backend.as_ref(), session.validator, account, session.hash).await?;
            states.push(OnchainState::from_status(status, usable));
        }
        Ok::<_, SdkError>(states)
    })?;
    let (already, live): (Vec<_>, Vec<_>) = targets
        .into_iter()
        .zip(states)
        .partition(|(_, state)| state.is_revoked());
    Ok((
        already.into_iter().map(|(s, _)| s).collect(),
        live.into_iter().map(|(s, _)| s).collect(),
    ))
}
