//! One sender per session, across every replica: the session's nonce lane is one sequence, so
//! only one op of a session may be between "read the nonce and the budgets" and "landed" at a
//! time. Each replica serializes its own tasks with a mutex per session, and replicas take
//! turns through a lease row in the shared database (`session_leases`), taken and released
//! with single statements.
//!
//! A lease has a term: a replica that dies holding one blocks the session for at most that
//! long. An op whose receipt did not come in time keeps its lease to the end of the term, so
//! the next op does not reuse its nonce while it may still land (docs/service.md, "Replicas").

use crate::db::Database;
use crate::error::ServiceError;
use crate::sql::values;
use alloy::primitives::B256;
use sessionkeys::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a lease lasts by default: longer than an execute holds it (the SDK waits up to
/// 60 s for the receipt, after pricing and sending).
pub const LEASE_TERM_SECONDS: i64 = 120;

/// How long a request waits for the session's lease before answering 409.
const LEASE_WAIT: Duration = Duration::from_secs(90);

/// The first pause between two tries for a lease another replica holds; it doubles up to
/// [`LEASE_POLL_MAX`].
const LEASE_POLL_FIRST: Duration = Duration::from_millis(10);
const LEASE_POLL_MAX: Duration = Duration::from_millis(250);

impl Database {
    /// Takes `session`'s lease for `holder` until `now + term`, unless another holds one that
    /// has not expired. Whether it was taken.
    pub(crate) fn take_lease(
        &self,
        session: B256,
        holder: &str,
        now: i64,
        term: i64,
    ) -> Result<bool, StoreError> {
        let taken = self.sql().execute_relaxed(
            "INSERT INTO session_leases (session_hash, holder, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (session_hash) DO UPDATE \
             SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE session_leases.expires_at < ?4",
            values![
                format!("{session:x}"),
                holder,
                now.saturating_add(term),
                now
            ],
        )?;
        Ok(taken == 1)
    }

    /// The database's clock (Unix seconds): leases are timed by it, not by each replica's.
    pub(crate) fn clock(&self) -> Result<i64, StoreError> {
        self.sql()
            .query_one(&format!("SELECT {}", self.sql().now_sql()), values![])?
            .ok_or_else(|| crate::db::db_error("the clock query returned no row"))?
            .int(0)
    }

    /// Extends `holder`'s lease on `session` to `term` seconds from now, if it still holds it
    /// (by the database's clock): whether it does. Checked just before an op is sent, so a
    /// replica whose lease ran out (a long stall) sends nothing another may be sending too.
    pub(crate) fn renew_lease(
        &self,
        session: B256,
        holder: &str,
        term: i64,
    ) -> Result<bool, StoreError> {
        let now = self.sql().now_sql();
        let renewed = self.sql().execute_relaxed(
            &format!(
                "UPDATE session_leases SET expires_at = {now} + ?3 \
                 WHERE session_hash = ?1 AND holder = ?2 AND expires_at >= {now}"
            ),
            values![format!("{session:x}"), holder, term],
        )?;
        Ok(renewed == 1)
    }

    /// Gives `session`'s lease back, if `holder` still holds it.
    pub(crate) fn release_lease(&self, session: B256, holder: &str) -> Result<(), StoreError> {
        self.sql().execute_relaxed(
            "DELETE FROM session_leases WHERE session_hash = ?1 AND holder = ?2",
            values![format!("{session:x}"), holder],
        )?;
        Ok(())
    }

    /// Ends every lease (the database's sole replica starting: whoever held them is gone);
    /// how many there were.
    pub(crate) fn release_every_lease(&self) -> Result<u64, StoreError> {
        self.sql().execute("DELETE FROM session_leases", values![])
    }
}

/// This replica's leases: its name and a mutex per session for its own tasks.
#[derive(Debug)]
pub(crate) struct Leases {
    holder: String,
    local: Mutex<HashMap<B256, Arc<tokio::sync::Mutex<()>>>>,
}

impl Leases {
    /// This replica's name in `session_leases`.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn new() -> Self {
        Self {
            holder: crate::db::random_id("replica_"),
            local: Mutex::new(HashMap::new()),
        }
    }

    fn local(&self, session: B256) -> Arc<tokio::sync::Mutex<()>> {
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(session)
            .or_default()
            .clone()
    }

    /// Waits for `session`'s turn: first among this replica's tasks, then among replicas.
    ///
    /// # Errors
    /// [`ServiceError::Conflict`] when another replica held it for longer than [`LEASE_WAIT`];
    /// the database's error when it fails.
    pub async fn acquire(
        &self,
        db: &Arc<Database>,
        session: B256,
        term: i64,
    ) -> Result<Lease, ServiceError> {
        let deadline = tokio::time::Instant::now() + LEASE_WAIT;
        let busy = || {
            ServiceError::Busy(format!(
                "session {session} has been busy with another op for over {} s: retry later",
                LEASE_WAIT.as_secs()
            ))
        };
        // This replica's own queue counts against the same wait: no request waits unbounded.
        let local = tokio::time::timeout_at(deadline, self.local(session).lock_owned())
            .await
            .map_err(|_| busy())?;
        let mut pause = LEASE_POLL_FIRST;
        loop {
            if db.take_lease(session, &self.holder, db.clock()?, term)? {
                return Ok(Lease {
                    db: Arc::clone(db),
                    session,
                    holder: self.holder.clone(),
                    keep: false,
                    _local: local,
                });
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(busy());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LEASE_POLL_MAX);
        }
    }
}

