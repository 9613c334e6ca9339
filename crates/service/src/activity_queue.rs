//! Group commit for the activity entries no alert rule reads at once: allowed checks.
//!
//! A check that passes raises no alert (docs/service.md, "Alerts"), so its log entry need not
//! be written before the check answers. Such entries go to one writer thread, which gathers
//! them for up to [`GATHER`] and inserts them in one transaction — one commit for hundreds of
//! checks instead of one each, on SQLite through a connection of its own (relaxed: its commits
//! are not `fsync`ed), so the requests' connection is never held by it. Gathering matters: a
//! commit writes every page it dirtied (the table's and each index's last page) however few
//! rows it holds, and the kernel's write path was most of a check's cost when the writer
//! committed whatever had arrived since its last commit (four page writes a check;
//! docs/benchmarks.md). A push wakes the writer only when the queue was empty, so a check
//! costs a lock, not a system call.
//!
//! Every read of the log on this replica, and every other entry written, first waits for the
//! queue to drain ([`ActivityQueue::flush`], which ends the gathering at once): an app that
//! checks and then reads its activity sees the check, and ids keep the order things happened
//! in. What the queue holds when the process dies (what arrived since the last commit; longer
//! while the database refuses commits) is lost: a check changed nothing, and the chain holds
//! every op.

use crate::sql::{Sql, Value};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The insert each queued row is for: the activity table's columns in order.
pub(crate) const INSERT_ACTIVITY: &str = "INSERT INTO activity (at, app_id, owner, session_id, session_hash, account, kind, \
     verdict, reason, user_op_hash, transaction_hash, gas_used, targets, actor) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// How long the writer gathers rows after the first one arrives before it commits them
/// (unless a flush is waiting or the batch is full).
const GATHER: Duration = Duration::from_millis(20);
/// At most this many entries go in one transaction.
const MOST_PER_COMMIT: usize = 4_096;
/// A commit that fails (the database is down) is tried again this often, then its entries
/// are given up (counted in [`ActivityQueue::lost`]).
const ATTEMPTS: u32 = 10;
const RETRY_AFTER: Duration = Duration::from_millis(if cfg!(test) { 5 } else { 500 });
/// A read waits at most this long for the queue to drain (a database that is down).
const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// At most this many rows wait; past it a row is given up (and counted) rather than queued.
const MOST_WAITING: usize = 65_536;

/// The queue and its writer thread (which stops when the queue is dropped, after writing what
/// it holds).
pub(crate) struct ActivityQueue {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The writer waits on it: for a first row, or (while gathering) for a flush or a full
    /// batch.
    writer: Condvar,
    /// Flushes wait on it for their rows to be committed.
    committed: Condvar,
}

#[derive(Default)]
struct State {
    /// Rows queued and not yet taken by the writer.
    rows: Vec<Vec<Value>>,
    /// How many rows were ever queued, and how many of them the writer has finished with
    /// (committed or given up): a flush waits until the second reaches the first as it was.
    queued: u64,
    finished: u64,
    /// Rows given up: the database refused every attempt, or the queue was full.
    lost: u64,
    /// The writer waits for a first row (pushes need to wake it).
    writer_idle: bool,
    /// A flush waits: the writer stops gathering.
    flush_wanted: bool,
    /// The queue was dropped: the writer writes what it holds and stops.
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every change to the state is a few field writes that cannot panic halfway: a
        // poisoned lock (a panic elsewhere while it was held) is safe to take.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ActivityQueue {
    /// Starts the writer for `sql`.
    pub(crate) fn start(sql: Arc<Sql>) -> std::io::Result<Self> {
        Self::start_gathering(sql, GATHER)
    }

    /// Starts the writer for `sql`, gathering rows for `gather` before each commit.
    fn start_gathering(sql: Arc<Sql>, gather: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            writer: Condvar::new(),
            committed: Condvar::new(),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("activity-writer".into())
            .spawn(move || write_until_closed(&sql, &writer, gather))?;
        Ok(Self { shared })
    }

    /// Queues one row of [`INSERT_ACTIVITY`]'s values.
    pub(crate) fn push(&self, row: Vec<Value>) {
        let mut state = self.shared.state();
        if state.rows.len() >= MOST_WAITING {
            // Full: the database has refused commits for a while.
            state.lost += 1;
            return;
        }
        state.rows.push(row);
        state.queued += 1;
        let wake = state.writer_idle || state.rows.len() == MOST_PER_COMMIT;
        if wake {
            state.writer_idle = false;
        }
        drop(state);
        if wake {
            self.shared.writer.notify_one();
        }
    }

