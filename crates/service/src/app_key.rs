//! Apps (tenants) and their API keys.
//!
//! A key reads `sk_app_<app id>_<64 hex digits>`: the id finds the app's row, the 256 random
//! bits behind it are the secret. The service stores only the secret's SHA-256 and compares
//! digests in constant time, so neither the database nor the timing of a refusal tells the
//! secret.

use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "sk_app_";

/// An app's id: 16 hex digits, random.
pub fn new_app_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    alloy::hex::encode(bytes)
}

/// A fresh API key for `app_id`, and the digest the database keeps.
///
/// # Security
/// The key is shown once to the admin who made the app; only its digest is stored.
pub fn new_api_key(app_id: &str) -> (String, [u8; 32]) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = alloy::hex::encode(secret);
    let digest = secret_digest(&secret);
    (format!("{PREFIX}{app_id}_{secret}"), digest)
}

/// Splits a presented key into its app id and the digest of its secret; `None` for anything
/// not shaped like a key.
pub fn parse_api_key(key: &str) -> Option<(&str, [u8; 32])> {
    let rest = key.strip_prefix(PREFIX)?;
    let (app, secret) = rest.split_once('_')?;
    let hex_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_digits(app, 16) && hex_digits(secret, 64)).then(|| (app, secret_digest(secret)))
}

fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.to_ascii_lowercase().as_bytes()).into()
}

/// Whether two digests are equal, in time that does not depend on where they differ.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_parses_back_to_its_app_and_digest_and_nothing_else_does() {
        let app = new_app_id();
        let (key, digest) = new_api_key(&app);
        let (parsed_app, parsed_digest) = parse_api_key(&key).unwrap();
        assert_eq!(parsed_app, app);
        assert!(digests_equal(&parsed_digest, &digest));
        let (_, other) = new_api_key(&app);
        assert!(!digests_equal(&other, &digest));
        for bad in [
            "",
            "Bearer x",
            &key[1..],
            &key[..key.len() - 1],
            &format!("{key}0"),
            &key.replace("sk_app_", "sk_own_"),
            &format!("sk_app_{app}_{}", "g".repeat(64)),
        ] {
            assert!(parse_api_key(bad).is_none(), "{bad:?}");
        }
    }
}
