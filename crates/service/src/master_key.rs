//! The master key: the one secret the service holds, under which every session key is sealed
//! at rest (AES-256-GCM, a random 96-bit nonce per key, the key's id as associated data so a
//! sealed key cannot be moved to another row).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::path::Path;

/// Bytes of the nonce stored before each sealed key.
const NONCE_BYTES: usize = 12;

/// Why a master key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The file could not be read.
    #[error("cannot read the master key file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// The text is not 64 hex digits (32 bytes).
    #[error(
        "the master key from {source_name} is not 64 hex digits (32 bytes); make one with \
         `openssl rand -hex 32`"
    )]
    Malformed {
        /// Where it came from (a path or an environment variable's name), never the value.
        source_name: String,
    },
}

/// The service's master key.
///
/// # Security
/// It never appears in `Debug`, logs or errors; it is read from a file or the environment
/// (`SESSIONKEYS_MASTER_KEY`) and kept only in memory.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A fresh random key (the `--dev` service, whose database lives in memory with it).
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }

    /// Parses 64 hex digits (an optional `0x` and surrounding whitespace allowed);
    /// `source_name` says where they came from, for the error.
    pub fn from_hex(text: &str, source_name: &str) -> Result<Self, MasterKeyError> {
        let malformed = || MasterKeyError::Malformed {
            source_name: source_name.to_string(),
        };
        let hex = text.trim();
        let hex = hex.strip_prefix("0x").unwrap_or(hex);
        let bytes: [u8; 32] = alloy::hex::decode(hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(malformed)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Reads the key from a file holding its 64 hex digits.
    pub fn from_file(path: &Path) -> Result<Self, MasterKeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| MasterKeyError::Unreadable {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Self::from_hex(&text, &path.display().to_string())
    }

    /// Seals `secret` for the row `id`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, id: &str, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: id.as_bytes(),
                },
            )
            // AES-GCM encryption fails only for messages beyond 64 GiB; a key is 32 bytes.
            .unwrap_or_default();
        [nonce.as_slice(), &sealed].concat()
    }

    /// Opens what [`seal`](Self::seal) made for the row `id`; `None` when the key is another or
    /// the bytes or the id were changed.
    pub fn open(&self, id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: id.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_under_its_master_key_and_row() {
        let master = MasterKey::random();
        let sealed = master.seal("key_1", b"secret bytes of a key");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            master.open("key_1", &sealed).as_deref(),
            Some(&b"secret bytes of a key"[..])
        );
        assert_eq!(master.open("key_2", &sealed), None, "moved to another row");
        assert_eq!(MasterKey::random().open("key_1", &sealed), None);
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert_eq!(master.open("key_1", &flipped), None);
        assert_eq!(master.open("key_1", &sealed[..5]), None);
    }

    #[test]
    fn a_master_key_is_64_hex_digits_and_the_error_never_quotes_it() {
        let hex = "11".repeat(32);
        assert!(MasterKey::from_hex(&format!("0x{hex}\n"), "env").is_ok());
        let error = MasterKey::from_hex("abcdef0123", "SESSIONKEYS_MASTER_KEY").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("SESSIONKEYS_MASTER_KEY"), "{message}");
        assert!(!message.contains("abcdef0123"), "{message}");
        assert_eq!(format!("{:?}", MasterKey::random()), "MasterKey(…)");
    }
}
