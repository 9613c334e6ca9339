#![doc = include_str!("../README.md")]

use alloy::signers::local::{LocalSignerError, PrivateKeySigner};
use std::path::{Path, PathBuf};

/// Why a keystore operation failed. Messages never contain the password or the key.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The directory or file cannot be created, read or protected.
    #[error("{path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// The password does not open the file (its MAC does not match).
    #[error("{path}: wrong password (the keystore's MAC does not match)")]
    WrongPassword {
        /// The keystore file.
        path: PathBuf,
    },
    /// The file is not a keystore v3 this crate can read.
    #[error("{path}: not a readable keystore v3 file ({reason})")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong (no secret material).
        reason: String,
    },
    /// An empty password would leave the key effectively unencrypted.
    #[error("refusing an empty password: the key would be stored effectively in plaintext")]
    EmptyPassword,
}

fn io(path: &Path, error: impl std::fmt::Display) -> KeystoreError {
    KeystoreError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), KeystoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| io(path, e))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<(), KeystoreError> {
    Ok(())
}

/// Makes a fresh session key and stores it encrypted in `dir` (created with mode 0700) as a
/// keystore v3 file of mode 0600, named by the key's address unless `name` is given.
///
/// # Security
/// The key is random from the operating system's generator and leaves memory only encrypted.
pub fn create(
    dir: &Path,
    password: &[u8],
    name: Option<&str>,
) -> Result<(PrivateKeySigner, PathBuf), KeystoreError> {
    if password.is_empty() {
        return Err(KeystoreError::EmptyPassword);
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    restrict(dir, 0o700)?;
    let mut rng = rand::thread_rng();
    let key = PrivateKeySigner::random_with(&mut rng);
    let file_name = name
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}.json", key.address().to_checksum(None)));
    let path = dir.join(&file_name);
    if path.exists() {
        return Err(io(
            &path,
            "a keystore file of that name exists; keys are never overwritten",
        ));
    }
    PrivateKeySigner::encrypt_keystore(dir, &mut rng, key.to_bytes(), password, Some(&file_name))
        .map_err(|e| io(&path, e))?;
    restrict(&path, 0o600)?;
    Ok((key, path))
}

/// Opens a keystore file with its password.
///
/// # Security
/// The decrypted key lives only in the returned signer.
pub fn open(path: &Path, password: &[u8]) -> Result<PrivateKeySigner, KeystoreError> {
    if !path.is_file() {
        return Err(io(path, "no such keystore file"));
    }
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| classify(path, e))
}

/// eth-keystore reports a wrong password as a MAC mismatch; anything else is a bad file.
fn classify(path: &Path, error: LocalSignerError) -> KeystoreError {
    let text = error.to_string();
    if text.to_lowercase().contains("mac") {
        KeystoreError::WrongPassword {
            path: path.to_path_buf(),
        }
    } else {
        KeystoreError::Malformed {
            path: path.to_path_buf(),
            reason: text,
        }
    }
}
