// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Session types shared by the contracts and the Rust crates (read through alloy `sol!`).
/// @notice Enums are carried as `uint8` with the numbers below, so the ABI, the EIP-712 type
///         strings and the Rust types agree without relying on how each tool names an enum.
///         docs/decisions.md is the reference for every number and layout here.

/// @dev UsageLimit.limitType
uint8 constant LIMIT_UNLIMITED = 0;
uint8 constant LIMIT_LIFETIME = 1;
uint8 constant LIMIT_ALLOWANCE = 2;

/// @dev Constraint.condition
uint8 constant COND_UNCONSTRAINED = 0;
uint8 constant COND_EQUAL = 1;
uint8 constant COND_GREATER = 2;
uint8 constant COND_LESS = 3;
uint8 constant COND_GREATER_OR_EQUAL = 4;
uint8 constant COND_LESS_OR_EQUAL = 5;
uint8 constant COND_NOT_EQUAL = 6;
uint8 constant COND_ONE_OF = 7;

/// @dev SessionSpec.paymasterMode: which paymasters may sponsor the session's ops.
///      Self-paid ops are always possible and bounded by feeLimit; with Any or One the feeLimit
///      must be finite (rule 21, FeeLimitRequired), with None an unlimited one is allowed (lint
///      SK011 is then an error).
uint8 constant PAYMASTER_NONE = 0;
uint8 constant PAYMASTER_ANY = 1;
uint8 constant PAYMASTER_ONE = 2;

/// @dev The first byte of `userOp.signature` (docs/compact-signatures.md).
uint8 constant MODE_USE = 0;
uint8 constant MODE_ENABLE = 1;

/// @dev Session status as stored.
uint8 constant STATUS_NONE = 0;
uint8 constant STATUS_ACTIVE = 1;
uint8 constant STATUS_REVOKED = 2;

/// @dev Counter kinds, as named in LimitExceeded and sessionUsage.
uint8 constant COUNTER_OPS = 0;
uint8 constant COUNTER_FEE = 1;
uint8 constant COUNTER_CALL_VALUE = 2;
uint8 constant COUNTER_CALL_COUNT = 3;
uint8 constant COUNTER_CONSTRAINT_SUM = 4;
uint8 constant COUNTER_TRANSFER_VALUE = 5;

/// @dev A packed usage limit's length by its type, one byte each from the high end: 1
///      (unlimited), 33 (lifetime), 39 (allowance), 0 for an unknown type: `byte(limitType, ·)`
///      in assembly (docs/compact-signatures.md).
uint256 constant LIMIT_LENGTHS = 0x0121270000000000000000000000000000000000000000000000000000000000;

/// @dev Hardening rule 9: the shortest period of an allowance.
uint48 constant MIN_PERIOD = 60;
/// @dev The most values a OneOf constraint may list.
uint256 constant MAX_ONE_OF = 16;
/// @dev Counters are stored in 208 bits beside a 48-bit period id.
uint256 constant MAX_LIMIT = type(uint208).max;

/// @notice A budget: unlimited, a lifetime total, or an allowance that resets every `period`
///         seconds in fixed windows floor(t / period).
struct UsageLimit {
    uint8 limitType;
    uint256 limit;
    uint48 period;
}

/// @notice A condition on the 32-byte ABI word `index` after the selector, and an optional
///         budget on the running sum of that word.
struct Constraint {
    uint8 condition;
    uint32 index;
    uint16 bits;
    bytes32 refValue;
    bytes32[] oneOf;
    UsageLimit limit;
}

/// @notice Allows calls of `selector` on `target`.
struct CallPolicy {
    address target;
    bytes4 selector;
    uint256 maxValuePerUse;
    UsageLimit valueLimit;
    UsageLimit callLimit;
    Constraint[] constraints;
}

/// @notice Allows plain value transfers (empty calldata) to `target`.
struct TransferPolicy {
    address target;
    uint256 maxValuePerUse;
    UsageLimit valueLimit;
}

/// @notice The whole session, as the owner's EIP-712 approval shows it. On-chain it travels
///         packed (docs/compact-signatures.md); its identity is
///         sessionHash = keccak256(0x53 ‖ packed header ‖ root of the policy tree).
struct SessionSpec {
    address signer;
    uint48 validAfter;
    uint48 validUntil;
    UsageLimit feeLimit;
    uint8 paymasterMode;
    address paymaster;
    UsageLimit opLimit;
    CallPolicy[] callPolicies;
    TransferPolicy[] transferPolicies;
    bytes32 salt;
}

