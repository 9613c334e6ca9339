//! The journal of sent ops: each op an execute signs is written down — its userOp hash,
//! sender, nonce, session and the request's `Idempotency-Key` — after it is signed and before
//! it is sent, and settled from its receipt. So a replica that dies between sending and the
//! receipt leaves a record that says which op may still land; on restart (and before the
//! session's next op) the service asks the bundler for the receipt by userOp hash and settles
//! it: `landed`, `reverted`, or `dropped` when it can no longer land.
//!
//! An op can no longer land when another op took its nonce (the lane's nonce moved past it
//! with no receipt for this hash), or when it is older than the lease term without a receipt
//! (bundlers drop ops long before). A dropped op that lands after all (a mempool kept it) is
//! settled again from its receipt; and a new op of the session takes the same nonce, so at
//! most one of the two ever lands (docs/service.md, "Faults").

use crate::activity::{Entry, Kind, Verdict};
use crate::db::{Database, SessionRow, db_error, unix_now};
use crate::sql::{Row, values};
use crate::{Service, ServiceError};
use alloy::primitives::{Address, B256, Bytes, U256};
use sessionkeys::erc7769::UserOperationReceipt;
use sessionkeys::store::{StoreError, Superseded};
use sessionkeys::{EntryPointVersion, SdkError, operation};

/// Where an op stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OpState {
    /// Sent (or about to be): it may land.
    #[default]
    Sent,
    /// Mined, its calls succeeded.
    Landed,
    /// Mined, its calls reverted (the fees were paid).
    Reverted,
    /// It can no longer land.
    Dropped,
}

impl OpState {
    /// The word stored.
    pub fn word(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Landed => "landed",
            Self::Reverted => "reverted",
            Self::Dropped => "dropped",
        }
    }

    fn from_word(word: &str) -> Result<Self, StoreError> {
        [Self::Sent, Self::Landed, Self::Reverted, Self::Dropped]
            .into_iter()
            .find(|state| state.word() == word)
            .ok_or_else(|| db_error(format!("{word:?} is not an op state")))
    }
}

/// An op in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOp {
    /// The userOp hash.
    pub user_op_hash: B256,
    /// The app whose request sent it.
    pub app_id: String,
    /// The session's id.
    pub session_id: String,
    /// The session hash.
    pub session_hash: B256,
    /// The request's `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
    /// The account.
    pub sender: Address,
    /// The op's nonce (lane and sequence).
    pub nonce: U256,
    /// The EntryPoint it went to.
    pub version: EntryPointVersion,
    /// Where it stands.
    pub state: OpState,
    /// The bundle's transaction, once mined.
    pub transaction_hash: Option<B256>,
    /// What the EntryPoint charged for, once mined.
    pub gas_used: Option<U256>,
    /// What the account paid, once mined.
    pub gas_cost: Option<U256>,
    /// The revert data of reverted calls.
    pub revert_data: Option<Vec<u8>>,
    /// When it was written down (Unix seconds).
    pub sent_at: i64,
}

/// How an op ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Landed, reverted or dropped.
    pub state: OpState,
    /// The bundle's transaction.
    pub transaction_hash: Option<B256>,
    /// What the EntryPoint charged for.
    pub gas_used: Option<U256>,
    /// What the account paid.
    pub gas_cost: Option<U256>,
    /// The calls' revert data.
    pub revert_data: Option<Vec<u8>>,
}

impl Settlement {
    /// From the bundler's receipt.
    pub fn from_receipt(receipt: &UserOperationReceipt) -> Self {
        Self {
            state: if receipt.success {
                OpState::Landed
            } else {
                OpState::Reverted
            },
            transaction_hash: Some(receipt.receipt.transaction_hash),
            gas_used: Some(receipt.actual_gas_used),
            gas_cost: Some(receipt.actual_gas_cost),
            revert_data: receipt.reason.as_ref().map(|r| r.to_vec()),
        }
    }

    /// It can no longer land.
    pub fn dropped() -> Self {
        Self {
            state: OpState::Dropped,
            ..Self::default()
        }
    }
}

const COLUMNS: &str = "user_op_hash, app_id, session_id, session_hash, idempotency_key, sender, \
    nonce, entry_point, state, transaction_hash, gas_used, gas_cost, revert_data, sent_at";

fn parse<T: std::str::FromStr>(text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(db_error)
}

