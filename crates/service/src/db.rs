//! The service's database: apps, sessions and their sealed keys, in SQLite (one file in WAL
//! mode, or in memory for `--dev`).
//!
//! Schema (version 1; `schema_version` holds it):
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
//! ```
//! `record` is the SDK's `StoredSession` as JSON; `status`, `account` and `owner` repeat three
//! of its fields so queries can filter on them.

use crate::app_key;
use crate::master_key::MasterKey;
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use rusqlite::{Connection, OptionalExtension, params};
use sessionkeys::SessionRecords;
use sessionkeys::store::{StoreError, StoredSession, StoredStatus};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

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
CREATE INDEX IF NOT EXISTS activity_by_session ON activity(session_id, kind, at);
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
";

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
    connection: Mutex<Connection>,
    master: MasterKey,
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

fn random_id(prefix: &str) -> String {
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
        let connection = Connection::open(path).map_err(|e| StoreError::Database {
            reason: format!("{}: {e}", path.display()),
        })?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        Self::with_connection(connection, master)
    }

    /// A database in memory (`--dev`, tests): gone when the service stops.
    pub fn in_memory(master: MasterKey) -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory().map_err(db_error)?, master)
    }

    fn with_connection(connection: Connection, master: MasterKey) -> Result<Self, StoreError> {
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(db_error)?;
        connection.execute_batch(SCHEMA).map_err(db_error)?;
        let version: Option<i64> = connection
            .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
            .optional()
            .map_err(db_error)?;
        match version {
            None => {
                connection
                    .execute(
                        "INSERT INTO schema_version (version) VALUES (?1)",
                        [SCHEMA_VERSION],
                    )
                    .map_err(db_error)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Database {
                    reason: format!(
                        "the database has schema version {other}, this service knows \
                         {SCHEMA_VERSION}: run the sessionkeys release that wrote it"
                    ),
                });
            }
        }
        Ok(Self {
            connection: Mutex::new(connection),
            master,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (each statement is
        // atomic), so a poisoned lock is safe to take.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.lock()
            .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
            .map_err(db_error)
            .map(|_| ())
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// Makes an app; returns it and its API key, which is never stored nor shown again.
    pub fn create_app(&self, name: &str) -> Result<(App, String), StoreError> {
        let id = app_key::new_app_id();
        let (key, digest) = app_key::new_api_key(&id);
        self.lock()
            .execute(
                "INSERT INTO apps (id, name, key_digest, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, digest.as_slice(), unix_now()],
            )
            .map_err(db_error)?;
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
        let row: Option<(String, Vec<u8>)> = self
            .lock()
            .query_row(
                "SELECT name, key_digest FROM apps WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(db_error)?;
        Ok(row.and_then(|(name, stored)| {
            let stored: [u8; 32] = stored.try_into().ok()?;
            app_key::digests_equal(&stored, &digest).then(|| App {
                id: id.to_string(),
                name,
            })
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
        values: impl rusqlite::Params,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT id, app_id, record FROM sessions WHERE {filter}"
            ))
            .map_err(db_error)?;
        let rows = statement
            .query_map(values, |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(db_error)?;
        let mut sessions = Vec::new();
        for row in rows {
            let (id, app_id, record): (String, String, String) = row.map_err(db_error)?;
            sessions.push(parse_row(id, app_id, &record)?);
        }
        Ok(sessions)
    }

    fn one_session(
        &self,
        filter: &str,
        values: impl rusqlite::Params,
    ) -> Result<Option<SessionRow>, StoreError> {
        Ok(self.select_sessions(filter, values)?.into_iter().next())
    }

    /// `app`'s session with this id.
    pub fn session_by_id(&self, app: &App, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.one_session("id = ?1 AND app_id = ?2", params![id, app.id])
    }

    /// The session with this id, whichever app holds it (for steps already authorized).
    pub(crate) fn session_by_id_any(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.one_session("id = ?1", [id])
    }

    /// `app`'s session with this hash.
    pub fn session_by_hash(&self, app: &App, hash: B256) -> Result<Option<SessionRow>, StoreError> {
        self.one_session(
            "hash = ?1 AND app_id = ?2",
            params![format!("{hash:x}"), app.id],
        )
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
            "app_id = ?1 AND (?2 IS NULL OR account = ?2) \
             ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4",
            params![app.id, account.map(|a| format!("{a:x}")), limit, offset],
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
            params![format!("{owner:x}"), limit, offset],
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
            params![format!("{hash:x}"), format!("{owner:x}")],
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
            params![format!("{owner:x}"), format!("{account:x}")],
        )
    }

    /// Marks a session revoked in this service, whichever app holds it: nothing more is signed
    /// for it.
    pub fn mark_revoked(&self, row: &SessionRow) -> Result<(), StoreError> {
        // The status only, in the row as it stands now: nothing else a concurrent step wrote
        // is overwritten with an older copy.
        self.lock()
            .execute(
                "UPDATE sessions SET status = ?1, record = json_set(record, '$.status', ?1) \
                 WHERE id = ?2",
                params![StoredStatus::Revoked.word(), row.id],
            )
            .map_err(db_error)?;
        Ok(())
    }
}

fn parse_row(id: String, app_id: String, record: &str) -> Result<SessionRow, StoreError> {
    let record = serde_json::from_str(record).map_err(|e| StoreError::Corrupt {
        path: format!("sessions/{id}").into(),
        reason: e.to_string(),
    })?;
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
        self.db
            .lock()
            .execute(
                "INSERT INTO session_keys (id, sealed) VALUES (?1, ?2)",
                params![id, sealed],
            )
            .map_err(db_error)?;
        Ok((key, id))
    }

    fn remove_key(&self, key_ref: &str) -> Result<(), StoreError> {
        self.db
            .lock()
            .execute("DELETE FROM session_keys WHERE id = ?1", [key_ref])
            .map_err(db_error)?;
        Ok(())
    }

    fn open_key(&self, session: &StoredSession) -> Result<PrivateKeySigner, StoreError> {
        let sealed_error = || StoreError::Sealed {
            key_ref: session.key_file.clone(),
        };
        let sealed: Vec<u8> = self
            .db
            .lock()
            .query_row(
                "SELECT sealed FROM session_keys WHERE id = ?1",
                [&session.key_file],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?
            .ok_or_else(sealed_error)?;
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
        let connection = self.db.lock();
        // A revoked session stays revoked: a save racing a revoke (an approve, a first use)
        // never writes it back to life.
        let existing: Option<String> = connection
            .query_row(
                "SELECT status FROM sessions WHERE hash = ?1 AND app_id = ?2",
                params![hash, self.app.id],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?;
        match existing.as_deref() {
            Some(status) if status == StoredStatus::Revoked.word() => {
                if session.status == StoredStatus::Revoked {
                    return Ok(());
                }
                Err(StoreError::Revoked { hash: session.hash })
            }
            Some(_) => {
                connection
                    .execute(
                        "UPDATE sessions SET status = ?1, record = ?2 WHERE hash = ?3 AND app_id = ?4",
                        params![session.status.word(), record, hash, self.app.id],
                    )
                    .map_err(db_error)?;
                Ok(())
            }
            None => {
                connection
                    .execute(
                        "INSERT INTO sessions \
                         (id, app_id, hash, account, owner, status, record, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            random_id("ses_"),
                            self.app.id,
                            hash,
                            format!("{:x}", session.account),
                            format!("{:x}", session.owner),
                            session.status.word(),
                            record,
                            session.created_at as i64
                        ],
                    )
                    .map_err(db_error)?;
                Ok(())
            }
        }
    }

    fn remove(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.db
            .lock()
            .execute(
                "DELETE FROM sessions WHERE hash = ?1 AND app_id = ?2",
                params![format!("{:x}", session.hash), self.app.id],
            )
            .map_err(db_error)?;
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
        let connection = self.db.lock();
        let mut statement = connection
            .prepare("SELECT hash FROM sessions WHERE account = ?1 AND status IN (?2, ?3)")
            .map_err(db_error)?;
        let rows = statement
            .query_map(
                params![
                    format!("{account:x}"),
                    StoredStatus::Requested.word(),
                    StoredStatus::Approved.word()
                ],
                |row| row.get::<_, String>(0),
            )
            .map_err(db_error)?;
        let mut hashes = Vec::new();
        for row in rows {
            let text = row.map_err(db_error)?;
            hashes.push(text.parse().map_err(db_error)?);
        }
        Ok(hashes)
    }
}
