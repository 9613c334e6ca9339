//! The session's identity, what its key signs, and its nonce lane (docs/decisions.md,
//! "Signatures"): built here once for the engine, the chain and the SDK.

use super::packed::UnencodableSpec;
use super::words::SignatureMode;
use crate::session::SessionSpec;
use alloy::primitives::{Address, B256, U256, aliases::U192, keccak256};
use alloy::sol_types::SolValue;

/// The session's identity: `keccak256(0x53 ‖ packed header ‖ policy root)`
/// (docs/compact-signatures.md). A spec the packed form cannot carry has none: the validator
/// refuses every such spec at enable.
pub fn session_hash(spec: &SessionSpec) -> Result<B256, UnencodableSpec> {
    super::packed::session_hash(spec)
}

/// What the session key signs (hardening rule 10):
/// `keccak256(abi.encode(userOpHash, sessionHash, uint48 timeHint, uint8 mode))`.
pub fn session_digest(
    user_op_hash: B256,
    session_hash: B256,
    time_hint: u64,
    mode: SignatureMode,
) -> B256 {
    // uint48 and uint8 encode as one left-padded word each, exactly like uint256.
    let (hint, mode) = (U256::from(time_hint), U256::from(u8::from(mode)));
    keccak256((user_op_hash, session_hash, hint, mode).abi_encode_params())
}

/// A session's lane: the first 4 bytes of its hash (hardening rule 19).
pub fn session_lane(session_hash: B256) -> u32 {
    let h = session_hash.0;
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// The lane a nonce carries: bytes 20..24 of the nonce, below the validator's address.
pub fn nonce_lane(nonce: U256) -> u32 {
    let bytes = nonce.to_be_bytes::<32>();
    u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]])
}

/// The nonce key that routes a userOp to `validator` on `lane` (key = validator ‖ lane).
/// Key 0 (validator address 0) is the account owner.
pub fn nonce_key(validator: Address, lane: u32) -> U192 {
    (U192::from_be_slice(validator.as_slice()) << 32) | U192::from(lane)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256};

    #[test]
    fn nonce_key_puts_validator_above_lane() {
        let validator = address!("0x1111111111111111111111111111111111111111");
        let nonce = (U256::from(nonce_key(validator, 0xaabbccdd)) << 64usize) | U256::from(7u64);
        let bytes = nonce.to_be_bytes::<32>();
        assert_eq!(&bytes[..20], validator.as_slice());
        assert_eq!(nonce_lane(nonce), 0xaabbccdd);
    }

    #[test]
    fn session_lane_is_the_first_four_hash_bytes() {
        let hash = b256!("0x0102030400000000000000000000000000000000000000000000000000000000");
        assert_eq!(session_lane(hash), 0x01020304);
    }

    #[test]
    fn the_digest_binds_the_mode() {
        let (op, session) = (B256::repeat_byte(1), B256::repeat_byte(2));
        assert_ne!(
            session_digest(op, session, 5, SignatureMode::Use),
            session_digest(op, session, 5, SignatureMode::Enable)
        );
    }
}
