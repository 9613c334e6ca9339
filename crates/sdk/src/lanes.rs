//! Nonce lanes. A session's userOps use the nonce key `validator ‖ lane`, the lane being the
//! first 4 bytes of the session hash (rule 19, docs/rules.md). Two sessions of one account on one lane
//! share a nonce sequence, so one's op can make the other's signed op fail (AA25). 32 bits are
//! few enough that an app shaping its own specs finds two sessions on one lane in seconds (a
//! birthday search), so every tool that requests or approves a session checks the lane against
//! the account's live sessions and its own pending ones: at request it re-salts
//! ([`resalt_for_free_lane`]), at approval it refuses ([`ensure_free_lane`]).
//!
//! The residual risk (an app that bypasses these tools) and the owner's remedy are in
//! docs/decisions.md, "Nonce key".

use crate::backend::Backend;
use crate::error::SdkError;
use crate::sessions::session_status;
use alloy::primitives::{Address, B256, FixedBytes};
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_contracts::vocabulary::packed::UnencodableSpec;

/// A session's nonce lane: the first 4 bytes of its hash.
pub fn lane(session_hash: B256) -> FixedBytes<4> {
    FixedBytes::from_slice(&session_hash[..4])
}

/// The sessions of `account` under `validator` that can still send ops (active in the
/// account's current epoch), read from its `SessionEnabled` events.
pub async fn live_sessions(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
) -> Result<Vec<B256>, SdkError> {
    let logs = crate::sessions::enabled_logs(backend, validator, account).await?;
    let mut live = Vec::new();
    for log in logs {
        let Some(hash) = log.topics().get(2).copied() else {
            continue;
        };
        if live.contains(&hash) {
            continue;
        }
        let (_, usable) = session_status(backend, validator, account, hash).await?;
        if usable {
            live.push(hash);
        }
    }
    Ok(live)
}

/// Refuses `session_hash` if another of `taken` (live and pending sessions of the same
/// account) holds its lane. The same hash is not a collision: it is the same session.
pub fn ensure_free_lane(session_hash: B256, taken: &[B256]) -> Result<(), SdkError> {
    match taken
        .iter()
        .find(|other| **other != session_hash && lane(**other) == lane(session_hash))
    {
        Some(other) => Err(SdkError::LaneTaken {
            lane: lane(session_hash),
            session: *other,
        }),
        None => Ok(()),
    }
}

/// Moves `spec` to a free lane by changing its salt (a new salt is a new session, not yet
/// approved by anyone); returns how many salts were tried past the first.
///
/// # Errors
/// [`UnencodableSpec`] for a spec with no packed form (it has no session hash).
pub fn resalt_for_free_lane(
    spec: &mut SessionSpec,
    taken: &[B256],
) -> Result<u32, UnencodableSpec> {
    let mut tries = 0;
    while ensure_free_lane(sessionkeys_engine::session_hash(spec)?, taken).is_err() {
        spec.salt = alloy::primitives::keccak256(spec.salt);
        tries += 1;
    }
    Ok(tries)
}
