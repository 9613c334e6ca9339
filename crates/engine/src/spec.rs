//! Spec identity, the owner's EIP-712 approval, and the checks every enabled spec passed
//! (rules 4, 9, 17, 21), mirroring `_validateSpec`.

use crate::Violation;
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};
use sessionkeys_contracts::session::{
    ChainEpoch, EnableSession, RevokeAllSessions, RevokeSessions, SessionSpec, UsageLimit,
};
use sessionkeys_contracts::vocabulary::{
    Condition, CounterKind, LimitType, MAX_LIMIT, MAX_ONE_OF, MIN_PERIOD, PaymasterMode,
};

pub use sessionkeys_contracts::vocabulary::session_hash;

/// The EIP-712 domain of the owner's approval: no chainId (the chains are listed inside).
pub fn enable_domain(validator: Address) -> Eip712Domain {
    eip712_domain! { name: "SessionKeyValidator", version: "1", verifying_contract: validator, }
}

/// The digest the owner signs to approve `spec` for `account` on `chains`.
/// Rule 13 (docs/rules.md).
pub fn enable_digest(
    validator: Address,
    account: Address,
    spec: &SessionSpec,
    chains: &[ChainEpoch],
) -> B256 {
    let message = EnableSession {
        account,
        session: spec.clone(),
        chains: chains.to_vec(),
    };
    message.eip712_signing_hash(&enable_domain(validator))
}

/// The digest the owner signs to let anyone relay the revocation of `session_hashes` of
/// `account` (`revokeSessionsWithApproval`), valid at the listed epoch of each chain.
/// Rule 22 (docs/rules.md).
pub fn revoke_sessions_digest(
    validator: Address,
    account: Address,
    session_hashes: &[B256],
    chains: &[ChainEpoch],
) -> B256 {
    let message = RevokeSessions {
        account,
        sessionHashes: session_hashes.to_vec(),
        chains: chains.to_vec(),
    };
    message.eip712_signing_hash(&enable_domain(validator))
}

/// The digest the owner signs to let anyone relay "revoke every session" of `account`
/// (`revokeAllWithApproval`), valid at the listed epoch of each chain.
/// Rule 22 (docs/rules.md).
pub fn revoke_all_digest(validator: Address, account: Address, chains: &[ChainEpoch]) -> B256 {
    let message = RevokeAllSessions {
        account,
        chains: chains.to_vec(),
    };
    message.eip712_signing_hash(&enable_domain(validator))
}

/// Refuses degenerate or malformed specs, in the contract's order.
/// Rules 4, 17 and 21 (docs/rules.md).
pub fn validate_spec(spec: &SessionSpec) -> Result<(), Violation> {
    if spec.signer == Address::ZERO {
        return Err(Violation::invalid_signer());
    }
    let (after, until): (u64, u64) = (spec.validAfter.to(), spec.validUntil.to());
    if until == 0 || after >= until {
        return Err(Violation::invalid_window(after, until));
    }
    validate_limit(&spec.feeLimit, MAX_LIMIT, CounterKind::Fee, 0, 0)?;
    validate_limit(&spec.opLimit, U256::from(u64::MAX), CounterKind::Ops, 0, 0)?;
    let mode = match spec.paymaster_mode() {
        Ok(mode) if (mode == PaymasterMode::One) == (spec.paymaster != Address::ZERO) => mode,
        _ => {
            return Err(Violation::invalid_paymaster_policy(
                spec.paymasterMode,
                spec.paymaster,
            ));
        }
    };
    // Rule 21: a named paymaster does not stop self-paid ops.
    if mode != PaymasterMode::None && spec.feeLimit.is_unlimited() {
        return Err(Violation::fee_limit_required(mode));
    }
    let mut previous = U256::ZERO;
    for (p, policy) in spec.callPolicies.iter().enumerate() {
        let key = (U256::from_be_slice(policy.target.as_slice()) << 32)
            | U256::from(u32::from_be_bytes(policy.selector.0));
        if p != 0 && key <= previous {
            return Err(Violation::call_policies_not_sorted(p));
        }
        previous = key;
        validate_limit(&policy.valueLimit, MAX_LIMIT, CounterKind::CallValue, p, 0)?;
        validate_limit(&policy.callLimit, MAX_LIMIT, CounterKind::CallCount, p, 0)?;
        for (c, constraint) in policy.constraints.iter().enumerate() {
            let list = constraint.oneOf.len();
            let list_ok = match constraint.condition() {
                Ok(Condition::OneOf) => (1..=MAX_ONE_OF).contains(&list),
                Ok(_) => list == 0,
                Err(_) => false,
            };
            if constraint.bits == 0 || constraint.bits > 256 || !list_ok {
                return Err(Violation::invalid_constraint(p, c));
            }
            validate_limit(
                &constraint.limit,
                MAX_LIMIT,
                CounterKind::ConstraintSum,
                p,
                c,
            )?;
        }
    }
    for (p, policy) in spec.transferPolicies.iter().enumerate() {
        let key = U256::from_be_slice(policy.target.as_slice());
        if p != 0 && key <= previous {
            return Err(Violation::transfer_policies_not_sorted(p));
        }
        previous = key;
        validate_limit(
            &policy.valueLimit,
            MAX_LIMIT,
            CounterKind::TransferValue,
            p,
            0,
        )?;
    }
    Ok(())
}

/// Rules 9 and 17 (docs/rules.md).
fn validate_limit(
    limit: &UsageLimit,
    max: U256,
    kind: CounterKind,
    policy: usize,
    constraint: usize,
) -> Result<(), Violation> {
    let period: u64 = limit.period.to();
    let valid = match limit.limit_type() {
        Ok(LimitType::Unlimited) => limit.limit.is_zero() && period == 0,
        Ok(LimitType::Lifetime) => limit.limit <= max && period == 0,
        Ok(LimitType::Allowance) => limit.limit <= max && period >= MIN_PERIOD,
        Err(_) => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Violation::invalid_usage_limit(kind, policy, constraint))
    }
}
