//! Session rows kept in memory between their writes, on SQLite.
//!
//! Every check and execute names its session, and reading its row means a query and parsing
//! its record's JSON: a seventh of a check's time under load (docs/benchmarks.md). A SQLite
//! file serves one replica (`serve` holds its lock), and every write to `sessions` goes through
//! this process's [`Database`](crate::Database) (`write_sessions`), which calls
//! [`SessionCache::changed`] after it: so a row kept here is the row the file holds. On PostgreSQL another replica may revoke
//! a session at any time: there, nothing is kept and every read asks the database.

use alloy::primitives::B256;
use sessionkeys::store::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::SessionRow;
use crate::unpoisoned::lock;

/// How one app names one of its sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SessionName {
    /// By the service's id (`ses_…`).
    Id(String),
    /// By the session hash.
    Hash(B256),
}

/// At most this many rows are kept; past it the cache starts again empty.
const MOST_ROWS: usize = 65_536;

/// The rows read since the last write to `sessions`, per app and name.
#[derive(Debug)]
pub(crate) struct SessionCache<Row = SessionRow> {
    /// Whether rows are kept at all (one replica, SQLite).
    enabled: bool,
    /// Bumped by every write, before the rows are dropped: a read that began before a write
    /// does not keep what it read.
    writes: AtomicU64,
    rows: Mutex<HashMap<(String, SessionName), Row>>,
}

impl<Row: Clone> SessionCache<Row> {
    /// A cache that keeps rows when `enabled` (the database is this replica's alone).
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            writes: AtomicU64::new(0),
            rows: Mutex::default(),
        }
    }

    /// `app`'s session named `name`: kept, or `read` and kept unless a write to `sessions`
    /// happened meanwhile.
    pub(crate) fn get_or_read(
        &self,
        app: &str,
        name: SessionName,
        read: impl FnOnce() -> Result<Option<Row>, StoreError>,
    ) -> Result<Option<Row>, StoreError> {
        if !self.enabled {
            return read();
        }
        let key = (app.to_string(), name);
        if let Some(row) = lock(&self.rows).get(&key) {
            return Ok(Some(row.clone()));
        }
        let before = self.writes.load(Ordering::Acquire);
        let row = read()?;
        if let Some(row) = &row {
            let mut rows = lock(&self.rows);
            // Checked under the lock `changed` clears under: a write after this check clears
            // what is inserted here.
            if self.writes.load(Ordering::Acquire) == before {
                if rows.len() >= MOST_ROWS {
                    rows.clear();
                }
                rows.insert(key, row.clone());
            }
        }
        Ok(row)
    }

    /// A write to `sessions` has been made (call after it): every kept row is dropped.
    pub(crate) fn changed(&self) {
        self.writes.fetch_add(1, Ordering::AcqRel);
        lock(&self.rows).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn id(name: &str) -> SessionName {
        SessionName::Id(name.into())
    }

    #[test]
    fn a_row_is_read_once_then_again_after_a_write() {
        let cache = SessionCache::new(true);
        // Each read of the database, by what it found.
        let reads = RefCell::new(Vec::new());
        let read = |value: &str| {
            reads.borrow_mut().push(value.to_string());
            Ok(Some(value.to_string()))
        };
        for _ in 0..3 {
            let row = cache.get_or_read("app_a", id("ses_1"), || read("approved"));
            assert_eq!(row.unwrap().as_deref(), Some("approved"));
        }
        assert_eq!(*reads.borrow(), ["approved"]);
        cache.changed();
        let row = cache.get_or_read("app_a", id("ses_1"), || read("revoked"));
        assert_eq!(row.unwrap().as_deref(), Some("revoked"));
        assert_eq!(*reads.borrow(), ["approved", "revoked"]);
    }

    #[test]
    fn apps_and_names_are_kept_apart() {
        let cache = SessionCache::new(true);
        let row = |value: &str| Ok(Some(value.to_string()));
        cache
            .get_or_read("app_a", id("ses_1"), || row("a's"))
            .unwrap();
        let other_app = cache.get_or_read("app_b", id("ses_1"), || Ok(None));
        assert_eq!(other_app.unwrap(), None, "app B never sees app A's row");
        let by_hash = cache.get_or_read("app_a", SessionName::Hash(B256::ZERO), || row("by hash"));
        assert_eq!(by_hash.unwrap().as_deref(), Some("by hash"));
    }

    #[test]
    fn a_read_that_a_write_overtook_is_not_kept() {
        let cache = SessionCache::new(true);
        // The write lands while the read is under way: what the read saw may be the old row.
        let row = cache.get_or_read("app_a", id("ses_1"), || {
            cache.changed();
            Ok(Some("approved".to_string()))
        });
        assert_eq!(row.unwrap().as_deref(), Some("approved"));
        let again = cache.get_or_read("app_a", id("ses_1"), || Ok(Some("revoked".to_string())));
        assert_eq!(again.unwrap().as_deref(), Some("revoked"));
    }

    #[test]
    fn a_shared_database_keeps_nothing() {
        let cache = SessionCache::new(false);
        let reads = RefCell::new(Vec::new());
        for round in ["first", "second"] {
            cache
                .get_or_read("app_a", id("ses_1"), || {
                    reads.borrow_mut().push(round);
                    Ok(Some(String::new()))
                })
                .unwrap();
        }
        assert_eq!(*reads.borrow(), ["first", "second"]);
    }

    #[test]
    fn errors_and_missing_rows_are_not_kept() {
        let cache: SessionCache<String> = SessionCache::new(true);
        let failed = cache.get_or_read("app_a", id("ses_1"), || {
            Err(StoreError::Unavailable {
                reason: "down".into(),
            })
        });
        assert!(failed.is_err());
        assert_eq!(
            cache
                .get_or_read("app_a", id("ses_1"), || Ok(None))
                .unwrap(),
            None
        );
        let found = cache.get_or_read("app_a", id("ses_1"), || Ok(Some("made".to_string())));
        assert_eq!(found.unwrap().as_deref(), Some("made"));
    }
}