fn journal_op(row: &Row) -> Result<JournalOp, StoreError> {
    let optional = |index: usize| row.opt_text(index);
    Ok(JournalOp {
        user_op_hash: parse(&row.text(0)?)?,
        app_id: row.text(1)?,
        session_id: row.text(2)?,
        session_hash: parse(&row.text(3)?)?,
        idempotency_key: row.opt_text(4)?,
        sender: parse(&row.text(5)?)?,
        nonce: parse(&row.text(6)?)?,
        version: parse(&row.text(7)?)?,
        state: OpState::from_word(&row.text(8)?)?,
        transaction_hash: optional(9)?.map(|t| parse(&t)).transpose()?,
        gas_used: optional(10)?.map(|t| parse(&t)).transpose()?,
        gas_cost: optional(11)?.map(|t| parse(&t)).transpose()?,
        revert_data: row.opt_blob(12)?,
        sent_at: row.int(13)?,
    })
}

impl Database {
    /// Writes down an op about to be sent. The same op sent again after it was dropped (same
    /// fields, same nonce: the same userOp hash) is in flight again.
    pub(crate) fn journal_sent(&self, op: &JournalOp) -> Result<(), StoreError> {
        self.sql().execute(
            &format!(
                "INSERT INTO operations ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, NULL, NULL, ?10) \
                 ON CONFLICT (user_op_hash) DO UPDATE SET state = excluded.state, \
                 idempotency_key = excluded.idempotency_key, sent_at = excluded.sent_at, \
                 settled_at = NULL WHERE operations.state = 'dropped'"
            ),
            values![
                format!("{:x}", op.user_op_hash),
                &op.app_id,
                &op.session_id,
                format!("{:x}", op.session_hash),
                op.idempotency_key.clone(),
                format!("{:x}", op.sender),
                op.nonce.to_string(),
                op.version.to_string(),
                OpState::Sent.word(),
                op.sent_at,
            ],
        )?;
        Ok(())
    }

    /// Settles an op. Whether this changed it: a mined op's settlement wins over an earlier
    /// "dropped" (a mempool kept it after all); nothing else is rewritten.
    pub(crate) fn settle_op(
        &self,
        user_op_hash: B256,
        settlement: &Settlement,
    ) -> Result<bool, StoreError> {
        let from = match settlement.state {
            OpState::Dropped | OpState::Sent => "('sent')",
            OpState::Landed | OpState::Reverted => "('sent', 'dropped')",
        };
        // Relaxed: a settlement lost in a power cut is read again from the chain.
        let changed = self.sql().execute_relaxed(
            &format!(
                "UPDATE operations SET state = ?2, transaction_hash = ?3, gas_used = ?4, \
                 gas_cost = ?5, revert_data = ?6, settled_at = ?7 \
                 WHERE user_op_hash = ?1 AND state IN {from}"
            ),
            values![
                format!("{user_op_hash:x}"),
                settlement.state.word(),
                settlement.transaction_hash.map(|h| format!("{h:x}")),
                settlement.gas_used.map(|g| g.to_string()),
                settlement.gas_cost.map(|g| g.to_string()),
                settlement.revert_data.clone(),
                unix_now(),
            ],
        )?;
        Ok(changed == 1)
    }

    /// The ops not settled yet: of one session, or all of them.
    pub fn unsettled_ops(&self, session: Option<B256>) -> Result<Vec<JournalOp>, StoreError> {
        self.sql()
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM operations WHERE state = 'sent' \
                     AND (CAST(?1 AS TEXT) IS NULL OR session_hash = ?1) ORDER BY sent_at"
                ),
                values![session.map(|s| format!("{s:x}"))],
            )?
            .iter()
            .map(journal_op)
            .collect()
    }

    /// `session`'s ops to settle before its next op: those sent and not settled, and those
    /// settled as dropped since `dropped_since` (a mempool may have kept one after all).
    pub fn ops_to_settle(
        &self,
        session: B256,
        dropped_since: i64,
    ) -> Result<Vec<JournalOp>, StoreError> {
        self.sql()
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM operations WHERE session_hash = ?1 \
                     AND (state = 'sent' OR (state = 'dropped' AND settled_at >= ?2)) \
                     ORDER BY sent_at"
                ),
                values![format!("{session:x}"), dropped_since],
            )?
            .iter()
            .map(journal_op)
            .collect()
    }

    /// The op a request with `key` of `app_id` sent, if it sent one.
    pub fn op_for_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
    ) -> Result<Option<JournalOp>, StoreError> {
        self.sql()
            .query_one(
                &format!(
                    "SELECT {COLUMNS} FROM operations WHERE app_id = ?1 AND idempotency_key = ?2 \
                     ORDER BY sent_at DESC, CASE state WHEN 'landed' THEN 0 WHEN 'reverted' THEN 1 \
                     WHEN 'sent' THEN 2 ELSE 3 END, user_op_hash"
                ),
                values![app_id, key],
            )?
            .map(|row| journal_op(&row))
            .transpose()
    }

    /// The op with this hash.
    pub fn journal_op(&self, user_op_hash: B256) -> Result<Option<JournalOp>, StoreError> {
        self.sql()
            .query_one(
                &format!("SELECT {COLUMNS} FROM operations WHERE user_op_hash = ?1"),
                values![format!("{user_op_hash:x}")],
            )?
            .map(|row| journal_op(&row))
            .transpose()
    }
}

