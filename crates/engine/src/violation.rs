//! Why an op is refused: exactly the contract's error, and a sentence a person can read.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolError, SolInterface};
use sessionkeys_contracts::abi::SessionAccount;
use sessionkeys_contracts::session::{self, ISessionKeyValidator::ISessionKeyValidatorErrors as E};
use sessionkeys_contracts::vocabulary::{Condition, CounterKind, PaymasterMode};

/// A refusal, identical to what the contract reverts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// One of the validator's named errors (boxed: some carry several words).
    Validator(Box<E>),
    /// callData is not `execute` (rule 1).
    ExecuteSelectorRequired([u8; 4]),
    /// The mode is not single or batch with default exec type (rule 1).
    UnsupportedExecutionMode(B256),
    /// The `execute` encoding is not canonical at this byte (rule 1).
    NonCanonicalExecution(usize),
    /// A batch with no calls.
    EmptyBatch,
    /// The validator reverted with no data: Solidity's calldata access refused a member of
    /// `userOp.signature` (dirty bits above a value's width, or an offset or length pointing
    /// outside the calldata). The EntryPoint reports `AA23 reverted` with empty data.
    EmptyRevert,
    /// The account has no validator at the address the nonce key names (its top 160 bits):
    /// `SessionAccount.ValidatorNotInstalled`, before any validator runs.
    ValidatorNotInstalled(Address),
    /// The nonce key names another installed validator: its verdict is not this engine's to give
    /// (the context describes one validator). Never a contract verdict.
    OtherValidator(Address),
    /// The EntryPoint refuses before the account validates, with this `FailedOp` reason
    /// (e.g. `AA10 sender already constructed` for an `initCode` on a deployed sender).
    EntryPoint(String),
}

impl Violation {
    /// Wraps a validator error.
    pub fn validator(error: E) -> Self {
        Violation::Validator(Box::new(error))
    }

    /// The validator error, if this is one.
    pub fn as_validator(&self) -> Option<&E> {
        match self {
            Violation::Validator(e) => Some(e),
            _ => None,
        }
    }

    /// The revert data the contract produces for this refusal.
    pub fn revert_data(&self) -> Bytes {
        match self {
            Violation::Validator(e) => e.abi_encode().into(),
            Violation::ExecuteSelectorRequired(s) => session::ExecuteSelectorRequired {
                selector: (*s).into(),
            }
            .abi_encode()
            .into(),
            Violation::UnsupportedExecutionMode(mode) => {
                session::UnsupportedExecutionMode { mode: *mode }
                    .abi_encode()
                    .into()
            }
            Violation::NonCanonicalExecution(at) => session::NonCanonicalExecution {
                position: U256::from(*at),
            }
            .abi_encode()
            .into(),
            Violation::EmptyBatch => session::EmptyBatch {}.abi_encode().into(),
            Violation::EmptyRevert | Violation::EntryPoint(_) | Violation::OtherValidator(_) => {
                Bytes::new()
            }
            Violation::ValidatorNotInstalled(validator) => SessionAccount::ValidatorNotInstalled {
                validator: *validator,
            }
            .abi_encode()
            .into(),
        }
    }

    /// The error's Solidity name, e.g. `LimitExceeded`: read from alloy's generated selector
    /// tables and signatures, never typed by hand. The three refusals that are not contract
    /// errors go by their variant's name.
    pub fn name(&self) -> &'static str {
        match self {
            Violation::Validator(e) => validator_error_name(e),
            Violation::ExecuteSelectorRequired(_) => sol_name::<session::ExecuteSelectorRequired>(),
            Violation::UnsupportedExecutionMode(_) => {
                sol_name::<session::UnsupportedExecutionMode>()
            }
            Violation::NonCanonicalExecution(_) => sol_name::<session::NonCanonicalExecution>(),
            Violation::EmptyBatch => sol_name::<session::EmptyBatch>(),
            Violation::ValidatorNotInstalled(_) => {
                sol_name::<SessionAccount::ValidatorNotInstalled>()
            }
            Violation::EmptyRevert => "EmptyRevert",
            Violation::EntryPoint(_) => "EntryPoint",
            Violation::OtherValidator(_) => "OtherValidator",
        }
    }
}

