// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Raw-digest ECDSA recovery with low-s enforced.
/// @notice Signatures are 65 bytes r ‖ s ‖ v with v ∈ {27, 28} and s in the lower half of the
///         curve order (EIP-2), so no signature has a second valid form.
library ECDSALib {
    /// @dev secp256k1n / 2
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @return signer The recovered address, or address(0) if the signature is malformed,
    ///         high-s, or does not recover, or the digest is zero: for digest 0 anyone who knows
    ///         a public key Q can forge a signature that recovers to it (r = (kQ).x, s = r/k).
    function recover(bytes32 digest, bytes calldata signature) internal pure returns (address signer) {
        if (signature.length != 65 || digest == bytes32(0)) return address(0);
        bytes32 r = bytes32(signature[:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return address(0);
        signer = ecrecover(digest, v, r, s);
    }
}
