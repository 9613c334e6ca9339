//! Group commit for the activity entries no alert rule reads at once: allowed checks.
//!
//! A check that passes raises no alert (docs/service.md, "Alerts"), so its log entry need not
//! be written before the check answers. Such entries go to one writer thread, which inserts
//! whatever has queued up in one transaction — one commit for many checks instead of one each,
//! on SQLite through a connection of its own (relaxed: its commits are not `fsync`ed), so the
//! requests' connection is never held by it. Every read of the log on this replica, and every
//! other entry written, first waits for the queue to drain: an app that checks and then reads
//! its activity sees the check, and ids keep the order things happened in. What the queue
//! holds when the process dies (what arrived since the last commit; longer while the database
//! refuses commits) is lost: a check changed nothing, and the chain holds every op.

use crate::sql::{Sql, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The insert each queued row is for: the activity table's columns in order.
pub(crate) const INSERT_ACTIVITY: &str = "INSERT INTO activity (at, app_id, owner, session_id, session_hash, account, kind, \
     verdict, reason, user_op_hash, transaction_hash, gas_used, targets, actor) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// At most this many entries go in one transaction.
const MOST_PER_COMMIT: usize = 2_048;
/// A commit that fails (the database is down) is tried again this often, then its entries
/// are given up (counted in [`ActivityQueue::lost`]).
const ATTEMPTS: u32 = 10;
const RETRY_AFTER: Duration = Duration::from_millis(if cfg!(test) { 5 } else { 500 });
/// A read waits at most this long for the queue to drain (a database that is down).
const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// At most this many rows wait; past it a row is given up (and counted) rather than queued.
const MOST_WAITING: usize = 65_536;

enum Message {
    Row(Vec<Value>),
    Flush(mpsc::SyncSender<()>),
}

/// The queue and its writer thread (which stops when the queue is dropped, after writing what
/// it holds).
pub(crate) struct ActivityQueue {
    sender: Mutex<mpsc::SyncSender<Message>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Rows queued and not yet committed (or given up).
    waiting: AtomicU64,
    /// Rows given up after the database refused every attempt.
    lost: AtomicU64,
}

impl ActivityQueue {
    /// Starts the writer for `sql`.
    pub(crate) fn start(sql: Arc<Sql>) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel(MOST_WAITING);
        let counts = Arc::new(Counts::default());
        let writer_counts = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("activity-writer".into())
            .spawn(move || write_until_closed(&sql, &receiver, &writer_counts))?;
        Ok(Self {
            sender: Mutex::new(sender),
            counts,
        })
    }

    /// Queues one row of [`INSERT_ACTIVITY`]'s values.
    pub(crate) fn push(&self, row: Vec<Value>) {
        self.counts.waiting.fetch_add(1, Ordering::SeqCst);
        if self.sender().try_send(Message::Row(row)).is_err() {
            // Full (the database has refused commits for a while), or the writer stopped.
            self.counts.waiting.fetch_sub(1, Ordering::SeqCst);
            self.counts.lost.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Returns once every row queued before the call is committed (or given up): before a
    /// read of the log. Free when nothing waits.
    pub(crate) fn flush(&self) {
        if self.counts.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let (done, wait) = mpsc::sync_channel(1);
        // Never blocks on a full queue (the database refusing commits): the read goes on.
        if self.sender().try_send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(FLUSH_WAIT);
        }
    }

    /// How many rows were given up because the database refused them.
    pub(crate) fn lost(&self) -> u64 {
        self.counts.lost.load(Ordering::SeqCst)
    }

    fn sender(&self) -> std::sync::MutexGuard<'_, mpsc::SyncSender<Message>> {
        // Sending cannot leave the sender half-changed: a poisoned lock is safe to take.
        self.sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn write_until_closed(sql: &Sql, receiver: &mpsc::Receiver<Message>, counts: &Counts) {
    let mut rows = Vec::new();
    let mut flushes = Vec::new();
    // Blocks for the first message, then takes whatever else has arrived meanwhile.
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Row(row) => rows.push(row),
                Message::Flush(done) => flushes.push(done),
            }
            if rows.len() < MOST_PER_COMMIT {
                next = receiver.try_recv().ok();
            }
        }
        let count = rows.len() as u64;
        if count > 0 {
            let batch = std::mem::take(&mut rows);
            if !commit(sql, batch) {
                counts.lost.fetch_add(count, Ordering::SeqCst);
            }
            counts.waiting.fetch_sub(count, Ordering::SeqCst);
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Inserts `rows` in one transaction, trying again while the database is down; whether they
/// were written.
fn commit(sql: &Sql, rows: Vec<Vec<Value>>) -> bool {
    // Shared, not copied, by each attempt.
    let rows = Arc::new(rows);
    for attempt in 1..=ATTEMPTS {
        if sql.execute_each(INSERT_ACTIVITY, Arc::clone(&rows)).is_ok() {
            return true;
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(RETRY_AFTER);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group_commit::Durability;
    use crate::sql::Sqlite;

    const TABLE: &str = "CREATE TABLE activity (id INTEGER PRIMARY KEY, at INTEGER, \
        app_id TEXT, owner TEXT, session_id TEXT, session_hash TEXT, account TEXT, kind TEXT, \
        verdict TEXT, reason TEXT, user_op_hash TEXT, transaction_hash TEXT, gas_used TEXT, \
        targets TEXT, actor TEXT);";

    fn activity_table() -> Arc<Sql> {
        let sql = Arc::new(Sql::Sqlite(
            Sqlite::new(
                rusqlite::Connection::open_in_memory().unwrap(),
                Durability::Relaxed,
            )
            .unwrap(),
        ));
        sql.batch(TABLE).unwrap();
        sql
    }

    fn row(at: i64) -> Vec<Value> {
        let mut row = vec![Value::Int(at)];
        row.extend((0..13).map(|_| Value::Text("x".into())));
        row
    }

    fn count(sql: &Sql) -> i64 {
        sql.query_one("SELECT COUNT(*) FROM activity", vec![])
            .unwrap()
            .unwrap()
            .int(0)
            .unwrap()
    }

    #[test]
    fn a_read_after_a_flush_sees_every_row_queued_before_it() {
        let sql = activity_table();
        let queue = ActivityQueue::start(Arc::clone(&sql)).unwrap();
        for at in 0..5_000 {
            queue.push(row(at));
        }
        queue.flush();
        assert_eq!(count(&sql), 5_000);
        assert_eq!(queue.lost(), 0);
        // Nothing waits: a flush returns at once, and rows keep their order.
        queue.flush();
        let last = sql
            .query_one("SELECT at FROM activity ORDER BY id DESC LIMIT 1", vec![])
            .unwrap()
            .unwrap()
            .int(0)
            .unwrap();
        assert_eq!(last, 4_999);
    }

    #[test]
    fn rows_the_database_refuses_are_counted_lost_and_the_queue_goes_on() {
        let sql = Arc::new(Sql::Sqlite(
            Sqlite::new(
                rusqlite::Connection::open_in_memory().unwrap(),
                Durability::Relaxed,
            )
            .unwrap(),
        ));
        let queue = ActivityQueue::start(Arc::clone(&sql)).unwrap();
        // No table yet: every attempt fails, then the rows are given up.
        queue.push(row(1));
        queue.flush();
        assert_eq!(queue.lost(), 1);
        sql.batch(TABLE).unwrap();
        queue.push(row(2));
        queue.flush();
        assert_eq!((count(&sql), queue.lost()), (1, 1));
    }
}