/// The name part of a Solidity error's signature, `Name(types)`.
fn sol_name<T: SolError>() -> &'static str {
    let signature: &'static str = T::SIGNATURE;
    signature
        .split_once('(')
        .map_or(signature, |(name, _)| name)
}

/// A validator error's name, from the generated table of its selectors.
pub fn validator_error_name(e: &E) -> &'static str {
    E::name_by_selector(e.selector()).unwrap_or("UnknownValidatorError")
}

fn counter_name(kind: u8) -> &'static str {
    CounterKind::try_from(kind).map_or("budget", CounterKind::text)
}

/// A word as a person reads it: an address, a number, or hex.
fn word_text(word: &B256) -> String {
    let value = U256::from_be_bytes(word.0);
    if word[..12].iter().all(|b| *b == 0) && word[12..16].iter().any(|b| *b != 0) {
        return crate::explain::short(alloy::primitives::Address::from_word(*word));
    }
    if value < U256::from(1u128 << 100) {
        value.to_string()
    } else {
        word.to_string()
    }
}

fn budget_owner(kind: u8, policy: &U256, constraint: &U256) -> String {
    match CounterKind::try_from(kind) {
        Ok(CounterKind::Ops | CounterKind::Fee) => {
            format!("the session's {}", counter_name(kind))
        }
        Ok(CounterKind::ConstraintSum) => format!(
            "the {} of policy {policy} (constraint {constraint})",
            counter_name(kind)
        ),
        _ => format!("the {} of policy {policy}", counter_name(kind)),
    }
}

