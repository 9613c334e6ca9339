//! The activity log: every request the service answers for a session, with its verdict and
//! reason, the userOp and transaction, the gas, every status change, and the chain events the
//! service sees (an enable by first use, a self-revoke that landed). Paged newest first by id,
//! filtered by session, account and kind; an app reads its own, an owner those of their
//! accounts across apps.

use crate::activity_queue::INSERT_ACTIVITY;
use crate::db::{Database, SessionRow, db_error, unix_now};
use crate::sql::values;
use alloy::primitives::{Address, B256};
use serde::Serialize;
use sessionkeys::store::StoreError;
use utoipa::ToSchema;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An app requested the session.
    Requested,
    /// The owner approved it.
    Approved,
    /// A check: `verdict` says whether the op would pass.
    Check,
    /// An execute: `verdict` says whether it landed, was refused before sending, or failed.
    Execute,
    /// A check or execute on a session revoked in this service.
    AttemptAfterRevoke,
    /// The session was revoked in this service (by its app or its owner).
    Revoked,
    /// The session was enabled on-chain (its first op, or a relayed enable).
    Enabled,
    /// The session key's own revoke landed on-chain (or failed: `verdict`).
    SelfRevoke,
    /// The owner's signed revocation, relayed by this service, landed on-chain.
    OwnerRevoke,
}

impl Kind {
    /// The word stored and filtered on.
    pub fn word(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Check => "check",
            Self::Execute => "execute",
            Self::AttemptAfterRevoke => "attempt_after_revoke",
            Self::Revoked => "revoked",
            Self::Enabled => "enabled",
            Self::SelfRevoke => "self_revoke",
            Self::OwnerRevoke => "owner_revoke",
        }
    }

    /// Every kind, for parsing a filter.
    pub const ALL: [Kind; 9] = [
        Self::Requested,
        Self::Approved,
        Self::Check,
        Self::Execute,
        Self::AttemptAfterRevoke,
        Self::Revoked,
        Self::Enabled,
        Self::SelfRevoke,
        Self::OwnerRevoke,
    ];
}

/// How a check or execute came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Allowed (a check) or landed (an execute).
    Allowed,
    /// Refused: by the engine before signing, by the bundler, or by the validator.
    Refused,
    /// Something else failed (the chain, the bundler, a revert of the calls).
    Failed,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// One entry to record.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// What happened.
    pub kind: Option<Kind>,
    /// Its verdict, for checks and executes.
    pub verdict: Option<Verdict>,
    /// Why: the violation's name and sentence, or the error.
    pub reason: Option<String>,
    /// The userOp.
    pub user_op_hash: Option<B256>,
    /// The transaction.
    pub transaction_hash: Option<B256>,
    /// Gas charged (decimal).
    pub gas_used: Option<String>,
    /// The calls' targets.
    pub targets: Vec<Address>,
    /// Who did it: `app` or `owner`.
    pub actor: Option<&'static str>,
}

/// A recorded entry, as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ActivityBody {
    /// Its id: page with `before=<id>`.
    pub id: i64,
    /// When (unix seconds, the service's clock).
    pub at: i64,
    /// The app.
    pub app_id: String,
    /// The session's id in this service.
    pub session_id: String,
    /// The session hash.
    #[schema(value_type = String)]
    pub session_hash: B256,
    /// The account.
    #[schema(value_type = String)]
    pub account: Address,
    /// What happened: `requested`, `approved`, `check`, `execute`, `attempt_after_revoke`,
    /// `revoked`, `enabled`, `self_revoke`.
    pub kind: String,
    /// `allowed`, `refused` or `failed`.
    pub verdict: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// The userOp hash.
    #[schema(value_type = Option<String>)]
    pub user_op_hash: Option<B256>,
    /// The transaction hash.
    #[schema(value_type = Option<String>)]
    pub transaction_hash: Option<B256>,
    /// Gas charged (decimal).
    pub gas_used: Option<String>,
    /// The calls' targets.
    #[schema(value_type = Vec<String>)]
    pub targets: Vec<Address>,
    /// `app` or `owner`, for status changes.
    pub actor: Option<String>,
}

/// Who is reading, and what.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this app's.
    pub app_id: Option<String>,
    /// Only the sessions of this owner's accounts.
    pub owner: Option<Address>,
    /// Only this session (its id).
    pub session_id: Option<String>,
    /// Only this account.
    pub account: Option<Address>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only ids below this one (the next page).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

impl Database {
    /// Records `entry` for the session of `row`; returns its id.
    pub fn record_activity(
        &self,
        row: &SessionRow,
        entry: &Entry,
    ) -> Result<ActivityBody, StoreError> {
        // Ids order the log: the checks queued before this entry get theirs first.
        self.activity_queue().flush();
        let at = unix_now();
        let kind = entry.kind.unwrap_or(Kind::Check);
        let id = self
            .sql()
            .query_relaxed(
                &format!("{INSERT_ACTIVITY} RETURNING id"),
                activity_values(row, entry, at),
            )?
            .into_iter()
            .next()
            .ok_or_else(|| db_error("the insert returned no id"))?
            .int(0)?;
        Ok(ActivityBody {
            id,
            at,
            app_id: row.app_id.clone(),
            session_id: row.id.clone(),
            session_hash: row.record.hash,
            account: row.record.account,
            kind: kind.word().to_string(),
            verdict: entry.verdict.map(|v| v.word().to_string()),
            reason: entry.reason.clone(),
            user_op_hash: entry.user_op_hash,
            transaction_hash: entry.transaction_hash,
            gas_used: entry.gas_used.clone(),
            targets: entry.targets.clone(),
            actor: entry.actor.map(str::to_string),
        })
    }

