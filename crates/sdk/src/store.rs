//! The local session store: the sessions this machine holds, their specs, statuses and key
//! files, so a caller can say "the latest session" or name one by (a prefix of) its hash.
//!
//! Layout (all created 0700, files 0600):
//! ```text
//! <dir>/keys/<address>.json      session keys, Ethereum keystore v3 (scrypt), never plaintext
//! <dir>/sessions/<hash>.json     one StoredSession each
//! ```
//! Writes go to a temporary file renamed into place, so a crash never leaves a half-written
//! record, and an unreadable record is reported, never overwritten.
//!
//! ```rust
//! use alloy::primitives::Address;
//! use alloy::sol_types::SolValue;
//! use sessionkeys::SessionGrant;
//! use sessionkeys::store::{SessionStore, StoredSession, StoredStatus};
//! use sessionkeys_contracts::vocabulary::EntryPointVersion;
//! use sessionkeys_engine::format::parse_session_json;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("sessionkeys-doc-{}", std::process::id()));
//! let store = SessionStore::open(&dir)?;
//!
//! // A fresh key for the session, written only encrypted.
//! let (key, key_file) = store.new_key(b"correct horse")?;
//! let spec = parse_session_json(r#"{ "validAfter": 1, "validUntil": 4000000000,
//!     "transferPolicies": [{ "target": "0x000000000000000000000000000000000000b0b0",
//!       "maxValuePerUse": "1000" }] }"#)?
//!     .to_spec(Some(key.address()))?;
//! let grant = SessionGrant::new(spec, Address::repeat_byte(0x55))?;
//! store.save(&StoredSession {
//!     hash: grant.hash()?,
//!     chain_id: 31337,
//!     entry_point: EntryPointVersion::V08,
//!     account: Address::repeat_byte(0xac),
//!     owner: Address::repeat_byte(0x0e),
//!     validator: grant.validator,
//!     spec: grant.spec.abi_encode().into(),
//!     key_file,
//!     status: StoredStatus::Granted,
//!     approval: None,
//!     created_at: 1_700_000_000,
//!     factory: None,
//!     request: None,
//! })?;
//!
//! // Later, maybe in another process: the latest session, or one by a prefix of its hash.
//! let latest = store.find("latest")?;
//! assert_eq!(latest.hash, grant.hash()?);
//! assert_eq!(store.find(&format!("{:x}", grant.hash()?)[..10])?.hash, grant.hash()?);
//! assert_eq!(store.open_key(&latest, b"correct horse")?.address(), key.address());
//! assert!(store.open_key(&latest, b"wrong").is_err());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use crate::account::SmartAccount;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use serde::{Deserialize, Serialize};
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_contracts::abi::SessionAccountFactory;
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};
use std::path::{Path, PathBuf};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// A stored record does not parse; it is left untouched.
    #[error("{path}: unreadable session record ({reason}); it was left as it is")]
    Corrupt {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No stored session matches.
    #[error("no stored session matches {query:?} in {dir}; `sessionkeys sessions list` shows them")]
    NotFound {
        /// What was asked.
        query: String,
        /// The store.
        dir: PathBuf,
    },
    /// A hash prefix matches several sessions.
    #[error("{query:?} matches {count} stored sessions; give more of the hash")]
    Ambiguous {
        /// What was asked.
        query: String,
        /// How many matched.
        count: usize,
    },
    /// A key file could not be created or opened.
    #[error(transparent)]
    Keystore(#[from] sessionkeys_keystore::KeystoreError),
    /// A step that opens no key was asked to make or open one (a bug in the caller).
    #[error("the store was opened without its password, so no key can be made or opened")]
    Locked,
    /// No session with this hash is kept.
    #[error("no session {hash} is kept here")]
    UnknownSession {
        /// The hash asked for.
        hash: B256,
    },
    /// A database of sessions failed (a service's store).
    #[error("the session database failed: {reason}")]
    Database {
        /// What the database said (never a key).
        reason: String,
    },
    /// The database of sessions is down or unreachable (a service's store): a retry later may
    /// work, and nothing was written.
    #[error("the session database is unavailable ({reason}): retry in a few seconds")]
    Unavailable {
        /// What failed (never a key nor a password).
        reason: String,
    },
    /// Another process took this step over (a retry after this one was presumed dead): this
    /// one stops, having sent nothing.
    #[error("{what}: this attempt stopped and sent nothing")]
    Superseded {
        /// What was taken over.
        what: Superseded,
    },
    /// The session was revoked while this step ran: nothing more is recorded for it.
    #[error("session {hash} was revoked: nothing more is recorded or signed for it")]
    Revoked {
        /// The session.
        hash: B256,
    },
    /// A sealed key did not open: a wrong master key, or a record changed outside the store.
    #[error("session key {key_ref} does not open under this master key")]
    Sealed {
        /// The key's reference.
        key_ref: String,
    },
}

/// What another process took over from a step that was presumed dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Superseded {
    /// The session's send lease ran out before the op was sent, and may be another's now.
    #[error("the session's lease ran out before the op was sent, and may be another's now")]
    Lease,
    /// A retry took the request's `Idempotency-Key` over.
    #[error("a retry took this request's Idempotency-Key over")]
    IdempotencyKey,
}

