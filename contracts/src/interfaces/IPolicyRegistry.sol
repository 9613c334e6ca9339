// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev Registry statuses.
uint8 constant REVIEW_UNSET = 0;
uint8 constant REVIEW_ALLOWED = 1;
uint8 constant REVIEW_BLOCKED = 2;

/// @notice Read side of the PolicyRegistry, as the validator uses it when enabling a session.
interface IPolicyRegistry {
    /// @notice Review status of calls to `selector` on `target`.
    function callStatus(address target, bytes4 selector) external view returns (uint8);
    /// @notice Review status of plain value transfers to `target`.
    function transferStatus(address target) external view returns (uint8);
    /// @notice Review status of approvals of `token` to `spender`.
    function approvalStatus(address token, address spender) external view returns (uint8);
}