    /// Queues `entry` for the session of `row`, for a group commit: for entries no alert rule
    /// reads at once (allowed checks). Reads of the log on this replica wait for it.
    pub(crate) fn queue_activity(&self, row: &SessionRow, entry: &Entry) {
        self.activity_queue()
            .push(activity_values(row, entry, unix_now()));
    }

    /// Entries matching `filter`, newest first.
    pub fn activity(&self, filter: &Filter) -> Result<Vec<ActivityBody>, StoreError> {
        self.activity_queue().flush();
        let rows = self.sql().query(
            "SELECT id, at, app_id, session_id, session_hash, account, kind, verdict, reason, \
             user_op_hash, transaction_hash, gas_used, targets, actor FROM activity \
             WHERE (CAST(?1 AS TEXT) IS NULL OR app_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR owner = ?2) \
             AND (CAST(?3 AS TEXT) IS NULL OR session_id = ?3) AND (CAST(?4 AS TEXT) IS NULL OR account = ?4) \
             AND (CAST(?5 AS TEXT) IS NULL OR kind = ?5) AND (CAST(?6 AS BIGINT) IS NULL OR id < ?6) \
             ORDER BY id DESC LIMIT ?7",
            values![
                filter.app_id.clone(),
                filter.owner.map(|o| format!("{o:x}")),
                filter.session_id.clone(),
                filter.account.map(|a| format!("{a:x}")),
                filter.kind.map(Kind::word),
                filter.before,
                filter.limit,
            ],
        )?;
        let hash = |text: Option<String>| -> Result<Option<B256>, StoreError> {
            text.map(|t| t.parse().map_err(db_error)).transpose()
        };
        rows.iter()
            .map(|r| {
                Ok(ActivityBody {
                    id: r.int(0)?,
                    at: r.int(1)?,
                    app_id: r.text(2)?,
                    session_id: r.text(3)?,
                    session_hash: r.text(4)?.parse().map_err(db_error)?,
                    account: r.text(5)?.parse().map_err(db_error)?,
                    kind: r.text(6)?,
                    verdict: r.opt_text(7)?,
                    reason: r.opt_text(8)?,
                    user_op_hash: hash(r.opt_text(9)?)?,
                    transaction_hash: hash(r.opt_text(10)?)?,
                    gas_used: r.opt_text(11)?,
                    targets: r
                        .text(12)?
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(|t| t.parse().map_err(db_error))
                        .collect::<Result<_, _>>()?,
                    actor: r.opt_text(13)?,
                })
            })
            .collect()
    }

    /// How many of `session_id`'s entries of `kind` (with `verdict`, if given) were recorded at
    /// or after `since`.
    pub fn count_activity(
        &self,
        session_id: &str,
        kind: Kind,
        verdict: Option<Verdict>,
        since: i64,
    ) -> Result<u64, StoreError> {
        flush_if_queued(self, kind, verdict);
        self.sql()
            .query_one(
                "SELECT COUNT(*) FROM activity WHERE session_id = ?1 AND kind = ?2 \
                 AND (CAST(?3 AS TEXT) IS NULL OR verdict = ?3) AND at >= ?4",
                values![session_id, kind.word(), verdict.map(Verdict::word), since],
            )?
            .ok_or_else(|| db_error("COUNT returned no row"))?
            .number(0)
    }

    /// When `session_id`'s first entry of `kind` with `verdict` was recorded, if any.
    pub fn first_activity(
        &self,
        session_id: &str,
        kind: Kind,
        verdict: Verdict,
    ) -> Result<Option<i64>, StoreError> {
        flush_if_queued(self, kind, Some(verdict));
        self.sql()
            .query_one(
                "SELECT MIN(at) FROM activity WHERE session_id = ?1 AND kind = ?2 AND verdict = ?3",
                values![session_id, kind.word(), verdict.word()],
            )?
            .map(|row| row.opt_int(0))
            .transpose()
            .map(Option::flatten)
    }

    /// Remembers that `account` called `target` through `app_id`'s sessions; true the first
    /// time. Per app: one app learns nothing of what another called.
    pub fn first_call_to(
        &self,
        app_id: &str,
        account: Address,
        target: Address,
    ) -> Result<bool, StoreError> {
        let inserted = self.sql().execute_relaxed(
            "INSERT INTO account_targets (account, target) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            values![format!("{app_id}:{account:x}"), format!("{target:x}")],
        )?;
        Ok(inserted == 1)
    }
}

/// The values of [`INSERT_ACTIVITY`] for `entry` of the session of `row`, recorded at `at`.
fn activity_values(row: &SessionRow, entry: &Entry, at: i64) -> Vec<crate::sql::Value> {
    let kind = entry.kind.unwrap_or(Kind::Check);
    let targets: Vec<String> = entry.targets.iter().map(|t| format!("{t:x}")).collect();
    values![
        at,
        &row.app_id,
        format!("{:x}", row.record.owner),
        &row.id,
        format!("{:x}", row.record.hash),
        format!("{:x}", row.record.account),
        kind.word(),
        entry.verdict.map(Verdict::word),
        entry.reason.clone(),
        entry.user_op_hash.map(|h| format!("{h:x}")),
        entry.transaction_hash.map(|h| format!("{h:x}")),
        entry.gas_used.clone(),
        targets.join(","),
        entry.actor,
    ]
}

/// Waits for the queued entries when a count of `kind` and `verdict` (any, when `None`) would
/// include them: only allowed checks are queued, and the alert rules count others.
fn flush_if_queued(db: &Database, kind: Kind, verdict: Option<Verdict>) {
    if kind == Kind::Check && verdict != Some(Verdict::Refused) {
        db.activity_queue().flush();
    }
}