/// Where a stored session stands, as far as this machine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StoredStatus {
    /// Requested: the key is made and the owner's typed data written, awaiting the owner's
    /// signature (`session approve`).
    Requested,
    /// Made and approved by the owner, to be enabled by its first op.
    Approved,
    /// Enabled on-chain.
    Granted,
    /// Revoked.
    Revoked,
}

impl StoredStatus {
    /// The word shown to a person (the same as its JSON form).
    pub fn word(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Granted => "granted",
            Self::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for StoredStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// The owner's approval kept for enable-in-first-use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredApproval {
    /// `(chainId, epoch)` pairs the owner signed.
    pub chains: Vec<(u64, u64)>,
    /// The owner's signature.
    pub owner_signature: Bytes,
}

impl StoredApproval {
    /// The approval as the signing code takes it.
    pub fn to_approval(&self) -> sessionkeys_chain::signing::EnableApproval {
        sessionkeys_chain::signing::EnableApproval {
            chains: self
                .chains
                .iter()
                .map(|&(chain_id, epoch)| ChainEpoch {
                    chainId: chain_id,
                    epoch,
                })
                .collect(),
            owner_signature: self.owner_signature.clone(),
        }
    }

    /// From the signing code's form.
    pub fn from_approval(approval: &sessionkeys_chain::signing::EnableApproval) -> Self {
        Self {
            chains: approval
                .chains
                .iter()
                .map(|c| (c.chainId, c.epoch))
                .collect(),
            owner_signature: approval.owner_signature.clone(),
        }
    }
}

/// How to deploy a counterfactual `SessionAccount`: its factory's `createAccount(owner,
/// validators, salt)`, so a session's first op can deploy the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFactory {
    /// The factory.
    pub factory: Address,
    /// The validators installed at creation.
    pub validators: Vec<Address>,
    /// The salt that tells several accounts of one owner apart.
    pub salt: U256,
}

/// What a pending request asked the owner to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRequest {
    /// `(chainId, epoch)` pairs the typed data lists.
    pub chains: Vec<(u64, u64)>,
}

impl StoredRequest {
    /// The chains as the signing code takes them.
    pub fn chain_epochs(&self) -> Vec<ChainEpoch> {
        self.chains
            .iter()
            .map(|&(chain_id, epoch)| ChainEpoch {
                chainId: chain_id,
                epoch,
            })
            .collect()
    }
}

/// One session this machine holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    /// `keccak256(abi.encode(spec))`.
    pub hash: B256,
    /// The chain it was granted on.
    pub chain_id: u64,
    /// The EntryPoint version, stored as `v0.7` or `v0.8` (records of earlier versions load as
    /// they are: the same strings).
    pub entry_point: EntryPointVersion,
    /// The account.
    pub account: Address,
    /// The account's owner.
    pub owner: Address,
    /// The validator.
    pub validator: Address,
    /// The spec, as its canonical `abi.encode` bytes.
    pub spec: Bytes,
    /// The key file's name inside `keys/` (or the key's id in another store);
    /// [`EXTERNAL_KEY`] when the app that asked for the session keeps its key.
    pub key_file: String,
    /// Where it stands.
    pub status: StoredStatus,
    /// The owner's approval, for enable-in-first-use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<StoredApproval>,
    /// When it was stored (unix seconds).
    pub created_at: u64,
    /// The account's factory and salt (absent in records written before they were kept, and
    /// for EIP-7702 accounts): lets the session's first op deploy the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<StoredFactory>,
    /// While [`StoredStatus::Requested`]: what the owner is asked to sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<StoredRequest>,
}

/// The [`StoredSession::key_file`] of a session whose key this store does not hold: the app
/// that asked for it keeps it (ERC-7715's `to`), and signs prepared ops itself.
pub const EXTERNAL_KEY: &str = "external";

impl StoredSession {
    /// Whether the session's key is held by the app that asked for it, not by this store.
    pub fn key_is_external(&self) -> bool {
        self.key_file == EXTERNAL_KEY
    }

    /// The account, deployable by its first op when the record keeps its factory.
    pub fn account(&self) -> Result<SmartAccount, StoreError> {
        Ok(SmartAccount {
            address: self.account,
            owner: self.owner,
            version: self.entry_point,
            factory: self.factory.as_ref().map(|f| {
                let create = SessionAccountFactory::createAccountCall {
                    owner: self.owner,
                    validators: f.validators.clone(),
                    salt: f.salt,
                };
                (f.factory, create.abi_encode().into())
            }),
        })
    }

    /// Whether the record was stored for the validator before the packed encoding
    /// (docs/compact-signatures.md): its hash is not the session hash of its spec today (or the
    /// spec has no packed form at all). Such a session is listed as such and never used.
    pub fn is_previous_encoding(&self) -> bool {
        self.spec()
            .ok()
            .and_then(|spec| sessionkeys_engine::session_hash(&spec).ok())
            != Some(self.hash)
    }

