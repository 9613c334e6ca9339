//! One way to run SQL on either database the service keeps its state in: SQLite (one file,
//! one replica) or PostgreSQL (several replicas).
//!
//! Statements are written once, in the SQL both understand: `?N` placeholders (rewritten to
//! `$N` for PostgreSQL), `ON CONFLICT … DO NOTHING / DO UPDATE … WHERE`, `RETURNING`, and an
//! optional filter's parameter cast where it is tested for NULL
//! (`CAST(?2 AS TEXT) IS NULL OR account = ?2`: PostgreSQL cannot type `IS NULL` alone). Every
//! step that must be atomic is one statement, so no transaction is held across an await and
//! no replica can interleave with another inside one (docs/decisions.md, "The session
//! service: storage").

use sessionkeys::store::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::group_commit::{Durability, GroupCommit};
use crate::unpoisoned::lock;
use sessionkeys::held_lock::TimedMutex;

/// A value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer (`INTEGER` / `BIGINT`).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`).
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Self::Int(value.into())
    }
}

impl From<u16> for Value {
    fn from(value: u16) -> Self {
        Self::Int(value.into())
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Int(value.into())
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Text(value.to_string())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Self::Text(value.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Self {
        Self::Blob(value)
    }
}

impl From<&[u8]> for Value {
    fn from(value: &[u8]) -> Self {
        Self::Blob(value.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// The values of a statement's placeholders, in order: `values![a, b]` binds `?1`, `?2`.
macro_rules! values {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::sql::Value::from($value)),*]
    };
}
pub(crate) use values;

/// A row a query returned.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Value>);

fn column_error(index: usize, wanted: &str, found: &Value) -> StoreError {
    StoreError::Database {
        reason: format!("column {index} holds {found:?}, not {wanted}"),
    }
}

impl Row {
    fn value(&self, index: usize) -> Result<&Value, StoreError> {
        self.0.get(index).ok_or_else(|| StoreError::Database {
            reason: format!("the row has no column {index}"),
        })
    }

    /// An integer column.
    pub fn int(&self, index: usize) -> Result<i64, StoreError> {
        match self.value(index)? {
            Value::Int(value) => Ok(*value),
            other => Err(column_error(index, "an integer", other)),
        }
    }

    /// An integer column that may be `NULL`.
    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.value(index)? {
            Value::Null => Ok(None),
            _ => self.int(index).map(Some),
        }
    }

    /// An integer column that must fit `T` (a count, a status code, a time).
    pub fn number<T: TryFrom<i64>>(&self, index: usize) -> Result<T, StoreError> {
        let value = self.int(index)?;
        T::try_from(value).map_err(|_| StoreError::Database {
            reason: format!("column {index} holds {value}, out of range"),
        })
    }

    /// A text column.
    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        match self.value(index)? {
            Value::Text(value) => Ok(value.clone()),
            other => Err(column_error(index, "text", other)),
        }
    }

    /// A text column that may be `NULL`.
    pub fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.value(index)? {
            Value::Null => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    /// A bytes column.
    pub fn blob(&self, index: usize) -> Result<Vec<u8>, StoreError> {
        match self.value(index)? {
            Value::Blob(value) => Ok(value.clone()),
            other => Err(column_error(index, "bytes", other)),
        }
    }

    /// A bytes column that may be `NULL`.
    pub fn opt_blob(&self, index: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.value(index)? {
            Value::Null => Ok(None),
            _ => self.blob(index).map(Some),
        }
    }
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one file (WAL) or memory; one replica.
    Sqlite,
    /// PostgreSQL: any number of replicas.
    Postgres,
}

/// A connection to the database, in either dialect.
pub(crate) enum Sql {
    Sqlite(Sqlite),
    Postgres(Pool),
}

/// A SQLite connection and how its commits are made durable ([`GroupCommit`]).
pub(crate) struct Sqlite {
    /// Statements run one at a time; how long it is held is what the bench reports.
    connection: TimedMutex<rusqlite::Connection>,
    commits: GroupCommit,
}

impl Sqlite {
    /// Wraps `connection`, set up for `durability`.
    pub(crate) fn new(
        connection: rusqlite::Connection,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let commits = GroupCommit::for_connection(&connection, durability)?;
        Ok(Self {
            connection: TimedMutex::new(connection),
            commits,
        })
    }

