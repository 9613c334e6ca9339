//! Keys round-trip through keystore v3 files that are private and never hold the key in clear.

use sessionkeys_keystore::{KeystoreError, create, open};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sessionkeys-keystore-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_created_key_opens_with_its_password_to_the_same_address() {
    let dir = temp_dir("roundtrip");
    let (key, path) = create(&dir, b"correct horse", None).unwrap();
    assert_eq!(
        path.file_name().unwrap().to_string_lossy(),
        format!("{}.json", key.address().to_checksum(None))
    );
    assert_eq!(
        open(&path, b"correct horse").unwrap().address(),
        key.address()
    );
}

#[test]
fn the_file_is_keystore_v3_with_scrypt_and_no_plaintext_key() {
    let dir = temp_dir("format");
    let (key, path) = create(&dir, b"pw-123", Some("session.json")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], 3);
    assert_eq!(json["crypto"]["kdf"], "scrypt");
    let secret = alloy::primitives::hex::encode(key.to_bytes());
    assert!(
        !text.to_lowercase().contains(&secret),
        "the key is not on disk in clear"
    );
}

#[cfg(unix)]
#[test]
fn files_are_0600_in_a_0700_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("modes");
    let (_, path) = create(&dir, b"pw", None).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn a_wrong_password_is_refused_without_echoing_it() {
    let dir = temp_dir("wrong");
    let (_, path) = create(&dir, b"right-password", None).unwrap();
    let error = open(&path, b"hunter2-wrong").unwrap_err();
    assert!(
        matches!(error, KeystoreError::WrongPassword { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("wrong password")
            && !message.contains("hunter2")
            && !message.contains("right-password"),
        "{message}"
    );
}

#[test]
fn empty_passwords_missing_files_and_overwrites_are_refused() {
    let dir = temp_dir("refusals");
    assert!(matches!(
        create(&dir, b"", None),
        Err(KeystoreError::EmptyPassword)
    ));
    assert!(
        open(&dir.join("absent.json"), b"pw")
            .unwrap_err()
            .to_string()
            .contains("no such keystore file")
    );
    create(&dir, b"pw", Some("same.json")).unwrap();
    let error = create(&dir, b"pw", Some("same.json")).unwrap_err();
    assert!(error.to_string().contains("never overwritten"), "{error}");
    std::fs::write(dir.join("junk.json"), "{}").unwrap();
    assert!(matches!(
        open(&dir.join("junk.json"), b"pw"),
        Err(KeystoreError::Malformed { .. })
    ));
}
