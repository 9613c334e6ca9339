// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import "./SessionTypes.sol";
import {PackedSpecLib, SpecHeader} from "./lib/PackedSpecLib.sol";

/// @title SessionUsageLens
/// @notice What each limited budget of a session has used and has left, read from a
///         SessionKeyValidator's storage through its `counterWords` view. Stateless and
///         deployed at one address for every validator: the validator's 24,576-byte code limit
///         leaves no room for this view beside the hot path (docs/decisions.md, "Usage lens").
contract SessionUsageLens is ISessionUsageLens {
    /// @dev A hosted counter's used amount has the 136 bits above bit 120 of the header.
    uint256 internal constant MAX_HOSTED = type(uint136).max;

    /// @notice Every limited budget of the packed `spec` on `validator` for `account`, with what
    ///         is used and what remains in the period that contains `timeHint`, in a fixed
    ///         order: op count, fee, then per call policy its value, call count and constraint
    ///         sums, then per transfer policy its value.
    /// @param validator The SessionKeyValidator holding the session.
    /// @param account The account the session was enabled for.
    /// @param spec The packed spec (docs/compact-signatures.md).
    /// @param timeHint The time whose period allowances are reported for.
    function sessionUsage(address validator, address account, bytes calldata spec, uint48 timeHint)
        external
        view
        returns (CounterUsage[] memory rows)
    {
        (SpecHeader memory h, uint256[] memory offsets, bytes32 sessionHash) = PackedSpecLib.readSpec(spec);
        uint256[] memory budgets = _budgets(spec, h, offsets);
        uint256 n = budgets.length;
        rows = new CounterUsage[](n);
        // The limited rows, and the ids of those whose counter has a slot of its own: every one
        // but the header's hosted counter (docs/storage.md).
        uint256[] memory ids = new uint256[](n);
        uint256 r;
        uint256 stored;
        bool hostOpen = true;
        for (uint256 i; i < n; ++i) {
            uint256 b = budgets[i];
            (uint256 limitType, uint256 limit, uint256 period) = PackedSpecLib.limitAt(spec, uint64(b));
            if (limitType == LIMIT_UNLIMITED) continue;
            CounterUsage memory row = rows[r++];
            row.kind = uint8(b >> 64);
            row.policyIndex = uint16(b >> 72);
            row.constraintIndex = uint16(b >> 88);
            row.limitType = uint8(limitType);
            row.limit = limit;
            row.period = uint48(period);
            bool positionZero = row.kind == COUNTER_OPS || row.kind == COUNTER_FEE
                || row.policyIndex == 0 && (h.callCount == 0) == (row.kind == COUNTER_TRANSFER_VALUE);
            if (!(hostOpen && positionZero && limit <= MAX_HOSTED)) {
                ids[stored++] =
                    (uint256(row.kind) << 32) | (uint256(row.policyIndex) << 16) | row.constraintIndex;
                // Marks the row as reading a counter slot (cleared below).
                row.used = type(uint256).max;
            }
            hostOpen = false;
        }
        // Assembly: shorten the arrays to the entries written (their length words); r, stored
        // <= n. Covered by the sessionUsage tests.
        assembly ("memory-safe") {
            mstore(rows, r)
            mstore(ids, stored)
        }
        (uint256 header, uint256[] memory counters) =
            ISessionKeyValidator(validator).counterWords(account, sessionHash, ids);
        uint256 next;
        for (uint256 i; i < r; ++i) {
            CounterUsage memory row = rows[i];
            uint256 storedPeriod;
            if (row.used == type(uint256).max) {
                uint256 word = next < counters.length ? counters[next] : 0;
                ++next;
                (storedPeriod, row.used) = (word >> 208, word & MAX_LIMIT);
            } else {
                (storedPeriod, row.used) = (uint48(header >> 72), header >> 120);
            }
            if (row.limitType == LIMIT_ALLOWANCE && row.period != 0) {
                uint256 periodId = timeHint / row.period;
                if (storedPeriod < periodId) row.used = 0;
                row.resetsAt = uint48((periodId + 1) * row.period);
            }
            row.remaining = row.used >= row.limit ? 0 : row.limit - row.used;
        }
    }

    /// @return budgets Every budget of the spec as (limit offset | kind << 64 | policy << 72 |
    ///         constraint << 88), in the order of sessionUsage.
    function _budgets(bytes calldata spec, SpecHeader memory h, uint256[] memory offsets)
        internal
        pure
        returns (uint256[] memory budgets)
    {
        // The op count, the fee, then at most one per 9 bytes (a constraint holding a limit takes
        // 9 at least; a call leaf holds two in 59, a transfer leaf one in 53).
        budgets = new uint256[](2 + spec.length / 9);
        uint256 n;
        budgets[n++] = h.opLimitAt | (uint256(COUNTER_OPS) << 64);
        budgets[n++] = h.feeLimitAt | (uint256(COUNTER_FEE) << 64);
        for (uint256 p; p < h.callCount; ++p) {
            uint256 o = offsets[p] + 56;
            budgets[n++] = o | (uint256(COUNTER_CALL_VALUE) << 64) | (p << 72);
            o = PackedSpecLib.skipLimit(spec, o);
            budgets[n++] = o | (uint256(COUNTER_CALL_COUNT) << 64) | (p << 72);
            o = PackedSpecLib.skipLimit(spec, o);
            uint256 count = PackedSpecLib.at(spec, o, 1);
            ++o;
            for (uint256 c; c < count; ++c) {
                uint256 limitAt = PackedSpecLib.constraintLimitAt(spec, o);
                budgets[n++] = limitAt | (uint256(COUNTER_CONSTRAINT_SUM) << 64) | (p << 72) | (c << 88);
                o = PackedSpecLib.skipLimit(spec, limitAt);
            }
        }
        for (uint256 p; p < h.transferCount; ++p) {
            budgets[n++] = (offsets[h.callCount + p] + 52) | (uint256(COUNTER_TRANSFER_VALUE) << 64) | (p << 72);
        }
        // Assembly: shorten the array to the `n` budgets written (its length word); n is at most
        // its allocated length. Covered by the sessionUsage tests.
        assembly ("memory-safe") {
            mstore(budgets, n)
        }
    }
}
