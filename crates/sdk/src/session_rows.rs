//! The rows of `sessions list`: every stored session, and with a node each one's on-chain state
//! and remaining budgets, plus the account's sessions granted from elsewhere.

use crate::backend::Backend;
use crate::client::session_usage;
use crate::error::SdkError;
use crate::sessions::{account_sessions, session_status};
use crate::store::{StoredSession, StoredStatus};
use alloy::primitives::{Address, B256};
use serde::Serialize;
use sessionkeys_contracts::session::CounterUsage;
use sessionkeys_contracts::vocabulary::{CounterKind, EntryPointVersion, Status};

/// Where a session stands on-chain, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnchainState {
    /// Never enabled (or only approved, for its first op to enable).
    NotEnabled,
    /// Enabled and usable.
    Active,
    /// Revoked on its own.
    Revoked,
    /// Enabled, but every session of the account was revoked after it (`revokeAll` bumped the
    /// account's epoch).
    RevokedWithAll,
    /// Stored by a version whose validator identified sessions by `keccak256(abi.encode(spec))`
    /// (before docs/compact-signatures.md): today's validator knows no such session, and its
    /// key cannot sign for today's. Grant it again to use it.
    PreviousValidator,
}

impl OnchainState {
    /// From the validator's `sessionStatus`: the stored status and whether the session is of
    /// the account's current epoch and active.
    pub fn from_status(status: Status, usable: bool) -> Self {
        match (status, usable) {
            (Status::Active, true) => Self::Active,
            (Status::Active, false) => Self::RevokedWithAll,
            (Status::Revoked, _) => Self::Revoked,
            (Status::None, _) => Self::NotEnabled,
        }
    }

    /// The word shown to a person.
    pub fn word(self) -> &'static str {
        match self {
            Self::NotEnabled => "not enabled",
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::RevokedWithAll => "revoked (all)",
            Self::PreviousValidator => "previous validator (grant again)",
        }
    }

    /// Whether ops under the session can pass.
    pub fn usable(self) -> bool {
        self == Self::Active
    }

    /// Whether the session is revoked either way.
    pub fn is_revoked(self) -> bool {
        matches!(self, Self::Revoked | Self::RevokedWithAll)
    }
}

/// A budget of a session: its kind and what is left of it this period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetRow {
    /// What it counts: ops, fees, value, calls, sum, transfers.
    pub kind: &'static str,
    /// The policy it belongs to (its index among the session's policies).
    pub policy: u16,
    /// The constraint it belongs to.
    pub constraint: u16,
    /// The limit, in the counted unit.
    pub limit: String,
    /// Used this period.
    pub used: String,
    /// Left this period.
    pub remaining: String,
    /// The period in seconds (0: the session's lifetime, no reset).
    pub period: u64,
    /// When the period's use resets (unix seconds; 0 when it never does).
    pub resets_at: u64,
}

/// The short name of a `sessionUsage` counter kind, as `sessions list` and `simulate` print it;
/// a number the contract never writes reads as a plain "budget".
pub fn counter_kind_name(kind: u8) -> &'static str {
    match CounterKind::try_from(kind) {
        Ok(CounterKind::Ops) => "ops",
        Ok(CounterKind::Fee) => "fees",
        Ok(CounterKind::CallValue) => "value",
        Ok(CounterKind::CallCount) => "calls",
        Ok(CounterKind::ConstraintSum) => "sum",
        Ok(CounterKind::TransferValue) => "transfers",
        Err(_) => "budget",
    }
}

impl BudgetRow {
    fn from_usage(usage: &CounterUsage) -> Self {
        Self {
            kind: counter_kind_name(usage.kind),
            policy: usage.policyIndex,
            constraint: usage.constraintIndex,
            limit: usage.limit.to_string(),
            used: usage.used.to_string(),
            remaining: usage.remaining.to_string(),
            period: usage.period.to(),
            resets_at: usage.resetsAt.to(),
        }
    }
}

/// What the chain says of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnchainRow {
    /// Its state.
    pub state: OnchainState,
    /// Its budgets this period.
    pub limits: Vec<BudgetRow>,
}

/// One row of `sessions list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    /// The session hash.
    pub session_hash: B256,
    /// Its account.
    pub account: Address,
    /// The chain it was granted on (unknown for a session not stored here).
    pub chain_id: Option<u64>,
    /// Its EntryPoint version (unknown for a session not stored here).
    pub entry_point: Option<EntryPointVersion>,
    /// Its local status; `None`: granted from another machine.
    pub stored: Option<StoredStatus>,
    /// What the chain says, when a node was asked.
    pub onchain: Option<OnchainRow>,
}

/// The rows for `stored` (those of `account` only, if given); with `backend`, each with its
/// on-chain state, and with an `account` also its sessions granted from elsewhere
/// (`SessionEnabled` events).
pub async fn session_rows(
    stored: &[StoredSession],
    backend: Option<&dyn Backend>,
    account: Option<Address>,
) -> Result<Vec<SessionRow>, SdkError> {
    let mut rows = Vec::new();
    for session in stored
        .iter()
        .filter(|s| account.is_none_or(|a| a == s.account))
    {
        let onchain = match backend {
            Some(backend) => Some(stored_onchain(backend, session).await?),
            None => None,
        };
        rows.push(SessionRow {
            session_hash: session.hash,
            account: session.account,
            chain_id: Some(session.chain_id),
            entry_point: Some(session.entry_point),
            stored: Some(session.status),
            onchain,
        });
    }
    if let (Some(backend), Some(account)) = (backend, account) {
        let validator = crate::deployment::session_key_validator(Address::ZERO).address();
        for session in account_sessions(backend, validator, account).await? {
            if stored.iter().any(|s| s.hash == session.hash) {
                continue;
            }
            rows.push(SessionRow {
                session_hash: session.hash,
                account,
                chain_id: None,
                entry_point: None,
                stored: None,
                onchain: Some(OnchainRow {
                    state: OnchainState::from_status(session.status, session.usable),
                    limits: session.usage.iter().map(BudgetRow::from_usage).collect(),
                }),
            });
        }
    }
    Ok(rows)
}

async fn stored_onchain(
    backend: &dyn Backend,
    session: &StoredSession,
) -> Result<OnchainRow, SdkError> {
    let spec = session.spec()?;
    if session.is_previous_encoding() {
        // Its validator reads another encoding: asking it (or today's) would only fail.
        return Ok(OnchainRow {
            state: OnchainState::PreviousValidator,
            limits: Vec::new(),
        });
    }
    let (status, usable) =
        session_status(backend, session.validator, session.account, session.hash).await?;
    let usage = session_usage(backend, session.validator, session.account, &spec).await?;
    Ok(OnchainRow {
        state: OnchainState::from_status(status, usable),
        limits: usage.iter().map(BudgetRow::from_usage).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_session_of_an_older_epoch_reads_as_revoked_with_all() {
        assert_eq!(
            OnchainState::from_status(Status::Active, true),
            OnchainState::Active
        );
        assert_eq!(
            OnchainState::from_status(Status::Active, false),
            OnchainState::RevokedWithAll
        );
        assert!(OnchainState::from_status(Status::Active, false).is_revoked());
        assert_eq!(
            OnchainState::from_status(Status::Revoked, false).word(),
            "revoked"
        );
        assert_eq!(
            OnchainState::from_status(Status::None, false).word(),
            "not enabled"
        );
    }
}
