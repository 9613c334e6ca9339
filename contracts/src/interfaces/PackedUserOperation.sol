// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The ERC-4337 user operation as EntryPoint v0.7 and v0.8 pass it to accounts.
/// @dev accountGasLimits = verificationGasLimit (high 128 bits) ‖ callGasLimit (low 128);
///      gasFees = maxPriorityFeePerGas (high 128) ‖ maxFeePerGas (low 128);
///      paymasterAndData = paymaster (20) ‖ verification gas (16) ‖ postOp gas (16) ‖ data.
struct PackedUserOperation {
    address sender;
    uint256 nonce;
    bytes initCode;
    bytes callData;
    bytes32 accountGasLimits;
    uint256 preVerificationGas;
    bytes32 gasFees;
    bytes paymasterAndData;
    bytes signature;
}