/// How long after an op is settled as dropped the session still looks for its receipt (a
/// mempool that kept it may include it late): a day.
pub const DROPPED_RECHECK_SECONDS: i64 = 24 * 60 * 60;

/// Whether a bundler's JSON-RPC error for `eth_sendUserOperation` says the op was refused in
/// validation, so it is in no mempool: ERC-7769's -32500 to -32508 and invalid params
/// (-32602). Other errors (rate limits, internal errors, "already known") leave the op's fate
/// open.
pub fn refusal_is_final(code: i64) -> bool {
    matches!(code, -32508..=-32500 | -32602)
}

/// Settles `ops` from their receipts where the bundler has them, as dropped where they can no
/// longer land; logs each settled one in the activity log. Returns the ops still in flight.
///
/// # Errors
/// The node's or the bundler's failure (nothing is settled on a guess), or the database's.
pub async fn reconcile(
    service: &std::sync::Arc<Service>,
    ops: Vec<JournalOp>,
) -> Result<Vec<JournalOp>, ServiceError> {
    let backend = service.backend.as_ref();
    let mut in_flight = Vec::new();
    for op in ops {
        // The nonce before the receipt: an op mined between the two reads has a receipt.
        let next = operation::next_nonce(
            backend,
            op.version,
            op.sender,
            alloy::primitives::aliases::U192::from(op.nonce >> 64),
        )
        .await?;
        let receipt = backend
            .user_operation_receipt(op.user_op_hash)
            .await
            .map_err(SdkError::from)?;
        let settlement = match &receipt {
            Some(receipt) => Some(Settlement::from_receipt(receipt)),
            None => {
                // The nonce moved past the op: an op with its nonce was mined — this one (a
                // bundler that no longer has the receipt still left the EntryPoint's event) or
                // another. Only the event says which; until the node's logs show it (they may
                // trail its state), the op's fate stays open.
                if next > op.nonce {
                    // A nonce can also move without an event (the account calling the
                    // EntryPoint's incrementNonce): after a day without one, it is dropped.
                    nonce_taken_by(service, &op).await?.or_else(|| {
                        (unix_now() > op.sent_at.saturating_add(DROPPED_RECHECK_SECONDS))
                            .then(Settlement::dropped)
                    })
                } else {
                    // Its nonce is free: it outlived every bundler's patience.
                    (unix_now() > op.sent_at.saturating_add(service.lease_term_seconds()))
                        .then(Settlement::dropped)
                }
            }
        };
        let Some(settlement) = settlement else {
            if op.state == OpState::Sent {
                in_flight.push(op);
            }
            continue;
        };
        // Dropped and still dropped is nothing new.
        if settlement.state != op.state && service.db.settle_op(op.user_op_hash, &settlement)? {
            note_settled(service, &op, &settlement);
        }
    }
    Ok(in_flight)
}

/// What the EntryPoint's `UserOperationEvent` for `op`'s sender and nonce tells: `op`'s own
/// settlement if it was mined, dropped if another op took the nonce, nothing if the node's
/// logs show neither yet.
async fn nonce_taken_by(
    service: &Service,
    op: &JournalOp,
) -> Result<Option<Settlement>, ServiceError> {
    use alloy::sol_types::SolEvent;
    use sessionkeys_chain::entrypoint::abi::IEntryPoint::UserOperationEvent;
    let logs = service
        .backend
        .logs(sessionkeys::backend::LogQuery {
            address: op.version.address(),
            topic0: UserOperationEvent::SIGNATURE_HASH,
            topic1: None,
            topic2: Some(op.sender.into_word()),
        })
        .await
        .map_err(SdkError::from)?;
    Ok(logs.iter().find_map(|log| {
        let event = UserOperationEvent::decode_log_data(&log.data).ok()?;
        if event.nonce != op.nonce {
            return None;
        }
        if log.topics().get(1) != Some(&op.user_op_hash) {
            return Some(Settlement::dropped());
        }
        Some(Settlement {
            state: if event.success {
                OpState::Landed
            } else {
                OpState::Reverted
            },
            transaction_hash: None,
            gas_used: Some(event.actualGasUsed),
            gas_cost: Some(event.actualGasCost),
            revert_data: None,
        })
    }))
}

