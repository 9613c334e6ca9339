// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import "../SessionTypes.sol";
import {PackedSpecLib, SpecHeader} from "./PackedSpecLib.sol";

/// @title EIP-712 hashing of the owner's approvals: enable a session, revoke some, revoke all.
/// @notice The full spec is hashed as nested structs so a wallet can show every policy; the
///         fields are read from the packed spec the session hash is computed from, so the owner's
///         signature binds that hash (docs/compact-signatures.md).
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
    /// @param chainsHash hashChains or hashPackedChains of the signed chains.
    /// @return The EIP-712 digest the owner signs to approve the packed spec in `data` (header
    ///         `h`, leaves at `offsets`) for `account`.
    function enableDigest(
        address validator,
        address account,
        bytes calldata data,
        SpecHeader memory h,
        uint256[] memory offsets,
        bytes32 chainsHash
    ) internal pure returns (bytes32) {
        bytes32 message =
            keccak256(abi.encode(ENABLE_SESSION_TYPEHASH, account, hashSpec(data, h, offsets), chainsHash));
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

    /// @notice The EIP-712 struct hash of the SessionSpec the packed bytes encode.
    function hashSpec(bytes calldata data, SpecHeader memory h, uint256[] memory offsets)
        internal
        pure
        returns (bytes32)
    {
        bytes32[] memory calls = new bytes32[](h.callCount);
        for (uint256 i; i < calls.length; ++i) {
            calls[i] = hashCallPolicy(data, offsets[i]);
        }
        bytes32[] memory transfers = new bytes32[](h.transferCount);
        for (uint256 i; i < transfers.length; ++i) {
            uint256 o = offsets[h.callCount + i];
            transfers[i] = keccak256(
                abi.encode(
                    TRANSFER_POLICY_TYPEHASH,
                    PackedSpecLib.at(data, o, 20),
                    PackedSpecLib.at(data, o + 20, 32),
                    hashLimit(data, o + 52)
                )
            );
        }
        // Encoded in two steps: one abi.encode of all fields is too deep for the stack.
        bytes memory head = abi.encode(SESSION_SPEC_TYPEHASH, h.signer, h.validAfter, h.validUntil);
        head = abi.encodePacked(head, hashLimit(data, h.feeLimitAt), uint256(h.paymasterMode), uint256(uint160(h.paymaster)));
        head = abi.encodePacked(head, hashLimit(data, h.opLimitAt), keccak256(abi.encodePacked(calls)));
        return keccak256(
            abi.encodePacked(head, keccak256(abi.encodePacked(transfers)), PackedSpecLib.at(data, h.end - 32, 32))
        );
    }

    /// @notice The EIP-712 struct hash of the CallPolicy leaf at `o`.
    function hashCallPolicy(bytes calldata data, uint256 o) internal pure returns (bytes32) {
        uint256 valueLimitAt = o + 56;
        uint256 callLimitAt = PackedSpecLib.skipLimit(data, valueLimitAt);
        uint256 c = PackedSpecLib.skipLimit(data, callLimitAt);
        bytes32[] memory constraints = new bytes32[](PackedSpecLib.at(data, c, 1));
        ++c;
        for (uint256 j; j < constraints.length; ++j) {
            uint256 limitAt = PackedSpecLib.constraintLimitAt(data, c);
            constraints[j] = hashConstraint(data, c, limitAt);
            c = PackedSpecLib.skipLimit(data, limitAt);
        }
        return keccak256(
            abi.encode(
                CALL_POLICY_TYPEHASH,
                PackedSpecLib.at(data, o, 20),
                bytes4(uint32(PackedSpecLib.at(data, o + 20, 4))),
                PackedSpecLib.at(data, o + 24, 32),
                hashLimit(data, valueLimitAt),
                hashLimit(data, callLimitAt),
                keccak256(abi.encodePacked(constraints))
            )
        );
    }

    /// @notice The EIP-712 struct hash of the Constraint at `c` whose limit is at `limitAt`.
    function hashConstraint(bytes calldata data, uint256 c, uint256 limitAt) internal pure returns (bytes32 h) {
        bytes32 typeHash = CONSTRAINT_TYPEHASH;
        bytes32 limitHash = hashLimit(data, limitAt);
        // Assembly: the seven words of the struct encoded past the free memory pointer without
        // allocating; in Solidity the encoding, inlined into the policy loops, ran out of stack
        // slots. OneOf carries its values (hashed as bytes32[]) and no reference; the others a
        // reference and no values. Covered by the enable-digest tests (a wallet library's digest
        // of specs with every condition equals the contract's).
        assembly ("memory-safe") {
            let m := mload(0x40)
            let p := add(data.offset, c)
            let head := shr(200, calldataload(p))
            let condition := shr(48, head)
            mstore(m, typeHash)
            mstore(add(m, 0x20), condition)
            mstore(add(m, 0x40), and(shr(16, head), 0xffffffff))
            mstore(add(m, 0x60), and(head, 0xffff))
            switch eq(condition, COND_ONE_OF)
            case 1 {
                let values := add(c, 8)
                calldatacopy(add(m, 0xe0), add(data.offset, values), sub(limitAt, values))
                mstore(add(m, 0x80), 0)
                mstore(add(m, 0xa0), keccak256(add(m, 0xe0), sub(limitAt, values)))
            }
            default {
                mstore(add(m, 0x80), calldataload(add(p, 7)))
                mstore(add(m, 0xa0), 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470)
            }
            mstore(add(m, 0xc0), limitHash)
            h := keccak256(m, 0xe0)
        }
    }

    /// @notice The EIP-712 struct hash of the UsageLimit at `o`.
    function hashLimit(bytes calldata data, uint256 o) internal pure returns (bytes32) {
        (uint256 limitType, uint256 limit, uint256 period) = PackedSpecLib.limitAt(data, o);
        return keccak256(abi.encode(USAGE_LIMIT_TYPEHASH, limitType, limit, period));
    }

    /// @notice hashChains of `count` packed (chainId 8 ‖ epoch 8) entries at `o`.
    function hashPackedChains(bytes calldata data, uint256 o, uint256 count) internal pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            hashes[i] = keccak256(
                abi.encode(
                    CHAIN_EPOCH_TYPEHASH, PackedSpecLib.at(data, o + 16 * i, 8), PackedSpecLib.at(data, o + 16 * i + 8, 8)
                )
            );
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function hashChains(ChainEpoch[] calldata chains) internal pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](chains.length);
        for (uint256 i; i < hashes.length; ++i) {
            hashes[i] = keccak256(abi.encode(CHAIN_EPOCH_TYPEHASH, chains[i].chainId, chains[i].epoch));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