/// @notice One chain of an owner's enable approval, with the account's revocation epoch there.
struct ChainEpoch {
    uint64 chainId;
    uint64 epoch;
}

/// @notice One row of sessionUsage: a budget, what is used of it in the hint's period, and
///         when it resets (0 for budgets that never reset).
struct CounterUsage {
    uint8 kind;
    uint16 policyIndex;
    uint16 constraintIndex;
    uint8 limitType;
    uint256 limit;
    uint256 used;
    uint256 remaining;
    uint48 period;
    uint48 resetsAt;
}

/// @notice The owner's approval of a session, signed as EIP-712 typed data (primary type
///         EnableSession, domain {name, version, verifyingContract = validator}, no chainId:
///         the chains are listed inside, hardening rule 13).
struct EnableSession {
    address account;
    SessionSpec session;
    ChainEpoch[] chains;
}

/// @notice The owner's consent to revoke sessions of `account`, relayable by anyone
///         (EIP-712, the EnableSession domain). Valid only at the listed epoch of this chain.
struct RevokeSessions {
    address account;
    bytes32[] sessionHashes;
    ChainEpoch[] chains;
}

/// @notice The owner's consent to revoke every session of `account` (bump its epoch), relayable
///         by anyone (EIP-712, the EnableSession domain). Valid only at the listed epoch.
struct RevokeAllSessions {
    address account;
    ChainEpoch[] chains;
}

/// @notice callData does not start with the execute selector (rule 1).
error ExecuteSelectorRequired(bytes4 selector);
/// @notice The mode is not exactly single or batch with default exec type (rule 1): this refuses
///         delegatecall, staticcall, try mode, mode selectors and payloads.
error UnsupportedExecutionMode(bytes32 mode);
/// @notice The execute encoding differs from the canonical ABI encoding at byte `position` (of
///         callData for the outer layer, of the execution data inside a batch).
error NonCanonicalExecution(uint256 position);
/// @notice A batch must hold at least one call.
error EmptyBatch();