    /// Returns once every row queued before the call is committed (or given up): before a
    /// read of the log. Free when nothing waits; waits at most [`FLUSH_WAIT`] (a database
    /// that is down), then the read goes on.
    pub(crate) fn flush(&self) {
        let mut state = self.shared.state();
        let target = state.queued;
        if state.finished >= target {
            return;
        }
        state.flush_wanted = true;
        state.writer_idle = false;
        self.shared.writer.notify_one();
        let deadline = Instant::now() + FLUSH_WAIT;
        while state.finished < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = wait(&self.shared.committed, state, Some(left));
        }
    }

    /// How many rows were given up because the database refused them (or the queue was full
    /// of rows it refused).
    pub(crate) fn lost(&self) -> u64 {
        self.shared.state().lost
    }
}

impl Drop for ActivityQueue {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.writer.notify_one();
    }
}

fn write_until_closed(sql: &Sql, shared: &Shared, gather: Duration) {
    loop {
        let batch = {
            let mut state = shared.state();
            while state.rows.is_empty() && !state.closed {
                // Every row queued is finished: any flush that asked has been answered.
                state.flush_wanted = false;
                state.writer_idle = true;
                state = wait(&shared.writer, state, None);
            }
            state.writer_idle = false;
            if state.rows.is_empty() {
                // Closed, and nothing left to write.
                return;
            }
            // Gather: more rows in one commit, unless someone waits for these.
            let deadline = Instant::now() + gather;
            while !state.flush_wanted && !state.closed && state.rows.len() < MOST_PER_COMMIT {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = wait(&shared.writer, state, Some(left));
            }
            let take = state.rows.len().min(MOST_PER_COMMIT);
            if take == state.rows.len() {
                state.flush_wanted = false;
            }
            state.rows.drain(..take).collect::<Vec<_>>()
        };
        let count = batch.len() as u64;
        let written = commit(sql, batch);
        let mut state = shared.state();
        state.finished += count;
        if !written {
            state.lost += count;
        }
        drop(state);
        shared.committed.notify_all();
    }
}

/// Waits on `condvar` (at most `timeout`, if given); a poisoned lock is taken as it is (see
/// [`Shared::state`]).
fn wait<'a>(
    condvar: &Condvar,
    state: MutexGuard<'a, State>,
    timeout: Option<Duration>,
) -> MutexGuard<'a, State> {
    match timeout {
        None => condvar.wait(state).unwrap_or_else(PoisonError::into_inner),
        Some(timeout) => {
            condvar
                .wait_timeout(state, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0
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
    fn a_flush_does_not_wait_for_the_gathering_to_end() {
        let sql = activity_table();
        let queue =
            ActivityQueue::start_gathering(Arc::clone(&sql), Duration::from_secs(600)).unwrap();
        queue.push(row(1));
        let asked = Instant::now();
        queue.flush();
        assert_eq!(count(&sql), 1);
        assert!(
            asked.elapsed() < FLUSH_WAIT,
            "the flush waited {:?}",
            asked.elapsed()
        );
        // The writer goes back to waiting for a first row, and gathers again.
        queue.push(row(2));
        queue.flush();
        assert_eq!(count(&sql), 2);
    }

    #[test]
    fn rows_are_committed_after_the_gathering_without_a_flush() {
        let sql = activity_table();
        let queue =
            ActivityQueue::start_gathering(Arc::clone(&sql), Duration::from_millis(10)).unwrap();
        for at in 0..3 {
            queue.push(row(at));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while count(&sql) < 3 {
            assert!(
                Instant::now() < deadline,
                "rows never committed without a flush"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(queue.lost(), 0);
    }

    #[test]
    fn dropping_the_queue_writes_what_it_holds() {
        let sql = activity_table();
        let queue =
            ActivityQueue::start_gathering(Arc::clone(&sql), Duration::from_secs(600)).unwrap();
        for at in 0..10 {
            queue.push(row(at));
        }
        drop(queue);
        let deadline = Instant::now() + Duration::from_secs(30);
        while count(&sql) < 10 {
            assert!(
                Instant::now() < deadline,
                "the rows held at drop were never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
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
