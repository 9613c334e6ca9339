//! Where the request → approve → use workflow keeps its sessions and their keys.
//!
//! The workflow ([`request`](crate::request), [`SessionClient::from_records`]) reads and writes
//! through [`SessionRecords`], so the same steps run over the local directory store (the CLI,
//! [`SessionStore::unlocked`]) and over a service's database (`sessionkeys serve`, whose keys
//! are sealed under a master key instead of a password).
//!
//! [`SessionClient::from_records`]: crate::SessionClient::from_records

use crate::store::{SessionStore, StoreError, StoredSession, StoredStatus};
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;

/// A place that keeps sessions and their keys.
///
/// # Security
/// An implementation writes keys only encrypted, and never puts a key in an error.
pub trait SessionRecords: Send + Sync {
    /// Makes a fresh random session key, kept only encrypted; returns it and the reference a
    /// [`StoredSession::key_file`] holds.
    fn new_key(&self) -> Result<(PrivateKeySigner, String), StoreError>;
    /// Deletes a key made by [`new_key`](Self::new_key) whose session was never saved.
    fn remove_key(&self, key_ref: &str) -> Result<(), StoreError>;
    /// Opens a session's key.
    fn open_key(&self, session: &StoredSession) -> Result<PrivateKeySigner, StoreError>;
    /// Saves (or updates) a session.
    fn save(&self, session: &StoredSession) -> Result<(), StoreError>;
    /// Forgets a session and its key.
    fn remove(&self, session: &StoredSession) -> Result<(), StoreError>;
    /// The session with this hash.
    fn by_hash(&self, hash: B256) -> Result<StoredSession, StoreError>;
    /// The hashes of `account`'s sessions that are requested or approved but not enabled yet:
    /// their nonce lanes are taken although the chain does not know them (rule 19).
    fn pending_on(&self, account: Address) -> Result<Vec<B256>, StoreError>;
}

/// The directory store as [`SessionRecords`], with the password its keys are sealed under
/// (or none, for steps that open no key: approving a request).
#[derive(Debug, Clone, Copy)]
pub struct StoreRecords<'a> {
    store: &'a SessionStore,
    password: Option<&'a [u8]>,
}

impl SessionStore {
    /// This store as [`SessionRecords`], its keys sealed under `password`.
    pub fn unlocked<'a>(&'a self, password: &'a [u8]) -> StoreRecords<'a> {
        StoreRecords {
            store: self,
            password: Some(password),
        }
    }

    /// This store as [`SessionRecords`] for steps that open no key: making or opening one is
    /// [`StoreError::Locked`].
    pub fn records(&self) -> StoreRecords<'_> {
        StoreRecords {
            store: self,
            password: None,
        }
    }
}

impl StoreRecords<'_> {
    fn password(&self) -> Result<&[u8], StoreError> {
        self.password.ok_or(StoreError::Locked)
    }
}

impl SessionRecords for StoreRecords<'_> {
    fn new_key(&self) -> Result<(PrivateKeySigner, String), StoreError> {
        self.store.new_key(self.password()?)
    }

    fn remove_key(&self, key_ref: &str) -> Result<(), StoreError> {
        self.store.remove_key(key_ref)
    }

    fn open_key(&self, session: &StoredSession) -> Result<PrivateKeySigner, StoreError> {
        self.store.open_key(session, self.password()?)
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.store.save(session)
    }

    fn remove(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.store.remove(session)
    }

    fn by_hash(&self, hash: B256) -> Result<StoredSession, StoreError> {
        self.store.find(&format!("{hash:x}"))
    }

    fn pending_on(&self, account: Address) -> Result<Vec<B256>, StoreError> {
        Ok(self
            .store
            .list()?
            .sessions
            .iter()
            .filter(|s| {
                s.account == account
                    && matches!(s.status, StoredStatus::Requested | StoredStatus::Approved)
            })
            .map(|s| s.hash)
            .collect())
    }
}
