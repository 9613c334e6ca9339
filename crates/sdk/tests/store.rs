//! The local session store: records found by hash prefix or as the latest, never lost or
//! overwritten when unreadable, keys only encrypted.

use alloy::primitives::{Address, B256, Bytes};
use sessionkeys::store::{SessionStore, StoreError, StoredApproval, StoredSession, StoredStatus};
use sessionkeys_contracts::vocabulary::EntryPointVersion;
use std::path::PathBuf;

fn temp_store(name: &str) -> (SessionStore, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sk-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (SessionStore::open(&dir).unwrap(), dir)
}

fn record(hash_byte: u8, created_at: u64) -> StoredSession {
    let mut hash = B256::repeat_byte(hash_byte);
    hash.0[0] = 0xab;
    StoredSession {
        hash,
        chain_id: 31337,
        entry_point: EntryPointVersion::V07,
        account: Address::repeat_byte(1),
        owner: Address::repeat_byte(2),
        validator: Address::repeat_byte(3),
        spec: Bytes::from_static(&[0; 32]),
        key_file: "key.json".into(),
        status: StoredStatus::Granted,
        approval: Some(StoredApproval {
            chains: vec![(31337, 0)],
            owner_signature: Bytes::from_static(&[7; 65]),
        }),
        created_at,
        factory: None,
        request: None,
    }
}

#[test]
fn sessions_are_found_by_hash_prefix_and_the_latest_by_time() {
    let (store, _) = temp_store("find");
    let (first, second) = (record(0x11, 100), record(0x22, 200));
    store.save(&second).unwrap();
    store.save(&first).unwrap();
    assert_eq!(store.find("latest").unwrap(), second);
    assert_eq!(store.find("0xab1111").unwrap(), first);
    assert_eq!(store.find("AB2222").unwrap(), second);
    assert_eq!(store.list().unwrap().sessions, vec![first, second]);
}

