//! Constructors of the contract's errors, one per refusal, so the engine's code reads like the
//! Solidity it mirrors.

use crate::Violation;
use crate::context::CounterKey;
use alloy::primitives::{Address, B256, U256, aliases::U48};
use sessionkeys_contracts::session::ISessionKeyValidator::{
    self as I, ISessionKeyValidatorErrors as E,
};

fn u(n: usize) -> U256 {
    U256::from(n)
}

pub(crate) fn sender_mismatch(caller: Address, sender: Address) -> Violation {
    Violation::validator(E::SenderMismatch(I::SenderMismatch { caller, sender }))
}
pub(crate) fn malformed() -> Violation {
    Violation::validator(E::MalformedSignature(I::MalformedSignature {}))
}
pub(crate) fn non_canonical(sessionHash: B256, canonicalHash: B256) -> Violation {
    Violation::validator(E::NonCanonicalSpec(I::NonCanonicalSpec {
        sessionHash,
        canonicalHash,
    }))
}
pub(crate) fn unknown_mode(mode: u8) -> Violation {
    Violation::validator(E::UnknownSignatureMode(I::UnknownSignatureMode { mode }))
}
pub(crate) fn invalid_signer() -> Violation {
    Violation::validator(E::InvalidSigner(I::InvalidSigner {}))
}
pub(crate) fn invalid_window(after: u64, until: u64) -> Violation {
    Violation::validator(E::InvalidWindow(I::InvalidWindow {
        validAfter: U48::from(after),
        validUntil: U48::from(until),
    }))
}
pub(crate) fn invalid_usage_limit(kind: u8, policy: usize, constraint: usize) -> Violation {
    Violation::validator(E::InvalidUsageLimit(I::InvalidUsageLimit {
        kind,
        policyIndex: u(policy),
        constraintIndex: u(constraint),
    }))
}
pub(crate) fn invalid_paymaster_policy(mode: u8, paymaster: Address) -> Violation {
    Violation::validator(E::InvalidPaymasterPolicy(I::InvalidPaymasterPolicy {
        mode,
        paymaster,
    }))
}
pub(crate) fn fee_limit_required(paymasterMode: u8) -> Violation {
    Violation::validator(E::FeeLimitRequired(I::FeeLimitRequired { paymasterMode }))
}
pub(crate) fn call_policies_not_sorted(index: usize) -> Violation {
    Violation::validator(E::CallPoliciesNotSorted(I::CallPoliciesNotSorted {
        index: u(index),
    }))
}
pub(crate) fn transfer_policies_not_sorted(index: usize) -> Violation {
    Violation::validator(E::TransferPoliciesNotSorted(I::TransferPoliciesNotSorted {
        index: u(index),
    }))
}
pub(crate) fn invalid_constraint(policy: usize, constraint: usize) -> Violation {
    Violation::validator(E::InvalidConstraint(I::InvalidConstraint {
        policyIndex: u(policy),
        constraintIndex: u(constraint),
    }))
}
pub(crate) fn wrong_lane(hash: B256, actual: [u8; 4]) -> Violation {
    let expected: [u8; 4] = hash[..4].try_into().expect("4 bytes");
    Violation::validator(E::WrongNonceLane(I::WrongNonceLane {
        expected: expected.into(),
        actual: actual.into(),
    }))
}
pub(crate) fn not_enabled(sessionHash: B256) -> Violation {
    Violation::validator(E::SessionNotEnabled(I::SessionNotEnabled { sessionHash }))
}
pub(crate) fn revoked(sessionHash: B256) -> Violation {
    Violation::validator(E::SessionRevoked(I::SessionRevoked { sessionHash }))
}
pub(crate) fn epoch_stale(sessionHash: B256, sessionEpoch: u64, accountEpoch: u64) -> Violation {
    Violation::validator(E::SessionEpochStale(I::SessionEpochStale {
        sessionHash,
        sessionEpoch,
        accountEpoch,
    }))
}
pub(crate) fn chain_not_approved(chain_id: u64) -> Violation {
    Violation::validator(E::ChainNotApproved(I::ChainNotApproved {
        chainId: U256::from(chain_id),
    }))
}
pub(crate) fn epoch_mismatch(signedEpoch: u64, accountEpoch: u64) -> Violation {
    Violation::validator(E::EnableEpochMismatch(I::EnableEpochMismatch {
        signedEpoch,
        accountEpoch,
    }))
}
pub(crate) fn registry_requires_onchain() -> Violation {
    Violation::validator(E::RegistryRequiresOnchainEnable(
        I::RegistryRequiresOnchainEnable {},
    ))
}
pub(crate) fn hint_outside(hint: u64, after: u64, until: u64) -> Violation {
    Violation::validator(E::TimeHintOutsideSession(I::TimeHintOutsideSession {
        timeHint: U48::from(hint),
        validAfter: U48::from(after),
        validUntil: U48::from(until),
    }))
}
pub(crate) fn hint_before_stored(key: CounterKey, stored: u64, hint: u64) -> Violation {
    Violation::validator(E::TimeHintBeforeStoredPeriod(
        I::TimeHintBeforeStoredPeriod {
            kind: key.kind as u8,
            policyIndex: u(key.policy as usize),
            constraintIndex: u(key.constraint as usize),
            storedPeriod: U256::from(stored),
            hintPeriod: U256::from(hint),
        },
    ))
}
pub(crate) fn banned(call: usize, target: Address) -> Violation {
    Violation::validator(E::BannedTarget(I::BannedTarget {
        callIndex: u(call),
        target,
    }))
}
pub(crate) fn no_call_policy(call: usize, target: Address, selector: [u8; 4]) -> Violation {
    Violation::validator(E::NoCallPolicy(I::NoCallPolicy {
        callIndex: u(call),
        target,
        selector: selector.into(),
    }))
}
pub(crate) fn no_transfer_policy(call: usize, target: Address) -> Violation {
    Violation::validator(E::NoTransferPolicy(I::NoTransferPolicy {
        callIndex: u(call),
        target,
    }))
}
pub(crate) fn too_short_for_selector(call: usize, length: usize) -> Violation {
    Violation::validator(E::CalldataTooShortForSelector(
        I::CalldataTooShortForSelector {
            callIndex: u(call),
            length: u(length),
        },
    ))
}
pub(crate) fn value_per_use(
    call: usize,
    policy: usize,
    value: U256,
    maxValuePerUse: U256,
) -> Violation {
    Violation::validator(E::ValuePerUseExceeded(I::ValuePerUseExceeded {
        callIndex: u(call),
        policyIndex: u(policy),
        value,
        maxValuePerUse,
    }))
}
pub(crate) fn too_short_for_constraint(
    call: usize,
    policy: usize,
    constraint: usize,
    required: usize,
    length: usize,
) -> Violation {
    Violation::validator(E::CalldataTooShortForConstraint(
        I::CalldataTooShortForConstraint {
            callIndex: u(call),
            policyIndex: u(policy),
            constraintIndex: u(constraint),
            required: u(required),
            length: u(length),
        },
    ))
}
pub(crate) fn word_too_wide(
    call: usize,
    policy: usize,
    constraint: usize,
    bits: u16,
    word: B256,
) -> Violation {
    Violation::validator(E::WordTooWide(I::WordTooWide {
        callIndex: u(call),
        policyIndex: u(policy),
        constraintIndex: u(constraint),
        bits,
        word,
    }))
}
pub(crate) fn constraint_violated(
    call: usize,
    policy: usize,
    constraint: usize,
    condition: u8,
    word: B256,
) -> Violation {
    Violation::validator(E::ConstraintViolated(I::ConstraintViolated {
        callIndex: u(call),
        policyIndex: u(policy),
        constraintIndex: u(constraint),
        condition,
        word,
    }))
}
pub(crate) fn limit_exceeded(
    key: CounterKey,
    limit: U256,
    used: U256,
    requested: U256,
) -> Violation {
    Violation::validator(E::LimitExceeded(I::LimitExceeded {
        kind: key.kind as u8,
        policyIndex: u(key.policy as usize),
        constraintIndex: u(key.constraint as usize),
        limit,
        used,
        requested,
    }))
}
pub(crate) fn paymaster_not_allowed(paymaster: Address) -> Violation {
    Violation::validator(E::PaymasterNotAllowed(I::PaymasterNotAllowed { paymaster }))
}
pub(crate) fn malformed_paymaster(length: usize) -> Violation {
    Violation::validator(E::MalformedPaymasterAndData(I::MalformedPaymasterAndData {
        length: u(length),
    }))
}
