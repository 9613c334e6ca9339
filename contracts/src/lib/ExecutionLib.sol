// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ExecuteSelectorRequired, UnsupportedExecutionMode, NonCanonicalExecution, EmptyBatch} from "../SessionTypes.sol";

/// @title The one canonical decoder of ERC-7579 `execute(bytes32 mode, bytes executionCalldata)`.
/// @notice Shared by SessionAccount (what runs) and SessionKeyValidator (what is checked), so the
///         two can never read different calls out of one userOp (hardening rule 1). Accepted is
///         exactly what `abi.encodeCall(execute, (mode, data))` produces for the single-call or
///         the batch mode with default exec type; everything else is refused.
/// @dev Single: data = target (20 bytes) ‖ value (32) ‖ callData.
///      Batch:  data = abi.encode(Execution[]) with Execution = (address, uint256, bytes), with
///      every offset at the exact position the ABI encoder writes and no trailing bytes.
library ExecutionLib {
    /// @dev bytes4(keccak256("execute(bytes32,bytes)"))
    bytes4 internal constant EXECUTE_SELECTOR = 0xe9ae5c53;
    /// @dev callType 0x00 (single), execType 0x00 (default), no selector, no payload.
    bytes32 internal constant MODE_SINGLE = bytes32(0);
    /// @dev callType 0x01 (batch), execType 0x00 (default), no selector, no payload.
    bytes32 internal constant MODE_BATCH = bytes32(uint256(1) << 248);

    /// @notice Checks the outer `execute(mode, data)` layer (rule 1, docs/rules.md).
    /// @return batch True for batch mode, false for a single call.
    /// @return data The execution data (single or batch encoding), canonical at the outer layer.
    function decodeExecute(bytes calldata callData) internal pure returns (bool batch, bytes calldata data) {
        if (callData.length < 4) revert ExecuteSelectorRequired(bytes4(0));
        bytes4 selector = bytes4(callData[:4]);
        if (selector != EXECUTE_SELECTOR) revert ExecuteSelectorRequired(selector);
        if (callData.length < 100) revert NonCanonicalExecution(callData.length);
        bytes32 mode = bytes32(callData[4:36]);
        if (mode == MODE_BATCH) batch = true;
        else if (mode != MODE_SINGLE) revert UnsupportedExecutionMode(mode);
        if (uint256(bytes32(callData[36:68])) != 0x40) revert NonCanonicalExecution(36);
        uint256 length = uint256(bytes32(callData[68:100]));
        if (length > callData.length - 100 || 100 + _ceil32(length) != callData.length) {
            revert NonCanonicalExecution(68);
        }
        data = callData[100:100 + length];
    }

    /// @notice Splits single-call execution data.
    function decodeSingle(bytes calldata data)
        internal
        pure
        returns (address target, uint256 value, bytes calldata callData)
    {
        if (data.length < 52) revert NonCanonicalExecution(data.length);
        target = address(bytes20(data[:20]));
        value = uint256(bytes32(data[20:52]));
        callData = data[52:];
    }

    /// @notice Checks that batch execution data is exactly the canonical ABI encoding (rule 1,
    ///         docs/rules.md).
    /// @return count The number of calls (at least one).
    function validateBatch(bytes calldata data) internal pure returns (uint256 count) {
        if (data.length < 64) revert NonCanonicalExecution(0);
        if (uint256(bytes32(data[:32])) != 0x20) revert NonCanonicalExecution(0);
        count = uint256(bytes32(data[32:64]));
        if (count == 0) revert EmptyBatch();
        // Each call needs at least 32 (offset) + 128 (head + length) bytes.
        if (count > (data.length - 64) / 160) revert NonCanonicalExecution(32);
        uint256 expected = 32 * count; // offsets are relative to byte 64
        for (uint256 i; i < count; ++i) {
            uint256 headPos = 64 + 32 * i;
            if (uint256(bytes32(data[headPos:headPos + 32])) != expected) revert NonCanonicalExecution(headPos);
            uint256 elem = 64 + expected;
            if (elem + 128 > data.length) revert NonCanonicalExecution(headPos);
            if (uint256(bytes32(data[elem:elem + 32])) >> 160 != 0) revert NonCanonicalExecution(elem);
            if (uint256(bytes32(data[elem + 64:elem + 96])) != 0x60) revert NonCanonicalExecution(elem + 64);
            uint256 length = uint256(bytes32(data[elem + 96:elem + 128]));
            if (length > data.length - elem - 128) revert NonCanonicalExecution(elem + 96);
            expected += 128 + _ceil32(length);
        }
        if (64 + expected != data.length) revert NonCanonicalExecution(data.length);
    }

    /// @notice Call `i` of batch execution data that validateBatch accepted.
    function batchAt(bytes calldata data, uint256 i)
        internal
        pure
        returns (address target, uint256 value, bytes calldata callData)
    {
        uint256 elem = 64 + uint256(bytes32(data[64 + 32 * i:96 + 32 * i]));
        target = address(uint160(uint256(bytes32(data[elem:elem + 32]))));
        value = uint256(bytes32(data[elem + 32:elem + 64]));
        uint256 length = uint256(bytes32(data[elem + 96:elem + 128]));
        callData = data[elem + 128:elem + 128 + length];
    }

    function _ceil32(uint256 length) private pure returns (uint256) {
        return (length + 31) & ~uint256(31);
    }
}