/// @title The external face of SessionKeyValidator that the Rust crates bind to.
interface ISessionKeyValidator {
    /// @notice validateUserOp was not called by the userOp's sender (rule 7).
    error SenderMismatch(address caller, address sender);
    /// @notice The bytes at `offset` of `userOp.signature` (or of the packed spec given to an
    ///         enable path or a view) are not the one valid packed form: a field cut short, a
    ///         limit type, condition or paymaster mode outside the vocabulary, a leaf position out
    ///         of order or range, a proof hash missing or left over, or a byte after the end.
    error MalformedEncoding(uint256 offset);
    /// @notice The first byte of userOp.signature is neither use (0) nor enable (1).
    error UnknownSignatureMode(uint8 mode);
    /// @notice Rule 17: the signer is the zero address.
    error InvalidSigner();
    /// @notice Rule 17: validUntil is 0 or not after validAfter.
    error InvalidWindow(uint48 validAfter, uint48 validUntil);
    /// @notice A UsageLimit has an unknown type, a limit above 2^208-1 (2^64-1 for the op
    ///         count), or an allowance period below 60 s (rules 9, 17).
    error InvalidUsageLimit(uint8 kind, uint256 policyIndex, uint256 constraintIndex);
    /// @notice Paymaster mode One names no paymaster (address 0).
    error InvalidPaymasterPolicy(uint8 mode, address paymaster);
    /// @notice Rule 21: a session that names a paymaster (mode Any or One) must limit the fees
    ///         the account pays itself (feeLimit Lifetime or Allowance; zero is allowed): the
    ///         session key holder can always send self-paid ops, at any gas price.
    error FeeLimitRequired(uint8 paymasterMode);
    /// @notice Rule 4: call policies are not strictly sorted by (target, selector) at `index`.
    error CallPoliciesNotSorted(uint256 index);
    /// @notice Rule 4: transfer policies are not strictly sorted by target at `index`.
    error TransferPoliciesNotSorted(uint256 index);
    /// @notice A constraint has an unknown condition, a OneOf list that is empty or longer than
    ///         16, a list on a non-OneOf condition, or a width of 0 or above 256 bits.
    error InvalidConstraint(uint256 policyIndex, uint256 constraintIndex);
    /// @notice The nonce key's lane is not the first 4 bytes of the session hash (rules 1, 19).
    error WrongNonceLane(bytes4 expected, bytes4 actual);
    /// @notice The session was never enabled on this account.
    error SessionNotEnabled(bytes32 sessionHash);
    /// @notice The session was revoked; it never comes back.
    error SessionRevoked(bytes32 sessionHash);
    /// @notice revokeAll or an uninstall bumped the account's epoch after the session was enabled.
    error SessionEpochStale(bytes32 sessionHash, uint64 sessionEpoch, uint64 accountEpoch);
    /// @notice Rule 14: a record for this hash exists; re-granting needs a new salt.
    error SessionAlreadyExists(bytes32 sessionHash, uint8 status);
    /// @notice Rule 13: the owner's approval does not list this chain.
    error ChainNotApproved(uint256 chainId);
    /// @notice Rule 14: the approval was signed for another revocation epoch.
    error EnableEpochMismatch(uint64 signedEpoch, uint64 accountEpoch);
    /// @notice A relayed revoke names an epoch other than the account's current one on this
    ///         chain (a revokeAll since, or an approval made for another epoch).
    error RevokeEpochMismatch(uint64 signedEpoch, uint64 accountEpoch);
    /// @notice A relayed enable or revoke names an account with no code (create it first, e.g.
    ///         through the factory's open createAccount).
    error AccountNotDeployed(address account);
    /// @notice A relayed enable or revoke carries no valid signature of the account's owner.
    error OwnerApprovalInvalid(address account);
    /// @notice Rule 18: under a registry, sessions are enabled on-chain only.
    error RegistryRequiresOnchainEnable();
    /// @notice Rule 8: the time hint lies outside the session window.
    error TimeHintOutsideSession(uint48 timeHint, uint48 validAfter, uint48 validUntil);
    /// @notice Rule 8: the hint's period is before the period this counter last charged.
    error TimeHintBeforeStoredPeriod(uint8 kind, uint256 policyIndex, uint256 constraintIndex, uint256 storedPeriod, uint256 hintPeriod);
    /// @notice Rule 6: calls to the account, this validator, an EntryPoint, the registry or an
    ///         installed module are refused (checked at every use).
    error BannedTarget(uint256 callIndex, address target);
    /// @notice A policy at enable names a target that is always banned (rule 6).
    error PolicyTargetsBanned(uint256 policyIndex, address target);
    /// @notice Use mode: the carried policy at leaf position `leafIndex` matches no call of the
    ///         op (an op carries exactly the policies its calls use).
    error PolicyNotUsed(uint256 leafIndex);
    /// @notice No call policy the op carries matches the call's exact target and selector.
    error NoCallPolicy(uint256 callIndex, address target, bytes4 selector);
    /// @notice No transfer policy the op carries matches the target of a plain value transfer.
    error NoTransferPolicy(uint256 callIndex, address target);
    /// @notice Rule 2: 1 to 3 bytes of calldata hold no selector.
    error CalldataTooShortForSelector(uint256 callIndex, uint256 length);
    /// @notice The call sends more value than the policy allows per use.
    error ValuePerUseExceeded(uint256 callIndex, uint256 policyIndex, uint256 value, uint256 maxValuePerUse);
    /// @notice Rule 2: a constrained word `i` needs calldata of at least 4 + 32·(i+1) bytes.
    error CalldataTooShortForConstraint(uint256 callIndex, uint256 policyIndex, uint256 constraintIndex, uint256 required, uint256 length);
    /// @notice Rule 3: the word has bits set above the constraint's stated width.
    error WordTooWide(uint256 callIndex, uint256 policyIndex, uint256 constraintIndex, uint16 bits, bytes32 word);
    /// @notice The word fails the constraint's condition.
    error ConstraintViolated(uint256 callIndex, uint256 policyIndex, uint256 constraintIndex, uint8 condition, bytes32 word);
    /// @notice A budget would be exceeded: `used` of `limit` is spent and `requested` more was asked.
    error LimitExceeded(uint8 kind, uint256 policyIndex, uint256 constraintIndex, uint256 limit, uint256 used, uint256 requested);
    /// @notice The session's paymaster policy does not allow this paymaster.
    error PaymasterNotAllowed(address paymaster);
    /// @notice paymasterAndData is shorter than address + two gas limits (52 bytes).
    error MalformedPaymasterAndData(uint256 length);
    /// @notice Registry mode: a call policy is not Allowed in the registry.
    error RegistryCallNotAllowed(uint256 policyIndex, address target, bytes4 selector, uint8 status);
    /// @notice Registry mode: a transfer policy's target is not Allowed in the registry.
    error RegistryTransferNotAllowed(uint256 policyIndex, address target, uint8 status);
    /// @notice Registry mode: an approval policy's spender is not Allowed for that token.
    error RegistryApprovalNotAllowed(uint256 policyIndex, address token, address spender, uint8 status);
    /// @notice Registry mode: an approval policy does not pin its spender (Equal or OneOf on word 0).
    error RegistryApprovalUnconstrained(uint256 policyIndex);

