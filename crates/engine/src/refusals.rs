//! The validator's refusals as associated functions of [`Violation`], one per contract error and
//! named after it (`Violation::limit_exceeded` builds `LimitExceeded`), so the engine's code reads
//! like the Solidity it mirrors.

use crate::Violation;
use crate::context::CounterKey;
use alloy::primitives::{Address, B256, U256, aliases::U48};
use sessionkeys_contracts::session::ISessionKeyValidator::{
    self as I, ISessionKeyValidatorErrors as E,
};
use sessionkeys_contracts::vocabulary::packed::SignatureError;
use sessionkeys_contracts::vocabulary::{CounterKind, PaymasterMode, session_lane};

fn u(n: usize) -> U256 {
    U256::from(n)
}

#[allow(non_snake_case)]
impl Violation {
    /// `SenderMismatch`.
    pub fn sender_mismatch(caller: Address, sender: Address) -> Self {
        Self::validator(E::SenderMismatch(I::SenderMismatch { caller, sender }))
    }
    /// `MalformedEncoding`.
    pub fn malformed_encoding(offset: usize) -> Self {
        Self::validator(E::MalformedEncoding(I::MalformedEncoding {
            offset: u(offset),
        }))
    }
    /// `PolicyNotUsed`.
    pub fn policy_not_used(leaf: usize) -> Self {
        Self::validator(E::PolicyNotUsed(I::PolicyNotUsed { leafIndex: u(leaf) }))
    }
    /// The validator's refusal of a signature its reader cannot read.
    pub fn from_signature_error(error: SignatureError) -> Self {
        match error {
            SignatureError::Malformed(m) => Self::malformed_encoding(m.offset),
            SignatureError::UnknownMode(mode) => Self::unknown_signature_mode(mode),
        }
    }
    /// `UnknownSignatureMode`.
    pub fn unknown_signature_mode(mode: u8) -> Self {
        Self::validator(E::UnknownSignatureMode(I::UnknownSignatureMode { mode }))
    }
    /// `InvalidSigner`.
    pub fn invalid_signer() -> Self {
        Self::validator(E::InvalidSigner(I::InvalidSigner {}))
    }
    /// `InvalidWindow`.
    pub fn invalid_window(after: u64, until: u64) -> Self {
        Self::validator(E::InvalidWindow(I::InvalidWindow {
            validAfter: U48::from(after),
            validUntil: U48::from(until),
        }))
    }
    /// `InvalidUsageLimit`.
    pub fn invalid_usage_limit(kind: CounterKind, policy: usize, constraint: usize) -> Self {
        Self::validator(E::InvalidUsageLimit(I::InvalidUsageLimit {
            kind: kind.into(),
            policyIndex: u(policy),
            constraintIndex: u(constraint),
        }))
    }
    /// `InvalidPaymasterPolicy`.
    pub fn invalid_paymaster_policy(mode: u8, paymaster: Address) -> Self {
        Self::validator(E::InvalidPaymasterPolicy(I::InvalidPaymasterPolicy {
            mode,
            paymaster,
        }))
    }
    /// `FeeLimitRequired`.
    pub fn fee_limit_required(mode: PaymasterMode) -> Self {
        Self::validator(E::FeeLimitRequired(I::FeeLimitRequired {
            paymasterMode: mode.into(),
        }))
    }
    /// `CallPoliciesNotSorted`.
    pub fn call_policies_not_sorted(index: usize) -> Self {
        Self::validator(E::CallPoliciesNotSorted(I::CallPoliciesNotSorted {
            index: u(index),
        }))
    }
    /// `TransferPoliciesNotSorted`.
    pub fn transfer_policies_not_sorted(index: usize) -> Self {
        Self::validator(E::TransferPoliciesNotSorted(I::TransferPoliciesNotSorted {
            index: u(index),
        }))
    }
    /// `InvalidConstraint`.
    pub fn invalid_constraint(policy: usize, constraint: usize) -> Self {
        Self::validator(E::InvalidConstraint(I::InvalidConstraint {
            policyIndex: u(policy),
            constraintIndex: u(constraint),
        }))
    }
    /// `WrongNonceLane`.
    pub fn wrong_nonce_lane(hash: B256, actual: u32) -> Self {
        Self::validator(E::WrongNonceLane(I::WrongNonceLane {
            expected: session_lane(hash).to_be_bytes().into(),
            actual: actual.to_be_bytes().into(),
        }))
    }
    /// `SessionNotEnabled`.
    pub fn session_not_enabled(sessionHash: B256) -> Self {
        Self::validator(E::SessionNotEnabled(I::SessionNotEnabled { sessionHash }))
    }
    /// `SessionRevoked`.
    pub fn session_revoked(sessionHash: B256) -> Self {
        Self::validator(E::SessionRevoked(I::SessionRevoked { sessionHash }))
    }
    /// `SessionEpochStale`.
    pub fn session_epoch_stale(sessionHash: B256, sessionEpoch: u64, accountEpoch: u64) -> Self {
        Self::validator(E::SessionEpochStale(I::SessionEpochStale {
            sessionHash,
            sessionEpoch,
            accountEpoch,
        }))
    }
    /// `ChainNotApproved`.
    pub fn chain_not_approved(chain_id: u64) -> Self {
        Self::validator(E::ChainNotApproved(I::ChainNotApproved {
            chainId: U256::from(chain_id),
        }))
    }
    /// `EnableEpochMismatch`.
    pub fn enable_epoch_mismatch(signedEpoch: u64, accountEpoch: u64) -> Self {
        Self::validator(E::EnableEpochMismatch(I::EnableEpochMismatch {
            signedEpoch,
            accountEpoch,
        }))
    }
    /// `RegistryRequiresOnchainEnable`.
    pub fn registry_requires_onchain_enable() -> Self {
        Self::validator(E::RegistryRequiresOnchainEnable(
            I::RegistryRequiresOnchainEnable {},
        ))
    }
    /// `TimeHintOutsideSession`.
    pub fn time_hint_outside_session(hint: u64, after: u64, until: u64) -> Self {
        Self::validator(E::TimeHintOutsideSession(I::TimeHintOutsideSession {
            timeHint: U48::from(hint),
            validAfter: U48::from(after),
            validUntil: U48::from(until),
        }))
    }
    /// `TimeHintBeforeStoredPeriod`.
    pub fn time_hint_before_stored_period(key: CounterKey, stored: u64, hint: u64) -> Self {
        Self::validator(E::TimeHintBeforeStoredPeriod(
            I::TimeHintBeforeStoredPeriod {
                kind: key.kind.into(),
                policyIndex: u(key.policy as usize),
                constraintIndex: u(key.constraint as usize),
                storedPeriod: U256::from(stored),
                hintPeriod: U256::from(hint),
            },
        ))
    }
    /// `BannedTarget`.
    pub fn banned_target(call: usize, target: Address) -> Self {
        Self::validator(E::BannedTarget(I::BannedTarget {
            callIndex: u(call),
            target,
        }))
    }
    /// `PolicyTargetsBanned`.
    pub fn policy_targets_banned(policy: usize, target: Address) -> Self {
        Self::validator(E::PolicyTargetsBanned(I::PolicyTargetsBanned {
            policyIndex: u(policy),
            target,
        }))
    }
    /// `NoCallPolicy`.
    pub fn no_call_policy(call: usize, target: Address, selector: [u8; 4]) -> Self {
        Self::validator(E::NoCallPolicy(I::NoCallPolicy {
            callIndex: u(call),
            target,
            selector: selector.into(),
        }))
    }
    /// `NoTransferPolicy`.
    pub fn no_transfer_policy(call: usize, target: Address) -> Self {
        Self::validator(E::NoTransferPolicy(I::NoTransferPolicy {
            callIndex: u(call),
            target,
        }))
    }
    /// `CalldataTooShortForSelector`.
    pub fn calldata_too_short_for_selector(call: usize, length: usize) -> Self {
        Self::validator(E::CalldataTooShortForSelector(
            I::CalldataTooShortForSelector {
                callIndex: u(call),
                length: u(length),
            },
        ))
    }
    /// `ValuePerUseExceeded`.
    pub fn value_per_use_exceeded(
        call: usize,
        policy: usize,
        value: U256,
        maxValuePerUse: U256,
    ) -> Self {
        Self::validator(E::ValuePerUseExceeded(I::ValuePerUseExceeded {
            callIndex: u(call),
            policyIndex: u(policy),
            value,
            maxValuePerUse,
        }))
    }
    /// `CalldataTooShortForConstraint`.
    pub fn calldata_too_short_for_constraint(
        call: usize,
        policy: usize,
        constraint: usize,
        required: usize,
        length: usize,
    ) -> Self {
        Self::validator(E::CalldataTooShortForConstraint(
            I::CalldataTooShortForConstraint {
                callIndex: u(call),
                policyIndex: u(policy),
                constraintIndex: u(constraint),
                required: u(required),
                length: u(length),
            },
        ))
    }
    /// `WordTooWide`.
    pub fn word_too_wide(
        call: usize,
        policy: usize,
        constraint: usize,
        bits: u16,
        word: B256,
    ) -> Self {
        Self::validator(E::WordTooWide(I::WordTooWide {
            callIndex: u(call),
            policyIndex: u(policy),
            constraintIndex: u(constraint),
            bits,
            word,
        }))
    }
    /// `ConstraintViolated`.
    pub fn constraint_violated(
        call: usize,
        policy: usize,
        constraint: usize,
        condition: u8,
        word: B256,
    ) -> Self {
        Self::validator(E::ConstraintViolated(I::ConstraintViolated {
            callIndex: u(call),
            policyIndex: u(policy),
            constraintIndex: u(constraint),
            condition,
            word,
        }))
    }
    /// `LimitExceeded`.
    pub fn limit_exceeded(key: CounterKey, limit: U256, used: U256, requested: U256) -> Self {
        Self::validator(E::LimitExceeded(I::LimitExceeded {
            kind: key.kind.into(),
            policyIndex: u(key.policy as usize),
            constraintIndex: u(key.constraint as usize),
            limit,
            used,
            requested,
        }))
    }
    /// `PaymasterNotAllowed`.
    pub fn paymaster_not_allowed(paymaster: Address) -> Self {
        Self::validator(E::PaymasterNotAllowed(I::PaymasterNotAllowed { paymaster }))
    }
    /// `MalformedPaymasterAndData`.
    pub fn malformed_paymaster_and_data(length: usize) -> Self {
        Self::validator(E::MalformedPaymasterAndData(I::MalformedPaymasterAndData {
            length: u(length),
        }))
    }
}