/// A session's turn to send; given back when dropped.
pub(crate) struct Lease {
    db: Arc<Database>,
    session: B256,
    holder: String,
    keep: bool,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

impl Lease {
    /// Keeps the lease to the end of its term when dropped: an op was sent and may still land,
    /// so no replica may take the next nonce until it has or the term ends.
    pub fn keep_to_term(&mut self) {
        self.keep = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.keep {
            // A failed release leaves the lease to expire at the end of its term.
            let _ = self.db.release_lease(self.session, &self.holder);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master_key::MasterKey;

    #[test]
    fn a_lease_is_one_holders_until_it_is_released_or_its_term_ends() {
        let db = Database::in_memory(MasterKey::random()).unwrap();
        let session = B256::repeat_byte(7);
        assert!(db.take_lease(session, "a", 1_000, 120).unwrap());
        // Held: neither another replica nor the holder itself takes it again.
        assert!(!db.take_lease(session, "b", 1_050, 120).unwrap());
        assert!(!db.take_lease(session, "a", 1_050, 120).unwrap());
        // Another session is free.
        assert!(
            db.take_lease(B256::repeat_byte(8), "b", 1_050, 120)
                .unwrap()
        );
        // Only the holder gives it back.
        db.release_lease(session, "b").unwrap();
        assert!(!db.take_lease(session, "b", 1_060, 120).unwrap());
        db.release_lease(session, "a").unwrap();
        assert!(db.take_lease(session, "b", 1_060, 120).unwrap());
        // A holder that never gives it back loses it when the term ends, not a second sooner.
        assert!(!db.take_lease(session, "c", 1_180, 120).unwrap());
        assert!(db.take_lease(session, "c", 1_181, 120).unwrap());
    }

    #[test]
    fn a_sole_replica_restarting_frees_every_lease_at_once() {
        let db = Database::in_memory(MasterKey::random()).unwrap();
        let now = db.clock().unwrap();
        for byte in 1..=3 {
            assert!(
                db.take_lease(B256::repeat_byte(byte), "dead", now, 120)
                    .unwrap()
            );
        }
        assert!(
            !db.take_lease(B256::repeat_byte(1), "new", now, 120)
                .unwrap()
        );
        assert_eq!(db.release_every_lease().unwrap(), 3);
        assert!(
            db.take_lease(B256::repeat_byte(1), "new", now, 120)
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_kept_lease_outlives_its_guard_and_a_released_one_does_not() {
        let db = Arc::new(Database::in_memory(MasterKey::random()).unwrap());
        let leases = Leases::new();
        let session = B256::repeat_byte(9);
        let lease = leases
            .acquire(&db, session, LEASE_TERM_SECONDS)
            .await
            .unwrap();
        drop(lease);
        let now = db.clock().unwrap();
        assert!(
            (now - crate::db::unix_now()).abs() <= 1,
            "SQLite's clock is the host's"
        );
        assert!(db.take_lease(session, "other", now, 1).unwrap());
        db.release_lease(session, "other").unwrap();
        let mut lease = leases
            .acquire(&db, session, LEASE_TERM_SECONDS)
            .await
            .unwrap();
        // Held, it renews; given up, it does not.
        assert!(db.renew_lease(session, leases.holder(), 60).unwrap());
        assert!(!db.renew_lease(session, "other", 60).unwrap());
        lease.keep_to_term();
        drop(lease);
        assert!(!db.take_lease(session, "other", now, 1).unwrap());
    }
}