    /// The decoded spec.
    pub fn spec(&self) -> Result<SessionSpec, StoreError> {
        SessionSpec::abi_decode(&self.spec).map_err(|e| StoreError::Corrupt {
            path: PathBuf::from(format!("session {}", self.hash)),
            reason: format!("spec does not decode: {e}"),
        })
    }
}

/// A listing: every readable session, and the files that could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    /// Readable sessions, oldest first.
    pub sessions: Vec<StoredSession>,
    /// Unreadable records and why (left untouched).
    pub unreadable: Vec<StoreError>,
}

/// The store in one directory.
#[derive(Debug, Clone)]
pub struct SessionStore {
    dir: PathBuf,
}

fn io(path: &Path, error: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

#[cfg(unix)]
fn private_dir(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|e| io(path, e))
}

#[cfg(not(unix))]
fn private_dir(path: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(path).map_err(|e| io(path, e))
}

impl SessionStore {
    /// The default place: `$SESSIONKEYS_HOME`, else `~/.sessionkeys`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("SESSIONKEYS_HOME") {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        home.join(".sessionkeys")
    }

    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        private_dir(&dir)?;
        private_dir(&dir.join("sessions"))?;
        Ok(Self { dir })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where keys are kept.
    pub fn keys_dir(&self) -> PathBuf {
        self.dir.join("keys")
    }

    /// Makes a fresh session key, stored only encrypted under `password`.
    ///
    /// # Security
    /// The key is random, and written only as a keystore v3 (scrypt) file of mode 0600.
    pub fn new_key(&self, password: &[u8]) -> Result<(PrivateKeySigner, String), StoreError> {
        let (key, path) = sessionkeys_keystore::create(&self.keys_dir(), password, None)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((key, name))
    }

    /// Deletes a key file made by [`new_key`](Self::new_key) whose session was never stored
    /// (a grant or request that failed after making it), so `keys/` holds no keys of nothing.
    pub fn remove_key(&self, key_file: &str) -> Result<(), StoreError> {
        let path = self.keys_dir().join(key_file);
        std::fs::remove_file(&path).map_err(|e| io(&path, e))
    }

    /// Forgets a session: its record and its key (a grant that failed after its request was
    /// stored).
    pub fn remove(&self, session: &StoredSession) -> Result<(), StoreError> {
        let path = self.record_path(session.hash);
        std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        self.remove_key(&session.key_file)
    }

    /// Opens a stored session's key.
    pub fn open_key(
        &self,
        session: &StoredSession,
        password: &[u8],
    ) -> Result<PrivateKeySigner, StoreError> {
        Ok(sessionkeys_keystore::open(
            &self.keys_dir().join(&session.key_file),
            password,
        )?)
    }

    fn record_path(&self, hash: B256) -> PathBuf {
        self.dir.join("sessions").join(format!("{hash:x}.json"))
    }

    /// Saves (or updates) a session record, atomically.
    pub fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let path = self.record_path(session.hash);
        if path.exists() {
            // Refuse to replace a record we cannot read: it may be the only copy of something.
            self.read(&path)?;
        }
        let text = serde_json::to_string_pretty(session).map_err(|e| io(&path, e))?;
        let tmp = path.with_extension("json.tmp");
        write_private(&tmp, text.as_bytes())?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    fn read(&self, path: &Path) -> Result<StoredSession, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Every stored session, oldest first, and the records that could not be read.
    pub fn list(&self) -> Result<Listing, StoreError> {
        let dir = self.dir.join("sessions");
        let mut listing = Listing::default();
        let entries = std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io(&dir, e))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                match self.read(&path) {
                    Ok(session) => listing.sessions.push(session),
                    Err(error) => listing.unreadable.push(error),
                }
            }
        }
        listing.sessions.sort_by_key(|s| (s.created_at, s.hash));
        Ok(listing)
    }

    /// A session by `latest` or by (a prefix of) its hash, with or without `0x`.
    pub fn find(&self, query: &str) -> Result<StoredSession, StoreError> {
        let sessions = self.list()?.sessions;
        let not_found = || StoreError::NotFound {
            query: query.to_string(),
            dir: self.dir.clone(),
        };
        if query == "latest" {
            return sessions.into_iter().last().ok_or_else(not_found);
        }
        let prefix = query.trim_start_matches("0x").to_ascii_lowercase();
        if prefix.is_empty() {
            return Err(not_found());
        }
        let mut matches: Vec<StoredSession> = sessions
            .into_iter()
            .filter(|s| format!("{:x}", s.hash).starts_with(&prefix))
            .collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.remove(0)),
            count => Err(StoreError::Ambiguous {
                query: query.to_string(),
                count,
            }),
        }
    }

    /// Records a new status for a stored session.
    pub fn set_status(&self, hash: B256, status: StoredStatus) -> Result<(), StoreError> {
        let mut session = self.read(&self.record_path(hash))?;
        session.status = status;
        self.save(&session)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io(path, e))?;
    file.write_all(bytes).map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))
}