#[test]
fn an_ambiguous_prefix_and_an_unknown_hash_are_refused_with_what_to_do() {
    let (store, dir) = temp_store("ambiguous");
    store.save(&record(0x11, 1)).unwrap();
    store.save(&record(0x22, 2)).unwrap();
    assert!(matches!(
        store.find("ab"),
        Err(StoreError::Ambiguous { count: 2, .. })
    ));
    let error = store.find("0xdead").unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }));
    let message = error.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("sessions list"), "{message}");
    let (empty, _) = temp_store("empty");
    assert!(matches!(
        empty.find("latest"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn a_corrupt_record_is_reported_and_never_overwritten() {
    let (store, dir) = temp_store("corrupt");
    let session = record(0x33, 5);
    store.save(&session).unwrap();
    let path = dir
        .join("sessions")
        .join(format!("{:x}.json", session.hash));
    std::fs::write(&path, b"{ not json").unwrap();
    let listing = store.list().unwrap();
    assert!(listing.sessions.is_empty());
    assert_eq!(listing.unreadable.len(), 1);
    assert!(matches!(listing.unreadable[0], StoreError::Corrupt { .. }));
    assert!(matches!(
        store.save(&session),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.set_status(session.hash, StoredStatus::Revoked),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
}

#[test]
fn status_updates_keep_the_rest_of_the_record() {
    let (store, _) = temp_store("status");
    let session = record(0x44, 9);
    store.save(&session).unwrap();
    store
        .set_status(session.hash, StoredStatus::Revoked)
        .unwrap();
    let updated = store.find("latest").unwrap();
    assert_eq!(updated.status, StoredStatus::Revoked);
    assert_eq!(
        StoredSession {
            status: StoredStatus::Granted,
            ..updated
        },
        session
    );
}

#[cfg(unix)]
#[test]
fn records_and_keys_are_private_and_keys_only_encrypted() {
    use std::os::unix::fs::PermissionsExt;
    let (store, dir) = temp_store("private");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let session = record(0x55, 1);
    store.save(&session).unwrap();
    let path = dir
        .join("sessions")
        .join(format!("{:x}.json", session.hash));
    assert_eq!(mode(&path), 0o600);
    let (key, name) = store.new_key(b"pw for tests").unwrap();
    let key_path = store.keys_dir().join(&name);
    assert_eq!(mode(&key_path), 0o600);
    let text = std::fs::read_to_string(&key_path).unwrap();
    let secret = alloy::primitives::hex::encode(key.to_bytes());
    assert!(
        !text.contains(&secret),
        "the key file holds the key in plaintext"
    );
    let stored = StoredSession {
        key_file: name,
        ..session
    };
    assert_eq!(
        store.open_key(&stored, b"pw for tests").unwrap().address(),
        key.address()
    );
    assert!(store.open_key(&stored, b"wrong").is_err());
}

/// A record exactly as the store wrote it before its fields were typed (entryPoint `"v0.7"`,
/// status `"approved"`), committed as a fixture: it still loads, with every field.
#[test]
fn a_record_written_by_the_earlier_store_still_loads() {
    let (store, dir) = temp_store("fixture");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-v0/sessions")
        .join("232bac6f0955fad53227710736e9f574143fbae582694ec7cb70cd7e5c7445e1.json");
    let name = fixture.file_name().unwrap();
    std::fs::copy(&fixture, dir.join("sessions").join(name)).unwrap();
    let listing = store.list().unwrap();
    assert!(listing.unreadable.is_empty(), "{:?}", listing.unreadable);
    let session = store.find("232bac6f").unwrap();
    assert_eq!(session.entry_point, EntryPointVersion::V07);
    assert_eq!(session.status, StoredStatus::Approved);
    assert_eq!(session.chain_id, 31337);
    assert_eq!(session.account, Address::repeat_byte(0xac));
    assert_eq!(session.approval.as_ref().unwrap().chains, vec![(31337, 0)]);
    // The spec decodes; its hash is of the validator before the packed encoding
    // (keccak256(abi.encode(spec))), so the record reads as a session of the previous validator.
    let spec = session.spec().unwrap();
    assert_eq!(
        alloy::primitives::keccak256(alloy::sol_types::SolValue::abi_encode(&spec)),
        session.hash
    );
    assert_ne!(
        sessionkeys_contracts::vocabulary::session_hash(&spec).unwrap(),
        session.hash
    );
    assert!(session.is_previous_encoding());
    // Saved again, it reads back the same and keeps the old strings.
    store.save(&session).unwrap();
    let text = std::fs::read_to_string(dir.join("sessions").join(name)).unwrap();
    assert!(text.contains("\"entryPoint\": \"v0.7\""), "{text}");
    assert_eq!(store.find("latest").unwrap(), session);
}

#[test]
fn a_record_written_before_factories_were_kept_still_loads() {
    let (store, dir) = temp_store("old-record");
    // A record exactly as the previous version wrote it: no factory, no request.
    let old = r#"{
  "hash": "0xab11111111111111111111111111111111111111111111111111111111111111",
  "chainId": 31337,
  "entryPoint": "v0.8",
  "account": "0x0101010101010101010101010101010101010101",
  "owner": "0x0202020202020202020202020202020202020202",
  "validator": "0x0303030303030303030303030303030303030303",
  "spec": "0x00",
  "keyFile": "key.json",
  "status": "approved",
  "approval": { "chains": [[31337, 0]], "ownerSignature": "0x07" },
  "createdAt": 7
}"#;
    std::fs::write(
        dir.join("sessions")
            .join("ab11111111111111111111111111111111111111111111111111111111111111.json"),
        old,
    )
    .unwrap();
    let loaded = store.find("latest").unwrap();
    assert_eq!(loaded.status, StoredStatus::Approved);
    assert_eq!((loaded.factory, loaded.request), (None, None));
    let account = store.find("latest").unwrap().account().unwrap();
    assert_eq!(account.factory, None, "no factory: deployed accounts only");
    assert_eq!(account.version, sessionkeys::EntryPointVersion::V08);
}

#[test]
fn a_counterfactual_accounts_factory_and_salt_come_back_as_its_init_code() {
    use alloy::primitives::U256;
    use alloy::sol_types::SolCall;
    use sessionkeys::store::StoredFactory;
    use sessionkeys_contracts::abi::SessionAccountFactory;
    let (store, _) = temp_store("factory");
    let mut session = record(0x66, 3);
    session.factory = Some(StoredFactory {
        factory: Address::repeat_byte(0xfa),
        validators: vec![Address::repeat_byte(3)],
        salt: U256::from(42),
    });
    store.save(&session).unwrap();
    let account = store.find("latest").unwrap().account().unwrap();
    let (factory, data) = account.factory.expect("the factory is kept");
    assert_eq!(factory, Address::repeat_byte(0xfa));
    let create = SessionAccountFactory::createAccountCall::abi_decode(&data).unwrap();
    assert_eq!(
        (create.owner, create.validators, create.salt),
        (session.owner, vec![Address::repeat_byte(3)], U256::from(42))
    );
}

#[test]
fn a_removed_session_takes_its_key_with_it() {
    let (store, _) = temp_store("remove");
    let (_, name) = store.new_key(b"pw").unwrap();
    let session = StoredSession {
        key_file: name.clone(),
        ..record(0x77, 1)
    };
    store.save(&session).unwrap();
    store.remove(&session).unwrap();
    assert!(store.list().unwrap().sessions.is_empty());
    assert!(!store.keys_dir().join(name).exists());
}
