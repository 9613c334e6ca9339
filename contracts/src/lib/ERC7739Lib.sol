// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ERC-7739 nested typed data for ERC-1271 (readable, replay-safe across accounts).
/// @notice An owner key may own several accounts (and is an EOA itself), and many apps sign hashes
///         that do not name the account (Permit2). So an account never checks the owner's
///         signature over the app's hash directly: the owner signs a digest that nests the app's
///         struct (TypedDataSign) or the personal-sign hash (PersonalSign) inside this account's
///         own EIP-712 domain, which carries its address and chain id. Wallets still show the
///         app's struct. Layouts: docs/decisions.md, "ERC-1271".
library ERC7739Lib {
    /// @dev isValidSignature(DETECTION_HASH, ...) returns SUPPORTED (ERC-7739 "Support detection").
    bytes32 internal constant DETECTION_HASH = 0x7739773977397739773977397739773977397739773977397739773977397739;
    bytes4 internal constant SUPPORTED = 0x77390001;

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant PERSONAL_SIGN_TYPEHASH = keccak256("PersonalSign(bytes prefixed)");

    /// @notice The EIP-712 domain separator of `account` with the given name and version.
    function domainSeparator(bytes32 nameHash, bytes32 versionHash, address account) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, nameHash, versionHash, block.chainid, account));
    }

    /// @notice The digest the owner must have signed for `hash`, and the owner's own signature
    ///         inside `signature`. TypedDataSign when `signature` carries an app domain separator
    ///         and contents that hash to `hash`; PersonalSign otherwise (ERC-7739 "workflow
    ///         deduction"). A TypedDataSign wrapper with an unsafe contents name yields digest 0,
    ///         which ECDSALib.recover refuses (and the account checks for) outright.
    /// @dev Rule 23 (docs/rules.md).
    /// @param nameHash keccak256 of the account's EIP-712 name; `versionHash` likewise.
    function wrappedDigest(
        bytes32 hash,
        bytes calldata signature,
        bytes32 nameHash,
        bytes32 versionHash,
        address account
    ) internal view returns (bytes32 digest, bytes calldata ownerSignature) {
        // signature = ownerSignature ‖ appDomainSeparator ‖ contents ‖ description ‖ uint16(len)
        if (signature.length >= 66) {
            uint256 descriptionLength = uint16(bytes2(signature[signature.length - 2:]));
            if (signature.length >= 66 + descriptionLength) {
                uint256 at = signature.length - 66 - descriptionLength;
                bytes32 appSeparator = bytes32(signature[at:at + 32]);
                bytes32 contents = bytes32(signature[at + 32:at + 64]);
                if (hash == keccak256(abi.encodePacked(hex"1901", appSeparator, contents))) {
                    bytes calldata description = signature[at + 64:signature.length - 2];
                    (bool safe, bytes calldata name, bytes calldata contentsType) = _splitDescription(description);
                    if (!safe) return (bytes32(0), signature[:at]);
                    bytes32 typeHash = keccak256(
                        abi.encodePacked(
                            "TypedDataSign(",
                            name,
                            " contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)",
                            contentsType
                        )
                    );
                    bytes32 structHash = keccak256(
                        abi.encode(typeHash, contents, nameHash, versionHash, block.chainid, account, bytes32(0))
                    );
                    return (keccak256(abi.encodePacked(hex"1901", appSeparator, structHash)), signature[:at]);
                }
            }
        }
        bytes32 personal = keccak256(abi.encode(PERSONAL_SIGN_TYPEHASH, hash));
        digest = keccak256(abi.encodePacked(hex"1901", domainSeparator(nameHash, versionHash, account), personal));
        return (digest, signature);
    }

    /// @dev Implicit mode: description = contentsType, whose name runs up to the first "(".
    ///      Explicit mode: description = contentsType ‖ contentsName (the type ends at its last
    ///      ")"). The name must be safe (ERC-7739 "Rejecting invalid contentsName"): non-empty, not
    ///      starting with a lowercase letter or "(", and free of ", )" and NUL — otherwise a page
    ///      could break out of the type string and show the wallet an opaque hash.
    function _splitDescription(bytes calldata description)
        private
        pure
        returns (bool safe, bytes calldata name, bytes calldata contentsType)
    {
        uint256 n = description.length;
        if (n == 0) return (false, description[:0], description[:0]);
        if (description[n - 1] == ")") {
            uint256 open;
            while (open < n && description[open] != "(") ++open;
            if (open == n) return (false, description[:0], description[:0]);
            (name, contentsType) = (description[:open], description);
        } else {
            uint256 close = n;
            while (close > 0 && description[close - 1] != ")") --close;
            if (close == 0) return (false, description[:0], description[:0]);
            (name, contentsType) = (description[close:], description[:close]);
        }
        safe = _isSafeName(name);
    }

    function _isSafeName(bytes calldata name) private pure returns (bool) {
        if (name.length == 0) return false;
        bytes1 first = name[0];
        if ((first >= "a" && first <= "z") || first == "(") return false;
        for (uint256 i; i < name.length; ++i) {
            bytes1 b = name[i];
            if (b == "," || b == " " || b == ")" || b == "(" || b == 0x00) return false;
        }
        return true;
    }
}
