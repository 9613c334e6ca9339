//! Durable commits on SQLite, shared between concurrent writers (group commit): a commit is
//! written to the WAL without waiting for the disk (`synchronous=NORMAL`), then made durable
//! by an `fsync` of the WAL file taken outside the connection's lock, and one `fsync` covers
//! every commit written before it began.
//!
//! Why: with `synchronous=FULL` each durable commit held the service's one connection through
//! its own `fsync` (2 ms and more on this machine's disk) and every other request's statement
//! waited behind it, so executes went no faster than the disk's `fsync`s one after another
//! (docs/benchmarks.md, "Executes share their fsyncs"). Now the connection is held only while
//! SQLite writes the pages, and executes arriving together wait for one `fsync`.
//!
//! Why this is as durable as `FULL`: in WAL mode, `FULL` differs from `NORMAL` only by syncing
//! the WAL at each commit (SQLite, "PRAGMA synchronous"); `fsync` flushes a file's written data
//! whichever descriptor wrote it; and a commit whose frames a checkpoint copied into the
//! database before the `fsync` began was durable already (with `NORMAL` a checkpoint syncs the
//! WAL before it and the database after). A statement that returns without error has been
//! synced; one whose `fsync` fails returns the error, and the caller does not act on it (the
//! journal sends nothing it could not record). After a failed `fsync` every durable write fails:
//! the kernel may have marked the pages it could not write clean, so a later `fsync` that
//! succeeds proves nothing about them (the WAL stays open on one descriptor, which sees the
//! error).
//!
//! A statement that wrote nothing durable (a read, a relaxed write, a write that changed no
//! row) still waits for the commits written before it ran: the connection's lock is released
//! before the `fsync`, so it may have read a commit not yet on disk, and must not answer from
//! it until it is (a stored `Idempotency-Key` answer, say). It waits only while such an `fsync`
//! is pending, and shares it.

use crate::unpoisoned::lock;
use sessionkeys::store::StoreError;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a connection's commits need before they count as durable.
pub(crate) struct GroupCommit {
    /// The WAL file to `fsync`, opened once (so a write-back error the kernel reports after it
    /// was opened reaches it); `None` when SQLite's own commit is all there is (a database in
    /// memory; a connection whose writes are all relaxed; a journal mode other than WAL, left at
    /// `synchronous=FULL`).
    wal: Option<(PathBuf, std::fs::File)>,
    /// Commits written so far (a commit's ticket is the count after it).
    written: AtomicU64,
    /// The most written commits one finished `fsync` covers; held while an `fsync` runs, so
    /// writers that arrive meanwhile wait for it and then, mostly, for nothing more.
    synced: Mutex<u64>,
    /// An `fsync` failed: the kernel may have dropped the pages it could not write, so no
    /// later `fsync` proves anything; every durable write fails from then on.
    failed: AtomicBool,
    /// `fsync`s taken, for the tests and the bench.
    syncs: AtomicU64,
}

/// How a connection's durable writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Durable writes are `fsync`ed before they return (shared, for a WAL file).
    Durable,
    /// Every write on this connection is relaxed: committed in order, synced by a later
    /// durable commit or checkpoint (the activity log's writer, docs/service.md, "Durability").
    Relaxed,
}