    /// Runs `statement` on the connection and returns once what it depends on is on disk:
    /// its own commit when it made a durable change (the closure's `true`), else every durable
    /// commit written before it ran (it may have read one). The connection's lock is not held
    /// while waiting for the disk (group_commit.rs).
    fn run<T>(
        &self,
        statement: impl FnOnce(&mut rusqlite::Connection) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        let (value, ticket) = {
            let mut connection = self.connection.lock();
            let (value, durable_change) = statement(&mut connection)?;
            let ticket = if durable_change {
                self.commits.written()
            } else {
                self.commits.latest()
            };
            (value, ticket)
        };
        self.commits.sync(ticket)?;
        Ok(value)
    }
}

impl Sql {
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// How long the SQLite connection has been held by statements, in all (`None` on
    /// PostgreSQL, whose connections are a pool): over a measurement, held time ÷ elapsed
    /// time is how busy the one connection was.
    pub fn held(&self) -> Option<Duration> {
        match self {
            Self::Sqlite(sqlite) => Some(sqlite.connection.held()),
            Self::Postgres(_) => None,
        }
    }

    /// The database's clock in Unix seconds, as SQL: one clock for every replica (theirs may
    /// drift apart).
    pub fn now_sql(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "unixepoch()",
            Self::Postgres(_) => "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
        }
    }

    /// Runs a statement; returns how many rows it changed. Its commit is durable (on
    /// SQLite, `fsync`ed) before it returns.
    pub fn execute(&self, sql: &str, values: Vec<Value>) -> Result<u64, StoreError> {
        match self {
            // A write that changed no row committed nothing to wait for.
            Self::Sqlite(sqlite) => sqlite
                .run(|c| sqlite_execute(c, sql, &values).map(|changed| (changed, changed > 0))),
            Self::Postgres(pool) => {
                let sql = placeholders_for_postgres(sql);
                pool.run(move |client| {
                    let params = pg_params(&values);
                    client.execute(sql.as_str(), &params).map_err(pg_error)
                })
            }
        }
    }

    /// Like [`execute`](Self::execute) for a write whose loss in a power cut costs nothing
    /// the chain or a later durable write does not restore (a lease, a log entry, a settled
    /// op's state): on SQLite its commit is not `fsync`ed by itself. WAL keeps commits in
    /// order, so the next durable commit makes it durable too, and a process crash never loses
    /// it (docs/service.md, "Durability").
    pub fn execute_relaxed(&self, sql: &str, values: Vec<Value>) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite(sqlite) => {
                sqlite.run(|c| sqlite_execute(c, sql, &values).map(|changed| (changed, false)))
            }
            Self::Postgres(_) => self.execute(sql, values),
        }
    }

    /// [`query`](Self::query) for a write that returns rows, relaxed as
    /// [`execute_relaxed`](Self::execute_relaxed) is.
    pub fn query_relaxed(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            Self::Sqlite(sqlite) => {
                sqlite.run(|c| sqlite_query(c, sql, &values).map(|(rows, _)| (rows, false)))
            }
            Self::Postgres(_) => self.query(sql, values),
        }
    }

    /// Runs a query; returns its rows.
    pub fn query(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            // A query that writes (`… RETURNING`) is durable like `execute`; a read waits only
            // for durable commits still being synced that it may have seen.
            Self::Sqlite(sqlite) => sqlite.run(|c| sqlite_query(c, sql, &values)),
            Self::Postgres(pool) => {
                let sql = placeholders_for_postgres(sql);
                pool.run(move |client| {
                    let params = pg_params(&values);
                    let rows = client.query(sql.as_str(), &params).map_err(pg_error)?;
                    rows.iter().map(pg_row).collect()
                })
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_one(&self, sql: &str, values: Vec<Value>) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, values)?.into_iter().next())
    }

    /// Runs one statement once for each of `rows`, all in one transaction: one commit (one
    /// `fsync`) for many rows.
    pub fn execute_each(&self, sql: &str, rows: Arc<Vec<Vec<Value>>>) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(sqlite) => sqlite.run(|connection| {
                let transaction = connection.transaction().map_err(sqlite_error)?;
                {
                    let mut statement = transaction.prepare_cached(sql).map_err(sqlite_error)?;
                    for values in rows.iter() {
                        statement
                            .execute(rusqlite::params_from_iter(values.iter()))
                            .map_err(sqlite_error)?;
                    }
                }
                transaction.commit().map_err(sqlite_error)?;
                Ok(((), true))
            }),
            Self::Postgres(pool) => {
                let sql = placeholders_for_postgres(sql);
                pool.run(move |client| {
                    let mut transaction = client.transaction().map_err(pg_error)?;
                    let statement = transaction.prepare(sql.as_str()).map_err(pg_error)?;
                    for values in rows.iter() {
                        transaction
                            .execute(&statement, &pg_params(values))
                            .map_err(pg_error)?;
                    }
                    transaction.commit().map_err(pg_error)
                })
            }
        }
    }

    /// Runs statements with no placeholders, in one transaction (the schema).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(sqlite) => sqlite.run(|connection| {
                connection
                    .execute_batch(&format!("BEGIN; {sql} COMMIT;"))
                    .map_err(sqlite_error)?;
                Ok(((), true))
            }),
            Self::Postgres(pool) => {
                let sql = sql.to_string();
                pool.run(move |client| {
                    client
                        .batch_execute(&format!("BEGIN; {sql} COMMIT;"))
                        .map_err(pg_error)
                })
            }
        }
    }
}

