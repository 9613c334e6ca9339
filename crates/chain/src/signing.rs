//! Hashes and signatures of sessions and userOps (docs/decisions.md, "Signatures").
//!
//! # Security
//! Keys are used in memory only; nothing here stores, prints or logs a key.

use alloy::primitives::{B256, Bytes};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol_types::SolValue;
use sessionkeys_contracts::session::{ChainEpoch, SessionSignature, SessionSpec};

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

/// Encodes `userOp.signature` for the session validator: `abi.encode(SessionSignature)` with the
/// spec carried as its canonical `abi.encode(spec)` bytes.
pub fn encode_session_signature(
    spec: &SessionSpec,
    time_hint: u64,
    session_signature: Bytes,
    enable: Option<&EnableApproval>,
) -> Bytes {
    let value = SessionSignature {
        mode: if enable.is_some() {
            SignatureMode::Enable
        } else {
            SignatureMode::Use
        }
        .into(),
        spec: spec.abi_encode().into(),
        timeHint: alloy::primitives::aliases::U48::from(time_hint),
        sessionSignature: session_signature,
        chains: enable.map(|e| e.chains.clone()).unwrap_or_default(),
        ownerSignature: enable
            .map(|e| e.owner_signature.clone())
            .unwrap_or_default(),
    };
    value.abi_encode().into()
}
