// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import "./SessionTypes.sol";
import {PackedUserOperation} from "./interfaces/PackedUserOperation.sol";
import {
    IERC7579Validator,
    IERC7579AccountModules,
    IOwnerValidation,
    MODULE_TYPE_VALIDATOR,
    MODULE_TYPE_EXECUTOR,
    MODULE_TYPE_HOOK
} from "./interfaces/IERC7579.sol";
import {IPolicyRegistry, REVIEW_ALLOWED} from "./interfaces/IPolicyRegistry.sol";
import {ExecutionLib} from "./lib/ExecutionLib.sol";
import {ECDSALib} from "./lib/ECDSALib.sol";
import {SessionHashLib} from "./lib/SessionHashLib.sol";

/// @title SessionKeyValidator
/// @notice ERC-7579 validator that lets a session key act for an account within the limits of a
///         session the owner approved. The full spec travels in every userOp signature; only its
///         hash, a status and usage counters are stored. docs/rules.md holds the text of every
///         hardening rule and maps it to the code below (tagged `Rule N`) and to its tests.
/// @dev Storage layout (docs/storage.md): every per-account slot has the account as the innermost
///      mapping key, so it is storage associated with the sender under ERC-7562.
///      Validation reads no TIMESTAMP/NUMBER: time comes from the signed hint and is enforced by
///      the EntryPoint through the returned validAfter/validUntil.
contract SessionKeyValidator is IERC7579Validator, ISessionKeyValidator {
    // ---------------------------------------------------------------- constants and storage

    uint256 internal constant SIG_VALIDATION_FAILED = 1;
    bytes4 internal constant ERC1271_INVALID = 0xffffffff;
    bytes4 internal constant APPROVE = 0x095ea7b3; // approve(address,uint256)
    bytes4 internal constant INCREASE_ALLOWANCE = 0x39509351; // increaseAllowance(address,uint256)
    bytes4 internal constant INCREASE_APPROVAL = 0xd73dd623; // increaseApproval(address,uint256)
    bytes4 internal constant SET_APPROVAL_FOR_ALL = 0xa22cb465; // setApprovalForAll(address,bool)

    /// @notice The EntryPoints whose `withdrawTo` would drain the deposit (rule 6).
    address public immutable ENTRY_POINT_V07;
    address public immutable ENTRY_POINT_V08;
    /// @notice The PolicyRegistry, or address(0) when this validator runs without one.
    IPolicyRegistry public immutable REGISTRY;

    /// @dev header = status (bits 0..7) | epoch (8..71) | op-count period id (72..119) | op count (120..183)
    mapping(bytes32 sessionHash => mapping(address account => uint256 header)) internal _headers;
    /// @dev The account's revocation epoch.
    mapping(address account => uint64 epoch) internal _epochs;
    /// @dev counter = period id (bits 208..255) | used (0..207); key = _counterKey(...)
    mapping(bytes32 counterKey => mapping(address account => uint256 counter)) internal _counters;
    /// @dev Whether the module is installed on the account.
    mapping(address account => bool installed) internal _installed;

    /// @dev Validation state carried through the checks of one userOp.
    struct Context {
        address account;
        bytes32 sessionHash;
        uint48 timeHint;
        uint48 validAfter;
        uint48 validUntil;
    }

    /// @param entryPointV07 The v0.7 EntryPoint (banned as a call target).
    /// @param entryPointV08 The v0.8 EntryPoint (banned as a call target).
    /// @param registry A PolicyRegistry to enforce at enable, or address(0).
    constructor(address entryPointV07, address entryPointV08, IPolicyRegistry registry) {
        ENTRY_POINT_V07 = entryPointV07;
        ENTRY_POINT_V08 = entryPointV08;
        REGISTRY = registry;
    }

    // ---------------------------------------------------------------- ERC-7579 module

    /// @notice Marks the module installed on the calling account; `data` is ignored.
    function onInstall(bytes calldata) external {
        _installed[msg.sender] = true;
    }

    /// @notice Uninstalling bumps the account's epoch, revoking every session (rule 14).
    function onUninstall(bytes calldata) external {
        _installed[msg.sender] = false;
        _bumpEpoch(msg.sender);
    }

    /// @notice This is a validator (ERC-7579 module type 1) and nothing else.
    function isModuleType(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    /// @notice Whether the module is installed on `smartAccount`.
    function isInitialized(address smartAccount) external view returns (bool) {
        return _installed[smartAccount];
    }

    /// @notice Session keys cannot sign messages in v1: always the ERC-1271 failure value.
    function isValidSignatureWithSender(address, bytes32, bytes calldata) external pure returns (bytes4) {
        return ERC1271_INVALID;
    }

    // ---------------------------------------------------------------- validation

    /// @notice Validates a userOp signed by a session key.
    /// @dev Order of checks (the Rust engine follows it): decode → status → calls (with their
    ///      constraints) → op count → signature → fee. A policy violation reverts with a named
    ///      error; a wrong session or owner signature returns SIG_VALIDATION_FAILED after the same
    ///      work, and then also masks a fee-limit violation (rule 12).
    /// @return validationData sigFailed | validUntil << 160 | validAfter << 208.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external returns (uint256) {
        _requireSender(userOp.sender);
        SessionSignature calldata sig = _decodeSignature(userOp.signature);
        SessionSpec calldata spec = _decodeSpec(sig.spec);
        // The hash of the carried bytes: only canonical encodings are ever enabled (enableSession
        // re-encodes; first-use enable checks), so any other encoding finds no session.
        Context memory ctx = Context(msg.sender, keccak256(sig.spec), sig.timeHint, spec.validAfter, spec.validUntil);

        _requireLane(ctx.sessionHash, userOp.nonce);
        (bool batch, bytes calldata executionData) = ExecutionLib.decodeExecute(userOp.callData);
        if (ctx.timeHint < spec.validAfter || ctx.timeHint > spec.validUntil) {
            revert TimeHintOutsideSession(ctx.timeHint, spec.validAfter, spec.validUntil);
        }

        // status
        uint256 header = _headers[ctx.sessionHash][ctx.account];
        bool ownerApproved = true;
        if (sig.mode == MODE_ENABLE) {
            (header, ownerApproved) = _enableInFirstUse(ctx, sig, spec, header);
        } else if (sig.mode == MODE_USE) {
            _requireActive(ctx, header);
        } else {
            revert UnknownSignatureMode(sig.mode);
        }

        // calls and their constraints
        if (batch) {
            uint256 count = ExecutionLib.validateBatch(executionData);
            for (uint256 i; i < count; ++i) {
                (address target, uint256 value, bytes calldata data) = ExecutionLib.batchAt(executionData, i);
                _checkCall(ctx, spec, i, target, value, data);
            }
        } else {
            (address target, uint256 value, bytes calldata data) = ExecutionLib.decodeSingle(executionData);
            _checkCall(ctx, spec, 0, target, value, data);
        }

        // op count (kept in the header slot)
        _headers[ctx.sessionHash][ctx.account] = _chargeOps(ctx, spec.opLimit, header);

        // signature (rule 10: the spec hash, hint and mode are bound beside the userOp hash)
        bytes32 digest = _sessionDigest(userOpHash, ctx.sessionHash, ctx.timeHint, sig.mode);
        bool signatureValid = ownerApproved && ECDSALib.recover(digest, sig.sessionSignature) == spec.signer;

        // fee
        _checkFee(ctx, spec, userOp, signatureValid);

        return (signatureValid ? 0 : SIG_VALIDATION_FAILED) | (uint256(ctx.validUntil) << 160)
            | (uint256(ctx.validAfter) << 208);
    }

    /// @dev Rule 7: only the account itself runs validation of its own ops, so nobody can replay
    ///      a victim's op against the validator to burn its budgets.
    function _requireSender(address sender) internal view {
        if (msg.sender != sender) revert SenderMismatch(msg.sender, sender);
    }

    /// @dev Rule 19: a session's ops run on the nonce lane its hash names (the first four bytes
    ///      of the nonce key after the validator's address), so sessions never share a lane.
    function _requireLane(bytes32 sessionHash, uint256 nonce) internal pure {
        bytes4 lane = bytes4(uint32(nonce >> 64));
        if (lane != bytes4(sessionHash)) revert WrongNonceLane(bytes4(sessionHash), lane);
    }

    /// @dev Rule 10: the session key signs the userOp hash with the session hash, the hint and
    ///      the mode beside it: they sit outside the userOp hash, and a relayer must not swap them.
    function _sessionDigest(bytes32 userOpHash, bytes32 sessionHash, uint48 timeHint, uint8 mode)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(userOpHash, sessionHash, timeHint, mode));
    }

    /// @dev Rule 16: the one call to a banned target a session may make is `revokeSession` of
    ///      its own hash on this validator, with no value.
    function _isSelfRevoke(bytes32 sessionHash, address target, uint256 value, bytes calldata data)
        internal
        view
        returns (bool)
    {
        return target == address(this) && value == 0 && data.length == 36
            && bytes4(data[:4]) == this.revokeSession.selector && bytes32(data[4:36]) == sessionHash;
    }

    /// @dev Reads the SessionSignature in place instead of copying it to memory.
    function _decodeSignature(bytes calldata signature) internal pure returns (SessionSignature calldata sig) {
        if (signature.length < 32) revert MalformedSignature();
        uint256 offset = uint256(bytes32(signature[:32]));
        if (offset > signature.length - 32) revert MalformedSignature();
        // Assembly because Solidity cannot cast `bytes calldata` to a calldata struct; the
        // compiler's own bounds checks still guard every member access. Covered by every
        // session test (tests/validator_*.rs).
        assembly ("memory-safe") {
            sig := add(signature.offset, offset)
        }
    }

    /// @dev Points at the spec inside its canonical encoding (first word 0x20).
    function _decodeSpec(bytes calldata encoded) internal pure returns (SessionSpec calldata spec) {
        if (encoded.length < 32 || uint256(bytes32(encoded[:32])) != 0x20) revert MalformedSignature();
        // Assembly for the same reason as in _decodeSignature; covered by every session test.
        assembly ("memory-safe") {
            spec := add(encoded.offset, 0x20)
        }
    }

    /// @dev Rules 13, 15 and 18 (docs/rules.md).
    function _enableInFirstUse(Context memory ctx, SessionSignature calldata sig, SessionSpec calldata spec, uint256 header)
        internal
        returns (uint256, bool ownerApproved)
    {
        if (address(REGISTRY) != address(0)) revert RegistryRequiresOnchainEnable();
        _validateSpec(spec);
        bytes32 canonical = keccak256(abi.encode(spec));
        if (canonical != ctx.sessionHash) revert NonCanonicalSpec(ctx.sessionHash, canonical);
        if (uint8(header) != STATUS_NONE) {
            // Rule 15: already enabled (by an earlier first use, say) — proceed, charged once.
            _requireActive(ctx, header);
            return (header, true);
        }
        uint64 epoch = _epochs[ctx.account];
        uint64 signedEpoch = _signedEpoch(sig.chains);
        if (signedEpoch != epoch) revert EnableEpochMismatch(signedEpoch, epoch);

        bytes32 digest = SessionHashLib.enableDigest(address(this), ctx.account, spec, sig.chains);
        ownerApproved = _isOwnerSignature(ctx.account, digest, sig.ownerSignature);
        emit SessionEnabled(ctx.account, ctx.sessionHash, spec);
        return (STATUS_ACTIVE | (uint256(epoch) << 8), ownerApproved);
    }

    /// @dev Rule 13: the epoch the owner approved for this chain; a chain not listed is refused
    ///      (chain id 0 is not a wildcard).
    function _signedEpoch(ChainEpoch[] calldata chains) internal view returns (uint64) {
        uint256 i;
        while (i < chains.length && chains[i].chainId != block.chainid) ++i;
        if (i == chains.length) revert ChainNotApproved(block.chainid);
        return chains[i].epoch;
    }

    /// @dev Rule 13: only the account's own owner validation may approve; a revert or a
    ///      non-SessionAccount counts as "not approved".
    function _isOwnerSignature(address account, bytes32 digest, bytes calldata signature) internal view returns (bool) {
        (bool ok, bytes memory result) =
            account.staticcall(abi.encodeCall(IOwnerValidation.isOwnerSignature, (digest, signature)));
        return ok && result.length == 32 && abi.decode(result, (bool));
    }

    /// @dev Rule 14 (docs/rules.md).
    function _requireActive(Context memory ctx, uint256 header) internal view {
        uint8 status = uint8(header);
        if (status == STATUS_NONE) revert SessionNotEnabled(ctx.sessionHash);
        if (status == STATUS_REVOKED) revert SessionRevoked(ctx.sessionHash);
        uint64 sessionEpoch = uint64(header >> 8);
        uint64 accountEpoch = _epochs[ctx.account];
        if (sessionEpoch != accountEpoch) revert SessionEpochStale(ctx.sessionHash, sessionEpoch, accountEpoch);
    }

    /// @dev Rules 2, 3, 6 and 16 (docs/rules.md).
    function _checkCall(
        Context memory ctx,
        SessionSpec calldata spec,
        uint256 callIndex,
        address target,
        uint256 value,
        bytes calldata data
    ) internal {
        if (_isAlwaysBanned(ctx.account, target)) {
            if (_isSelfRevoke(ctx.sessionHash, target, value, data)) return;
            revert BannedTarget(callIndex, target);
        }
        if (_isInstalledModule(ctx.account, target)) revert BannedTarget(callIndex, target);

        if (data.length == 0) {
            _checkTransfer(ctx, spec, callIndex, target, value);
            return;
        }
        if (data.length < 4) revert CalldataTooShortForSelector(callIndex, data.length);
        bytes4 selector = bytes4(data[:4]);
        CallPolicy[] calldata policies = spec.callPolicies;
        uint256 p;
        while (p < policies.length && (policies[p].target != target || policies[p].selector != selector)) ++p;
        if (p == policies.length) revert NoCallPolicy(callIndex, target, selector);
        CallPolicy calldata policy = policies[p];

        if (value > policy.maxValuePerUse) revert ValuePerUseExceeded(callIndex, p, value, policy.maxValuePerUse);
        _charge(ctx, policy.valueLimit, COUNTER_CALL_VALUE, p, 0, value);
        _charge(ctx, policy.callLimit, COUNTER_CALL_COUNT, p, 0, 1);
        for (uint256 c; c < policy.constraints.length; ++c) {
            Constraint calldata constraint = policy.constraints[c];
            uint256 required = 4 + 32 * (uint256(constraint.index) + 1);
            if (data.length < required) {
                revert CalldataTooShortForConstraint(callIndex, p, c, required, data.length);
            }
            bytes32 word = bytes32(data[required - 32:required]);
            if (constraint.bits < 256 && uint256(word) >> constraint.bits != 0) {
                revert WordTooWide(callIndex, p, c, constraint.bits, word);
            }
            if (!_conditionHolds(constraint, word)) {
                revert ConstraintViolated(callIndex, p, c, constraint.condition, word);
            }
            _charge(ctx, constraint.limit, COUNTER_CONSTRAINT_SUM, p, c, uint256(word));
        }
    }

    function _checkTransfer(Context memory ctx, SessionSpec calldata spec, uint256 callIndex, address target, uint256 value)
        internal
    {
        TransferPolicy[] calldata policies = spec.transferPolicies;
        uint256 p;
        while (p < policies.length && policies[p].target != target) ++p;
        if (p == policies.length) revert NoTransferPolicy(callIndex, target);
        if (value > policies[p].maxValuePerUse) {
            revert ValuePerUseExceeded(callIndex, p, value, policies[p].maxValuePerUse);
        }
        _charge(ctx, policies[p].valueLimit, COUNTER_TRANSFER_VALUE, p, 0, value);
    }

    function _conditionHolds(Constraint calldata constraint, bytes32 word) internal pure returns (bool) {
        uint8 condition = constraint.condition;
        uint256 w = uint256(word);
        uint256 ref = uint256(constraint.refValue);
        if (condition == COND_UNCONSTRAINED) return true;
        if (condition == COND_EQUAL) return w == ref;
        if (condition == COND_GREATER) return w > ref;
        if (condition == COND_LESS) return w < ref;
        if (condition == COND_GREATER_OR_EQUAL) return w >= ref;
        if (condition == COND_LESS_OR_EQUAL) return w <= ref;
        if (condition == COND_NOT_EQUAL) return w != ref;
        // COND_ONE_OF (the only other value _validateSpec lets through)
        bytes32[] calldata oneOf = constraint.oneOf;
        for (uint256 k; k < oneOf.length; ++k) {
            if (oneOf[k] == word) return true;
        }
        return false;
    }

    /// @dev Rule 6, the targets banned for every account. Installed modules are checked apart.
    function _isAlwaysBanned(address account, address target) internal view returns (bool) {
        return target == account || target == address(this) || target == ENTRY_POINT_V07
            || target == ENTRY_POINT_V08 || (target == address(REGISTRY) && target != address(0));
    }

    /// @dev Rule 6, installed modules: validators, executors and hooks (ERC-7579 types 1, 2, 4).
    ///      Fallback handlers need a selector to be looked up and are not checked (docs/decisions.md).
    function _isInstalledModule(address account, address target) internal view returns (bool) {
        IERC7579AccountModules modules = IERC7579AccountModules(account);
        return modules.isModuleInstalled(MODULE_TYPE_VALIDATOR, target, "")
            || modules.isModuleInstalled(MODULE_TYPE_EXECUTOR, target, "")
            || modules.isModuleInstalled(MODULE_TYPE_HOOK, target, "");
    }

    /// @dev Charges `amount` against a counter and narrows the validity window to the counter's
    ///      period (rules 5 and 8). Charges land in storage at once, so a batch sees its own
    ///      spending; `amount > limit - used` cannot overflow (rule 4).
    function _charge(Context memory ctx, UsageLimit calldata limit, uint8 kind, uint256 policyIndex, uint256 constraintIndex, uint256 amount)
        internal
    {
        if (limit.limitType == LIMIT_UNLIMITED) return;
        bytes32 key = _counterKey(ctx.sessionHash, kind, policyIndex, constraintIndex);
        uint256 packed = _counters[key][ctx.account];
        (uint256 periodId, uint256 used) = _periodAndUsed(ctx, limit, kind, policyIndex, constraintIndex, packed >> 208, packed & MAX_LIMIT);
        if (amount > limit.limit - used) {
            revert LimitExceeded(kind, policyIndex, constraintIndex, limit.limit, used, amount);
        }
        _counters[key][ctx.account] = (periodId << 208) | (used + amount);
    }

    /// @dev The op count lives in the header slot beside status and epoch.
    function _chargeOps(Context memory ctx, UsageLimit calldata limit, uint256 header) internal pure returns (uint256) {
        if (limit.limitType == LIMIT_UNLIMITED) return header;
        (uint256 periodId, uint256 used) =
            _periodAndUsed(ctx, limit, COUNTER_OPS, 0, 0, uint48(header >> 72), uint64(header >> 120));
        if (1 > limit.limit - used) revert LimitExceeded(COUNTER_OPS, 0, 0, limit.limit, used, 1);
        return uint72(header) | (periodId << 72) | ((used + 1) << 120);
    }

    /// @dev For an allowance: the hint's period id, the window narrowed to it, and `used` reset
    ///      when the stored period is older. A stored period newer than the hint's is refused.
    ///      Rule 8 (docs/rules.md).
    function _periodAndUsed(
        Context memory ctx,
        UsageLimit calldata limit,
        uint8 kind,
        uint256 policyIndex,
        uint256 constraintIndex,
        uint256 storedPeriod,
        uint256 used
    ) internal pure returns (uint256 periodId, uint256) {
        if (limit.limitType != LIMIT_ALLOWANCE) return (0, used);
        uint256 period = limit.period;
        periodId = ctx.timeHint / period;
        if (storedPeriod > periodId) {
            revert TimeHintBeforeStoredPeriod(kind, policyIndex, constraintIndex, storedPeriod, periodId);
        }
        uint256 start = periodId * period;
        uint256 end = start + period - 1; // inclusive (rule 8)
        if (start > ctx.validAfter) ctx.validAfter = uint48(start);
        if (end < ctx.validUntil) ctx.validUntil = uint48(end);
        return (periodId, storedPeriod < periodId ? 0 : used);
    }

    /// @dev Paymaster policy, then the fee budget at the full prefund (rule 11). With a wrong
    ///      signature an exceeded fee budget is not reported, so estimation with a stub signature
    ///      takes the same path as the real op (rule 12).
    function _checkFee(Context memory ctx, SessionSpec calldata spec, PackedUserOperation calldata userOp, bool signatureValid)
        internal
    {
        bytes calldata pmData = userOp.paymasterAndData;
        uint256 paymasterGas;
        if (pmData.length != 0) {
            if (pmData.length < 52) revert MalformedPaymasterAndData(pmData.length);
            address paymaster = address(bytes20(pmData[:20]));
            if (paymaster != address(0)) {
                if (
                    spec.paymasterMode == PAYMASTER_NONE
                        || (spec.paymasterMode == PAYMASTER_ONE && paymaster != spec.paymaster)
                ) revert PaymasterNotAllowed(paymaster);
                return; // sponsored: the account pays nothing
            }
            // 20 zero bytes mean "no paymaster", yet EntryPoint v0.7 charges the account for
            // the paymaster gas fields (rule 11).
            paymasterGas = uint128(bytes16(pmData[20:36])) + uint256(uint128(bytes16(pmData[36:52])));
        }
        UsageLimit calldata limit = spec.feeLimit;
        if (limit.limitType == LIMIT_UNLIMITED) return;
        uint256 gasLimits = uint256(userOp.accountGasLimits);
        uint256 maxFeePerGas = uint128(uint256(userOp.gasFees));
        uint256 prefund =
            maxFeePerGas * (userOp.preVerificationGas + (gasLimits >> 128) + uint128(gasLimits) + paymasterGas);
        bytes32 key = _counterKey(ctx.sessionHash, COUNTER_FEE, 0, 0);
        uint256 packed = _counters[key][ctx.account];
        (uint256 periodId, uint256 used) = _periodAndUsed(ctx, limit, COUNTER_FEE, 0, 0, packed >> 208, packed & MAX_LIMIT);
        if (prefund > limit.limit - used) {
            if (signatureValid) revert LimitExceeded(COUNTER_FEE, 0, 0, limit.limit, used, prefund);
            return;
        }
        _counters[key][ctx.account] = (periodId << 208) | (used + prefund);
    }

    function _counterKey(bytes32 sessionHash, uint8 kind, uint256 policyIndex, uint256 constraintIndex)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(sessionHash, (uint256(kind) << 32) | (policyIndex << 16) | constraintIndex));
    }

    // ---------------------------------------------------------------- spec checks

    /// @dev Rules 4, 9, 17 and 21: refuse degenerate specs, at every enable (on-chain and first use).
    function _validateSpec(SessionSpec calldata spec) internal pure {
        if (spec.signer == address(0)) revert InvalidSigner();
        if (spec.validUntil == 0 || spec.validAfter >= spec.validUntil) {
            revert InvalidWindow(spec.validAfter, spec.validUntil);
        }
        _validateLimit(spec.feeLimit, MAX_LIMIT, COUNTER_FEE, 0, 0);
        _validateLimit(spec.opLimit, type(uint64).max, COUNTER_OPS, 0, 0);
        uint8 pmMode = spec.paymasterMode;
        if (
            pmMode > PAYMASTER_ONE || (pmMode == PAYMASTER_ONE) != (spec.paymaster != address(0))
        ) revert InvalidPaymasterPolicy(pmMode, spec.paymaster);
        // Rule 21: naming a paymaster does not stop self-paid ops (the key holder can bundle its
        // own at any gas price), so such a session needs a finite fee budget.
        if (pmMode != PAYMASTER_NONE && spec.feeLimit.limitType == LIMIT_UNLIMITED) revert FeeLimitRequired(pmMode);

        CallPolicy[] calldata calls = spec.callPolicies;
        uint256 previous;
        for (uint256 p; p < calls.length; ++p) {
            uint256 key = (uint256(uint160(calls[p].target)) << 32) | uint32(calls[p].selector);
            if (p != 0 && key <= previous) revert CallPoliciesNotSorted(p);
            previous = key;
            _validateLimit(calls[p].valueLimit, MAX_LIMIT, COUNTER_CALL_VALUE, p, 0);
            _validateLimit(calls[p].callLimit, MAX_LIMIT, COUNTER_CALL_COUNT, p, 0);
            Constraint[] calldata constraints = calls[p].constraints;
            for (uint256 c; c < constraints.length; ++c) {
                uint8 condition = constraints[c].condition;
                uint256 listLength = constraints[c].oneOf.length;
                uint16 bits = constraints[c].bits;
                if (
                    condition > COND_ONE_OF || bits == 0 || bits > 256
                        || (condition == COND_ONE_OF ? listLength == 0 || listLength > MAX_ONE_OF : listLength != 0)
                ) revert InvalidConstraint(p, c);
                _validateLimit(constraints[c].limit, MAX_LIMIT, COUNTER_CONSTRAINT_SUM, p, c);
            }
        }
        TransferPolicy[] calldata transfers = spec.transferPolicies;
        for (uint256 p; p < transfers.length; ++p) {
            uint256 key = uint160(transfers[p].target);
            if (p != 0 && key <= previous) revert TransferPoliciesNotSorted(p);
            previous = key;
            _validateLimit(transfers[p].valueLimit, MAX_LIMIT, COUNTER_TRANSFER_VALUE, p, 0);
        }
    }

    /// @dev Rules 9 and 17 (docs/rules.md): a limit's type, its period (at least MIN_PERIOD
    ///      for an allowance) and its bound.
    function _validateLimit(UsageLimit calldata limit, uint256 max, uint8 kind, uint256 policyIndex, uint256 constraintIndex)
        internal
        pure
    {
        uint8 limitType = limit.limitType;
        bool valid = limitType == LIMIT_UNLIMITED
            ? limit.limit == 0 && limit.period == 0
            : limitType == LIMIT_LIFETIME
                ? limit.limit <= max && limit.period == 0
                : limitType == LIMIT_ALLOWANCE && limit.limit <= max && limit.period >= MIN_PERIOD;
        if (!valid) revert InvalidUsageLimit(kind, policyIndex, constraintIndex);
    }

    // ---------------------------------------------------------------- enable and revoke

    /// @notice Enables `spec` for the calling account (an owner-signed userOp calls this through
    ///         the account's execute). Under a registry every policy must be Allowed.
    /// @return sessionHash keccak256(abi.encode(spec)).
    function enableSession(SessionSpec calldata spec) external returns (bytes32 sessionHash) {
        return _enable(msg.sender, spec);
    }

    /// @notice Enables `spec` for `account` with the owner's EIP-712 EnableSession approval (the
    ///         one first-use enable carries), so a wallet that only signs typed data can approve
    ///         on-chain, and registry sessions can be approved at all (rules 18 and 22). Anyone may
    ///         submit it; it runs in the execution phase. The approval is public once relayed, so
    ///         a session already active is a no-op, not a revert (as rule 15).
    /// @param account The account, which must be deployed (create it first through the factory).
    /// @param chains The signed {chainId, epoch} list: this chain at the current epoch must be in it.
    /// @param ownerSignature The owner's signature of the EIP-712 digest (`enableDigest`).
    /// @return sessionHash keccak256(abi.encode(spec)).
    function enableSessionWithApproval(
        address account,
        SessionSpec calldata spec,
        ChainEpoch[] calldata chains,
        bytes calldata ownerSignature
    ) external returns (bytes32 sessionHash) {
        if (account.code.length == 0) revert AccountNotDeployed(account);
        uint64 epoch = _epochs[account];
        uint64 signedEpoch = _signedEpoch(chains);
        if (signedEpoch != epoch) revert EnableEpochMismatch(signedEpoch, epoch);
        bytes32 digest = SessionHashLib.enableDigest(address(this), account, spec, chains);
        if (!_isOwnerSignature(account, digest, ownerSignature)) revert OwnerApprovalInvalid(account);
        sessionHash = keccak256(abi.encode(spec));
        uint256 header = _headers[sessionHash][account];
        if (uint8(header) == STATUS_ACTIVE && uint64(header >> 8) == epoch) return sessionHash;
        return _enable(account, spec);
    }

    /// @dev Rules 4, 6, 9, 14, 17, 18, 21 at enable; writes the record and emits the full spec.
    function _enable(address account, SessionSpec calldata spec) internal returns (bytes32 sessionHash) {
        _validateSpec(spec);
        _validateTargets(account, spec);
        if (address(REGISTRY) != address(0)) _checkRegistry(spec);
        sessionHash = keccak256(abi.encode(spec));
        uint256 header = _headers[sessionHash][account];
        if (header != 0) revert SessionAlreadyExists(sessionHash, uint8(header));
        _headers[sessionHash][account] = STATUS_ACTIVE | (uint256(_epochs[account]) << 8);
        emit SessionEnabled(account, sessionHash, spec);
    }

    /// @notice Revokes one session of the calling account, for good. A hash may be revoked
    ///         before it was ever enabled (rule 14). The session key may call this for its own
    ///         session (rule 16).
    function revokeSession(bytes32 sessionHash) external {
        _revoke(msg.sender, sessionHash);
    }

    /// @notice Revokes several sessions of the calling account.
    function revokeSessions(bytes32[] calldata sessionHashes) external {
        for (uint256 i; i < sessionHashes.length; ++i) {
            _revoke(msg.sender, sessionHashes[i]);
        }
    }

    /// @notice Revokes every session of the calling account at once by bumping its epoch.
    function revokeAll() external {
        _bumpEpoch(msg.sender);
    }

    /// @notice Revokes `sessionHashes` of `account` with the owner's EIP-712 RevokeSessions
    ///         approval; anyone may submit it (a wallet signs typed data, a relayer pays the gas).
    /// @param chains The signed {chainId, epoch} list: this chain at the current epoch must be in
    ///        it, so the approval dies with the next revokeAll.
    function revokeSessionsWithApproval(
        address account,
        bytes32[] calldata sessionHashes,
        ChainEpoch[] calldata chains,
        bytes calldata ownerSignature
    ) external {
        _requireRevokeApproval(
            account,
            chains,
            SessionHashLib.revokeSessionsDigest(address(this), account, sessionHashes, chains),
            ownerSignature
        );
        for (uint256 i; i < sessionHashes.length; ++i) {
            _revoke(account, sessionHashes[i]);
        }
    }

    /// @notice Revokes every session of `account` (bumps its epoch) with the owner's EIP-712
    ///         RevokeAllSessions approval; anyone may submit it. The bump retires the approval:
    ///         submitted again it changes nothing and does not revert.
    function revokeAllWithApproval(address account, ChainEpoch[] calldata chains, bytes calldata ownerSignature)
        external
    {
        // Already done: the epoch moved past the signed one (this approval, relayed by someone
        // else first, or a later revokeAll). A no-op, so a front-run does not revert the owner.
        uint64 signedEpoch = _signedEpoch(chains);
        if (signedEpoch < _epochs[account]) return;
        _requireRevokeApproval(
            account, chains, SessionHashLib.revokeAllDigest(address(this), account, chains), ownerSignature
        );
        _bumpEpoch(account);
    }

    /// @dev Rule 22 (docs/rules.md).
    function _requireRevokeApproval(
        address account,
        ChainEpoch[] calldata chains,
        bytes32 digest,
        bytes calldata ownerSignature
    ) internal view {
        if (account.code.length == 0) revert AccountNotDeployed(account);
        uint64 epoch = _epochs[account];
        uint64 signedEpoch = _signedEpoch(chains);
        if (signedEpoch != epoch) revert RevokeEpochMismatch(signedEpoch, epoch);
        if (!_isOwnerSignature(account, digest, ownerSignature)) revert OwnerApprovalInvalid(account);
    }

    function _revoke(address account, bytes32 sessionHash) internal {
        uint256 header = _headers[sessionHash][account];
        if (uint8(header) == STATUS_REVOKED) return;
        uint256 epoch = uint8(header) == STATUS_NONE ? _epochs[account] : uint64(header >> 8);
        _headers[sessionHash][account] = (header & ~uint256(0xff) & ~(uint256(type(uint64).max) << 8))
            | STATUS_REVOKED | (epoch << 8);
        emit SessionRevokedEvent(account, sessionHash);
    }

    function _bumpEpoch(address account) internal {
        uint64 epoch = _epochs[account] + 1;
        _epochs[account] = epoch;
        emit EpochBumped(account, epoch);
    }

    /// @dev Policies that name an always-banned target can never be used: refuse them early.
    ///      Rule 6 (docs/rules.md).
    function _validateTargets(address account, SessionSpec calldata spec) internal view {
        for (uint256 p; p < spec.callPolicies.length; ++p) {
            address target = spec.callPolicies[p].target;
            if (_isAlwaysBanned(account, target)) revert PolicyTargetsBanned(p, target);
        }
        for (uint256 p; p < spec.transferPolicies.length; ++p) {
            address target = spec.transferPolicies[p].target;
            if (_isAlwaysBanned(account, target)) revert PolicyTargetsBanned(p, target);
        }
    }

    /// @dev Rule 18 (docs/rules.md).
    function _checkRegistry(SessionSpec calldata spec) internal view {
        for (uint256 p; p < spec.callPolicies.length; ++p) {
            CallPolicy calldata policy = spec.callPolicies[p];
            uint8 status = REGISTRY.callStatus(policy.target, policy.selector);
            if (status != REVIEW_ALLOWED) revert RegistryCallNotAllowed(p, policy.target, policy.selector, status);
            // The approvals of the engine's destination table (crates/engine/src/destinations.rs).
            bytes4 selector = policy.selector;
            if (
                selector == APPROVE || selector == INCREASE_ALLOWANCE || selector == INCREASE_APPROVAL
                    || selector == SET_APPROVAL_FOR_ALL
            ) {
                _checkApprovalSpenders(p, policy);
            }
        }
        for (uint256 p; p < spec.transferPolicies.length; ++p) {
            address target = spec.transferPolicies[p].target;
            uint8 status = REGISTRY.transferStatus(target);
            if (status != REVIEW_ALLOWED) revert RegistryTransferNotAllowed(p, target, status);
        }
    }

    /// @dev Every spender an approval policy admits (Equal or OneOf on word 0) must be Allowed.
    function _checkApprovalSpenders(uint256 p, CallPolicy calldata policy) internal view {
        bool pinned;
        for (uint256 c; c < policy.constraints.length; ++c) {
            Constraint calldata constraint = policy.constraints[c];
            if (constraint.index != 0) continue;
            if (constraint.condition == COND_EQUAL) {
                _requireApprovalAllowed(p, policy.target, constraint.refValue);
                pinned = true;
            } else if (constraint.condition == COND_ONE_OF) {
                for (uint256 k; k < constraint.oneOf.length; ++k) {
                    _requireApprovalAllowed(p, policy.target, constraint.oneOf[k]);
                }
                pinned = true;
            }
        }
        if (!pinned) revert RegistryApprovalUnconstrained(p);
    }

    function _requireApprovalAllowed(uint256 p, address token, bytes32 word) internal view {
        address spender = address(uint160(uint256(word)));
        uint8 status = REGISTRY.approvalStatus(token, spender);
        if (status != REVIEW_ALLOWED || uint256(word) >> 160 != 0) {
            revert RegistryApprovalNotAllowed(p, token, spender, status);
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The stored status of a session: 0 none, 1 active, 2 revoked; `usable` is true only
    ///         for an active session of the account's current epoch.
    function sessionStatus(address account, bytes32 sessionHash)
        external
        view
        returns (uint8 status, uint64 sessionEpoch, uint64 accountEpoch, bool usable)
    {
        uint256 header = _headers[sessionHash][account];
        status = uint8(header);
        sessionEpoch = uint64(header >> 8);
        accountEpoch = _epochs[account];
        usable = status == STATUS_ACTIVE && sessionEpoch == accountEpoch;
    }

    /// @notice The account's current revocation epoch (sign it in an enable approval).
    function epochOf(address account) external view returns (uint64) {
        return _epochs[account];
    }

    /// @notice keccak256(abi.encode(spec)), the session's identity.
    function sessionHashOf(SessionSpec calldata spec) external pure returns (bytes32) {
        return keccak256(abi.encode(spec));
    }

    /// @notice The EIP-712 digest an owner signs to enable `spec` for `account` on `chains`.
    function enableDigest(address account, SessionSpec calldata spec, ChainEpoch[] calldata chains)
        external
        view
        returns (bytes32)
    {
        return SessionHashLib.enableDigest(address(this), account, spec, chains);
    }

    /// @notice Every limited budget of the session with what is used and what remains in the
    ///         period that contains `timeHint`, in a fixed order: op count, fee, then per call
    ///         policy its value, call count and constraint sums, then per transfer policy its value.
    function sessionUsage(address account, SessionSpec calldata spec, uint48 timeHint)
        external
        view
        returns (CounterUsage[] memory rows)
    {
        bytes32 sessionHash = keccak256(abi.encode(spec));
        rows = new CounterUsage[](_countLimited(spec));
        uint256 n;
        uint256 header = _headers[sessionHash][account];
        n = _row(rows, n, spec.opLimit, COUNTER_OPS, 0, 0, uint48(header >> 72), uint64(header >> 120), timeHint);
        n = _counterRow(rows, n, account, sessionHash, spec.feeLimit, COUNTER_FEE, 0, 0, timeHint);
        for (uint256 p; p < spec.callPolicies.length; ++p) {
            CallPolicy calldata policy = spec.callPolicies[p];
            n = _counterRow(rows, n, account, sessionHash, policy.valueLimit, COUNTER_CALL_VALUE, p, 0, timeHint);
            n = _counterRow(rows, n, account, sessionHash, policy.callLimit, COUNTER_CALL_COUNT, p, 0, timeHint);
            for (uint256 c; c < policy.constraints.length; ++c) {
                n = _counterRow(
                    rows, n, account, sessionHash, policy.constraints[c].limit, COUNTER_CONSTRAINT_SUM, p, c, timeHint
                );
            }
        }
        for (uint256 p; p < spec.transferPolicies.length; ++p) {
            n = _counterRow(
                rows, n, account, sessionHash, spec.transferPolicies[p].valueLimit, COUNTER_TRANSFER_VALUE, p, 0, timeHint
            );
        }
    }

    function _countLimited(SessionSpec calldata spec) internal pure returns (uint256 n) {
        if (spec.opLimit.limitType != LIMIT_UNLIMITED) ++n;
        if (spec.feeLimit.limitType != LIMIT_UNLIMITED) ++n;
        for (uint256 p; p < spec.callPolicies.length; ++p) {
            CallPolicy calldata policy = spec.callPolicies[p];
            if (policy.valueLimit.limitType != LIMIT_UNLIMITED) ++n;
            if (policy.callLimit.limitType != LIMIT_UNLIMITED) ++n;
            for (uint256 c; c < policy.constraints.length; ++c) {
                if (policy.constraints[c].limit.limitType != LIMIT_UNLIMITED) ++n;
            }
        }
        for (uint256 p; p < spec.transferPolicies.length; ++p) {
            if (spec.transferPolicies[p].valueLimit.limitType != LIMIT_UNLIMITED) ++n;
        }
    }

    function _counterRow(
        CounterUsage[] memory rows,
        uint256 n,
        address account,
        bytes32 sessionHash,
        UsageLimit calldata limit,
        uint8 kind,
        uint256 p,
        uint256 c,
        uint48 timeHint
    ) internal view returns (uint256) {
        if (limit.limitType == LIMIT_UNLIMITED) return n;
        uint256 packed = _counters[_counterKey(sessionHash, kind, p, c)][account];
        return _row(rows, n, limit, kind, p, c, packed >> 208, packed & MAX_LIMIT, timeHint);
    }

    function _row(
        CounterUsage[] memory rows,
        uint256 n,
        UsageLimit calldata limit,
        uint8 kind,
        uint256 p,
        uint256 c,
        uint256 storedPeriod,
        uint256 used,
        uint48 timeHint
    ) internal pure returns (uint256) {
        if (limit.limitType == LIMIT_UNLIMITED) return n;
        uint48 resetsAt;
        if (limit.limitType == LIMIT_ALLOWANCE) {
            uint256 periodId = timeHint / limit.period;
            if (storedPeriod < periodId) used = 0;
            resetsAt = uint48((periodId + 1) * limit.period);
        }
        uint256 remaining = used >= limit.limit ? 0 : limit.limit - used;
        rows[n] = CounterUsage(kind, uint16(p), uint16(c), limit.limitType, limit.limit, used, remaining, limit.period, resetsAt);
        return n + 1;
    }
}
