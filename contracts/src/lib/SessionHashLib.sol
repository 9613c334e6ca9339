// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import "../SessionTypes.sol";

/// @title EIP-712 hashing of the owner's approvals: enable a session, revoke some, revoke all.
/// @notice The full spec is hashed as nested structs so a wallet can show every policy.
///         Only enabling hashes this; every use identifies the session by keccak256(abi.encode(spec)).
library SessionHashLib {
    bytes internal constant USAGE_LIMIT_TYPE = "UsageLimit(uint8 limitType,uint256 limit,uint48 period)";
    bytes internal constant CONSTRAINT_TYPE =
        "Constraint(uint8 condition,uint32 index,uint16 bits,bytes32 refValue,bytes32[] oneOf,UsageLimit limit)";
    bytes internal constant CALL_POLICY_TYPE =
        "CallPolicy(address target,bytes4 selector,uint256 maxValuePerUse,UsageLimit valueLimit,UsageLimit callLimit,Constraint[] constraints)";
    bytes internal constant TRANSFER_POLICY_TYPE =
        "TransferPolicy(address target,uint256 maxValuePerUse,UsageLimit valueLimit)";
    bytes internal constant SESSION_SPEC_TYPE =
        "SessionSpec(address signer,uint48 validAfter,uint48 validUntil,UsageLimit feeLimit,uint8 paymasterMode,address paymaster,UsageLimit opLimit,CallPolicy[] callPolicies,TransferPolicy[] transferPolicies,bytes32 salt)";
    bytes internal constant CHAIN_EPOCH_TYPE = "ChainEpoch(uint64 chainId,uint64 epoch)";
    bytes internal constant ENABLE_SESSION_TYPE =
        "EnableSession(address account,SessionSpec session,ChainEpoch[] chains)";

    bytes32 internal constant USAGE_LIMIT_TYPEHASH = keccak256(USAGE_LIMIT_TYPE);
    bytes32 internal constant CONSTRAINT_TYPEHASH = keccak256(abi.encodePacked(CONSTRAINT_TYPE, USAGE_LIMIT_TYPE));
    bytes32 internal constant CALL_POLICY_TYPEHASH =
        keccak256(abi.encodePacked(CALL_POLICY_TYPE, CONSTRAINT_TYPE, USAGE_LIMIT_TYPE));
    bytes32 internal constant TRANSFER_POLICY_TYPEHASH =
        keccak256(abi.encodePacked(TRANSFER_POLICY_TYPE, USAGE_LIMIT_TYPE));
    bytes32 internal constant SESSION_SPEC_TYPEHASH = keccak256(
        abi.encodePacked(SESSION_SPEC_TYPE, CALL_POLICY_TYPE, CONSTRAINT_TYPE, TRANSFER_POLICY_TYPE, USAGE_LIMIT_TYPE)
    );
    bytes32 internal constant CHAIN_EPOCH_TYPEHASH = keccak256(CHAIN_EPOCH_TYPE);
    bytes32 internal constant ENABLE_SESSION_TYPEHASH = keccak256(
        abi.encodePacked(
            ENABLE_SESSION_TYPE,
            CALL_POLICY_TYPE,
            CHAIN_EPOCH_TYPE,
            CONSTRAINT_TYPE,
            SESSION_SPEC_TYPE,
            TRANSFER_POLICY_TYPE,
            USAGE_LIMIT_TYPE
        )
    );
    bytes internal constant REVOKE_SESSIONS_TYPE =
        "RevokeSessions(address account,bytes32[] sessionHashes,ChainEpoch[] chains)";
    bytes internal constant REVOKE_ALL_TYPE = "RevokeAllSessions(address account,ChainEpoch[] chains)";
    bytes32 internal constant REVOKE_SESSIONS_TYPEHASH = keccak256(abi.encodePacked(REVOKE_SESSIONS_TYPE, CHAIN_EPOCH_TYPE));
    bytes32 internal constant REVOKE_ALL_TYPEHASH = keccak256(abi.encodePacked(REVOKE_ALL_TYPE, CHAIN_EPOCH_TYPE));
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,address verifyingContract)");
    bytes32 internal constant NAME_HASH = keccak256("SessionKeyValidator");
    bytes32 internal constant VERSION_HASH = keccak256("1");

    /// @dev Rule 13 (docs/rules.md).
    /// @return The EIP-712 digest the owner signs to approve `spec` for `account` on `chains`.
    function enableDigest(address validator, address account, SessionSpec calldata spec, ChainEpoch[] calldata chains)
        internal
        pure
        returns (bytes32)
    {
        bytes32 message =
            keccak256(abi.encode(ENABLE_SESSION_TYPEHASH, account, hashSpec(spec), hashChains(chains)));
        return _digest(validator, message);
    }

    /// @dev Rule 22 (docs/rules.md).
    /// @return The EIP-712 digest the owner signs to revoke `sessionHashes` of `account`.
    function revokeSessionsDigest(
        address validator,
        address account,
        bytes32[] calldata sessionHashes,
        ChainEpoch[] calldata chains
    ) internal pure returns (bytes32) {
        bytes32 message = keccak256(
            abi.encode(REVOKE_SESSIONS_TYPEHASH, account, keccak256(abi.encodePacked(sessionHashes)), hashChains(chains))
        );
        return _digest(validator, message);
    }

    /// @dev Rule 22 (docs/rules.md).
    /// @return The EIP-712 digest the owner signs to revoke every session of `account`.
    function revokeAllDigest(address validator, address account, ChainEpoch[] calldata chains)
        internal
        pure
        returns (bytes32)
    {
        return _digest(validator, keccak256(abi.encode(REVOKE_ALL_TYPEHASH, account, hashChains(chains))));
    }

    function _digest(address validator, bytes32 message) private pure returns (bytes32) {
        bytes32 domain = keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, validator));
        return keccak256(abi.encodePacked("\x19\x01", domain, message));
    }

    function hashSpec(SessionSpec calldata spec) internal pure returns (bytes32) {
        bytes32[] memory calls = new bytes32[](spec.callPolicies.length);
        for (uint256 i; i < calls.length; ++i) {
            calls[i] = hashCallPolicy(spec.callPolicies[i]);
        }
        bytes32[] memory transfers = new bytes32[](spec.transferPolicies.length);
        for (uint256 i; i < transfers.length; ++i) {
            TransferPolicy calldata t = spec.transferPolicies[i];
            transfers[i] =
                keccak256(abi.encode(TRANSFER_POLICY_TYPEHASH, t.target, t.maxValuePerUse, hashLimit(t.valueLimit)));
        }
        // Encoded in two steps: one abi.encode of all fields is too deep for the stack.
        bytes memory head = abi.encode(
            SESSION_SPEC_TYPEHASH,
            spec.signer,
            spec.validAfter,
            spec.validUntil,
            hashLimit(spec.feeLimit),
            spec.paymasterMode,
            spec.paymaster,
            hashLimit(spec.opLimit)
        );
        return keccak256(
            abi.encodePacked(
                head, keccak256(abi.encodePacked(calls)), keccak256(abi.encodePacked(transfers)), spec.salt
            )
        );
    }

    function hashCallPolicy(CallPolicy calldata p) internal pure returns (bytes32) {
        bytes32[] memory constraints = new bytes32[](p.constraints.length);
        for (uint256 j; j < constraints.length; ++j) {
            Constraint calldata c = p.constraints[j];
            constraints[j] = keccak256(
                abi.encode(
                    CONSTRAINT_TYPEHASH,
                    c.condition,
                    c.index,
                    c.bits,
                    c.refValue,
                    keccak256(abi.encodePacked(c.oneOf)),
                    hashLimit(c.limit)
                )
            );
        }
        return keccak256(
            abi.encode(
                CALL_POLICY_TYPEHASH,
                p.target,
                p.selector,
                p.maxValuePerUse,
                hashLimit(p.valueLimit),
                hashLimit(p.callLimit),
                keccak256(abi.encodePacked(constraints))
            )
        );
    }

    function hashLimit(UsageLimit calldata l) internal pure returns (bytes32) {
        return keccak256(abi.encode(USAGE_LIMIT_TYPEHASH, l.limitType, l.limit, l.period));
    }

    function hashChains(ChainEpoch[] calldata chains) internal pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](chains.length);
        for (uint256 i; i < hashes.length; ++i) {
            hashes[i] = keccak256(abi.encode(CHAIN_EPOCH_TYPEHASH, chains[i].chainId, chains[i].epoch));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