impl GroupCommit {
    /// Sets `connection` up for `durability` and says how its commits are made durable.
    pub(crate) fn for_connection(
        connection: &rusqlite::Connection,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let database = crate::sql::sqlite_error;
        let journal: String = connection
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .map_err(database)?;
        let file = connection.path().filter(|p| !p.is_empty());
        let wal = match (durability, file) {
            (Durability::Durable, Some(file)) if journal.eq_ignore_ascii_case("wal") => {
                // A read opens (creating) the WAL file, which SQLite keeps while any
                // connection is open.
                connection
                    .query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))
                    .map_err(database)?;
                let path = PathBuf::from(format!("{file}-wal"));
                let wal = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| StoreError::Database {
                        reason: format!("cannot open {} to sync it: {e}", path.display()),
                    })?;
                connection
                    .pragma_update(None, "synchronous", "NORMAL")
                    .map_err(database)?;
                Some((path, wal))
            }
            (Durability::Durable, _) => {
                connection
                    .pragma_update(None, "synchronous", "FULL")
                    .map_err(database)?;
                None
            }
            (Durability::Relaxed, _) => {
                connection
                    .pragma_update(None, "synchronous", "NORMAL")
                    .map_err(database)?;
                None
            }
        };
        Ok(Self {
            wal,
            written: AtomicU64::new(0),
            synced: Mutex::new(0),
            failed: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
        })
    }

    /// Counts a commit that has just been written (call it under the connection's lock,
    /// after the commit returned): its ticket for [`sync`](Self::sync).
    pub(crate) fn written(&self) -> u64 {
        self.written.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The ticket of the latest commit written: a statement that wrote nothing durable takes
    /// it (under the connection's lock), so that what it read is on disk before it is acted on
    /// or answered.
    pub(crate) fn latest(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Returns once the commit with `ticket` is on disk: at once when an `fsync` that began
    /// after it has finished, else after the next one (which this call may take itself).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the `fsync` fails, and for every call after one
    /// failed (the commit may be in the database, but nothing can be promised of it).
    pub(crate) fn sync(&self, ticket: u64) -> Result<(), StoreError> {
        let Some((path, wal)) = &self.wal else {
            return Ok(());
        };
        let mut synced = lock(&self.synced);
        if self.failed.load(Ordering::SeqCst) {
            return Err(failed(path, "an earlier fsync failed; restart the service"));
        }
        if *synced >= ticket {
            return Ok(());
        }
        // Every commit counted by now was written before this `fsync` begins.
        let covers = self.written.load(Ordering::SeqCst);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = wal.sync_data() {
            self.failed.store(true, Ordering::SeqCst);
            return Err(failed(path, &e.to_string()));
        }
        *synced = covers;
        Ok(())
    }

    /// How many `fsync`s were taken.
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

fn failed(path: &std::path::Path, why: &str) -> StoreError {
    StoreError::Unavailable {
        reason: format!("cannot fsync {}: {why}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn open(path: &std::path::Path) -> rusqlite::Connection {
        let connection = rusqlite::Connection::open(path).unwrap();
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        connection
    }

    fn synchronous(connection: &rusqlite::Connection) -> i64 {
        connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_wal_file_is_synced_by_the_service_and_other_connections_are_left_to_sqlite() {
        let dir = std::env::temp_dir().join(format!("group-commit-{}-a", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let file = open(&path);
        let durable = GroupCommit::for_connection(&file, Durability::Durable).unwrap();
        assert_eq!(
            durable.wal.as_ref().map(|(path, _)| path.clone()),
            Some(dir.join("db.sqlite-wal"))
        );
        assert_eq!(
            synchronous(&file),
            1,
            "NORMAL: the service syncs the WAL itself"
        );
        let relaxed = GroupCommit::for_connection(&open(&path), Durability::Relaxed).unwrap();
        assert!(relaxed.wal.is_none());
        let memory = rusqlite::Connection::open_in_memory().unwrap();
        let in_memory = GroupCommit::for_connection(&memory, Durability::Durable).unwrap();
        assert!(in_memory.wal.is_none());
        assert_eq!(synchronous(&memory), 2, "FULL: SQLite's own commits");
        assert!(in_memory.sync(in_memory.written()).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_fsync_covers_every_commit_written_before_it_and_a_later_one_needs_another() {
        let dir = std::env::temp_dir().join(format!("group-commit-{}-b", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let connection = open(&dir.join("db.sqlite"));
        let group = GroupCommit::for_connection(&connection, Durability::Durable).unwrap();
        connection
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let first = group.written();
        let second = group.written();
        group.sync(second).unwrap();
        assert_eq!(group.syncs(), 1);
        group.sync(first).unwrap();
        assert_eq!(
            group.syncs(),
            1,
            "the first commit was covered by the same fsync"
        );
        let third = group.written();
        group.sync(third).unwrap();
        assert_eq!(
            group.syncs(),
            2,
            "a commit written after an fsync began needs its own"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn writers_on_many_threads_all_return_synced_and_every_commit_is_kept() {
        let dir = std::env::temp_dir().join(format!("group-commit-{}-c", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let connection = open(&path);
        let group =
            Arc::new(GroupCommit::for_connection(&connection, Durability::Durable).unwrap());
        connection
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let connection = Arc::new(Mutex::new(connection));
        let (writers, each) = (8, 25);
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let (connection, group) = (Arc::clone(&connection), Arc::clone(&group));
                std::thread::spawn(move || {
                    for i in 0..each {
                        let ticket = {
                            let connection = lock(&connection);
                            connection
                                .execute("INSERT INTO t (x) VALUES (?1)", [w * 1000 + i])
                                .unwrap();
                            group.written()
                        };
                        group.sync(ticket).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // How many fsyncs they shared depends on the disk's speed (the bench measures it);
        // that none was needed beyond one per commit does not.
        let commits = (writers * each) as u64;
        assert!((1..=commits).contains(&group.syncs()), "{}", group.syncs());
        drop(connection);
        let count: i64 = open(&path)
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, commits as i64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
