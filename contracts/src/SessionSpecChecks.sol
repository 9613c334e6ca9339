// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import "./SessionTypes.sol";
import {IPolicyRegistry, REVIEW_ALLOWED} from "./interfaces/IPolicyRegistry.sol";
import {SessionHashLib} from "./lib/SessionHashLib.sol";
import {PackedSpecLib, SpecHeader} from "./lib/PackedSpecLib.sol";

/// @title SessionSpecChecks
/// @notice The enable-time checks of a packed spec (rules 4, 9, 17, 18, 21) and its EIP-712
///         enable digest, for SessionKeyValidator, which calls them and bubbles their named
///         errors. They hold no state and run only when a session is enabled; they live here
///         because the validator's code has no room for them beside the one-pass check of the
///         common op (EIP-170, docs/decisions.md "The common op in one pass").
/// @dev Every function takes the packed spec alone (docs/compact-signatures.md) and reads it
///      again: the caller has already read it, so no structural refusal arises here.
contract SessionSpecChecks {
    bytes4 internal constant APPROVE = 0x095ea7b3; // approve(address,uint256)
    bytes4 internal constant INCREASE_ALLOWANCE = 0x39509351; // increaseAllowance(address,uint256)
    bytes4 internal constant INCREASE_APPROVAL = 0xd73dd623; // increaseApproval(address,uint256)
    bytes4 internal constant SET_APPROVAL_FOR_ALL = 0xa22cb465; // setApprovalForAll(address,bool)

    /// @notice Refuses a degenerate packed `spec` with the named error of the rule it breaks
    ///         (rules 4, 9, 17, 21); returns nothing when every rule holds.
    function validateSpec(bytes calldata spec) external pure {
        (SpecHeader memory h, uint256[] memory offsets,) = PackedSpecLib.readSpec(spec);
        _validateSpec(spec, h, offsets);
    }

    /// @notice Refuses a packed `spec` a policy of which `registry` does not allow (rule 18).
    function checkRegistry(bytes calldata spec, IPolicyRegistry registry) external view {
        (SpecHeader memory h, uint256[] memory offsets,) = PackedSpecLib.readSpec(spec);
        _checkRegistry(registry, spec, h, offsets);
    }

    /// @notice The EIP-712 digest the owner signs to enable the packed `spec` for `account` on
    ///         `validator` (rule 13), the signed chains given as their hash.
    function enableDigest(address validator, address account, bytes calldata spec, bytes32 chainsHash)
        external
        pure
        returns (bytes32)
    {
        (SpecHeader memory h, uint256[] memory offsets,) = PackedSpecLib.readSpec(spec);
        return SessionHashLib.enableDigest(validator, account, spec, h, offsets, chainsHash);
    }

    /// @notice validateSpec, then enableDigest, reading the spec once (first-use enable needs
    ///         both).
    function validatedEnableDigest(address validator, address account, bytes calldata spec, bytes32 chainsHash)
        external
        pure
        returns (bytes32)
    {
        (SpecHeader memory h, uint256[] memory offsets,) = PackedSpecLib.readSpec(spec);
        _validateSpec(spec, h, offsets);
        return SessionHashLib.enableDigest(validator, account, spec, h, offsets, chainsHash);
    }

    /// @dev Rules 4, 9, 17 and 21: refuse degenerate specs, at every enable (on-chain and first
    ///      use), over the packed spec in `data` (header `h`, leaves at `offsets`).
    function _validateSpec(bytes calldata data, SpecHeader memory h, uint256[] memory offsets) internal pure {
        if (h.signer == address(0)) revert ISessionKeyValidator.InvalidSigner();
        if (h.validUntil == 0 || h.validAfter >= h.validUntil) revert ISessionKeyValidator.InvalidWindow(h.validAfter, h.validUntil);
        _validateLimit(data, h.feeLimitAt, MAX_LIMIT, COUNTER_FEE, 0, 0);
        _validateLimit(data, h.opLimitAt, type(uint64).max, COUNTER_OPS, 0, 0);
        uint8 pmMode = h.paymasterMode;
        if (pmMode == PAYMASTER_ONE && h.paymaster == address(0)) revert ISessionKeyValidator.InvalidPaymasterPolicy(pmMode, h.paymaster);
        // Rule 21: naming a paymaster does not stop self-paid ops (the key holder can bundle its
        // own at any gas price), so such a session needs a finite fee budget.
        if (pmMode != PAYMASTER_NONE && PackedSpecLib.at(data, h.feeLimitAt, 1) == LIMIT_UNLIMITED) {
            revert ISessionKeyValidator.FeeLimitRequired(pmMode);
        }

        uint256 previous;
        for (uint256 p; p < h.callCount; ++p) {
            uint256 o = offsets[p];
            uint256 key = PackedSpecLib.at(data, o, 24); // target ‖ selector
            if (p != 0 && key <= previous) revert ISessionKeyValidator.CallPoliciesNotSorted(p);
            previous = key;
            o += 56;
            _validateLimit(data, o, MAX_LIMIT, COUNTER_CALL_VALUE, p, 0);
            o = PackedSpecLib.skipLimit(data, o);
            _validateLimit(data, o, MAX_LIMIT, COUNTER_CALL_COUNT, p, 0);
            o = PackedSpecLib.skipLimit(data, o);
            uint256 count = PackedSpecLib.at(data, o, 1);
            ++o;
            for (uint256 c; c < count; ++c) {
                uint256 bits = PackedSpecLib.at(data, o + 5, 2);
                uint256 limitAt = PackedSpecLib.constraintLimitAt(data, o);
                bool oneOf = PackedSpecLib.at(data, o, 1) == COND_ONE_OF;
                uint256 listLength = oneOf ? PackedSpecLib.at(data, o + 7, 1) : 0;
                if (bits == 0 || bits > 256 || (oneOf && (listLength == 0 || listLength > MAX_ONE_OF))) {
                    revert ISessionKeyValidator.InvalidConstraint(p, c);
                }
                _validateLimit(data, limitAt, MAX_LIMIT, COUNTER_CONSTRAINT_SUM, p, c);
                o = PackedSpecLib.skipLimit(data, limitAt);
            }
        }
        for (uint256 p; p < h.transferCount; ++p) {
            uint256 o = offsets[h.callCount + p];
            uint256 key = PackedSpecLib.at(data, o, 20);
            if (p != 0 && key <= previous) revert ISessionKeyValidator.TransferPoliciesNotSorted(p);
            previous = key;
            _validateLimit(data, o + 52, MAX_LIMIT, COUNTER_TRANSFER_VALUE, p, 0);
        }
    }

    /// @dev Rules 9 and 17 (docs/rules.md): a limit's bound and its period (at least MIN_PERIOD
    ///      for an allowance). The packed form carries no field a type does not use.
    function _validateLimit(
        bytes calldata data,
        uint256 limitAt,
        uint256 max,
        uint8 kind,
        uint256 policyIndex,
        uint256 constraintIndex
    ) internal pure {
        (uint256 limitType, uint256 limit, uint256 period) = PackedSpecLib.limitAt(data, limitAt);
        if (limitType != LIMIT_UNLIMITED && (limit > max || (limitType == LIMIT_ALLOWANCE && period < MIN_PERIOD))) {
            revert ISessionKeyValidator.InvalidUsageLimit(kind, policyIndex, constraintIndex);
        }
    }

    /// @dev Rule 18 (docs/rules.md).
    function _checkRegistry(IPolicyRegistry registry, bytes calldata spec, SpecHeader memory h, uint256[] memory offsets)
        internal
        view
    {
        for (uint256 p; p < h.callCount; ++p) {
            uint256 o = offsets[p];
            address target = address(uint160(PackedSpecLib.at(spec, o, 20)));
            bytes4 selector = bytes4(uint32(PackedSpecLib.at(spec, o + 20, 4)));
            uint8 status = registry.callStatus(target, selector);
            if (status != REVIEW_ALLOWED) revert ISessionKeyValidator.RegistryCallNotAllowed(p, target, selector, status);
            // The approvals of the engine's destination table (crates/engine/src/destinations.rs).
            if (
                selector == APPROVE || selector == INCREASE_ALLOWANCE || selector == INCREASE_APPROVAL
                    || selector == SET_APPROVAL_FOR_ALL
            ) {
                _checkApprovalSpenders(registry, spec, o, p, target);
            }
        }
        for (uint256 p; p < h.transferCount; ++p) {
            address target = address(uint160(PackedSpecLib.at(spec, offsets[h.callCount + p], 20)));
            uint8 status = registry.transferStatus(target);
            if (status != REVIEW_ALLOWED) revert ISessionKeyValidator.RegistryTransferNotAllowed(p, target, status);
        }
    }

    /// @dev Every spender an approval policy (leaf at `o`) admits (Equal or OneOf on word 0)
    ///      must be Allowed.
    function _checkApprovalSpenders(IPolicyRegistry registry, bytes calldata spec, uint256 o, uint256 p, address token)
        internal
        view
    {
        bool pinned;
        o = PackedSpecLib.skipLimit(spec, PackedSpecLib.skipLimit(spec, o + 56));
        uint256 count = PackedSpecLib.at(spec, o, 1);
        ++o;
        for (uint256 c; c < count; ++c) {
            uint256 limitAt = PackedSpecLib.constraintLimitAt(spec, o);
            uint256 condition = PackedSpecLib.at(spec, o, 1);
            if (PackedSpecLib.at(spec, o + 1, 4) == 0) {
                if (condition == COND_EQUAL) {
                    _requireApprovalAllowed(registry, p, token, PackedSpecLib.at(spec, o + 7, 32));
                    pinned = true;
                } else if (condition == COND_ONE_OF) {
                    for (uint256 v = o + 8; v < limitAt; v += 32) {
                        _requireApprovalAllowed(registry, p, token, PackedSpecLib.at(spec, v, 32));
                    }
                    pinned = true;
                }
            }
            o = PackedSpecLib.skipLimit(spec, limitAt);
        }
        if (!pinned) revert ISessionKeyValidator.RegistryApprovalUnconstrained(p);
    }

    function _requireApprovalAllowed(IPolicyRegistry registry, uint256 p, address token, uint256 word) internal view {
        address spender = address(uint160(word));
        uint8 status = registry.approvalStatus(token, spender);
        if (status != REVIEW_ALLOWED || word >> 160 != 0) {
            revert ISessionKeyValidator.RegistryApprovalNotAllowed(p, token, spender, status);
        }
    }
}
