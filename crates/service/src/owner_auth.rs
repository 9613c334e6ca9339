//! Owners sign in with their wallets (EIP-4361, "Sign-In with Ethereum").
//!
//! 1. `POST /v1/owner/challenge {address, chainId}`: the service issues an EIP-4361 message
//!    for that address with a fresh single-use nonce, valid for five minutes, and keeps it.
//! 2. The wallet signs the message with `personal_sign` (EIP-191).
//! 3. `POST /v1/owner/sign-in {message, signature}`: the message must be exactly one the service
//!    issued, unused and unexpired, and the signature must recover (plain ECDSA) to its
//!    address. The answer is a bearer token `sk_own_…` valid for fifteen minutes.
//!
//! Plain ECDSA, not ERC-1271: the address is the owner's key. Accounts may be counterfactual,
//! and a `SessionAccount` clone's ERC-1271 expects ERC-7739 wrapping, which wallets do not apply
//! to a sign-in message. The service keeps only the token's SHA-256.

use crate::db::{Database, db_error};
use crate::sql::values;
use alloy::primitives::{Address, Signature};
use rand::RngCore;
use sessionkeys::store::StoreError;
use sha2::{Digest, Sha256};

/// How long an issued message can be signed in with (seconds).
pub const CHALLENGE_SECONDS: i64 = 300;
/// How long a sign-in lasts (seconds).
pub const TOKEN_SECONDS: i64 = 900;

const TOKEN_PREFIX: &str = "sk_own_";

/// Where the service says it is, in the messages it issues: EIP-4361's `domain` and `URI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInOrigin {
    /// `host[:port]`, e.g. `sessions.example.com`.
    pub domain: String,
    /// The service's URL, e.g. `https://sessions.example.com`.
    pub uri: String,
}

/// An issued sign-in message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The EIP-4361 message the wallet signs, byte for byte.
    pub message: String,
    /// Its nonce.
    pub nonce: String,
    /// Until when it can be used (unix seconds).
    pub expires_at: i64,
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInError {
    /// The message is not one this service issued (or was changed).
    #[error(
        "this message was not issued by this service: ask POST /v1/owner/challenge for one and sign it unchanged"
    )]
    UnknownMessage,
    /// The message was used already.
    #[error("this message was used to sign in already: ask for a new challenge")]
    Used,
    /// The message expired.
    #[error("this message expired at {expired_at} (unix seconds): ask for a new challenge")]
    Expired {
        /// When it expired.
        expired_at: i64,
    },
    /// The signature is not 65 bytes or does not recover.
    #[error("the signature is not a 65-byte personal_sign signature (r, s, v)")]
    MalformedSignature,
    /// The signature recovers to another address.
    #[error("the message is signed by {recovered}, not by {expected} whose sign-in it is")]
    WrongSigner {
        /// The message's address.
        expected: Address,
        /// Who signed it.
        recovered: Address,
    },
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    alloy::hex::encode(buffer)
}

/// Unix seconds as RFC 3339 in UTC (`2026-12-02T03:04:05Z`), as EIP-4361 writes times.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// The EIP-4361 message for `owner` on `chain_id`.
pub fn message(
    origin: &SignInOrigin,
    owner: Address,
    chain_id: u64,
    nonce: &str,
    issued_at: i64,
) -> String {
    format!(
        "{domain} wants you to sign in with your Ethereum account:\n{address}\n\n\
         Sign in to see, and revoke, the sessions of your smart accounts.\n\n\
         URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n\
         Issued At: {issued}\nExpiration Time: {expires}",
        domain = origin.domain,
        address = owner.to_checksum(None),
        uri = origin.uri,
        issued = rfc3339(issued_at),
        expires = rfc3339(issued_at + CHALLENGE_SECONDS),
    )
}

