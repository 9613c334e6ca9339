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
import {PackedSpecLib, SpecHeader, SignatureView} from "./lib/PackedSpecLib.sol";
import {SessionSpecChecks} from "./SessionSpecChecks.sol";

/// @title SessionKeyValidator
/// @notice ERC-7579 validator that lets a session key act for an account within the limits of a
///         session the owner approved. A use-mode op carries the session-wide fields and only
///         the policies its calls use, with a multiproof against the session hash's policy root
///         (docs/compact-signatures.md); only the hash, a status and usage counters are stored. docs/rules.md holds the text of every
///         hardening rule and maps it to the code below (tagged `Rule N`) and to its tests.
/// @dev Storage layout (docs/storage.md): every per-account slot has the account as the innermost
///      mapping key, so it is storage associated with the sender under ERC-7562.
///      Validation reads no TIMESTAMP/NUMBER: time comes from the signed hint and is enforced by
///      the EntryPoint through the returned validAfter/validUntil.
contract SessionKeyValidator is IERC7579Validator, ISessionKeyValidator {
    // ---------------------------------------------------------------- constants and storage

    uint256 internal constant SIG_VALIDATION_FAILED = 1;
    bytes4 internal constant ERC1271_INVALID = 0xffffffff;

    /// @dev The EntryPoints whose `withdrawTo` would drain the deposit (rule 6).
    address internal immutable ENTRY_POINT_V07;
    address internal immutable ENTRY_POINT_V08;
    /// @dev The PolicyRegistry, or address(0) when this validator runs without one.
    IPolicyRegistry internal immutable REGISTRY;
    /// @dev The enable-time checks and the enable digest (SessionSpecChecks).
    SessionSpecChecks internal immutable SPEC_CHECKS;

    /// @dev header = status (bits 0..7) | epoch (8..71) | the hosted counter: period id (72..119) |
    ///      used (120..255). The hosted counter is the session's first limited budget among the op
    ///      count, the fee and the budgets of the leaf at position 0 (docs/storage.md), when its
    ///      limit fits in 136 bits, so the commonest charge reads and writes no slot of its own.
    mapping(bytes32 sessionHash => mapping(address account => uint256 header)) internal _headers;
    /// @dev The account's revocation epoch.
    mapping(address account => uint64 epoch) internal _epochs;
    /// @dev counter = period id (bits 208..255) | used (0..207); key = _counterKey(...)
    mapping(bytes32 counterKey => mapping(address account => uint256 counter)) internal _counters;
    /// @dev Whether the module is installed on the account.
    mapping(address account => bool installed) internal _installed;

    /// @dev Which budget the header slot hosts (docs/storage.md).
    uint256 internal constant HOST_NONE = 0;
    uint256 internal constant HOST_OPS = 1;
    uint256 internal constant HOST_FEE = 2;
    uint256 internal constant HOST_LEAF_ZERO = 3;
    /// @dev A hosted counter's used amount has the 136 bits above bit 120 of the header.
    uint256 internal constant MAX_HOSTED = 0xffffffffffffffffffffffffffffffffff; // type(uint136).max

    /// @dev Validation state carried through the checks of one userOp. `header` is the session's
    ///      header slot as charged so far (written once, at the end); `notModule` the last call
    ///      target the account reported as no installed module (as a uint256: none yet is
    ///      type(uint256).max, which no address equals).
    struct Context {
        address account;
        bytes32 sessionHash;
        uint48 timeHint;
        uint48 validAfter;
        uint48 validUntil;
        uint256 header;
        uint256 hosting;
        uint256 notModule;
    }

    /// @param entryPointV07 The v0.7 EntryPoint (banned as a call target).
    /// @param entryPointV08 The v0.8 EntryPoint (banned as a call target).
    /// @param registry A PolicyRegistry to enforce at enable, or address(0).
    /// @param specChecks The SessionSpecChecks the enable paths call.
    constructor(address entryPointV07, address entryPointV08, IPolicyRegistry registry, SessionSpecChecks specChecks) {
        ENTRY_POINT_V07 = entryPointV07;
        ENTRY_POINT_V08 = entryPointV08;
        REGISTRY = registry;
        SPEC_CHECKS = specChecks;
    }

    /// @inheritdoc ISessionKeyValidator
    /// @dev One getter instead of four public immutables: every public function whose selector
    ///      sorts before validateUserOp's adds a comparison to the dispatcher of every op
    ///      (docs/decisions.md).
    function settings()
        external
        view
        returns (address entryPointV07, address entryPointV08, address registry, address specChecks)
    {
        return (ENTRY_POINT_V07, ENTRY_POINT_V08, address(REGISTRY), address(SPEC_CHECKS));
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
    /// @dev Order of checks (the Rust engine follows it): read the signature (every structural
    ///      refusal, then the session hash) → lane → execute layer → hint → status → calls (with
    ///      their constraints) → every carried policy used → op count → signature → fee. A
    ///      policy violation reverts with a named error; a wrong session or owner signature
    ///      returns SIG_VALIDATION_FAILED after the same work, and then also masks a fee-limit
    ///      violation (rule 12).
    /// @return validationData sigFailed | validUntil << 160 | validAfter << 208.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external returns (uint256) {
        // The one-pass path takes single-call ops only: a batch goes straight to the precise path
        // (its execute mode word, read without the ABI decoder's checks: the precise path runs
        // those).
        uint256 executeMode;
        // Assembly: the calldata word at callData's offset + 4, found through the userOp's own
        // offsets; a bad offset reads some other word and only picks the path, since the path
        // taken checks the whole encoding. Covered by every batch and single-call test.
        assembly ("memory-safe") {
            executeMode := calldataload(add(add(userOp, calldataload(add(userOp, 0x60))), 0x24))
        }
        if (executeMode == 0) {
            (bool handled, uint256 validationData) = _validateCommonOp(userOp, userOpHash);
            if (handled) return validationData;
        }
        return _validatePrecise(userOp, userOpHash);
    }

    /// @dev Every op: each structural refusal named, every shape (enable in first use, several
    ///      policies, batches, paymasters, self-revoke). validateUserOp runs it for every op the
    ///      one-pass _validateCommonOp leaves to it.
    function _validatePrecise(PackedUserOperation calldata userOp, bytes32 userOpHash) internal returns (uint256) {
        _requireSender(userOp.sender);
        bytes calldata sig = userOp.signature;
        SignatureView memory carried = PackedSpecLib.readSignature(sig);
        // Use mode: which carried policy a call used (each must be, PolicyNotUsed).
        bool[] memory used = new bool[](carried.mode == MODE_USE ? carried.positions.length : 0);
        SpecHeader memory h = carried.header;
        Context memory ctx = Context(
            msg.sender,
            carried.sessionHash,
            carried.timeHint,
            h.validAfter,
            h.validUntil,
            0,
            _hosting(sig, h),
            type(uint256).max
        );

        _requireLane(ctx.sessionHash, userOp.nonce);
        (bool batch, bytes calldata executionData) = ExecutionLib.decodeExecute(userOp.callData);
        if (ctx.timeHint < h.validAfter || ctx.timeHint > h.validUntil) {
            revert TimeHintOutsideSession(ctx.timeHint, h.validAfter, h.validUntil);
        }

        // status
        uint256 header = _headers[ctx.sessionHash][ctx.account];
        bool ownerApproved = true;
        if (carried.mode == MODE_ENABLE) {
            (header, ownerApproved) = _enableInFirstUse(ctx, sig, carried, header);
        } else {
            _requireActive(ctx, header);
        }
        ctx.header = header;

        // calls and their constraints
        if (batch) {
            uint256 count = ExecutionLib.validateBatch(executionData);
            for (uint256 i; i < count; ++i) {
                (address target, uint256 value, bytes calldata data) = ExecutionLib.batchAt(executionData, i);
                _checkCall(ctx, sig, carried, used, i, target, value, data);
            }
        } else {
            (address target, uint256 value, bytes calldata data) = ExecutionLib.decodeSingle(executionData);
            _checkCall(ctx, sig, carried, used, 0, target, value, data);
        }
        for (uint256 j; j < used.length; ++j) {
            if (!used[j]) revert PolicyNotUsed(carried.positions[j]);
        }

        // op count
        _chargeOps(ctx, sig, h.opLimitAt);

        // signature (rule 10: the session hash, hint and mode are bound beside the userOp hash)
        bytes32 digest = _sessionDigest(userOpHash, ctx.sessionHash, ctx.timeHint, carried.mode);
        bool signatureValid =
            ownerApproved && ECDSALib.recover(digest, sig[sig.length - 65:]) == h.signer;

        // fee
        _checkFee(ctx, sig, h, userOp, signatureValid);
        _headers[ctx.sessionHash][ctx.account] = ctx.header;

        return (signatureValid ? 0 : SIG_VALIDATION_FAILED) | (uint256(ctx.validUntil) << 160)
            | (uint256(ctx.validAfter) << 208);
    }

    // ---------------------------------------------------------------- the common op, in one pass

    /// @dev Offsets of the fields of the common-op frame (memory reserved by _validateCommonOp).
    ///      The list of budgets to charge follows the frame: a count, then four words per budget
    ///      (its limit's offset in the signature, counter id, amount and HOST_MODE_*).
    uint256 internal constant F_SESSION = 0x00;
    uint256 internal constant F_HINT = 0x20;
    uint256 internal constant F_VALID_AFTER = 0x40;
    uint256 internal constant F_VALID_UNTIL = 0x60;
    uint256 internal constant F_HEADER = 0x80;
    uint256 internal constant F_HOSTING = 0xa0;
    uint256 internal constant F_SIGNER = 0xc0;
    uint256 internal constant F_LEAF_AT = 0xe0;
    uint256 internal constant F_POSITION = 0x100;
    uint256 internal constant F_TARGET = 0x120;
    uint256 internal constant F_VALUE = 0x140;
    uint256 internal constant F_DATA_AT = 0x160;
    uint256 internal constant F_DATA_LENGTH = 0x180;
    uint256 internal constant F_SIGNATURE_VALID = 0x1a0;
    uint256 internal constant F_HEADER_SLOT = 0x1c0;
    uint256 internal constant F_LEAF_END = 0x1e0;
    uint256 internal constant F_HEADER_END = 0x200;
    uint256 internal constant F_POLICY_COUNT = 0x220;
    uint256 internal constant F_LIST = 0x240;
    /// @dev Where the header starts in a use-mode signature: after mode (1) and timeHint (6).
    uint256 internal constant SIGNATURE_HEADER_AT = 7;
    /// @dev Where the fee limit starts in it: after signer (20), validAfter and validUntil (6 + 6).
    uint256 internal constant FEE_LIMIT_AT = 39;
    /// @dev Where a budget's counter lives, for the one-pass charge: its own slot; the header
    ///      if the session hosts leaf zero's first limited budget and this is it and it fits; the
    ///      header always (the op count); the header if the session hosts the fee.
    uint256 internal constant HOST_MODE_OWN = 0;
    uint256 internal constant HOST_MODE_LEAF = 1;
    uint256 internal constant HOST_MODE_ALWAYS = 2;
    uint256 internal constant HOST_MODE_FEE = 3;
    /// @dev What a one-pass charge did: refused (a stored period after the hint's, or a count
    ///      above its limit), charged, or exceeded (nothing charged).
    uint256 internal constant CHARGE_REFUSED = 0;
    uint256 internal constant CHARGE_DONE = 1;
    uint256 internal constant CHARGE_EXCEEDED = 2;

    /// @dev The common op in one pass over its bytes: use mode, one carried policy, one call
    ///      (`execute` in single mode), no paymaster. Every check of the precise path
    ///      (_validatePrecise) runs, on the same fields and in an order that writes nothing until
    ///      all have passed. `handled` is false, with nothing written, for every op outside that
    ///      shape and for every op a check refuses (except a wrong session-key signature, which
    ///      is answered here as the precise path answers it: rule 12); the caller then runs the
    ///      precise path, which names the refusal or accepts the shapes this pass leaves to it.
    ///      The two must agree on every op: the differential test (tests/differential.rs) judges
    ///      random ops at their budgets' edges against the engine, the precise path's twin, and
    ///      compares the stored header and counters after every accepted one, once with this pass
    ///      and once with the fixture PreciseOnlyValidator, which turns it off (virtual for that
    ///      fixture only). This pass exists for gas only (docs/benchmarks.md).
    function _validateCommonOp(PackedUserOperation calldata userOp, bytes32 userOpHash)
        internal
        virtual
        returns (bool handled, uint256 validationData)
    {
        bytes calldata sig = userOp.signature;
        bytes calldata callData = userOp.callData;
        if (msg.sender != userOp.sender || userOp.paymasterAndData.length != 0) return (false, 0);
        uint256 executeSelector = uint32(ExecutionLib.EXECUTE_SELECTOR);
        uint256 f;
        bool ok;
        // Where readOp found the carried leaf and the header's end, for the hashes below.
        uint256 leafPosition;
        uint256 policies;
        uint256 leafStart;
        uint256 leafStop;
        uint256 headerStop;
        // Assembly: one pass over the execute layer, the signature's header and its leaf, with a
        // bound check per field and no allocation, which the structured reader
        // (PackedSpecLib.readSignature, ExecutionLib) cannot do: its structs and arrays cost ~5k
        // more on S1 (docs/benchmarks.md). The leaf's policy is matched against the call as it is
        // read (rules 1, 2, 3), and only its limited budgets are listed for the charges, so an
        // unlimited budget costs one byte read. The hashes and the signature check below are
        // the library functions the precise path uses, not copies. The frame and the list at
        // `f` are reserved (the free memory pointer moves past them) because the module check
        // below allocates. Reads past a bound are never used: each field is read after its
        // bound is checked. Covered by tests/differential.rs (verdicts and storage against the
        // engine on random ops) and every session test.
        assembly ("memory-safe") {
            // The end of the usage limit whose type byte is at `o`, or 0 when it is out of form.
            // A type outside the vocabulary has length 0 in LIMIT_LENGTHS (its `t` is above 2);
            // an `o` at or past `len` reads a byte that is not the signature's, but every known
            // type has a length of at least 1, so its end is past `len` and refused.
            function limitEnd(base, len, o) -> e {
                let t := shr(248, calldataload(add(base, o)))
                e := add(o, byte(t, LIMIT_LENGTHS))
                if or(gt(t, 2), gt(e, len)) { e := 0 }
            }
            // Lists a limited budget of the leaf (its limit, in form, at `limitAt`; callers test
            // the type byte first, so an unlimited budget costs no call). The leaf's first
            // limited budget may be hosted when the leaf is at position 0; its others keep their
            // own slots (docs/storage.md).
            function listLeafBudget(frame, limitAt, id, amount) {
                let list := add(frame, F_LIST)
                let count := mload(list)
                let mode := HOST_MODE_OWN
                if iszero(or(count, mload(add(frame, F_POSITION)))) { mode := HOST_MODE_LEAF }
                listBudget(list, count, limitAt, id, amount, mode)
            }
            function listBudget(list, count, limitAt, id, amount, mode) {
                let at := add(list, add(0x20, shl(7, count)))
                mstore(at, limitAt)
                mstore(add(at, 0x20), id)
                mstore(add(at, 0x40), amount)
                mstore(add(at, 0x60), mode)
                mstore(list, add(count, 1))
            }
            // The call policy leaf at `o`, matched against the call (rules 2 and 3): its end, or
            // 0 when it is out of form or refuses the call.
            function callLeaf(frame, base, len, o) -> e {
                if gt(add(o, 56), len) { leave }
                let dataLength := mload(add(frame, F_DATA_LENGTH))
                if lt(dataLength, 4) { leave }
                let dataAt := mload(add(frame, F_DATA_AT))
                // target ‖ selector, then the value cap
                if iszero(eq(shr(64, calldataload(add(base, o))), or(shl(32, mload(add(frame, F_TARGET))), shr(224, calldataload(dataAt))))) {
                    leave
                }
                let value := mload(add(frame, F_VALUE))
                if gt(value, calldataload(add(base, add(o, 24)))) { leave }
                let id := shl(16, mload(add(frame, F_POSITION)))
                let limitAt := add(o, 56)
                o := limitEnd(base, len, limitAt)
                if iszero(o) { leave }
                if shr(248, calldataload(add(base, limitAt))) {
                    listLeafBudget(frame, limitAt, or(shl(32, COUNTER_CALL_VALUE), id), value)
                }
                limitAt := o
                o := limitEnd(base, len, o)
                if iszero(o) { leave }
                if shr(248, calldataload(add(base, limitAt))) {
                    listLeafBudget(frame, limitAt, or(shl(32, COUNTER_CALL_COUNT), id), 1)
                }
                if iszero(lt(o, len)) { leave }
                let count := shr(248, calldataload(add(base, o)))
                o := add(o, 1)
                for { let c := 0 } lt(c, count) { c := add(c, 1) } {
                    // condition (1) ‖ argument index (4) ‖ bits (2)
                    if gt(add(o, 7), len) { leave }
                    let head := shr(200, calldataload(add(base, o)))
                    let condition := shr(48, head)
                    if gt(condition, COND_ONE_OF) { leave }
                    let required := add(4, shl(5, add(and(shr(16, head), 0xffffffff), 1)))
                    if lt(dataLength, required) { leave }
                    let w := calldataload(add(dataAt, sub(required, 32)))
                    let bits := and(head, 0xffff)
                    if and(lt(bits, 256), iszero(iszero(shr(bits, w)))) { leave }
                    let holds := 0
                    switch condition
                    case 7 {
                        // COND_ONE_OF: a count, then that many words
                        if iszero(lt(add(o, 7), len)) { leave }
                        limitAt := add(add(o, 8), shl(5, shr(248, calldataload(add(base, add(o, 7))))))
                        if gt(limitAt, len) { leave }
                        for { let at := add(o, 8) } lt(at, limitAt) { at := add(at, 32) } {
                            if eq(calldataload(add(base, at)), w) {
                                holds := 1
                                break
                            }
                        }
                    }
                    default {
                        // one reference word
                        limitAt := add(o, 39)
                        if gt(limitAt, len) { leave }
                        let ref := calldataload(add(base, add(o, 7)))
                        switch condition
                        case 0 { holds := 1 }
                        case 1 { holds := eq(w, ref) }
                        case 2 { holds := gt(w, ref) }
                        case 3 { holds := lt(w, ref) }
                        case 4 { holds := iszero(lt(w, ref)) }
                        case 5 { holds := iszero(gt(w, ref)) }
                        default { holds := iszero(eq(w, ref)) }
                    }
                    if iszero(holds) { leave }
                    o := limitEnd(base, len, limitAt)
                    if iszero(o) { leave }
                    if shr(248, calldataload(add(base, limitAt))) {
                        listLeafBudget(frame, limitAt, or(or(shl(32, COUNTER_CONSTRAINT_SUM), id), c), w)
                    }
                }
                e := o
            }
            // The transfer policy leaf at `o` (a plain transfer): its end, or 0 when it is out of
            // form or refuses the call.
            function transferLeaf(frame, base, len, o, transferIndex) -> e {
                if gt(add(o, 52), len) { leave }
                if mload(add(frame, F_DATA_LENGTH)) { leave }
                if iszero(eq(shr(96, calldataload(add(base, o))), mload(add(frame, F_TARGET)))) { leave }
                let value := mload(add(frame, F_VALUE))
                if gt(value, calldataload(add(base, add(o, 20)))) { leave }
                let limitAt := add(o, 52)
                e := limitEnd(base, len, limitAt)
                if and(iszero(iszero(e)), iszero(iszero(shr(248, calldataload(add(base, limitAt)))))) {
                    listLeafBudget(frame, limitAt, or(shl(32, COUNTER_TRANSFER_VALUE), shl(16, transferIndex)), value)
                }
            }
            // The session's fee budget at the full prefund (rule 11; no paymaster here), listed
            // when limited; 0 when the prefund cannot be computed as the precise path does.
            function listFee(frame, base, op) -> listed {
                listed := 1
                if shr(248, calldataload(add(base, FEE_LIMIT_AT))) {
                    let extraGas := calldataload(add(op, 0xa0))
                    if gt(extraGas, 0xffffffffffffffffffffffffffffffff) {
                        listed := 0
                        leave
                    }
                    let limits := calldataload(add(op, 0x80))
                    let feePerGas := and(calldataload(add(op, 0xc0)), 0xffffffffffffffffffffffffffffffff)
                    let units := add(extraGas, add(shr(128, limits), and(limits, 0xffffffffffffffffffffffffffffffff)))
                    let prefund := mul(feePerGas, units)
                    if feePerGas {
                        if iszero(eq(div(prefund, feePerGas), units)) {
                            listed := 0
                            leave
                        }
                    }
                    let list := add(frame, F_LIST)
                    listBudget(list, mload(list), FEE_LIMIT_AT, shl(32, COUNTER_FEE), prefund, HOST_MODE_FEE)
                }
            }
            function readOp(frame, base, len, cd, cdLength, executeSelector_, op) -> read {
                // rule 1, first, so ops of another shape leave this pass at once: execute in
                // single mode with one canonically encoded call of target ‖ value ‖ data
                if lt(cdLength, 100) { leave }
                if calldataload(add(cd, 4)) { leave }
                if iszero(eq(shr(224, calldataload(cd)), executeSelector_)) { leave }
                if iszero(eq(calldataload(add(cd, 36)), 0x40)) { leave }
                let execLength := calldataload(add(cd, 68))
                if gt(execLength, sub(cdLength, 100)) { leave }
                if iszero(eq(add(100, and(add(execLength, 31), not(31))), cdLength)) { leave }
                if lt(execLength, 52) { leave }
                mstore(add(frame, F_TARGET), shr(96, calldataload(add(cd, 100))))
                mstore(add(frame, F_VALUE), calldataload(add(cd, 120)))
                mstore(add(frame, F_DATA_AT), add(cd, 152))
                mstore(add(frame, F_DATA_LENGTH), sub(execLength, 52))
                // a use-mode signature: mode, hint, then signer ‖ validAfter ‖ validUntil in one
                // word, with the hint inside the session's window
                if lt(len, FEE_LIMIT_AT) { leave }
                if shr(248, calldataload(base)) { leave }
                let hint := shr(208, calldataload(add(base, 1)))
                let word := calldataload(add(base, SIGNATURE_HEADER_AT))
                let validAfter := and(shr(48, word), 0xffffffffffff)
                let validUntil := and(word, 0xffffffffffff)
                if or(lt(hint, validAfter), gt(hint, validUntil)) { leave }
                mstore(add(frame, F_HINT), hint)
                mstore(add(frame, F_SIGNER), shr(96, word))
                mstore(add(frame, F_VALID_AFTER), validAfter)
                mstore(add(frame, F_VALID_UNTIL), validUntil)
                // the fee limit, the paymaster mode, the op-count limit
                let o := limitEnd(base, len, FEE_LIMIT_AT)
                if iszero(o) { leave }
                if iszero(lt(o, len)) { leave }
                let paymasterMode := shr(248, calldataload(add(base, o)))
                if gt(paymasterMode, PAYMASTER_ONE) { leave }
                o := add(o, 1)
                if eq(paymasterMode, PAYMASTER_ONE) { o := add(o, 20) }
                let opsAt := o
                o := limitEnd(base, len, o)
                if iszero(o) { leave }
                // callCount, transferCount, salt, k (one carried policy), its position
                if gt(add(o, 40), len) { leave }
                let counts := shr(224, calldataload(add(base, o)))
                let callCount := shr(16, counts)
                let n := add(callCount, and(counts, 0xffff))
                if gt(n, 0x10000) { leave }
                let headerEnd := add(o, 36)
                if iszero(eq(shr(240, calldataload(add(base, headerEnd))), 1)) { leave }
                let position := shr(240, calldataload(add(base, add(headerEnd, 2))))
                if iszero(lt(position, n)) { leave }
                mstore(add(frame, F_POSITION), position)
                // which budget the header slot hosts (docs/storage.md)
                let opsLimited := shr(248, calldataload(add(base, opsAt)))
                let hosting := HOST_LEAF_ZERO
                if opsLimited { hosting := HOST_OPS }
                if and(eq(hosting, HOST_LEAF_ZERO), iszero(iszero(shr(248, calldataload(add(base, FEE_LIMIT_AT)))))) {
                    hosting := HOST_NONE
                    if iszero(gt(calldataload(add(base, add(FEE_LIMIT_AT, 1))), MAX_HOSTED)) { hosting := HOST_FEE }
                }
                mstore(add(frame, F_HOSTING), hosting)
                // the leaf, matched against the call as it is read, its budgets listed
                mstore(add(frame, F_LIST), 0)
                let leafAt := add(headerEnd, 4)
                let leafEnd := 0
                switch lt(position, callCount)
                case 1 { leafEnd := callLeaf(frame, base, len, leafAt) }
                default { leafEnd := transferLeaf(frame, base, len, leafAt, sub(position, callCount)) }
                if iszero(leafEnd) { leave }
                // the proof: one sibling per level, then the 65-byte session-key signature
                let levels := 0
                for {} lt(shl(levels, 1), n) {} { levels := add(levels, 1) }
                if iszero(eq(add(leafEnd, add(shl(5, levels), 65)), len)) { leave }
                // the op count (hosted whenever limited) and the fee budget, after the leaf's
                if opsLimited {
                    let list := add(frame, F_LIST)
                    listBudget(list, mload(list), opsAt, shl(32, COUNTER_OPS), 1, HOST_MODE_ALWAYS)
                }
                if iszero(listFee(frame, base, op)) { leave }
                mstore(add(frame, F_LEAF_AT), leafAt)
                mstore(add(frame, F_LEAF_END), leafEnd)
                mstore(add(frame, F_HEADER_END), headerEnd)
                mstore(add(frame, F_POLICY_COUNT), n)
                read := 1
            }
            f := mload(0x40)
            ok := readOp(f, sig.offset, sig.length, callData.offset, callData.length, executeSelector, userOp)
            if ok {
                // the frame and the list of budgets stay reserved
                mstore(0x40, add(add(f, F_LIST), add(0x20, shl(7, mload(add(f, F_LIST))))))
                leafPosition := mload(add(f, F_POSITION))
                policies := mload(add(f, F_POLICY_COUNT))
                leafStart := mload(add(f, F_LEAF_AT))
                leafStop := mload(add(f, F_LEAF_END))
                headerStop := mload(add(f, F_HEADER_END))
            }
        }
        if (!ok) return (false, 0);
        // The session hash and the key's signature as the precise path computes them: the bytes
        // are read, so these cannot refuse (the proof's length is checked above).
        bytes32 sessionHash = PackedSpecLib.hashSessionAt(
            sig,
            SIGNATURE_HEADER_AT,
            headerStop,
            PackedSpecLib.pathRoot(
                policies,
                leafPosition,
                PackedSpecLib.leafHash(sig, leafPosition, leafStart, leafStop),
                sig,
                leafStop,
                sig.length - 65
            )
        );
        uint48 timeHint;
        address signer;
        // Assembly: two fields of the frame (above).
        assembly ("memory-safe") {
            timeHint := mload(add(f, F_HINT))
            signer := mload(add(f, F_SIGNER))
        }
        bool signatureValid = ECDSALib.recover(
            _sessionDigest(userOpHash, sessionHash, timeHint, MODE_USE), sig[sig.length - 65:]
        ) == signer;
        uint256 nonce = userOp.nonce;
        address target;
        // Assembly: rules 19 and 14 as _requireLane and _requireActive check them, answering
        // instead of reverting; the header slot and its address go to the frame for the charges.
        // Covered as the block above.
        assembly ("memory-safe") {
            ok := 0
            mstore(0, sessionHash)
            mstore(0x20, _headers.slot)
            mstore(0x20, keccak256(0, 0x40))
            mstore(0, caller())
            let headerSlot := keccak256(0, 0x40)
            let header := sload(headerSlot)
            mstore(0x20, _epochs.slot)
            if and(
                eq(and(shr(64, nonce), 0xffffffff), shr(224, sessionHash)),
                and(
                    eq(and(header, 0xff), STATUS_ACTIVE),
                    eq(and(shr(8, header), 0xffffffffffffffff), and(sload(keccak256(0, 0x40)), 0xffffffffffffffff))
                )
            ) {
                mstore(add(f, F_SESSION), sessionHash)
                mstore(add(f, F_HEADER), header)
                mstore(add(f, F_HEADER_SLOT), headerSlot)
                mstore(add(f, F_SIGNATURE_VALID), signatureValid)
                target := mload(add(f, F_TARGET))
                ok := 1
            }
        }
        if (!ok) return (false, 0);
        // Rule 6, as the precise path runs it (a self-revoke, a banned target: the precise path).
        if (_isAlwaysBanned(msg.sender, target) || _isInstalledModule(msg.sender, target)) return (false, 0);
        return _chargeCommonOp(f, sig);
    }

    /// @dev The common op's charges (rules 4, 5, 8, 11, 12) of the budgets readOp listed, then
    ///      every write at once. The frame `f` is _validateCommonOp's.
    function _chargeCommonOp(uint256 f, bytes calldata sig) internal returns (bool handled, uint256 validationData) {
        // Assembly: as in _validateCommonOp. Counter writes wait in memory past the free memory
        // pointer (nothing allocates here) until every budget has been checked, so a pass that
        // stops has written nothing. Covered by tests/differential.rs and every session test.
        assembly ("memory-safe") {
            // The period id of an allowance of `period` at the hint and the used amount as of it,
            // with the window narrowed to the period (rule 8); ok is 0 when the stored period is
            // newer than the hint's.
            function inPeriod(frame, period, stored, used) -> ok, periodId, u {
                u := used
                ok := 1
                if period {
                    periodId := div(mload(add(frame, F_HINT)), period)
                    if gt(stored, periodId) {
                        ok := 0
                        leave
                    }
                    let start := mul(periodId, period)
                    let end := sub(add(start, period), 1)
                    if gt(start, mload(add(frame, F_VALID_AFTER))) { mstore(add(frame, F_VALID_AFTER), start) }
                    if lt(end, mload(add(frame, F_VALID_UNTIL))) { mstore(add(frame, F_VALID_UNTIL), end) }
                    if lt(stored, periodId) { u := 0 }
                }
            }
            // Charges `amount` to the limited budget whose limit is at `limitAt` (counter `id`)
            // and answers a CHARGE_* state (nothing is charged unless CHARGE_DONE); `hostMode`
            // says where its counter lives (the HOST_MODE_* constants).
            function charge(frame, base_, pending, limitAt, id, amount, hostMode) -> state {
                let limit := calldataload(add(base_, add(limitAt, 1)))
                let period := 0
                if eq(shr(248, calldataload(add(base_, limitAt))), LIMIT_ALLOWANCE) {
                    period := shr(208, calldataload(add(base_, add(limitAt, 33))))
                }
                let hosting := mload(add(frame, F_HOSTING))
                let hosted := or(
                    eq(hostMode, HOST_MODE_ALWAYS),
                    or(
                        and(eq(hostMode, HOST_MODE_LEAF), and(eq(hosting, HOST_LEAF_ZERO), iszero(gt(limit, MAX_HOSTED)))),
                        and(eq(hostMode, HOST_MODE_FEE), eq(hosting, HOST_FEE))
                    )
                )
                let header := mload(add(frame, F_HEADER))
                let stored := and(shr(72, header), 0xffffffffffff)
                let used := shr(120, header)
                let slot := 0
                if iszero(hosted) {
                    mstore(0, mload(add(frame, F_SESSION)))
                    mstore(0x20, id)
                    mstore(0, keccak256(0, 0x40))
                    mstore(0x20, _counters.slot)
                    mstore(0x20, keccak256(0, 0x40))
                    mstore(0, caller())
                    slot := keccak256(0, 0x40)
                    let packed := sload(slot)
                    stored := shr(208, packed)
                    used := and(packed, sub(shl(208, 1), 1)) // MAX_LIMIT (not a literal: assembly cannot name it)
                }
                let ok, periodId, u := inPeriod(frame, period, stored, used)
                if iszero(ok) { leave }
                if gt(u, limit) { leave }
                if gt(amount, sub(limit, u)) {
                    state := CHARGE_EXCEEDED
                    leave
                }
                switch hosted
                case 1 {
                    mstore(add(frame, F_HEADER), or(and(header, 0xffffffffffffffffff), or(shl(72, periodId), shl(120, add(u, amount)))))
                }
                default {
                    // a pending write: (slot, value) pairs after the count
                    let count := mload(pending)
                    mstore(add(pending, add(0x20, shl(6, count))), slot)
                    mstore(add(pending, add(0x40, shl(6, count))), or(shl(208, periodId), add(u, amount)))
                    mstore(pending, add(count, 1))
                }
                state := CHARGE_DONE
            }
            let list := add(f, F_LIST)
            let count := mload(list)
            let pending := mload(0x40)
            mstore(pending, 0)
            handled := 1
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let at := add(list, add(0x20, shl(7, i)))
                let mode := mload(add(at, 0x60))
                let state := charge(f, sig.offset, pending, mload(at), mload(add(at, 0x20)), mload(add(at, 0x40)), mode)
                if iszero(eq(state, CHARGE_DONE)) {
                    // rule 12: with a wrong signature an exceeded fee budget is not charged and
                    // not reported
                    if or(
                        or(eq(state, CHARGE_REFUSED), iszero(eq(mode, HOST_MODE_FEE))),
                        mload(add(f, F_SIGNATURE_VALID))
                    ) {
                        handled := 0
                        break
                    }
                }
            }
            if handled {
                let writes := mload(pending)
                for { let i := 0 } lt(i, writes) { i := add(i, 1) } {
                    sstore(mload(add(pending, add(0x20, shl(6, i)))), mload(add(pending, add(0x40, shl(6, i)))))
                }
                sstore(mload(add(f, F_HEADER_SLOT)), mload(add(f, F_HEADER)))
                validationData := or(
                    iszero(mload(add(f, F_SIGNATURE_VALID))),
                    or(shl(160, mload(add(f, F_VALID_UNTIL))), shl(208, mload(add(f, F_VALID_AFTER))))
                )
            }
        }
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
        // Assembly: abi.encode of four words hashed in scratch memory past the free memory
        // pointer, without allocating. Covered by every session test (the key signs this digest).
        bytes32 digest;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, userOpHash)
            mstore(add(m, 0x20), sessionHash)
            mstore(add(m, 0x40), timeHint)
            mstore(add(m, 0x60), mode)
            digest := keccak256(m, 0x80)
        }
        return digest;
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

    /// @dev Rules 6, 13, 15 and 18 (docs/rules.md): a policy on an always-banned target is
    ///      refused at every enable, so no enabled session carries one.
    function _enableInFirstUse(Context memory ctx, bytes calldata sig, SignatureView memory carried, uint256 header)
        internal
        returns (uint256, bool ownerApproved)
    {
        if (address(REGISTRY) != address(0)) revert RegistryRequiresOnchainEnable();
        SpecHeader memory h = carried.header;
        bytes calldata spec = sig[h.start:carried.specEnd];
        // One call checks the spec (rules 4, 9, 17, 21) and hashes what the owner signed; the
        // digest is used below, after the status and epoch checks.
        bytes32 chainsHash = SessionHashLib.hashPackedChains(sig, carried.chainsAt, carried.chainCount);
        bytes32 digest = SPEC_CHECKS.validatedEnableDigest(address(this), ctx.account, spec, chainsHash);
        _validateTargets(ctx.account, sig, h, carried.offsets);
        if (uint8(header) != STATUS_NONE) {
            // Rule 15: already enabled (by an earlier first use, say) — proceed, charged once.
            _requireActive(ctx, header);
            return (header, true);
        }
        uint64 epoch = _epochs[ctx.account];
        uint64 signedEpoch = _signedPackedEpoch(sig, carried.chainsAt, carried.chainCount);
        if (signedEpoch != epoch) revert EnableEpochMismatch(signedEpoch, epoch);

        ownerApproved =
            _isOwnerSignature(ctx.account, digest, sig[carried.ownerSignatureAt:carried.ownerSignatureEnd]);
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

    /// @dev Rule 13, for the packed chains of a first-use enable.
    function _signedPackedEpoch(bytes calldata sig, uint256 o, uint256 count) internal view returns (uint64) {
        for (uint256 i; i < count; ++i) {
            if (PackedSpecLib.at(sig, o + 16 * i, 8) == block.chainid) {
                return uint64(PackedSpecLib.at(sig, o + 16 * i + 8, 8));
            }
        }
        revert ChainNotApproved(block.chainid);
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

    /// @dev Rules 2, 3, 6 and 16 (docs/rules.md). Matches the call against the carried policies
    ///      (every policy in enable mode) and marks the one it uses.
    function _checkCall(
        Context memory ctx,
        bytes calldata sig,
        SignatureView memory carried,
        bool[] memory used,
        uint256 callIndex,
        address target,
        uint256 value,
        bytes calldata data
    ) internal {
        // A batch checks rule 6 once per run of calls to one target: nothing the account reports
        // can change during validation (the module checks are static calls), and a target that
        // passed once is neither banned nor a module (a self-revoke never becomes `notModule`).
        if (uint160(target) != ctx.notModule) {
            if (_isAlwaysBanned(ctx.account, target)) {
                if (_isSelfRevoke(ctx.sessionHash, target, value, data)) return;
                revert BannedTarget(callIndex, target);
            }
            if (_isInstalledModule(ctx.account, target)) revert BannedTarget(callIndex, target);
            ctx.notModule = uint160(target);
        }

        uint256 callCount = carried.header.callCount;
        uint256[] memory positions = carried.positions;
        uint256 j;
        if (data.length == 0) {
            while (
                j < positions.length
                    && (positions[j] < callCount || address(uint160(PackedSpecLib.at(sig, carried.offsets[j], 20))) != target)
            ) ++j;
            if (j == positions.length) revert NoTransferPolicy(callIndex, target);
            _checkTransfer(ctx, sig, carried.offsets[j], positions[j], callCount, callIndex, value);
        } else {
            if (data.length < 4) revert CalldataTooShortForSelector(callIndex, data.length);
            uint256 key = (uint256(uint160(target)) << 32) | uint32(bytes4(data[:4]));
            while (j < positions.length && (positions[j] >= callCount || PackedSpecLib.at(sig, carried.offsets[j], 24) != key)) {
                ++j;
            }
            if (j == positions.length) revert NoCallPolicy(callIndex, target, bytes4(data[:4]));
            _checkCallPolicy(ctx, sig, carried.offsets[j], positions[j], callIndex, value, data);
        }
        if (used.length != 0) used[j] = true;
    }

    /// @dev The call policy leaf at `o` (policy `p`): value per use, the value and call budgets,
    ///      then each constraint with its budget (rules 2, 3).
    function _checkCallPolicy(
        Context memory ctx,
        bytes calldata sig,
        uint256 o,
        uint256 p,
        uint256 callIndex,
        uint256 value,
        bytes calldata data
    ) internal {
        uint256 maxValue = PackedSpecLib.at(sig, o + 24, 32);
        if (value > maxValue) revert ValuePerUseExceeded(callIndex, p, value, maxValue);
        o += 56;
        // The first limited budget of the leaf at position 0 may be hosted in the header slot.
        bool host = p == 0;
        host = !_charge(ctx, sig, o, COUNTER_CALL_VALUE, p, 0, value, host) && host;
        o = PackedSpecLib.skipLimit(sig, o);
        host = !_charge(ctx, sig, o, COUNTER_CALL_COUNT, p, 0, 1, host) && host;
        o = PackedSpecLib.skipLimit(sig, o);
        uint256 count = PackedSpecLib.at(sig, o, 1);
        ++o;
        for (uint256 c; c < count; ++c) {
            uint256 required = 4 + 32 * (PackedSpecLib.at(sig, o + 1, 4) + 1);
            if (data.length < required) {
                revert CalldataTooShortForConstraint(callIndex, p, c, required, data.length);
            }
            bytes32 word = bytes32(data[required - 32:required]);
            uint16 bits = uint16(PackedSpecLib.at(sig, o + 5, 2));
            if (bits < 256 && uint256(word) >> bits != 0) revert WordTooWide(callIndex, p, c, bits, word);
            uint256 limitAt = PackedSpecLib.constraintLimitAt(sig, o);
            uint8 condition = uint8(PackedSpecLib.at(sig, o, 1));
            if (!_conditionHolds(sig, o, limitAt, condition, uint256(word))) {
                revert ConstraintViolated(callIndex, p, c, condition, word);
            }
            host = !_charge(ctx, sig, limitAt, COUNTER_CONSTRAINT_SUM, p, c, uint256(word), host) && host;
            o = PackedSpecLib.skipLimit(sig, limitAt);
        }
    }

    /// @dev The transfer policy leaf at `o`, at leaf `position` (transfer policy
    ///      `position - callCount`).
    function _checkTransfer(
        Context memory ctx,
        bytes calldata sig,
        uint256 o,
        uint256 position,
        uint256 callCount,
        uint256 callIndex,
        uint256 value
    ) internal {
        uint256 p = position - callCount;
        uint256 maxValue = PackedSpecLib.at(sig, o + 20, 32);
        if (value > maxValue) revert ValuePerUseExceeded(callIndex, p, value, maxValue);
        _charge(ctx, sig, o + 52, COUNTER_TRANSFER_VALUE, p, 0, value, position == 0);
    }

    /// @dev Whether `w` meets the constraint at `o` whose limit starts at `limitAt` (a OneOf's
    ///      values lie between its count byte and `limitAt`).
    function _conditionHolds(bytes calldata sig, uint256 o, uint256 limitAt, uint8 condition, uint256 w)
        internal
        pure
        returns (bool)
    {
        if (condition == COND_UNCONSTRAINED) return true;
        if (condition == COND_ONE_OF) {
            for (uint256 v = o + 8; v < limitAt; v += 32) {
                if (PackedSpecLib.at(sig, v, 32) == w) return true;
            }
            return false;
        }
        uint256 ref = PackedSpecLib.at(sig, o + 7, 32);
        if (condition == COND_EQUAL) return w == ref;
        if (condition == COND_GREATER) return w > ref;
        if (condition == COND_LESS) return w < ref;
        if (condition == COND_GREATER_OR_EQUAL) return w >= ref;
        if (condition == COND_LESS_OR_EQUAL) return w <= ref;
        return w != ref; // COND_NOT_EQUAL, the one condition left
    }

    /// @dev Rule 6, the targets banned for every account. Installed modules are checked apart.
    function _isAlwaysBanned(address account, address target) internal view returns (bool) {
        return target == account || target == address(this) || target == ENTRY_POINT_V07
            || target == ENTRY_POINT_V08 || (target == address(REGISTRY) && target != address(0));
    }

    /// @dev Rule 6, installed modules: validators, executors and hooks (ERC-7579 types 1, 2, 4).
    ///      Fallback handlers need a selector to be looked up and are not checked (docs/decisions.md).
    function _isInstalledModule(address account, address target) internal view returns (bool installed) {
        bytes4 selector = IERC7579AccountModules.isModuleInstalled.selector;
        // Assembly: the three calls share one ABI buffer (only the type word changes) instead
        // of three encodings and decodings. As a high-level call would: a revert of the account
        // is bubbled up, a return that is not one ABI bool reverts with empty data. Covered by
        // the rule 6 tests (an installed validator, executor and hook as targets) and every
        // session test.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, selector)
            mstore(add(m, 0x24), target)
            mstore(add(m, 0x44), 0x60) // offset of the empty `additionalContext`
            mstore(add(m, 0x64), 0)
            // types 1 (validator), 2 (executor), 4 (hook): each the double of the one before
            for { let moduleType := MODULE_TYPE_VALIDATOR } and(iszero(installed), iszero(gt(moduleType, MODULE_TYPE_HOOK))) {
                moduleType := shl(1, moduleType)
            } {
                mstore(add(m, 4), moduleType)
                if iszero(staticcall(gas(), account, m, 0x84, 0, 0x20)) {
                    returndatacopy(m, 0, returndatasize())
                    revert(m, returndatasize())
                }
                installed := mload(0)
                if or(lt(returndatasize(), 0x20), gt(installed, 1)) { revert(0, 0) }
            }
        }
    }

    /// @dev Which budget the header slot hosts: the op count when limited, else the fee budget
    ///      when limited (hosted if its limit fits), else the first limited budget of the leaf at
    ///      position 0 (decided where that leaf is charged). docs/storage.md.
    function _hosting(bytes calldata sig, SpecHeader memory h) internal pure returns (uint256) {
        if (PackedSpecLib.at(sig, h.opLimitAt, 1) != LIMIT_UNLIMITED) return HOST_OPS;
        (uint256 feeType, uint256 feeLimit,) = PackedSpecLib.limitAt(sig, h.feeLimitAt);
        if (feeType == LIMIT_UNLIMITED) return HOST_LEAF_ZERO;
        return feeLimit <= MAX_HOSTED ? HOST_FEE : HOST_NONE;
    }

    /// @dev Charges `amount` against the counter of the limit at `limitAt` and narrows the
    ///      validity window to the counter's period (rules 5 and 8). Charges land in storage at
    ///      once (a hosted one in ctx.header), so a batch sees its own spending; `amount > limit -
    ///      used` cannot overflow (rule 4). `host`: this is the leaf at position 0 and none of its
    ///      budgets before this one is limited.
    /// @return limited Whether the budget is limited (so no later budget of the leaf is hosted).
    function _charge(
        Context memory ctx,
        bytes calldata sig,
        uint256 limitAt,
        uint8 kind,
        uint256 policyIndex,
        uint256 constraintIndex,
        uint256 amount,
        bool host
    ) internal returns (bool limited) {
        (uint256 limitType, uint256 limit, uint256 period) = PackedSpecLib.limitAt(sig, limitAt);
        if (limitType == LIMIT_UNLIMITED) return false;
        if (host && ctx.hosting == HOST_LEAF_ZERO && limit <= MAX_HOSTED) {
            _chargeHosted(ctx, limit, period, kind, policyIndex, constraintIndex, amount);
            return true;
        }
        bytes32 key = _counterKey(ctx.sessionHash, kind, policyIndex, constraintIndex);
        uint256 packed = _counters[key][ctx.account];
        (uint256 periodId, uint256 used) =
            _periodAndUsed(ctx, period, kind, policyIndex, constraintIndex, packed >> 208, packed & MAX_LIMIT);
        if (amount > limit - used) {
            revert LimitExceeded(kind, policyIndex, constraintIndex, limit, used, amount);
        }
        _counters[key][ctx.account] = (periodId << 208) | (used + amount);
        return true;
    }

    /// @dev Charges the counter the header slot hosts (in ctx.header, written at the end).
    function _chargeHosted(
        Context memory ctx,
        uint256 limit,
        uint256 period,
        uint8 kind,
        uint256 policyIndex,
        uint256 constraintIndex,
        uint256 amount
    ) internal pure {
        uint256 header = ctx.header;
        (uint256 periodId, uint256 used) =
            _periodAndUsed(ctx, period, kind, policyIndex, constraintIndex, uint48(header >> 72), header >> 120);
        if (amount > limit - used) {
            revert LimitExceeded(kind, policyIndex, constraintIndex, limit, used, amount);
        }
        // used + amount <= limit <= MAX_HOSTED: it fits its 136 bits.
        ctx.header = uint72(header) | (periodId << 72) | ((used + amount) << 120);
    }

    /// @dev The op count, hosted in the header slot whenever it is limited.
    function _chargeOps(Context memory ctx, bytes calldata sig, uint256 limitAt) internal pure {
        (uint256 limitType, uint256 limit, uint256 period) = PackedSpecLib.limitAt(sig, limitAt);
        if (limitType == LIMIT_UNLIMITED) return;
        _chargeHosted(ctx, limit, period, COUNTER_OPS, 0, 0, 1);
    }

    /// @dev For an allowance (a non-zero `period`): the hint's period id, the window narrowed to
    ///      it, and `used` reset when the stored period is older. A stored period newer than the
    ///      hint's is refused. Rule 8 (docs/rules.md).
    function _periodAndUsed(
        Context memory ctx,
        uint256 period,
        uint8 kind,
        uint256 policyIndex,
        uint256 constraintIndex,
        uint256 storedPeriod,
        uint256 used
    ) internal pure returns (uint256 periodId, uint256) {
        if (period == 0) return (0, used);
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
    function _checkFee(
        Context memory ctx,
        bytes calldata sig,
        SpecHeader memory h,
        PackedUserOperation calldata userOp,
        bool signatureValid
    ) internal {
        bytes calldata pmData = userOp.paymasterAndData;
        uint256 paymasterGas;
        if (pmData.length != 0) {
            if (pmData.length < 52) revert MalformedPaymasterAndData(pmData.length);
            address paymaster = address(bytes20(pmData[:20]));
            if (paymaster != address(0)) {
                if (
                    h.paymasterMode == PAYMASTER_NONE
                        || (h.paymasterMode == PAYMASTER_ONE && paymaster != h.paymaster)
                ) revert PaymasterNotAllowed(paymaster);
                return; // sponsored: the account pays nothing
            }
            // 20 zero bytes mean "no paymaster", yet EntryPoint v0.7 charges the account for
            // the paymaster gas fields (rule 11).
            paymasterGas = uint128(bytes16(pmData[20:36])) + uint256(uint128(bytes16(pmData[36:52])));
        }
        (uint256 limitType, uint256 limit, uint256 period) = PackedSpecLib.limitAt(sig, h.feeLimitAt);
        if (limitType == LIMIT_UNLIMITED) return;
        uint256 gasLimits = uint256(userOp.accountGasLimits);
        uint256 maxFeePerGas = uint128(uint256(userOp.gasFees));
        uint256 prefund =
            maxFeePerGas * (userOp.preVerificationGas + (gasLimits >> 128) + uint128(gasLimits) + paymasterGas);
        bool hosted = ctx.hosting == HOST_FEE;
        bytes32 key;
        uint256 storedPeriod;
        uint256 used;
        if (hosted) {
            (storedPeriod, used) = (uint48(ctx.header >> 72), ctx.header >> 120);
        } else {
            key = _counterKey(ctx.sessionHash, COUNTER_FEE, 0, 0);
            uint256 packed = _counters[key][ctx.account];
            (storedPeriod, used) = (packed >> 208, packed & MAX_LIMIT);
        }
        uint256 periodId;
        (periodId, used) = _periodAndUsed(ctx, period, COUNTER_FEE, 0, 0, storedPeriod, used);
        if (prefund > limit - used) {
            if (signatureValid) revert LimitExceeded(COUNTER_FEE, 0, 0, limit, used, prefund);
            return;
        }
        if (hosted) ctx.header = uint72(ctx.header) | (periodId << 72) | ((used + prefund) << 120);
        else _counters[key][ctx.account] = (periodId << 208) | (used + prefund);
    }

    function _counterKey(bytes32 sessionHash, uint8 kind, uint256 policyIndex, uint256 constraintIndex)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(sessionHash, (uint256(kind) << 32) | (policyIndex << 16) | constraintIndex));
    }

    // ---------------------------------------------------------------- enable and revoke

    /// @notice Enables the packed `spec` (docs/compact-signatures.md) for the calling account
    ///         (an owner-signed userOp calls this through the account's execute). Under a registry
    ///         every policy must be Allowed.
    /// @return sessionHash keccak256(0x53 ‖ header ‖ policy root).
    function enableSession(bytes calldata spec) external returns (bytes32 sessionHash) {
        return _enable(msg.sender, spec);
    }

    /// @notice Enables the packed `spec` for `account` with the owner's EIP-712 EnableSession
    ///         approval (the one first-use enable carries), so a wallet that only signs typed data
    ///         can approve on-chain, and registry sessions can be approved at all (rules 18 and
    ///         22). Anyone may submit it; it runs in the execution phase. The approval is public
    ///         once relayed, so a session already active is a no-op, not a revert (as rule 15).
    /// @param account The account, which must be deployed (create it first through the factory).
    /// @param spec The packed spec.
    /// @param chains The signed {chainId, epoch} list: this chain at the current epoch must be in it.
    /// @param ownerSignature The owner's signature of the EIP-712 digest (`enableDigest`).
    /// @return sessionHash The session hash.
    /// @dev Rule 22 (docs/rules.md).
    function enableSessionWithApproval(
        address account,
        bytes calldata spec,
        ChainEpoch[] calldata chains,
        bytes calldata ownerSignature
    ) external returns (bytes32 sessionHash) {
        if (account.code.length == 0) revert AccountNotDeployed(account);
        uint64 epoch = _epochs[account];
        uint64 signedEpoch = _signedEpoch(chains);
        if (signedEpoch != epoch) revert EnableEpochMismatch(signedEpoch, epoch);
        bytes32 hash = _sessionHashOf(spec);
        bytes32 digest = SPEC_CHECKS.enableDigest(address(this), account, spec, SessionHashLib.hashChains(chains));
        if (!_isOwnerSignature(account, digest, ownerSignature)) revert OwnerApprovalInvalid(account);
        uint256 header = _headers[hash][account];
        if (uint8(header) == STATUS_ACTIVE && uint64(header >> 8) == epoch) return hash;
        return _enable(account, spec);
    }

    /// @dev Rules 4, 6, 9, 14, 17, 18, 21 at enable; writes the record and emits the packed spec.
    function _enable(address account, bytes calldata spec) internal returns (bytes32 sessionHash) {
        SpecHeader memory h;
        uint256[] memory offsets;
        (h, offsets, sessionHash) = PackedSpecLib.readSpec(spec);
        SPEC_CHECKS.validateSpec(spec);
        _validateTargets(account, spec, h, offsets);
        if (address(REGISTRY) != address(0)) SPEC_CHECKS.checkRegistry(spec, REGISTRY);
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
    function _validateTargets(address account, bytes calldata spec, SpecHeader memory h, uint256[] memory offsets)
        internal
        view
    {
        for (uint256 i; i < offsets.length; ++i) {
            address target = address(uint160(PackedSpecLib.at(spec, offsets[i], 20)));
            if (_isAlwaysBanned(account, target)) {
                revert PolicyTargetsBanned(i < h.callCount ? i : i - h.callCount, target);
            }
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

    /// @notice The session hash of the packed `spec`: keccak256(0x53 ‖ header ‖ policy root).
    function sessionHashOf(bytes calldata spec) external pure returns (bytes32) {
        return _sessionHashOf(spec);
    }

    function _sessionHashOf(bytes calldata spec) internal pure returns (bytes32 sessionHash) {
        (,, sessionHash) = PackedSpecLib.readSpec(spec);
    }

    /// @notice The EIP-712 digest an owner signs to enable the packed `spec` for `account` on
    ///         `chains`.
    function enableDigest(address account, bytes calldata spec, ChainEpoch[] calldata chains)
        external
        view
        returns (bytes32)
    {
        return SPEC_CHECKS.enableDigest(address(this), account, spec, SessionHashLib.hashChains(chains));
    }

    /// @notice The stored words of a session: its header slot and the counters `counterIds`
    ///         name (`kind << 32 | policyIndex << 16 | constraintIndex`). The layout is in
    ///         docs/storage.md; SessionUsageLens turns it into remaining budgets.
    function counterWords(address account, bytes32 sessionHash, uint256[] calldata counterIds)
        external
        view
        returns (uint256 header, uint256[] memory counters)
    {
        header = _headers[sessionHash][account];
        counters = new uint256[](counterIds.length);
        for (uint256 i; i < counterIds.length; ++i) {
            counters[i] = _counters[keccak256(abi.encode(sessionHash, counterIds[i]))][account];
        }
    }
}
