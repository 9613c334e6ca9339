//! Hashes and signatures of sessions and userOps (docs/decisions.md, "Signatures").
//!
//! # Security
//! Keys are used in memory only; nothing here stores, prints or logs a key.

use alloy::primitives::{B256, Bytes, keccak256};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol_types::SolValue;
use sessionkeys_contracts::session::{ChainEpoch, SessionSignature, SessionSpec};

/// `SessionSignature.mode` of an op that uses an enabled session.
pub const MODE_USE: u8 = 0;
/// `SessionSignature.mode` of an op that enables the session in its first use.
pub const MODE_ENABLE: u8 = 1;

pub use sessionkeys_engine::session_hash;

/// What the session key signs (hardening rule 10):
/// `keccak256(abi.encode(userOpHash, sessionHash, uint48 timeHint, uint8 mode))`.
pub fn session_digest(user_op_hash: B256, session_hash: B256, time_hint: u64, mode: u8) -> B256 {
    // uint48 and uint8 encode as one left-padded word each, exactly like uint256.
    let (hint, mode) = (
        alloy::primitives::U256::from(time_hint),
        alloy::primitives::U256::from(mode),
    );
    keccak256((user_op_hash, session_hash, hint, mode).abi_encode_params())
}

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
            MODE_ENABLE
        } else {
            MODE_USE
        },
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
