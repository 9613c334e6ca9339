// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "./interfaces/PackedUserOperation.sol";
import {IEntryPoint} from "./interfaces/IEntryPoint.sol";
import {IERC7579Validator, IOwnerValidation, MODULE_TYPE_VALIDATOR} from "./interfaces/IERC7579.sol";
import {ExecutionLib} from "./lib/ExecutionLib.sol";
import {ECDSALib} from "./lib/ECDSALib.sol";
import {ERC7739Lib} from "./lib/ERC7739Lib.sol";

/// @title SessionAccount
/// @notice A minimal ERC-4337 (EntryPoint v0.7 / v0.8) and ERC-7579 account: an ECDSA owner,
///         validator modules chosen by the nonce key, single and batch execution. Deployed as
///         ERC-1167 clones by SessionAccountFactory, or used directly as an EIP-7702 delegation
///         target, where the EOA is its own owner.
/// @dev Storage is one ERC-7201 namespace (docs/storage.md), so state a previous EIP-7702
///      delegate left in the EOA does not read as ours.
contract SessionAccount is IOwnerValidation {
    /// @custom:storage-location erc7201:sessionkeys.account
    struct AccountStorage {
        address owner;
        mapping(address module => bool) validators;
    }

    /// @dev keccak256(abi.encode(uint256(keccak256("sessionkeys.account")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x1ec320976231ec7635d12e093d43d206783c0ec61616ec80b6ece2fa71869500;

    uint256 internal constant SIG_VALIDATION_FAILED = 1;
    bytes4 internal constant ERC1271_MAGIC = 0x1626ba7e;
    bytes4 internal constant ERC1271_INVALID = 0xffffffff;
    /// @dev The account's EIP-712 domain (ERC-5267): name and version.
    string internal constant DOMAIN_NAME = "SessionAccount";
    string internal constant DOMAIN_VERSION = "1";
    /// @dev Token receiver answers and ERC-165 interface ids.
    bytes4 internal constant ERC165_ID = 0x01ffc9a7;
    bytes4 internal constant ERC721_RECEIVER_ID = 0x150b7a02;
    bytes4 internal constant ERC1155_RECEIVER_ID = 0x4e2312e0;

    /// @notice The EntryPoint this account trusts (v0.7 or v0.8).
    IEntryPoint public immutable ENTRY_POINT;
    /// @notice The factory allowed to initialise clones.
    address public immutable FACTORY;

    /// @notice The caller is neither the EntryPoint nor the account itself.
    error NotEntryPointOrSelf(address caller);
    /// @notice Only the factory initialises, and only once.
    error InitializationRefused(address caller);
    /// @notice The nonce key names a validator that is not installed.
    error ValidatorNotInstalled(address validator);
    /// @notice Only validator modules (type 1) are supported.
    error UnsupportedModuleType(uint256 moduleTypeId);
    /// @notice The module is already installed / not installed.
    error ModuleAlreadyInstalled(address module);
    error ModuleNotInstalled(address module);

    /// @notice A module was installed or uninstalled (ERC-7579).
    event ModuleInstalled(uint256 moduleTypeId, address module);
    event ModuleUninstalled(uint256 moduleTypeId, address module);

    /// @param entryPoint The EntryPoint this account trusts.
    /// @param factory The factory that may initialise clones of this implementation.
    constructor(IEntryPoint entryPoint, address factory) {
        ENTRY_POINT = entryPoint;
        FACTORY = factory;
    }

    modifier onlyEntryPointOrSelf() {
        if (msg.sender != address(ENTRY_POINT) && msg.sender != address(this)) revert NotEntryPointOrSelf(msg.sender);
        _;
    }

    receive() external payable {}

    /// @notice Sets the owner and installs validators; called once by the factory in the same
    ///         transaction that creates the clone, so nobody can front-run it. An EIP-7702 EOA
    ///         is never initialised: its owner is itself (rule 20).
    function initialize(address owner_, address[] calldata validators) external {
        AccountStorage storage s = _storage();
        if (msg.sender != FACTORY || s.owner != address(0) || owner_ == address(0)) {
            revert InitializationRefused(msg.sender);
        }
        s.owner = owner_;
        for (uint256 i; i < validators.length; ++i) {
            _install(validators[i], "");
        }
    }

    /// @notice The owner: the stored owner of a clone, or the EOA itself under EIP-7702.
    function owner() public view returns (address) {
        address stored = _storage().owner;
        return stored == address(0) ? address(this) : stored;
    }

    // ---------------------------------------------------------------- ERC-4337

    /// @notice Validates a userOp: nonce key 0 (validator address 0) is the owner's ECDSA
    ///         signature over the userOp hash; otherwise the high 160 bits of the key name an
    ///         installed validator module, which decides.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        returns (uint256 validationData)
    {
        if (msg.sender != address(ENTRY_POINT)) revert NotEntryPointOrSelf(msg.sender);
        address validator = address(uint160(userOp.nonce >> 96));
        if (validator == address(0)) {
            validationData = ECDSALib.recover(userOpHash, userOp.signature) == owner() ? 0 : SIG_VALIDATION_FAILED;
        } else {
            if (!_storage().validators[validator]) revert ValidatorNotInstalled(validator);
            validationData = _forwardValidation(validator, userOpHash);
        }
        if (missingAccountFunds != 0) {
            // The EntryPoint checks the deposit itself; a failed transfer shows up there.
            (bool ok,) = payable(msg.sender).call{value: missingAccountFunds}("");
            (ok);
        }
    }

    /// @dev Calls validator.validateUserOp(userOp, userOpHash) with the userOp bytes copied as
    ///      they came: the tuple's inner offsets are relative to its own start, so the EntryPoint's
    ///      encoding after a new head (selector, 0x40, hash) is a valid encoding, and copying it is
    ///      far cheaper than re-encoding the struct. Reverts bubble up unchanged.
    function _forwardValidation(address validator, bytes32 userOpHash) internal returns (uint256) {
        uint256 userOpStart = 4 + uint256(bytes32(msg.data[4:36]));
        (bool ok, bytes memory result) = validator.call(
            abi.encodePacked(IERC7579Validator.validateUserOp.selector, uint256(0x40), userOpHash, msg.data[userOpStart:])
        );
        if (!ok || result.length != 32) {
            // Bubble the validator's revert data unchanged so the EntryPoint reports its error.
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        return abi.decode(result, (uint256));
    }

    // ---------------------------------------------------------------- ERC-7579 execution

    /// @notice Runs one call or a batch; `mode` and the encoding must be canonical (rule 1).
    function execute(bytes32, bytes calldata) external payable onlyEntryPointOrSelf {
        (bool batch, bytes calldata data) = ExecutionLib.decodeExecute(msg.data);
        if (batch) {
            uint256 count = ExecutionLib.validateBatch(data);
            for (uint256 i; i < count; ++i) {
                (address target, uint256 value, bytes calldata callData) = ExecutionLib.batchAt(data, i);
                _call(target, value, callData);
            }
        } else {
            (address target, uint256 value, bytes calldata callData) = ExecutionLib.decodeSingle(data);
            _call(target, value, callData);
        }
    }

    function _call(address target, uint256 value, bytes calldata callData) internal {
        (bool ok, bytes memory result) = target.call{value: value}(callData);
        if (!ok) {
            // Bubble the callee's revert data unchanged so callers see its own error.
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    /// @notice ERC-7579: only single and batch calls with default exec type.
    function supportsExecutionMode(bytes32 mode) external pure returns (bool) {
        return mode == ExecutionLib.MODE_SINGLE || mode == ExecutionLib.MODE_BATCH;
    }

    /// @notice ERC-7579 account id.
    function accountId() external pure returns (string memory) {
        return "sessionkeys.SessionAccount.0.1.0";
    }

    // ---------------------------------------------------------------- modules

    /// @notice Installs a validator module (type 1) and calls its onInstall.
    function installModule(uint256 moduleTypeId, address module, bytes calldata initData)
        external
        payable
        onlyEntryPointOrSelf
    {
        if (moduleTypeId != MODULE_TYPE_VALIDATOR) revert UnsupportedModuleType(moduleTypeId);
        _install(module, initData);
    }

    /// @notice Uninstalls a validator module and calls its onUninstall.
    function uninstallModule(uint256 moduleTypeId, address module, bytes calldata deInitData)
        external
        payable
        onlyEntryPointOrSelf
    {
        if (moduleTypeId != MODULE_TYPE_VALIDATOR) revert UnsupportedModuleType(moduleTypeId);
        AccountStorage storage s = _storage();
        if (!s.validators[module]) revert ModuleNotInstalled(module);
        s.validators[module] = false;
        IERC7579Validator(module).onUninstall(deInitData);
        emit ModuleUninstalled(moduleTypeId, module);
    }

    /// @notice ERC-7579: whether `module` is installed as `moduleTypeId`.
    function isModuleInstalled(uint256 moduleTypeId, address module, bytes calldata) external view returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR && _storage().validators[module];
    }

    /// @notice ERC-7579: only validator modules.
    function supportsModule(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    function _install(address module, bytes memory initData) internal {
        AccountStorage storage s = _storage();
        if (s.validators[module]) revert ModuleAlreadyInstalled(module);
        s.validators[module] = true;
        IERC7579Validator(module).onInstall(initData);
        emit ModuleInstalled(MODULE_TYPE_VALIDATOR, module);
    }

    // ---------------------------------------------------------------- signatures

    /// @notice The owner's raw-digest ECDSA check, the only way a session is approved in first
    ///         use (rule 13).
    function isOwnerSignature(bytes32 digest, bytes calldata signature) external view returns (bool) {
        return ECDSALib.recover(digest, signature) == owner();
    }

    /// @notice ERC-1271, replay-safe across accounts (ERC-7739, rule 23): the owner signs the app's
    ///         typed data nested in this account's EIP-712 domain (TypedDataSign), or a
    ///         personal-sign hash wrapped the same way (PersonalSign), so a signature made for
    ///         another account, or for the owner's own EOA, is refused here. Under EIP-7702
    ///         (the EOA is its own owner) the EOA's raw signature over `hash` is also valid: no
    ///         other account can present it. Session keys never sign messages (v1).
    /// @return magic 0x1626ba7e if valid, 0x77390001 for the ERC-7739 detection hash,
    ///         0xffffffff otherwise.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4 magic) {
        if (hash == ERC7739Lib.DETECTION_HASH) return ERC7739Lib.SUPPORTED;
        address owner_ = owner();
        if (owner_ == address(this) && ECDSALib.recover(hash, signature) == owner_) return ERC1271_MAGIC;
        (bytes32 digest, bytes calldata ownerSignature) = ERC7739Lib.wrappedDigest(
            hash, signature, keccak256(bytes(DOMAIN_NAME)), keccak256(bytes(DOMAIN_VERSION)), address(this)
        );
        return digest != bytes32(0) && ECDSALib.recover(digest, ownerSignature) == owner_ ? ERC1271_MAGIC : ERC1271_INVALID;
    }

    /// @notice ERC-5267: the account's EIP-712 domain (name, version, chain id, this address),
    ///         which ERC-7739 signatures nest the app's typed data in.
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", DOMAIN_NAME, DOMAIN_VERSION, block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    // ---------------------------------------------------------------- token receivers

    /// @notice Accepts ERC-721 safe transfers.
    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }

    /// @notice Accepts ERC-1155 safe transfers.
    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155Received.selector;
    }

    /// @notice Accepts ERC-1155 safe batch transfers.
    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155BatchReceived.selector;
    }

    /// @notice ERC-165: ERC-165 itself and the ERC-721 and ERC-1155 receiver interfaces.
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == ERC165_ID || interfaceId == ERC721_RECEIVER_ID || interfaceId == ERC1155_RECEIVER_ID;
    }

    function _storage() private pure returns (AccountStorage storage s) {
        // Assembly because Solidity has no syntax for a storage pointer at a constant slot
        // (ERC-7201). Covered by every account test.
        assembly ("memory-safe") {
            s.slot := STORAGE_SLOT
        }
    }
}
