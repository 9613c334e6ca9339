//! The service's database: apps, sessions and their sealed keys, in SQLite (one file in WAL
//! mode, or in memory for `--dev`) or PostgreSQL (for several replicas), through
//! [`crate::sql`].
//!
//! Schema (version 1; `schema_version` holds it). It is written once, in SQLite's words;
//! [`postgres_schema`] translates the column types, and a test compares the two live
//! catalogs:
//! ```text
//! apps(id PK, name, key_digest BLOB, created_at)
//! session_keys(id PK, sealed BLOB)            the key, sealed under the master key
//! sessions(id PK, app_id → apps, hash UNIQUE, account, owner, status, record JSON, created_at)
//! owner_challenges(nonce PK, owner, message, expires_at, used)   sign-in messages issued
//! owner_tokens(digest PK, owner, expires_at)                      signed-in owners
//! idempotency(app_id, key, fingerprint, state, status, body, created_at; PK app_id, key)
//! activity(id PK, at, app_id, owner, session_id, session_hash, account, kind, verdict, reason,
//!          user_op_hash, transaction_hash, gas_used, targets, actor)
//! account_targets(account, target; PK both)                     targets called, for alerts
//! alert_rules(account PK, rules JSON)
//! alerts(id PK, at, app_id, owner, account, session_id, session_hash, rule, message,
//!        dedup UNIQUE)                                          one alert per occasion
//! webhooks(id PK, app_id → apps, url, sealed_secret BLOB, created_at)
//! webhook_deliveries(id PK, webhook_id, alert_id, attempt, at, status, error, delivered)
//! operations(user_op_hash PK, app_id, session_id, session_hash, idempotency_key, sender, nonce,
//!            entry_point, state, transaction_hash, gas_used, gas_cost, revert_data, sent_at,
//!            settled_at)                          the journal of sent ops (crate::journal)
//! session_leases(session_hash PK, holder, expires_at)   one sender per session, all replicas
//! ```
//! `record` is the SDK's `StoredSession` as JSON; `status`, `account` and `owner` repeat three
//! of its fields so queries can filter on them.

use crate::activity_queue::ActivityQueue;
use crate::app_key;
use crate::group_commit::Durability;
use crate::master_key::MasterKey;
use crate::session_cache::{SessionCache, SessionName};
use crate::sql::{Dialect, Pool, Row, Sql, Sqlite, values};
use crate::unpoisoned::lock;
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::SessionRecords;
use sessionkeys::store::{StoreError, StoredSession, StoredStatus};
use std::path::Path;
use std::sync::{Arc, Mutex};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_digest BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS session_keys (
    id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    hash TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_app_account ON sessions(app_id, account, created_at);
CREATE INDEX IF NOT EXISTS sessions_by_owner ON sessions(owner, created_at);
CREATE TABLE IF NOT EXISTS owner_challenges (
    nonce TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    message TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS owner_tokens (
    digest BLOB PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    verdict TEXT,
    reason TEXT,
    user_op_hash TEXT,
    transaction_hash TEXT,
    gas_used TEXT,
    targets TEXT NOT NULL,
    actor TEXT
);
DROP INDEX IF EXISTS activity_by_session;
CREATE INDEX IF NOT EXISTS activity_by_verdict ON activity(session_id, kind, verdict, at);
CREATE INDEX IF NOT EXISTS activity_by_app ON activity(app_id, id);
CREATE INDEX IF NOT EXISTS activity_by_owner ON activity(owner, id);
CREATE TABLE IF NOT EXISTS account_targets (
    account TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (account, target)
);
CREATE TABLE IF NOT EXISTS alert_rules (
    account TEXT PRIMARY KEY,
    rules TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    account TEXT NOT NULL,
    session_id TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    rule TEXT NOT NULL,
    message TEXT NOT NULL,
    dedup TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    url TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    alert_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    delivered INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    app_id TEXT NOT NULL REFERENCES apps(id),
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE TABLE IF NOT EXISTS operations (
    user_op_hash TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    idempotency_key TEXT,
    sender TEXT NOT NULL,
    nonce TEXT NOT NULL,
    entry_point TEXT NOT NULL,
    state TEXT NOT NULL,
    transaction_hash TEXT,
    gas_used TEXT,
    gas_cost TEXT,
    revert_data BLOB,
    sent_at INTEGER NOT NULL,
    settled_at INTEGER
);
CREATE INDEX IF NOT EXISTS operations_by_state ON operations(state, session_hash);
CREATE INDEX IF NOT EXISTS operations_by_key ON operations(app_id, idempotency_key);
CREATE TABLE IF NOT EXISTS erc7715_permissions (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id),
    app_id TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS erc7715_permissions_by_app ON erc7715_permissions(app_id, created_at);
CREATE TABLE IF NOT EXISTS session_leases (
    session_hash TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
";

/// The schema in SQLite's words.
pub fn sqlite_schema() -> &'static str {
    SCHEMA
}

/// The schema in PostgreSQL's words: the same tables, columns and constraints, with
/// PostgreSQL's types for SQLite's (`BIGINT` for `INTEGER`, `BYTEA` for `BLOB`, an identity
/// column for `AUTOINCREMENT`).
pub fn postgres_schema() -> String {
    SCHEMA
        .replace(
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        )
        .replace("INTEGER", "BIGINT")
        .replace("BLOB", "BYTEA")
}

/// Serializes schema creation among replicas starting at once (PostgreSQL's `CREATE TABLE IF
/// NOT EXISTS` is not safe against a concurrent one): an arbitrary, fixed advisory-lock key.
const SCHEMA_LOCK_KEY: i64 = 0x5e55_1013_5c4e_3a01;

/// How many PostgreSQL connections one replica opens.
const POSTGRES_CONNECTIONS: usize = 8;

/// An app (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Its id (16 hex digits).
    pub id: String,
    /// The name the admin gave it.
    pub name: String,
}

/// A session row: the service's id for it and the SDK's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// `ses_` and 16 hex digits.
    pub id: String,
    /// The app it belongs to.
    pub app_id: String,
    /// The session.
    pub record: StoredSession,
}

/// The database.
pub struct Database {
    sql: Arc<Sql>,
    master: MasterKey,
    /// Allowed checks' log entries, committed in groups.
    activity_queue: ActivityQueue,
    /// Apps read so far, by id: their name and key digest.
    apps: Mutex<std::collections::HashMap<String, (String, [u8; 32])>>,
    /// Session rows read since the last write to them (SQLite only).
    session_cache: SessionCache,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").finish_non_exhaustive()
    }
}

