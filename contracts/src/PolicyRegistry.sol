// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPolicyRegistry, REVIEW_BLOCKED} from "./interfaces/IPolicyRegistry.sol";

/// @title PolicyRegistry
/// @notice An admin-managed list of reviewed policies: (target, selector) call policies, plain
///         transfer targets and (token, spender) approval targets, each Unset (0), Allowed (1)
///         or Blocked (2). A SessionKeyValidator deployed with a registry refuses to enable a
///         session whose policies are not all Allowed.
contract PolicyRegistry is IPolicyRegistry {
    /// @notice The caller is not the admin.
    error NotAdmin(address caller);
    /// @notice The status is not 0, 1 or 2.
    error InvalidStatus(uint8 status);
    /// @notice The new admin is the zero address.
    error InvalidAdmin();

    /// @notice A (target, selector) call policy was reviewed.
    event CallStatusSet(address indexed target, bytes4 indexed selector, uint8 status);
    /// @notice A transfer target was reviewed.
    event TransferStatusSet(address indexed target, uint8 status);
    /// @notice A (token, spender) approval target was reviewed.
    event ApprovalStatusSet(address indexed token, address indexed spender, uint8 status);
    /// @notice The admin changed.
    event AdminChanged(address indexed previousAdmin, address indexed newAdmin);

    /// @notice Who may set statuses.
    address public admin;

    mapping(address target => mapping(bytes4 selector => uint8)) internal _calls;
    mapping(address target => uint8) internal _transfers;
    mapping(address token => mapping(address spender => uint8)) internal _approvals;

    /// @param admin_ The first admin.
    constructor(address admin_) {
        if (admin_ == address(0)) revert InvalidAdmin();
        admin = admin_;
        emit AdminChanged(address(0), admin_);
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    modifier validStatus(uint8 status) {
        if (status > REVIEW_BLOCKED) revert InvalidStatus(status);
        _;
    }

    /// @notice Hands the registry to `newAdmin`.
    function setAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert InvalidAdmin();
        emit AdminChanged(admin, newAdmin);
        admin = newAdmin;
    }

    /// @notice Sets the review status of calls to `selector` on `target`.
    function setCallStatus(address target, bytes4 selector, uint8 status) external onlyAdmin validStatus(status) {
        _calls[target][selector] = status;
        emit CallStatusSet(target, selector, status);
    }

    /// @notice Sets the review status of plain value transfers to `target`.
    function setTransferStatus(address target, uint8 status) external onlyAdmin validStatus(status) {
        _transfers[target] = status;
        emit TransferStatusSet(target, status);
    }

    /// @notice Sets the review status of approvals of `token` to `spender`.
    function setApprovalStatus(address token, address spender, uint8 status)
        external
        onlyAdmin
        validStatus(status)
    {
        _approvals[token][spender] = status;
        emit ApprovalStatusSet(token, spender, status);
    }

    /// @inheritdoc IPolicyRegistry
    function callStatus(address target, bytes4 selector) external view returns (uint8) {
        return _calls[target][selector];
    }

    /// @inheritdoc IPolicyRegistry
    function transferStatus(address target) external view returns (uint8) {
        return _transfers[target];
    }

    /// @inheritdoc IPolicyRegistry
    function approvalStatus(address token, address spender) external view returns (uint8) {
        return _approvals[token][spender];
    }
}
