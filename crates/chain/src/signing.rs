//! Hashes and signatures of sessions and userOps (docs/decisions.md, "Signatures").
//!
//! # Security
//! Keys are used in memory only; nothing here stores, prints or logs a key.

use alloy::primitives::{B256, Bytes};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};
use sessionkeys_contracts::vocabulary::packed::{self, SESSION_SIGNATURE_LEN, UnencodableSpec};
use sessionkeys_engine::carry::carried_positions;

pub use sessionkeys_contracts::vocabulary::{SignatureMode, session_digest, session_hash};

pub use sessionkeys_engine::spec::{
    enable_digest, enable_domain, revoke_all_digest, revoke_sessions_digest,
};

/// A 65-byte r ‖ s ‖ v (v = 27/28, low s) signature of a raw digest.
pub fn sign_digest(key: &PrivateKeySigner, digest: B256) -> Bytes {
    let signature = key
        .sign_hash_sync(&digest)
        .expect("secp256k1 signing of a 32-byte digest cannot fail");
    Bytes::from(signature.as_bytes().to_vec())
}

/// The owner's approval carried by an enable-in-first-use op.
#[derive(Debug, Clone)]
pub struct EnableApproval {
    /// The chains and epochs the owner signed.
    pub chains: Vec<ChainEpoch>,
    /// The owner's signature of [`enable_digest`].
    pub owner_signature: Bytes,
}

/// What a session op carries in place of the session key's signature before it is signed: the
/// userOp hash excludes the signature, so any 65 bytes do.
pub const UNSIGNED: [u8; SESSION_SIGNATURE_LEN] = [0; SESSION_SIGNATURE_LEN];

/// `encoded` (a signature [`encode_session_signature`] made) with its last 65 bytes, the session
/// key's signature in both forms, replaced by `session_signature`: what signing an op estimated
/// with a stub signature yields. Bytes shorter than 65 are returned unchanged.
pub fn with_session_signature(encoded: &[u8], session_signature: &[u8]) -> Bytes {
    let mut signed = encoded.to_vec();
    let tail = signed
        .len()
        .checked_sub(SESSION_SIGNATURE_LEN)
        .and_then(|at| signed.get_mut(at..));
    if let Some(tail) = tail
        && session_signature.len() == SESSION_SIGNATURE_LEN
    {
        tail.copy_from_slice(session_signature);
    }
    signed.into()
}

/// Encodes `userOp.signature` for the session validator (docs/compact-signatures.md). Use mode
/// carries the session-wide fields, exactly the policies the calls of `call_data` match and
/// their multiproof; enable mode (with `enable`) the whole packed spec, the chains and the
/// owner's approval.
///
/// # Errors
/// [`UnencodableSpec`] for a spec the packed form cannot carry (every such spec is refused at
/// enable), a time hint above 2^48 − 1, or a session signature that is not 65 bytes.
pub fn encode_session_signature(
    spec: &SessionSpec,
    time_hint: u64,
    call_data: &[u8],
    session_signature: &[u8],
    enable: Option<&EnableApproval>,
) -> Result<Bytes, UnencodableSpec> {
    let encoded = match enable {
        Some(approval) => packed::encode_enable_signature(
            spec,
            time_hint,
            &approval.chains,
            &approval.owner_signature,
            session_signature,
        )?,
        None => packed::encode_use_signature(
            spec,
            time_hint,
            &carried_positions(spec, call_data),
            session_signature,
        )?,
    };
    Ok(encoded.into())
}