fn token_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Database {
    /// Issues a sign-in message for `owner` at `now` and keeps it until it is used or expires.
    pub fn issue_challenge(
        &self,
        origin: &SignInOrigin,
        owner: Address,
        chain_id: u64,
        now: i64,
    ) -> Result<Challenge, StoreError> {
        let nonce = random_hex(16);
        let message = message(origin, owner, chain_id, &nonce, now);
        let expires_at = now + CHALLENGE_SECONDS;
        let sql = self.sql();
        // Expired challenges and tokens are of no use to anyone: drop them as new ones come.
        sql.execute(
            "DELETE FROM owner_challenges WHERE expires_at < ?1",
            values![now],
        )?;
        sql.execute(
            "DELETE FROM owner_tokens WHERE expires_at < ?1",
            values![now],
        )?;
        sql.execute(
            "INSERT INTO owner_challenges (nonce, owner, message, expires_at) VALUES (?1, ?2, ?3, ?4)",
            values![&nonce, format!("{owner:x}"), &message, expires_at],
        )?;
        Ok(Challenge {
            message,
            nonce,
            expires_at,
        })
    }

    /// Signs in with an issued `message` and the owner's `personal_sign` `signature` of it:
    /// a bearer token and its owner. The message can be used once.
    ///
    /// # Security
    /// The token is shown once; only its SHA-256 is kept.
    pub fn sign_in(
        &self,
        message: &str,
        signature: &[u8],
        now: i64,
    ) -> Result<Result<(String, Address, i64), SignInError>, StoreError> {
        let Some(nonce) = message
            .lines()
            .find_map(|line| line.strip_prefix("Nonce: "))
        else {
            return Ok(Err(SignInError::UnknownMessage));
        };
        let Some(row) = self.sql().query_one(
            "SELECT owner, message, expires_at, used FROM owner_challenges WHERE nonce = ?1",
            values![nonce],
        )?
        else {
            return Ok(Err(SignInError::UnknownMessage));
        };
        let (owner, issued, expires_at, used) =
            (row.text(0)?, row.text(1)?, row.int(2)?, row.int(3)? != 0);
        if issued != message {
            return Ok(Err(SignInError::UnknownMessage));
        }
        if used {
            return Ok(Err(SignInError::Used));
        }
        if now > expires_at {
            return Ok(Err(SignInError::Expired {
                expired_at: expires_at,
            }));
        }
        let owner: Address = owner.parse().map_err(db_error)?;
        let Ok(parsed) = Signature::from_raw(signature) else {
            return Ok(Err(SignInError::MalformedSignature));
        };
        let Ok(recovered) = parsed.recover_address_from_msg(message.as_bytes()) else {
            return Ok(Err(SignInError::MalformedSignature));
        };
        if recovered != owner {
            return Ok(Err(SignInError::WrongSigner {
                expected: owner,
                recovered,
            }));
        }
        // Taken once, even by two sign-ins racing with the same signature (on any replica).
        let taken = self.sql().execute(
            "UPDATE owner_challenges SET used = 1 WHERE nonce = ?1 AND used = 0",
            values![nonce],
        )?;
        if taken != 1 {
            return Ok(Err(SignInError::Used));
        }
        let secret = random_hex(32);
        let token_expires = now + TOKEN_SECONDS;
        self.sql().execute(
            "INSERT INTO owner_tokens (digest, owner, expires_at) VALUES (?1, ?2, ?3)",
            values![
                token_digest(&secret).as_slice(),
                format!("{owner:x}"),
                token_expires
            ],
        )?;
        Ok(Ok((
            format!("{TOKEN_PREFIX}{secret}"),
            owner,
            token_expires,
        )))
    }

    /// The owner a bearer token signed in, and until when, while it lasts.
    pub fn owner_for_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<(Address, i64)>, StoreError> {
        let Some(secret) = token.strip_prefix(TOKEN_PREFIX) else {
            return Ok(None);
        };
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        // Looked up by digest: an equality on a hash reveals nothing about the secret.
        self.sql()
            .query_one(
                "SELECT owner, expires_at FROM owner_tokens WHERE digest = ?1 AND expires_at >= ?2",
                values![token_digest(&secret.to_ascii_lowercase()).as_slice(), now],
            )?
            .map(|row| Ok((row.text(0)?.parse().map_err(db_error)?, row.int(1)?)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterKey;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    fn origin() -> SignInOrigin {
        SignInOrigin {
            domain: "127.0.0.1:8787".into(),
            uri: "http://127.0.0.1:8787".into(),
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_180_645), "2026-12-02T03:04:05Z");
    }

    #[test]
    fn the_message_has_the_eip_4361_fields_in_order() {
        let owner: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
            .parse()
            .unwrap();
        let text = message(&origin(), owner, 8453, "0123456789abcdef", 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "127.0.0.1:8787 wants you to sign in with your Ethereum account:"
        );
        assert_eq!(lines[1], "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert_eq!(lines[2], "");
        assert_eq!(lines[4], "");
        assert_eq!(
            &lines[5..],
            [
                "URI: http://127.0.0.1:8787",
                "Version: 1",
                "Chain ID: 8453",
                "Nonce: 0123456789abcdef",
                "Issued At: 1970-01-01T00:00:00Z",
                "Expiration Time: 1970-01-01T00:05:00Z",
            ]
        );
    }

    #[test]
    fn a_sign_in_needs_an_issued_unused_unexpired_message_signed_by_its_owner() {
        let db = Database::in_memory(MasterKey::random()).unwrap();
        let owner = PrivateKeySigner::random();
        let other = PrivateKeySigner::random();
        let now = 1_800_000_000;
        let challenge = db
            .issue_challenge(&origin(), owner.address(), 1, now)
            .unwrap();
        let sign = |who: &PrivateKeySigner, text: &str| {
            who.sign_message_sync(text.as_bytes())
                .unwrap()
                .as_bytes()
                .to_vec()
        };
        let signature = sign(&owner, &challenge.message);

        // Changed by one character, signed by another, or not a signature: refused.
        let changed = challenge.message.replace("Version: 1", "Version: 2");
        assert_eq!(
            db.sign_in(&changed, &sign(&owner, &changed), now).unwrap(),
            Err(SignInError::UnknownMessage)
        );
        assert_eq!(
            db.sign_in(&challenge.message, &sign(&other, &challenge.message), now)
                .unwrap(),
            Err(SignInError::WrongSigner {
                expected: owner.address(),
                recovered: other.address()
            })
        );
        assert_eq!(
            db.sign_in(&challenge.message, &[1, 2, 3], now).unwrap(),
            Err(SignInError::MalformedSignature)
        );
        // Expired one second after its five minutes.
        assert_eq!(
            db.sign_in(&challenge.message, &signature, now + CHALLENGE_SECONDS + 1)
                .unwrap(),
            Err(SignInError::Expired {
                expired_at: now + CHALLENGE_SECONDS
            })
        );

        let (token, who, expires) = db
            .sign_in(&challenge.message, &signature, now)
            .unwrap()
            .unwrap();
        assert_eq!(who, owner.address());
        assert_eq!(
            db.owner_for_token(&token, now).unwrap(),
            Some((owner.address(), expires))
        );
        assert_eq!(
            db.owner_for_token(&token, expires + 1).unwrap(),
            None,
            "the token expired"
        );
        assert_eq!(
            db.sign_in(&challenge.message, &signature, now).unwrap(),
            Err(SignInError::Used),
            "a message signs in once"
        );
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('0') { '1' } else { '0' });
        assert_eq!(db.owner_for_token(&forged, now).unwrap(), None);
        assert_eq!(db.owner_for_token("sk_app_x", now).unwrap(), None);
    }
}
