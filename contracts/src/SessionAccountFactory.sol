// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SessionAccount} from "./SessionAccount.sol";
import {IEntryPoint} from "./interfaces/IEntryPoint.sol";

/// @title SessionAccountFactory
/// @notice Deploys SessionAccount clones (ERC-1167) at CREATE2 addresses that depend on the
///         owner, the initial validators and a salt, so the address is known before deployment
///         and nobody can take it with other init data. Stakeable in its EntryPoint, so the
///         first op of a new account (initCode + validator storage of the new sender) passes
///         ERC-7562 STO-022 at bundlers that enforce it; only STAKE_OWNER manages the stake.
contract SessionAccountFactory {
    /// @notice The implementation every clone delegates to.
    SessionAccount public immutable IMPLEMENTATION;
    /// @notice The EntryPoint the accounts trust, where the factory's stake lives.
    IEntryPoint public immutable ENTRY_POINT;
    /// @notice Who may add, unlock and withdraw the factory's stake (fixed at deployment: it is
    ///         part of the factory's CREATE2 address, see docs/decisions.md "Deployment").
    address public immutable STAKE_OWNER;

    /// @notice Only STAKE_OWNER manages the stake.
    error NotStakeOwner(address caller);

    /// @notice An account was created.
    event AccountCreated(address indexed account, address indexed owner, uint256 salt);

    /// @param entryPoint The EntryPoint the accounts trust.
    /// @param stakeOwner Who manages the factory's stake in `entryPoint`.
    constructor(IEntryPoint entryPoint, address stakeOwner) {
        // A zero owner could never manage the stake.
        if (stakeOwner == address(0)) revert NotStakeOwner(address(0));
        ENTRY_POINT = entryPoint;
        STAKE_OWNER = stakeOwner;
        IMPLEMENTATION = new SessionAccount(entryPoint, address(this));
    }

    modifier onlyStakeOwner() {
        if (msg.sender != STAKE_OWNER) revert NotStakeOwner(msg.sender);
        _;
    }

    /// @notice Stakes msg.value in the EntryPoint (adds to an existing stake). Only the stake
    ///         owner: anyone else could raise the unstake delay and lock the stake longer.
    /// @param unstakeDelaySec At least the current delay; bundlers require 86,400 s (ERC-7562).
    function addStake(uint32 unstakeDelaySec) external payable onlyStakeOwner {
        ENTRY_POINT.addStake{value: msg.value}(unstakeDelaySec);
    }

    /// @notice Starts the unstake delay; bundlers treat the factory as unstaked from now on.
    function unlockStake() external onlyStakeOwner {
        ENTRY_POINT.unlockStake();
    }

    /// @notice Withdraws the stake after the delay to `to`.
    function withdrawStake(address payable to) external onlyStakeOwner {
        ENTRY_POINT.withdrawStake(to);
    }

    /// @notice Creates the account, or returns it if it exists (as ERC-4337 initCode requires).
    function createAccount(address owner, address[] calldata validators, uint256 salt)
        external
        returns (SessionAccount account)
    {
        bytes32 create2Salt = _salt(owner, validators, salt);
        address predicted = _predict(create2Salt);
        if (predicted.code.length != 0) return SessionAccount(payable(predicted));
        bytes memory initCode = _cloneInitCode();
        address deployed;
        // Assembly because CREATE2 of raw init code has no Solidity syntax. Covered by the
        // account creation tests.
        assembly ("memory-safe") {
            deployed := create2(0, add(initCode, 0x20), mload(initCode), create2Salt)
        }
        account = SessionAccount(payable(deployed));
        account.initialize(owner, validators);
        emit AccountCreated(deployed, owner, salt);
    }

    /// @notice The address createAccount deploys to for these arguments.
    function getAddress(address owner, address[] calldata validators, uint256 salt) external view returns (address) {
        return _predict(_salt(owner, validators, salt));
    }

    function _salt(address owner, address[] calldata validators, uint256 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(owner, validators, salt));
    }

    function _predict(bytes32 create2Salt) internal view returns (address) {
        bytes32 hash = keccak256(abi.encodePacked(bytes1(0xff), address(this), create2Salt, keccak256(_cloneInitCode())));
        return address(uint160(uint256(hash)));
    }

    /// @dev ERC-1167 minimal proxy creation code for IMPLEMENTATION.
    function _cloneInitCode() internal view returns (bytes memory) {
        return abi.encodePacked(
            hex"3d602d80600a3d3981f3363d3d373d3d3d363d73",
            address(IMPLEMENTATION),
            hex"5af43d82803e903d91602b57fd5bf3"
        );
    }
}
