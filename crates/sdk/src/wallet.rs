//! Signatures the owner made in a wallet (`cast wallet sign --data`, `eth_signTypedData_v4`,
//! a hardware wallet): parsed, brought to the form the contracts take, and checked against
//! the digest they must sign before anything is stored or sent.

use crate::error::SdkError;
use alloy::primitives::{Address, B256, Bytes, Signature};

/// Parses `0x…` hex (surrounding whitespace allowed, as in a file a wallet wrote).
pub fn parse_signature_hex(text: &str) -> Result<Vec<u8>, SdkError> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    alloy::primitives::hex::decode(digits)
        .map_err(|e| SdkError::MalformedSignature(format!("not hex: {e}")))
}

/// The owner's 65-byte signature of `digest`, as the validator takes it (`v` 27 or 28, low
/// `s`: a wallet's `v` of 0/1 or a high `s` are rewritten, which keeps the signer), once it is
/// checked to recover to `owner`.
///
/// # Errors
/// [`SdkError::MalformedSignature`] when it is not 65 bytes of a signature,
/// [`SdkError::WrongSigner`] with both addresses when someone else signed (or signed other
/// data).
pub fn owner_signature(
    signature: &[u8],
    digest: B256,
    account: Address,
    owner: Address,
) -> Result<Bytes, SdkError> {
    if signature.len() != 65 {
        return Err(SdkError::MalformedSignature(format!(
            "got {} bytes",
            signature.len()
        )));
    }
    let parsed = Signature::from_raw(signature)
        .map_err(|e| SdkError::MalformedSignature(e.to_string()))?
        .normalized_s();
    let recovered = parsed
        .recover_address_from_prehash(&digest)
        .map_err(|e| SdkError::MalformedSignature(e.to_string()))?;
    if recovered != owner {
        return Err(SdkError::WrongSigner {
            account,
            expected: owner,
            recovered,
        });
    }
    Ok(Bytes::from(parsed.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    #[test]
    fn a_wallets_v_of_0_or_1_and_a_high_s_are_rewritten_for_the_same_signer() {
        let owner = PrivateKeySigner::random();
        let digest = B256::repeat_byte(0x42);
        let signature = owner.sign_hash_sync(&digest).unwrap();
        let canonical = signature.as_bytes();
        // v as 0/1 (some wallets), and the same signature with s mirrored to the high half.
        let mut zero_one = canonical;
        zero_one[64] -= 27;
        let n = alloy::primitives::U256::from_be_bytes(alloy::primitives::hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let high_s = n - signature.s();
        let mut mirrored = canonical;
        mirrored[32..64].copy_from_slice(&high_s.to_be_bytes::<32>());
        mirrored[64] = if canonical[64] == 27 { 28 } else { 27 };
        for form in [canonical, zero_one, mirrored] {
            let out = owner_signature(&form, digest, Address::ZERO, owner.address()).unwrap();
            assert_eq!(out.as_ref(), canonical.as_slice());
        }
    }

    #[test]
    fn another_signer_is_refused_naming_both_addresses() {
        let (owner, other) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let digest = B256::repeat_byte(7);
        let signature = other.sign_hash_sync(&digest).unwrap().as_bytes();
        match owner_signature(&signature, digest, Address::ZERO, owner.address()) {
            Err(SdkError::WrongSigner {
                expected,
                recovered,
                ..
            }) => assert_eq!((expected, recovered), (owner.address(), other.address())),
            other => panic!("expected WrongSigner, got {other:?}"),
        }
        assert!(matches!(
            owner_signature(&signature[..64], digest, Address::ZERO, owner.address()),
            Err(SdkError::MalformedSignature(_))
        ));
        assert!(matches!(
            parse_signature_hex("0xzz"),
            Err(SdkError::MalformedSignature(_))
        ));
    }
}