fn sqlite_execute(
    connection: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
) -> Result<u64, StoreError> {
    let changed = connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute(rusqlite::params_from_iter(values.iter())))
        .map_err(sqlite_error)?;
    Ok(changed as u64)
}

/// The rows, and whether the statement changed a row.
fn sqlite_query(
    connection: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
) -> Result<(Vec<Row>, bool), StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(sqlite_error)?;
    let width = statement.column_count();
    let writes = !statement.readonly();
    let mut rows = statement
        .query(rusqlite::params_from_iter(values.iter()))
        .map_err(sqlite_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        let mut columns = Vec::with_capacity(width);
        for index in 0..width {
            columns.push(sqlite_value(row.get_ref(index).map_err(sqlite_error)?)?);
        }
        out.push(Row(columns));
    }
    drop(rows);
    drop(statement);
    // `changes()` counts the last INSERT, UPDATE or DELETE the connection finished: this one's
    // when it writes.
    Ok((out, writes && connection.changes() > 0))
}

pub(crate) fn sqlite_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable {
                reason: error.to_string(),
            }
        }
        _ => StoreError::Database {
            reason: error.to_string(),
        },
    }
}

fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Result<Value, StoreError> {
    use rusqlite::types::ValueRef;
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(value) => Value::Int(value),
        ValueRef::Text(bytes) => {
            Value::Text(
                String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Database {
                    reason: "a text column holds bytes that are not UTF-8".into(),
                })?,
            )
        }
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
        ValueRef::Real(_) => {
            return Err(StoreError::Database {
                reason: "a column holds a real number; this schema has none".into(),
            });
        }
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Int(value) => ValueRef::Integer(*value),
            Self::Text(value) => ValueRef::Text(value.as_bytes()),
            Self::Blob(value) => ValueRef::Blob(value),
        }))
    }
}

/// `?N` → `$N`, outside quoted strings (the statements here quote only plain words).
pub(crate) fn placeholders_for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for character in sql.chars() {
        match character {
            '\'' => {
                quoted = !quoted;
                out.push(character);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(character),
        }
    }
    out
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(value) => match *ty {
                Type::INT8 => value.to_sql(ty, out),
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                _ => Err(format!("an integer cannot bind a {ty} parameter").into()),
            },
            Self::Text(value) => value.as_str().to_sql(ty, out),
            Self::Blob(value) => value.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        // Checked per value in `to_sql`: a NULL binds any type.
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_params(values: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|value| value as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn pg_row(row: &postgres::Row) -> Result<Row, StoreError> {
    use postgres::types::Type;
    let mut columns = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row
                .try_get::<_, Option<i64>>(index)
                .map(|v| v.map(Value::Int)),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(index)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(index)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(index)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => row
                .try_get::<_, Option<String>>(index)
                .map(|v| v.map(Value::Text)),
            Type::BYTEA => row
                .try_get::<_, Option<Vec<u8>>>(index)
                .map(|v| v.map(Value::Blob)),
            ref other => {
                return Err(StoreError::Database {
                    reason: format!(
                        "column {} has type {other}, which this schema does not use",
                        column.name()
                    ),
                });
            }
        }
        .map_err(pg_error)?;
        columns.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(columns))
}