/// Logs an op settled by reconciliation (the request that sent it never saw its end).
fn note_settled(service: &std::sync::Arc<Service>, op: &JournalOp, settlement: &Settlement) {
    let Ok(Some(row)) = service.db.session_by_id_any(&op.session_id) else {
        return;
    };
    let (verdict, reason) = match settlement.state {
        OpState::Landed => (
            Verdict::Allowed,
            "settled after the request that sent it ended: landed",
        ),
        OpState::Reverted => (
            Verdict::Failed,
            "settled after the request that sent it ended: its calls reverted",
        ),
        OpState::Dropped | OpState::Sent => (
            Verdict::Failed,
            "dropped: it can no longer land (its nonce was taken, or it expired)",
        ),
    };
    service.note(
        &row,
        Entry {
            kind: Some(Kind::Execute),
            verdict: Some(verdict),
            reason: Some(reason.into()),
            user_op_hash: Some(op.user_op_hash),
            transaction_hash: settlement.transaction_hash,
            gas_used: settlement.gas_used.map(|g| g.to_string()),
            actor: Some("reconciler"),
            ..Entry::default()
        },
        &[],
    );
}

/// The userOp hash an execute wrote down last, if it got that far.
pub(crate) type Recorded = std::sync::Arc<std::sync::Mutex<Option<B256>>>;

/// The journal's record of what an execute sends, for [`sessionkeys::SessionClient::with_journal`],
/// and where it notes the hash it wrote down.
pub(crate) fn recorder(
    service: &std::sync::Arc<Service>,
    row: &SessionRow,
    hold: Option<crate::idempotency::Hold>,
) -> (std::sync::Arc<operation::RecordBeforeSend>, Recorded) {
    let recorded = Recorded::default();
    let noted = std::sync::Arc::clone(&recorded);
    let (service, app_id, session_id, session_hash, version) = (
        std::sync::Arc::clone(service),
        row.app_id.clone(),
        row.id.clone(),
        row.record.hash,
        row.record.entry_point,
    );
    let record = std::sync::Arc::new(move |user_op_hash, op: &sessionkeys_chain::UserOperation| {
        // Fences, just before the send: this replica still holds the session's lease (renewed
        // for the receipt wait), and this request still holds its Idempotency-Key (no retry
        // took it over from a request presumed dead). Otherwise nothing is sent.
        let superseded = |what| SdkError::Store(StoreError::Superseded { what });
        if !service.db.renew_lease(
            session_hash,
            service.leases.holder(),
            service.lease_term_seconds(),
        )? {
            return Err(superseded(Superseded::Lease));
        }
        if let Some(hold) = &hold
            && !service
                .db
                .holds_idempotency_key(&app_id, &hold.key, hold.since)?
        {
            return Err(superseded(Superseded::IdempotencyKey));
        }
        *noted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(user_op_hash);
        service
            .db
            .journal_sent(&JournalOp {
                user_op_hash,
                app_id: app_id.clone(),
                session_id: session_id.clone(),
                session_hash,
                idempotency_key: hold.as_ref().map(|h| h.key.clone()),
                sender: op.sender,
                nonce: op.nonce,
                version,
                state: OpState::Sent,
                transaction_hash: None,
                gas_used: None,
                gas_cost: None,
                revert_data: None,
                sent_at: unix_now(),
            })
            .map_err(SdkError::Store)
    });
    (record, recorded)
}

/// The answer a request whose op was settled without it gets: what it would have answered.
pub fn settled_answer(op: &JournalOp) -> Option<Result<crate::api::ExecutedBody, ServiceError>> {
    match op.state {
        OpState::Landed => Some(Ok(crate::api::ExecutedBody {
            user_op_hash: op.user_op_hash,
            transaction_hash: op.transaction_hash.unwrap_or_default(),
            actual_gas_cost: op.gas_cost.unwrap_or_default().to_string(),
            actual_gas_used: op.gas_used.unwrap_or_default().to_string(),
        })),
        OpState::Reverted => Some(Err(ServiceError::Sdk(SdkError::ExecutionReverted {
            user_op_hash: op.user_op_hash,
            reason: Box::new(
                op.revert_data
                    .as_ref()
                    .map_or(sessionkeys_chain::RevertReason::Empty, |data| {
                        sessionkeys_chain::decode_revert(&Bytes::from(data.clone()))
                    }),
            ),
            actual_gas_cost: op.gas_cost.unwrap_or_default(),
        }))),
        OpState::Sent | OpState::Dropped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_validation_refusals_say_an_op_is_in_no_mempool() {
        for code in [
            -32500, -32501, -32502, -32503, -32504, -32505, -32506, -32507, -32508, -32602,
        ] {
            assert!(refusal_is_final(code), "{code}");
        }
        // Rate limits, internal errors, an unknown code: the op's fate is open.
        for code in [-32005, -32603, -32000, -32509, -32499, 3] {
            assert!(!refusal_is_final(code), "{code}");
        }
    }
}
