//! Spec identity, the owner's EIP-712 approval, and the checks every enabled spec passed
//! (rules 4, 9, 17, 21), mirroring `_validateSpec`.

use crate::{Violation, v};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain};
use sessionkeys_contracts::session::{
    ChainEpoch, EnableSession, RevokeAllSessions, RevokeSessions, SessionSpec, UsageLimit,
};

/// The session's identity: `keccak256(abi.encode(spec))`.
pub fn session_hash(spec: &SessionSpec) -> B256 {
    keccak256(spec.abi_encode())
}

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

const MIN_PERIOD: u64 = 60;

fn max_limit() -> U256 {
    (U256::from(1) << 208) - U256::from(1)
}

/// Refuses degenerate or malformed specs, in the contract's order.
/// Rules 4, 17 and 21 (docs/rules.md).
pub fn validate_spec(spec: &SessionSpec) -> Result<(), Violation> {
    if spec.signer == Address::ZERO {
        return Err(v::invalid_signer());
    }
    let (after, until): (u64, u64) = (spec.validAfter.to(), spec.validUntil.to());
    if until == 0 || after >= until {
        return Err(v::invalid_window(after, until));
    }
    validate_limit(&spec.feeLimit, max_limit(), 1, 0, 0)?;
    validate_limit(&spec.opLimit, U256::from(u64::MAX), 0, 0, 0)?;
    let mode = spec.paymasterMode;
    if mode > 2 || (mode == 2) != (spec.paymaster != Address::ZERO) {
        return Err(v::invalid_paymaster_policy(mode, spec.paymaster));
    }
    // Rule 21: a named paymaster does not stop self-paid ops.
    if mode != 0 && spec.feeLimit.limitType == 0 {
        return Err(v::fee_limit_required(mode));
    }
    let mut previous = U256::ZERO;
    for (p, policy) in spec.callPolicies.iter().enumerate() {
        let key = (U256::from_be_slice(policy.target.as_slice()) << 32)
            | U256::from(u32::from_be_bytes(policy.selector.0));
        if p != 0 && key <= previous {
            return Err(v::call_policies_not_sorted(p));
        }
        previous = key;
        validate_limit(&policy.valueLimit, max_limit(), 2, p, 0)?;
        validate_limit(&policy.callLimit, max_limit(), 3, p, 0)?;
        for (c, constraint) in policy.constraints.iter().enumerate() {
            let list = constraint.oneOf.len();
            let list_ok = if constraint.condition == 7 {
                (1..=16).contains(&list)
            } else {
                list == 0
            };
            if constraint.condition > 7 || constraint.bits == 0 || constraint.bits > 256 || !list_ok
            {
                return Err(v::invalid_constraint(p, c));
            }
            validate_limit(&constraint.limit, max_limit(), 4, p, c)?;
        }
    }
    for (p, policy) in spec.transferPolicies.iter().enumerate() {
        let key = U256::from_be_slice(policy.target.as_slice());
        if p != 0 && key <= previous {
            return Err(v::transfer_policies_not_sorted(p));
        }
        previous = key;
        validate_limit(&policy.valueLimit, max_limit(), 5, p, 0)?;
    }
    Ok(())
}

/// Rules 9 and 17 (docs/rules.md).
fn validate_limit(
    limit: &UsageLimit,
    max: U256,
    kind: u8,
    policy: usize,
    constraint: usize,
) -> Result<(), Violation> {
    let period: u64 = limit.period.to();
    let valid = match limit.limitType {
        0 => limit.limit.is_zero() && period == 0,
        1 => limit.limit <= max && period == 0,
        2 => limit.limit <= max && period >= MIN_PERIOD,
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(v::invalid_usage_limit(kind, policy, constraint))
    }
}