fn pg_error(error: postgres::Error) -> StoreError {
    // The database is down, restarting or unreachable — a closed connection, a socket error,
    // SQLSTATE class 08 (connection exception) or 57 (operator intervention, e.g. shutdown):
    // a retry after a while may work (503). Anything else is a failed statement.
    let io = std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>());
    let (reason, state_class) = match error.as_db_error() {
        Some(db) => (
            format!("{}: {}", db.code().code(), db.message()),
            db.code().code().get(..2).map(str::to_string),
        ),
        None => (error.to_string(), None),
    };
    // Also class 53 (out of connections, memory or disk) and a serialization failure or
    // deadlock (40001, 40P01): none is the request's fault, and a retry may pass.
    let retryable_state = error
        .as_db_error()
        .is_some_and(|db| matches!(db.code().code(), "40001" | "40P01"));
    if error.is_closed()
        || io
        || retryable_state
        || matches!(state_class.as_deref(), Some("08" | "53" | "57"))
    {
        StoreError::Unavailable { reason }
    } else {
        StoreError::Database { reason }
    }
}

type Job = Box<dyn FnOnce(Result<&mut postgres::Client, StoreError>) + Send>;

/// A few PostgreSQL connections, each on its own thread (the `postgres` client blocks, and
/// must not run inside the service's async runtime); a caller waits for its answer as it
/// would for SQLite's lock.
pub(crate) struct Pool {
    jobs: mpsc::Sender<Job>,
}

/// How long a connection attempt may take before the database counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one statement may run (PostgreSQL's `statement_timeout`).
const STATEMENT_TIMEOUT_MS: u32 = 15_000;