    /// @notice A session was enabled for `account`; `spec` is the full session, packed
    ///         (docs/compact-signatures.md).
    event SessionEnabled(address indexed account, bytes32 indexed sessionHash, bytes spec);
    /// @notice A session was revoked for `account`.
    event SessionRevokedEvent(address indexed account, bytes32 indexed sessionHash);
    /// @notice Every session of `account` enabled before `epoch` is revoked.
    event EpochBumped(address indexed account, uint64 epoch);

    /// @notice Enables the packed `spec` for the calling account.
    function enableSession(bytes calldata spec) external returns (bytes32 sessionHash);
    /// @notice Enables `spec` for `account` with the owner's EnableSession approval; anyone may
    ///         submit it. A session already active is a no-op (a front-run is not an error).
    function enableSessionWithApproval(
        address account,
        bytes calldata spec,
        ChainEpoch[] calldata chains,
        bytes calldata ownerSignature
    ) external returns (bytes32 sessionHash);
    /// @notice Revokes sessions of `account` with the owner's RevokeSessions approval; anyone may
    ///         submit it.
    function revokeSessionsWithApproval(
        address account,
        bytes32[] calldata sessionHashes,
        ChainEpoch[] calldata chains,
        bytes calldata ownerSignature
    ) external;
    /// @notice Revokes every session of `account` with the owner's RevokeAllSessions approval;
    ///         anyone may submit it.
    function revokeAllWithApproval(address account, ChainEpoch[] calldata chains, bytes calldata ownerSignature)
        external;
    /// @notice Revokes one session of the calling account, for good.
    function revokeSession(bytes32 sessionHash) external;
    /// @notice Revokes several sessions of the calling account.
    function revokeSessions(bytes32[] calldata sessionHashes) external;
    /// @notice Revokes every session of the calling account by bumping its epoch.
    function revokeAll() external;
    /// @notice Stored status (0 none, 1 active, 2 revoked), epochs, and whether it is usable.
    function sessionStatus(address account, bytes32 sessionHash)
        external
        view
        returns (uint8 status, uint64 sessionEpoch, uint64 accountEpoch, bool usable);
    /// @notice The account's current revocation epoch.
    function epochOf(address account) external view returns (uint64);
    /// @notice The contracts this validator was deployed with: the EntryPoints it bans as
    ///         targets (rule 6), its PolicyRegistry (address(0) without one) and its
    ///         SessionSpecChecks.
    function settings()
        external
        view
        returns (address entryPointV07, address entryPointV08, address registry, address specChecks);
    /// @notice The session hash of the packed `spec`.
    function sessionHashOf(bytes calldata spec) external pure returns (bytes32);
    /// @notice The EIP-712 digest an owner signs to enable the packed `spec` for `account` on `chains`.
    function enableDigest(address account, bytes calldata spec, ChainEpoch[] calldata chains)
        external
        view
        returns (bytes32);
    /// @notice The session's header slot and the counters `counterIds` name (`kind << 32 |
    ///         policyIndex << 16 | constraintIndex`), as stored (docs/storage.md).
    function counterWords(address account, bytes32 sessionHash, uint256[] calldata counterIds)
        external
        view
        returns (uint256 header, uint256[] memory counters);
}

/// @notice The remaining budgets of a session on any SessionKeyValidator (SessionUsageLens).
interface ISessionUsageLens {
    /// @notice Every limited budget of the packed `spec` with what is used and what remains in
    ///         the period containing `timeHint`.
    function sessionUsage(address validator, address account, bytes calldata spec, uint48 timeHint)
        external
        view
        returns (CounterUsage[] memory rows);
}