pub(crate) fn db_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Database {
        reason: error.to_string(),
    }
}

pub(crate) fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", app_key::new_app_id())
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Database {
    /// Opens (creating if needed) the database file at `path`, in WAL mode.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the file cannot be opened or holds a newer schema.
    pub fn open(path: &Path, master: MasterKey) -> Result<Self, StoreError> {
        let connection = rusqlite::Connection::open(path).map_err(|e| StoreError::Database {
            reason: format!("{}: {e}", path.display()),
        })?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        let mut database = Self::sqlite(connection, master)?;
        // The log's group commits on a connection of their own: WAL lets requests read (and
        // write) through the first while the writer waits for its `fsync`.
        let writer = rusqlite::Connection::open(path).map_err(|e| StoreError::Database {
            reason: format!("{}: {e}", path.display()),
        })?;
        writer
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        // Only allowed checks' entries go through it: relaxed (sql.rs, `execute_relaxed`).
        let writer = Sqlite::new(writer, Durability::Relaxed)?;
        database.activity_queue = ActivityQueue::start(Arc::new(Sql::Sqlite(writer)))
            .map_err(|e| db_error(format!("cannot start the activity writer: {e}")))?;
        Ok(database)
    }

    /// A database in memory (`--dev`, tests): gone when the service stops.
    pub fn in_memory(master: MasterKey) -> Result<Self, StoreError> {
        Self::sqlite(
            rusqlite::Connection::open_in_memory().map_err(db_error)?,
            master,
        )
    }

    /// Connects to PostgreSQL at `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`, optionally
    /// `?options=-csearch_path%3DSCHEMA`) and creates the schema if it is not there. Replicas
    /// share it: each opens its own connections.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the URL does not parse or the database holds a newer
    /// schema; [`StoreError::Unavailable`] when it cannot be reached.
    pub fn postgres(url: &str, master: MasterKey) -> Result<Self, StoreError> {
        let database =
            Self::with_sql(Sql::Postgres(Pool::new(url, POSTGRES_CONNECTIONS)?), master)?;
        database.sql.batch(&format!(
            "SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY}); {}",
            postgres_schema()
        ))?;
        database.check_version()?;
        Ok(database)
    }

    fn sqlite(connection: rusqlite::Connection, master: MasterKey) -> Result<Self, StoreError> {
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(db_error)?;
        // Every commit durable unless a write says otherwise (`Sql::execute_relaxed`), its
        // `fsync` shared with the writes that arrive with it (group_commit.rs).
        let connection = Sqlite::new(connection, Durability::Durable)?;
        let database = Self::with_sql(Sql::Sqlite(connection), master)?;
        database.sql.batch(SCHEMA)?;
        database.check_version()?;
        Ok(database)
    }

    fn with_sql(sql: Sql, master: MasterKey) -> Result<Self, StoreError> {
        let sql = Arc::new(sql);
        let activity_queue = ActivityQueue::start(Arc::clone(&sql))
            .map_err(|e| db_error(format!("cannot start the activity writer: {e}")))?;
        // A SQLite file serves this replica alone; PostgreSQL is shared (session_cache.rs).
        let session_cache = SessionCache::new(sql.dialect() == Dialect::Sqlite);
        Ok(Self {
            sql,
            master,
            activity_queue,
            apps: Mutex::default(),
            session_cache,
        })
    }

    /// The database's own figures, in the Prometheus text format (after the service's).
    pub(crate) fn render_metrics(&self) -> String {
        format!(
            "# HELP sessionkeys_activity_entries_lost_total Log entries of allowed checks given up \
             because the database refused every attempt to write them.\n\
             # TYPE sessionkeys_activity_entries_lost_total counter\n\
             sessionkeys_activity_entries_lost_total {}\n",
            self.activity_queue.lost()
        )
    }

    /// The queue of log entries committed in groups.
    pub(crate) fn activity_queue(&self) -> &ActivityQueue {
        &self.activity_queue
    }

    fn check_version(&self) -> Result<(), StoreError> {
        // Two replicas starting at once may both find no version: the insert only adds one
        // when there is none.
        self.sql.execute(
            "INSERT INTO schema_version (version) SELECT ?1 \
             WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
            values![SCHEMA_VERSION],
        )?;
        let versions = self
            .sql
            .query("SELECT DISTINCT version FROM schema_version", values![])?;
        for row in versions {
            let version = row.int(0)?;
            if version != SCHEMA_VERSION {
                return Err(StoreError::Database {
                    reason: format!(
                        "the database has schema version {version}, this service knows \
                         {SCHEMA_VERSION}: run the sessionkeys release that wrote it"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The statements' way to the database.
    pub(crate) fn sql(&self) -> &Sql {
        &self.sql
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.sql.dialect()
    }

    /// How long the requests' SQLite connection has been held by statements since it was
    /// opened (`None` on PostgreSQL): the bench's measure of how busy it is, since it runs one
    /// statement at a time.
    pub fn connection_held(&self) -> Option<std::time::Duration> {
        self.sql.held()
    }

    /// Whether the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.sql.query("SELECT 1", values![]).map(|_| ())
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// Makes an app; returns it and its API key, which is never stored nor shown again.
    pub fn create_app(&self, name: &str) -> Result<(App, String), StoreError> {
        let id = app_key::new_app_id();
        let (key, digest) = app_key::new_api_key(&id);
        self.sql.execute(
            "INSERT INTO apps (id, name, key_digest, created_at) VALUES (?1, ?2, ?3, ?4)",
            values![&id, name, digest.as_slice(), unix_now()],
        )?;
        Ok((
            App {
                id,
                name: name.to_string(),
            },
            key,
        ))
    }

    /// The app a presented API key belongs to, if it is one.
    pub fn authenticate(&self, key: &str) -> Result<Option<App>, StoreError> {
        let Some((id, digest)) = app_key::parse_api_key(key) else {
            return Ok(None);
        };
        let known = lock(&self.apps).get(id).cloned();
        let (name, stored) = match known {
            Some(known) => known,
            None => {
                let Some(row) = self.sql.query_one(
                    "SELECT name, key_digest FROM apps WHERE id = ?1",
                    values![id],
                )?
                else {
                    return Ok(None);
                };
                let (name, stored) = (row.text(0)?, row.blob(1)?);
                let Ok(stored) = <[u8; 32]>::try_from(stored) else {
                    return Ok(None);
                };
                // An app's name and key digest never change and apps are never deleted: what
                // was read once stays true (a later way to rotate a key must forget it here).
                lock(&self.apps).insert(id.to_string(), (name.clone(), stored));
                (name, stored)
            }
        };
        Ok(app_key::digests_equal(&stored, &digest).then(|| App {
            id: id.to_string(),
            name,
        }))
    }

    /// The records of one app, for the SDK's workflow.
    pub fn records<'a>(&'a self, app: &'a App) -> AppRecords<'a> {
        AppRecords { db: self, app }
    }

    /// The session rows `filter` (a `WHERE` clause over `sessions`, with its ORDER and LIMIT)
    /// selects with `values`.
    fn select_sessions(
        &self,
        filter: &str,
        values: Vec<crate::sql::Value>,
    ) -> Result<Vec<SessionRow>, StoreError> {
        self.sql
            .query(
                &format!("SELECT id, app_id, status, record FROM sessions WHERE {filter}"),
                values,
            )?
            .iter()
            .map(parse_row)
            .collect()
    }

    fn one_session(
        &self,
        filter: &str,
        values: Vec<crate::sql::Value>,
    ) -> Result<Option<SessionRow>, StoreError> {
        Ok(self.select_sessions(filter, values)?.into_iter().next())
    }

    /// A session `app` holds on `account` (its owner and factory).
    pub(crate) fn app_session_of_account(
        &self,
        app: &App,
        account: Address,
    ) -> Result<Option<SessionRow>, StoreError> {
        self.one_session(
            "account = ?1 AND app_id = ?2 ORDER BY created_at, id",
            values![format!("{account:x}"), &app.id],
        )
    }

    /// Runs `sql`, a write to `sessions`: every write goes through here, so the rows kept in
    /// memory are dropped after each (session_cache.rs).
    fn write_sessions(&self, sql: &str, values: Vec<crate::sql::Value>) -> Result<u64, StoreError> {
        let written = self.sql.execute(sql, values);
        // Even a failed statement may have been applied (a lost answer): forget either way.
        self.session_cache.changed();
        written
    }

    /// `app`'s session with this id.
    pub fn session_by_id(&self, app: &App, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.session_cache
            .get_or_read(&app.id, SessionName::Id(id.to_string()), || {
                self.one_session("id = ?1 AND app_id = ?2", values![id, &app.id])
            })
    }

    /// The session with this id, whichever app holds it (for steps already authorized).
    pub(crate) fn session_by_id_any(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.one_session("id = ?1", values![id])
    }

    /// `app`'s session with this hash.
    pub fn session_by_hash(&self, app: &App, hash: B256) -> Result<Option<SessionRow>, StoreError> {
        self.session_cache
            .get_or_read(&app.id, SessionName::Hash(hash), || {
                self.one_session(
                    "hash = ?1 AND app_id = ?2",
                    values![format!("{hash:x}"), &app.id],
                )
            })
    }

    /// `app`'s sessions, newest first, of `account` if given; at most `limit` from `offset`.
    pub fn sessions(
        &self,
        app: &App,
        account: Option<Address>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<SessionRow>, StoreError> {
        self.select_sessions(
            "app_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR account = ?2) \
             ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4",
            values![&app.id, account.map(|a| format!("{a:x}")), limit, offset],
        )
    }
}

impl Database {
    /// Every session of `owner`'s accounts, across apps, newest first; at most `limit` from
    /// `offset`.
    pub fn owner_sessions(
        &self,
        owner: Address,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<SessionRow>, StoreError> {
        self.select_sessions(
            "owner = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
            values![format!("{owner:x}"), limit, offset],
        )
    }

    /// `owner`'s session with this hash, whichever app requested it.
    pub fn owner_session(
        &self,
        owner: Address,
        hash: B256,
    ) -> Result<Option<SessionRow>, StoreError> {
        self.one_session(
            "hash = ?1 AND owner = ?2",
            values![format!("{hash:x}"), format!("{owner:x}")],
        )
    }

    /// Every session of `account` held for `owner`, by any app.
    pub fn owner_account_sessions(
        &self,
        owner: Address,
        account: Address,
    ) -> Result<Vec<SessionRow>, StoreError> {
        self.select_sessions(
            "owner = ?1 AND account = ?2 ORDER BY created_at, id",
            values![format!("{owner:x}"), format!("{account:x}")],
        )
    }

    /// Marks a session revoked in this service, whichever app holds it: nothing more is signed
    /// for it.
    pub fn mark_revoked(&self, row: &SessionRow) -> Result<(), StoreError> {
        // The status column only (it overrides the record's status when read): nothing else a
        // concurrent step wrote is overwritten with an older copy.
        self.write_sessions(
            "UPDATE sessions SET status = ?1 WHERE id = ?2",
            values![StoredStatus::Revoked.word(), &row.id],
        )?;
        Ok(())
    }
}

/// A `sessions` row (`id, app_id, status, record`): the record, with the status column's
/// word for its status (a revoke writes the column alone).
fn parse_row(row: &Row) -> Result<SessionRow, StoreError> {
    let (id, app_id, status) = (row.text(0)?, row.text(1)?, row.text(2)?);
    let corrupt = |reason: String| StoreError::Corrupt {
        path: format!("sessions/{id}").into(),
        reason,
    };
    let mut record: StoredSession =
        serde_json::from_str(&row.text(3)?).map_err(|e| corrupt(e.to_string()))?;
    record.status = [
        StoredStatus::Requested,
        StoredStatus::Approved,
        StoredStatus::Granted,
        StoredStatus::Revoked,
    ]
    .into_iter()
    .find(|candidate| candidate.word() == status)
    .ok_or_else(|| corrupt(format!("status {status:?} is not a session status")))?;
    Ok(SessionRow { id, app_id, record })
}

/// One app's view of the database as the SDK's [`SessionRecords`].
#[derive(Debug, Clone, Copy)]
pub struct AppRecords<'a> {
    db: &'a Database,
    app: &'a App,
}

impl SessionRecords for AppRecords<'_> {
    fn new_key(&self) -> Result<(PrivateKeySigner, String), StoreError> {
        let key = PrivateKeySigner::random();
        let id = random_id("key_");
        let sealed = self.db.master.seal(&id, key.to_bytes().as_slice());
        self.db.sql.execute(
            "INSERT INTO session_keys (id, sealed) VALUES (?1, ?2)",
            values![&id, sealed],
        )?;
        Ok((key, id))
    }

    fn remove_key(&self, key_ref: &str) -> Result<(), StoreError> {
        self.db
            .sql
            .execute("DELETE FROM session_keys WHERE id = ?1", values![key_ref])?;
        Ok(())
    }

    fn open_key(&self, session: &StoredSession) -> Result<PrivateKeySigner, StoreError> {
        let sealed_error = || StoreError::Sealed {
            key_ref: session.key_file.clone(),
        };
        let sealed = self
            .db
            .sql
            .query_one(
                "SELECT sealed FROM session_keys WHERE id = ?1",
                values![&session.key_file],
            )?
            .ok_or_else(sealed_error)?
            .blob(0)?;
        let bytes = self
            .db
            .master
            .open(&session.key_file, &sealed)
            .ok_or_else(sealed_error)?;
        PrivateKeySigner::from_slice(&bytes).map_err(|_| sealed_error())
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let record = serde_json::to_string(session).map_err(db_error)?;
        let hash = format!("{:x}", session.hash);
        let created_at = i64::try_from(session.created_at).map_err(db_error)?;
        // One statement, so replicas cannot interleave: insert, or update the app's row unless
        // it is revoked. A revoked session stays revoked: a save racing a revoke (an approve, a
        // first use) never writes it back to life.
        let changed = self.db.write_sessions(
            "INSERT INTO sessions \
             (id, app_id, hash, account, owner, status, record, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (hash) DO UPDATE SET status = excluded.status, record = excluded.record \
             WHERE sessions.app_id = excluded.app_id AND sessions.status <> ?9",
            values![
                random_id("ses_"),
                &self.app.id,
                &hash,
                format!("{:x}", session.account),
                format!("{:x}", session.owner),
                session.status.word(),
                record,
                created_at,
                StoredStatus::Revoked.word(),
            ],
        )?;
        if changed == 1 || session.status == StoredStatus::Revoked {
            return Ok(());
        }
        // Nothing changed: the row is revoked, or (hashes are unique) another app's.
        let status = self
            .db
            .sql
            .query_one(
                "SELECT status FROM sessions WHERE hash = ?1 AND app_id = ?2",
                values![&hash, &self.app.id],
            )?
            .map(|row| row.text(0))
            .transpose()?;
        match status {
            Some(_) => Err(StoreError::Revoked { hash: session.hash }),
            None => Err(StoreError::Database {
                reason: format!("session {} is held by another app", session.hash),
            }),
        }
    }

    fn remove(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.db.write_sessions(
            "DELETE FROM sessions WHERE hash = ?1 AND app_id = ?2",
            values![format!("{:x}", session.hash), &self.app.id],
        )?;
        self.remove_key(&session.key_file)
    }

    fn by_hash(&self, hash: B256) -> Result<StoredSession, StoreError> {
        self.db
            .session_by_hash(self.app, hash)?
            .map(|row| row.record)
            .ok_or(StoreError::UnknownSession { hash })
    }

    fn pending_on(&self, account: Address) -> Result<Vec<B256>, StoreError> {
        // Every app's: two apps' sessions on one account must not share a nonce lane either.
        self.db
            .sql
            .query(
                "SELECT hash FROM sessions WHERE account = ?1 AND status IN (?2, ?3)",
                values![
                    format!("{account:x}"),
                    StoredStatus::Requested.word(),
                    StoredStatus::Approved.word()
                ],
            )?
            .iter()
            .map(|row| row.text(0)?.parse().map_err(db_error))
            .collect()
    }
}