impl Pool {
    /// Starts `size` connection threads for `url`. Connections are made on first use and
    /// again after they drop, so a database that is down now is not fatal.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the URL does not parse.
    pub fn new(url: &str, size: usize) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|_| StoreError::Database {
            // The URL may carry a password: it is not repeated.
            reason: "the PostgreSQL URL does not parse: write postgres://USER@HOST:PORT/DB".into(),
        })?;
        let options = match config.get_options() {
            Some(options) => format!("{options} -c statement_timeout={STATEMENT_TIMEOUT_MS}"),
            None => format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"),
        };
        config.options(&options);
        config.connect_timeout(CONNECT_TIMEOUT);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let losses = Arc::new(AtomicU64::new(0));
        for index in 0..size.max(1) {
            let receiver = Arc::clone(&receiver);
            let losses = Arc::clone(&losses);
            let config = config.clone();
            std::thread::Builder::new()
                .name(format!("postgres-{index}"))
                .spawn(move || connection_thread(&config, &receiver, &losses))
                .map_err(|e| StoreError::Database {
                    reason: format!("cannot start a database thread: {e}"),
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on a connection and waits for its answer. On the service's multi-threaded
    /// runtime the wait tells tokio this worker blocks, so other requests (`/readyz` among
    /// them) move to another worker while the database is slow.
    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let blocking = tokio::runtime::Handle::try_current().is_ok_and(|handle| {
            handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        if blocking {
            tokio::task::block_in_place(|| self.run_blocking(job))
        } else {
            self.run_blocking(job)
        }
    }

    fn run_blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let sent = self.jobs.send(Box::new(move |client| {
            // The caller may have given up; nothing to do then.
            let _ = answer.send(client.and_then(job));
        }));
        let gone = || StoreError::Unavailable {
            reason: "the database threads stopped".into(),
        };
        sent.map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }
}

/// How long a connection may sit idle before it is checked on its next use.
const IDLE_CHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// How long that check may take before the connection is remade.
const IDLE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn connection_thread(
    config: &postgres::Config,
    jobs: &Mutex<mpsc::Receiver<Job>>,
    losses: &AtomicU64,
) {
    let mut client: Option<postgres::Client> = None;
    let mut last_used = std::time::Instant::now();
    // The pool's count of lost connections when this one was last known good.
    let mut losses_seen = losses.load(Ordering::Acquire);
    loop {
        let job = {
            let receiver = lock(jobs);
            match receiver.recv() {
                Ok(job) => job,
                // The pool was dropped.
                Err(_) => return,
            }
        };
        // A connection learns that the server closed it only when it is next used. One that
        // sat idle is asked first (one round trip); so is every one after another connection
        // of the pool was lost — a restart of the database closes them all, and a request
        // should meet a reconnect, not a 503, on each of them but the first.
        let losses_now = losses.load(Ordering::Acquire);
        if let Some(idle) = client.as_mut()
            && (last_used.elapsed() > IDLE_CHECK_AFTER || losses_now != losses_seen)
            && idle.is_valid(IDLE_CHECK_TIMEOUT).is_err()
        {
            client = None;
        }
        losses_seen = losses_now;
        last_used = std::time::Instant::now();
        if client.as_ref().is_some_and(postgres::Client::is_closed) {
            client = None;
        }
        if client.is_none() {
            match config.connect(postgres::NoTls) {
                Ok(connected) => client = Some(connected),
                Err(error) => {
                    job(Err(pg_error(error)));
                    continue;
                }
            }
        }
        match client.as_mut() {
            Some(connected) => {
                job(Ok(connected));
                if connected.is_closed() {
                    // This connection died under its job: the others are asked before use.
                    losses_seen = losses.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
                    client = None;
                }
            }
            None => job(Err(StoreError::Unavailable {
                reason: "no database connection".into(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            placeholders_for_postgres("SELECT a FROM t WHERE b = ?1 AND c = '?' AND d IN (?2, ?3)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
        );
    }

    #[test]
    fn rows_refuse_a_column_of_another_type() {
        let row = Row(vec![Value::Text("x".into()), Value::Null, Value::Int(300)]);
        assert_eq!(row.text(0).unwrap(), "x");
        assert!(matches!(row.int(0), Err(StoreError::Database { .. })));
        assert_eq!(row.opt_int(1).unwrap(), None);
        assert!(matches!(row.int(1), Err(StoreError::Database { .. })));
        assert!(matches!(
            row.number::<u8>(2),
            Err(StoreError::Database { .. })
        ));
        assert_eq!(row.number::<u16>(2).unwrap(), 300);
        assert!(matches!(row.text(3), Err(StoreError::Database { .. })));
    }

    #[test]
    fn on_a_wal_file_writes_wait_for_an_fsync_and_reads_and_relaxed_writes_take_none() {
        let dir = std::env::temp_dir().join(format!("sql-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let connection = rusqlite::Connection::open(dir.join("db.sqlite")).unwrap();
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        let sqlite = Sqlite::new(connection, Durability::Durable).unwrap();
        let sql = Sql::Sqlite(sqlite);
        let syncs = || match &sql {
            Sql::Sqlite(sqlite) => sqlite.commits.syncs(),
            Sql::Postgres(_) => unreachable!("a SQLite connection"),
        };
        sql.batch("CREATE TABLE t (a INTEGER);").unwrap();
        assert_eq!(syncs(), 1, "the schema");
        sql.execute("INSERT INTO t (a) VALUES (?1)", values![1i64])
            .unwrap();
        assert_eq!(syncs(), 2, "a durable write");
        sql.query("SELECT a FROM t", values![]).unwrap();
        assert_eq!(syncs(), 2, "a read waits for no disk");
        let returned = sql
            .query("INSERT INTO t (a) VALUES (?1) RETURNING a", values![2i64])
            .unwrap();
        assert_eq!(returned[0].int(0).unwrap(), 2);
        assert_eq!(syncs(), 3, "a write that returns rows is durable too");
        sql.execute_relaxed("INSERT INTO t (a) VALUES (?1)", values![3i64])
            .unwrap();
        sql.query_relaxed("DELETE FROM t WHERE a = ?1 RETURNING a", values![3i64])
            .unwrap();
        assert_eq!(
            syncs(),
            3,
            "relaxed writes are synced by the next durable one"
        );
        sql.execute_each(
            "INSERT INTO t (a) VALUES (?1)",
            Arc::new(vec![values![4i64], values![5i64]]),
        )
        .unwrap();
        assert_eq!(syncs(), 4, "one fsync for the whole transaction");
        sql.execute("UPDATE t SET a = 9 WHERE a = ?1", values![100i64])
            .unwrap();
        assert_eq!(
            syncs(),
            4,
            "a write that changed no row committed nothing to sync"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sqlite_round_trips_every_value() {
        let sql = Sql::Sqlite(
            Sqlite::new(
                rusqlite::Connection::open_in_memory().unwrap(),
                Durability::Durable,
            )
            .unwrap(),
        );
        sql.batch("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d TEXT);")
            .unwrap();
        let changed = sql
            .execute(
                "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)",
                values![-5i64, "text", vec![0u8, 255], None::<String>],
            )
            .unwrap();
        assert_eq!(changed, 1);
        let row = sql
            .query_one("SELECT a, b, c, d FROM t WHERE a = ?1", values![-5i64])
            .unwrap()
            .unwrap();
        assert_eq!(row.int(0).unwrap(), -5);
        assert_eq!(row.text(1).unwrap(), "text");
        assert_eq!(row.blob(2).unwrap(), vec![0, 255]);
        assert_eq!(row.opt_text(3).unwrap(), None);
    }
}