fn condition_name(condition: u8) -> &'static str {
    Condition::try_from(condition).map_or("an unknown condition", Condition::text)
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::ExecuteSelectorRequired(s) => write!(
                f,
                "the op must call the account's execute(bytes32,bytes), not selector 0x{}",
                alloy::primitives::hex::encode(s)
            ),
            Violation::UnsupportedExecutionMode(mode) => write!(
                f,
                "execution mode {mode} is refused: only a single call or a batch with the default exec type (no delegatecall, no try mode)"
            ),
            Violation::NonCanonicalExecution(at) => {
                write!(
                    f,
                    "the execute encoding is not canonical at byte {at}; encode it with abi.encodeCall"
                )
            }
            Violation::EmptyBatch => f.write_str("a batch must hold at least one call"),
            Violation::EmptyRevert => f.write_str(
                "the validator reverts without data reading userOp.signature (a value with bits above its width, or an offset or length outside the calldata); encode the signature with abi.encode(SessionSignature)",
            ),
            Violation::ValidatorNotInstalled(validator) => write!(
                f,
                "the nonce key names validator {validator}, which the account has not installed; build the nonce key from the session validator's address and the session lane"
            ),
            Violation::OtherValidator(validator) => write!(
                f,
                "the nonce key routes the op to validator {validator}, not the session validator this check describes; evaluate it against that validator"
            ),
            Violation::EntryPoint(reason) => write!(
                f,
                "the EntryPoint refuses the op before validation: {reason}"
            ),
            Violation::Validator(e) => match e.as_ref() {
                E::SenderMismatch(x) => write!(
                    f,
                    "validation was called by {} for the op of {}",
                    x.caller, x.sender
                ),
                E::MalformedEncoding(x) => write!(
                    f,
                    "byte {} of the signature (or of the packed spec) is not the one valid packed form: a field is cut short, a type byte is unknown, a leaf position is out of order, a proof hash is missing or left over, or bytes follow the end (docs/compact-signatures.md)",
                    x.offset
                ),
                E::PolicyNotUsed(x) => write!(
                    f,
                    "the signature carries the policy at leaf {} but no call of the op uses it: carry exactly the policies the calls use",
                    x.leafIndex
                ),
                E::UnknownSignatureMode(x) => write!(
                    f,
                    "signature mode {} is neither use (0) nor enable (1)",
                    x.mode
                ),
                E::InvalidSigner(_) => f.write_str("the session signer is the zero address"),
                E::InvalidWindow(x) => write!(
                    f,
                    "the session window is empty: validAfter {} must be before validUntil {} (and validUntil non-zero)",
                    x.validAfter, x.validUntil
                ),
                E::InvalidUsageLimit(x) => write!(
                    f,
                    "the {} limit of policy {} (constraint {}) is malformed: unknown type, a limit too large, or a period under 60 s",
                    counter_name(x.kind),
                    x.policyIndex,
                    x.constraintIndex
                ),
                E::InvalidPaymasterPolicy(x) => write!(
                    f,
                    "paymaster mode {} with paymaster {} is invalid: mode 2 names exactly one paymaster, modes 0 and 1 none",
                    x.mode, x.paymaster
                ),
                E::FeeLimitRequired(x) => write!(
                    f,
                    "the session lets {} sponsor its ops but leaves the fees the account pays unlimited: the session key can still send self-paid ops at any gas price and collect the fees as its own bundler; set a finite feeLimit, 0 for sponsored ops only (rule 21)",
                    if PaymasterMode::try_from(x.paymasterMode) == Ok(PaymasterMode::One) {
                        PaymasterMode::One.text()
                    } else {
                        PaymasterMode::Any.text()
                    }
                ),
                E::CallPoliciesNotSorted(x) => write!(
                    f,
                    "call policy {} is out of order or a duplicate: sort by (target, selector), each pair once",
                    x.index
                ),
                E::TransferPoliciesNotSorted(x) => {
                    write!(
                        f,
                        "transfer policy {} is out of order or a duplicate: sort by target, each once",
                        x.index
                    )
                }
                E::InvalidConstraint(x) => write!(
                    f,
                    "constraint {} of call policy {} is malformed (condition, OneOf list of 1 to 16 values, or width 1..256)",
                    x.constraintIndex, x.policyIndex
                ),
                E::WrongNonceLane(x) => write!(
                    f,
                    "the nonce lane {} is not this session's lane {} (the first 4 bytes of its hash)",
                    x.actual, x.expected
                ),
                E::SessionNotEnabled(x) => write!(
                    f,
                    "session {} is not enabled on this account",
                    x.sessionHash
                ),
                E::SessionRevoked(x) => write!(f, "session {} was revoked", x.sessionHash),
                E::SessionEpochStale(x) => write!(
                    f,
                    "session {} was enabled in epoch {} but the account revoked all sessions (now epoch {})",
                    x.sessionHash, x.sessionEpoch, x.accountEpoch
                ),
                E::SessionAlreadyExists(x) => write!(
                    f,
                    "session {} already has a record (status {}); grant it again with a new salt",
                    x.sessionHash, x.status
                ),
                E::ChainNotApproved(x) => {
                    write!(f, "the owner's approval does not list chain {}", x.chainId)
                }
                E::EnableEpochMismatch(x) => write!(
                    f,
                    "the owner approved epoch {} but the account is at epoch {}",
                    x.signedEpoch, x.accountEpoch
                ),
                E::RevokeEpochMismatch(x) => write!(
                    f,
                    "the owner signed this revocation for epoch {} but the account is at epoch {}: every session was already revoked since; sign a new one if needed",
                    x.signedEpoch, x.accountEpoch
                ),
                E::AccountNotDeployed(x) => write!(
                    f,
                    "account {} has no code yet: create it first (the factory's createAccount is open to anyone)",
                    x.account
                ),
                E::OwnerApprovalInvalid(x) => write!(
                    f,
                    "the approval is not signed by the owner of account {} (or was signed for another account, validator or message)",
                    x.account
                ),
                E::RegistryRequiresOnchainEnable(_) => f.write_str(
                    "under a policy registry, sessions are enabled on-chain only, not in first use",
                ),
                E::TimeHintOutsideSession(x) => write!(
                    f,
                    "the time {} is outside the session, valid from {} to {}",
                    crate::explain::human_time(x.timeHint.to()),
                    crate::explain::human_time(x.validAfter.to()),
                    crate::explain::human_time(x.validUntil.to())
                ),
                E::TimeHintBeforeStoredPeriod(x) => write!(
                    f,
                    "time hint is in period {} but the {} of policy {} was already charged in period {}",
                    x.hintPeriod,
                    counter_name(x.kind),
                    x.policyIndex,
                    x.storedPeriod
                ),
                E::BannedTarget(x) => write!(
                    f,
                    "call {} targets {}, which sessions may never call (the account, the validator, an EntryPoint, the registry or an installed module)",
                    x.callIndex, x.target
                ),
                E::PolicyTargetsBanned(x) => {
                    write!(
                        f,
                        "policy {} names {}, a target sessions may never call",
                        x.policyIndex, x.target
                    )
                }
                E::NoCallPolicy(x) => write!(
                    f,
                    "call {}: no policy allows selector {} on {}",
                    x.callIndex, x.selector, x.target
                ),
                E::NoTransferPolicy(x) => {
                    write!(
                        f,
                        "call {}: no policy allows sending value to {}",
                        x.callIndex, x.target
                    )
                }
                E::CalldataTooShortForSelector(x) => write!(
                    f,
                    "call {} has {} bytes of calldata: 1 to 3 bytes hold no selector",
                    x.callIndex, x.length
                ),
                E::ValuePerUseExceeded(x) => write!(
                    f,
                    "call {} sends {} wei but policy {} allows at most {} per call",
                    x.callIndex, x.value, x.policyIndex, x.maxValuePerUse
                ),
                E::CalldataTooShortForConstraint(x) => write!(
                    f,
                    "call {} has {} bytes of calldata but constraint {} of policy {} needs {}",
                    x.callIndex, x.length, x.constraintIndex, x.policyIndex, x.required
                ),
                E::WordTooWide(x) => write!(
                    f,
                    "call {}: the value {} does not fit in {} bits (constraint {} of policy {})",
                    x.callIndex, x.word, x.bits, x.constraintIndex, x.policyIndex
                ),
                E::ConstraintViolated(x) => {
                    let relation = match Condition::try_from(x.condition) {
                        Ok(Condition::OneOf) => "not one of the values".to_string(),
                        _ => format!("not {} the value", condition_name(x.condition)),
                    };
                    write!(
                        f,
                        "call {}: {} is {relation} that constraint {} of policy {} allows",
                        x.callIndex,
                        word_text(&x.word),
                        x.constraintIndex,
                        x.policyIndex
                    )
                }
                E::LimitExceeded(x) => write!(
                    f,
                    "{} would be exceeded: {} of {} used, {} more asked",
                    budget_owner(x.kind, &x.policyIndex, &x.constraintIndex),
                    x.used,
                    x.limit,
                    x.requested
                ),
                E::PaymasterNotAllowed(x) => {
                    write!(f, "the session does not allow paymaster {}", x.paymaster)
                }
                E::MalformedPaymasterAndData(x) => write!(
                    f,
                    "paymasterAndData has {} bytes; it needs at least 52 (address and two gas limits)",
                    x.length
                ),
                E::RegistryCallNotAllowed(x) => write!(
                    f,
                    "policy {} ({} on {}) is not allowed by the registry (status {})",
                    x.policyIndex, x.selector, x.target, x.status
                ),
                E::RegistryTransferNotAllowed(x) => write!(
                    f,
                    "transfer policy {} to {} is not allowed by the registry (status {})",
                    x.policyIndex, x.target, x.status
                ),
                E::RegistryApprovalNotAllowed(x) => write!(
                    f,
                    "policy {} approves {} on {}, which the registry does not allow (status {})",
                    x.policyIndex, x.spender, x.token, x.status
                ),
                E::RegistryApprovalUnconstrained(x) => write!(
                    f,
                    "approval policy {} must pin its spender with an Equal or OneOf constraint on argument 0",
                    x.policyIndex
                ),
            },
        }
    }
}

impl std::error::Error for Violation {}

/// Decodes contract revert data into a violation, if it is one.
pub fn violation_from_revert(data: &[u8]) -> Option<Violation> {
    if let Ok(e) = SessionAccount::ValidatorNotInstalled::abi_decode(data) {
        return Some(Violation::ValidatorNotInstalled(e.validator));
    }
    if let Ok(e) = E::abi_decode(data) {
        return Some(Violation::validator(e));
    }
    if let Ok(e) = session::ExecuteSelectorRequired::abi_decode(data) {
        return Some(Violation::ExecuteSelectorRequired(e.selector.0));
    }
    if let Ok(e) = session::UnsupportedExecutionMode::abi_decode(data) {
        return Some(Violation::UnsupportedExecutionMode(e.mode));
    }
    if let Ok(e) = session::NonCanonicalExecution::abi_decode(data) {
        return Some(Violation::NonCanonicalExecution(e.position.saturating_to()));
    }
    session::EmptyBatch::abi_decode(data)
        .ok()
        .map(|_| Violation::EmptyBatch)
}
