//! The SDK's one error type.

use crate::backend::BackendError;
use alloy::primitives::{B256, U256};
use sessionkeys_engine::Violation;

/// Why an SDK operation did not complete. Messages never contain keys or passwords.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The node or the bundler failed or refused.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The engine refused the op before anything was sent (the contract would refuse it too).
    #[error("refused before sending: {violation}")]
    Refused {
        /// The validator's reason.
        violation: Violation,
    },
    /// The op would pass the validator but the EntryPoint would refuse its time range
    /// (ERC-4337 AA22): the session is not valid yet or any more at this block time.
    #[error(
        "refused before sending: the session's window for this op is {valid_after}..={valid_until} \
         but the chain's time is {now} (the EntryPoint would refuse with AA22)"
    )]
    OutOfTimeRange {
        /// Window start.
        valid_after: u64,
        /// Window end.
        valid_until: u64,
        /// The latest block's time.
        now: u64,
    },
    /// The session ends too soon after now for a bundler to accept an op under it: bundlers
    /// refuse ops whose `validUntil` is less than a margin ahead of their clock (ERC-7769
    /// `-32503`; 30 s in the ERC-4337 reference bundler).
    #[error(
        "refused before sending: the session ends at {valid_until}, within {margin} s of now \
         ({now}), and bundlers refuse ops that expire that soon (ERC-7769 -32503); grant a new \
         session to go on"
    )]
    ExpiresTooSoon {
        /// The session's end.
        valid_until: u64,
        /// The time the op would be judged at.
        now: u64,
        /// The margin a bundler needs (seconds).
        margin: u64,
    },
    /// The bundler refused the op; `reason` is the decoded revert (the validator's named error,
    /// typed) when the refusal carried revert data.
    #[error("the bundler refused the userOp: {message}{}", reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default())]
    BundlerRefused {
        /// The JSON-RPC error code (ERC-7769).
        code: i64,
        /// The bundler's message.
        message: String,
        /// The decoded revert, if the message or data carried one (boxed: a validator error
        /// carries several words).
        reason: Option<Box<sessionkeys_chain::RevertReason>>,
    },
    /// The op was mined but its execution reverted (its fee was still paid).
    #[error(
        "userOp {user_op_hash} was mined but its execution reverted: {reason} (paid {actual_gas_cost} wei)"
    )]
    ExecutionReverted {
        /// The userOp hash.
        user_op_hash: B256,
        /// The decoded revert of the calls (`Empty` when the receipt carries no data; boxed: a
        /// validator error carries several words).
        reason: Box<sessionkeys_chain::RevertReason>,
        /// What the account or paymaster paid.
        actual_gas_cost: U256,
    },
    /// The bundler did not report a receipt in time.
    #[error(
        "no receipt for userOp {user_op_hash} after {waited_seconds} s; it may still be mined: look it up with eth_getUserOperationReceipt"
    )]
    Timeout {
        /// The userOp hash.
        user_op_hash: B256,
        /// How long we waited.
        waited_seconds: u64,
    },
    /// The session spec itself is malformed or degenerate (the validator would refuse to enable
    /// it).
    #[error("invalid session: {0}")]
    InvalidSpec(Violation),
    /// The session has no packed form (docs/compact-signatures.md): the validator could never
    /// be given it.
    #[error("the session cannot be encoded for the validator: {0}")]
    Unencodable(#[from] sessionkeys_contracts::vocabulary::packed::UnencodableSpec),
    /// Another live or pending session of the account uses this session's nonce lane (rule 19
    /// in docs/rules.md): the two would invalidate each other's ops (AA25).
    #[error(
        "the session's nonce lane {lane} is already used by session {session} of this account: \
         two sessions on one lane invalidate each other's ops (AA25); request the session again \
         (a new salt gives a new lane)"
    )]
    LaneTaken {
        /// The lane: the first 4 bytes of the session hash.
        lane: alloy::primitives::FixedBytes<4>,
        /// The session that holds it.
        session: B256,
    },
    /// The account has no code and no factory to deploy it.
    #[error("{0}")]
    Account(String),
    /// A keystore could not be created or opened.
    #[error(transparent)]
    Keystore(#[from] sessionkeys_keystore::KeystoreError),
    /// The local session store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The contracts are not deployed where expected.
    #[error("{0}")]
    NotDeployed(String),
    /// An answer did not decode.
    #[error("{0}")]
    Decode(String),
    /// A session file cannot be a template (no key made yet).
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// The session ended before now: it could never be used, so it is not granted.
    #[error(
        "the session ended at {valid_until}, before now ({now}): it could never be used (lint \
         SK021); set a later validUntil (`session new --valid-for 1h` starts from now)"
    )]
    SessionExpired {
        /// The session's end.
        valid_until: u64,
        /// The chain's time.
        now: u64,
    },
    /// Lint reports errors in the session and the caller did not accept them.
    #[error(
        "lint reports {count} error(s) in the session (docs/lint.md): fix the session, or grant \
         it anyway knowingly (--force)"
    )]
    LintErrors {
        /// How many errors.
        count: usize,
    },
    /// An owner signature does not have the form `r ‖ s ‖ v` (65 bytes).
    #[error(
        "the owner's signature must be 65 bytes (r, s, v) in hex, as `cast wallet sign --data` \
         or eth_signTypedData_v4 print it: {0}"
    )]
    MalformedSignature(String),
    /// The signature recovers to someone other than the account's owner: signed by another
    /// wallet, or over other typed data than the request's.
    #[error(
        "the signature is by {recovered}, but the owner of account {account} is {expected}: sign \
         the request's typed data with the owner's wallet"
    )]
    WrongSigner {
        /// The account.
        account: alloy::primitives::Address,
        /// Its owner.
        expected: alloy::primitives::Address,
        /// Who signed.
        recovered: alloy::primitives::Address,
    },
    /// A prepared op's signature does not recover to the session's signer: signed by another
    /// key, or over another digest than the one `prepare` returned.
    #[error(
        "the op's signature is by {recovered}, but session {session}'s key is {signer}: sign \
         the digest `prepare` returned, raw ECDSA over its 32 bytes (no EIP-191 prefix), with \
         the session's key"
    )]
    WrongSessionSigner {
        /// The session hash.
        session: alloy::primitives::B256,
        /// The session's signer.
        signer: alloy::primitives::Address,
        /// Who signed.
        recovered: alloy::primitives::Address,
    },
    /// An op submitted for a session that is not one it could send now: another account or
    /// lane, a time hint after the chain's time, or a mode the session does not need.
    #[error("this op is not one session {session} can send: {reason}; prepare it again")]
    ForeignOp {
        /// The session hash.
        session: alloy::primitives::B256,
        /// What does not match.
        reason: String,
    },
    /// A prepared op whose nonce an op of the session has used since.
    #[error(
        "nonce {nonce} of session {session} is used already (another op landed since this one \
         was prepared): prepare it again"
    )]
    NonceUsed {
        /// The session hash.
        session: alloy::primitives::B256,
        /// The op's nonce.
        nonce: alloy::primitives::U256,
    },
    /// The session's key is held by someone else (an app that keeps its own key): the client
    /// can prepare ops and submit them signed, not sign them itself.
    #[error(
        "session {session}'s key ({signer}) is held by the app, not here: prepare the op, sign \
         its digest with that key, and submit it"
    )]
    KeyHeldElsewhere {
        /// The session hash.
        session: alloy::primitives::B256,
        /// The session's signer.
        signer: alloy::primitives::Address,
    },
    /// The account's revocation epoch moved since the typed data was made (a `revoke --all`):
    /// an approval of the old epoch is dead.
    #[error(
        "the typed data lists epoch {signed} of chain {chain_id}, but the account is at epoch \
         {current} now (a revoke --all came between): request the session again"
    )]
    ApprovalStale {
        /// The chain.
        chain_id: u64,
        /// The epoch the typed data lists.
        signed: u64,
        /// The account's epoch now.
        current: u64,
    },
    /// The stored session is not waiting for an approval.
    #[error("session {hash} is {status}, not requested: only a requested session is approved")]
    NotRequested {
        /// The session.
        hash: B256,
        /// Where it stands.
        status: crate::store::StoredStatus,
    },
}
