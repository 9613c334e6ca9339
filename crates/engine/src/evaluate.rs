//! `evaluate`: the SessionKeyValidator's `validateUserOp`, in Rust, in the same order.

use crate::Violation;
use crate::context::{
    Counter, CounterKey, CounterKind, EvalContext, SessionHeader, Status, UserOpInput,
};
use crate::execute::{CallRef, decode_calls, decode_outer};
use crate::sender::{Route, check_fields, create_sender, route};
use crate::spec::{enable_digest, validate_spec};
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use sessionkeys_contracts::session::{
    CallPolicy, ChainEpoch, ISessionKeyValidator, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::packed::{
    CarriedPolicy, DecodedSignature, decode_signature,
};
use sessionkeys_contracts::vocabulary::{
    Condition, LimitType, PaymasterMode, SignatureMode, UnknownWord, nonce_lane, session_digest,
    session_lane,
};
use std::collections::BTreeMap;

/// What passing validation yields: the validation data the validator returns and the state it
/// writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The session hash the signature names (docs/compact-signatures.md).
    pub session_hash: B256,
    /// True if a signature (session key or owner approval) is wrong: the EntryPoint will
    /// refuse with AA24.
    pub signature_failed: bool,
    /// Returned window start (the EntryPoint compares it with the block time).
    pub valid_after: u64,
    /// Returned window end, inclusive.
    pub valid_until: u64,
    /// The header after the op.
    pub header: SessionHeader,
    /// Every counter the op charged, with its value after the op.
    pub counters: BTreeMap<CounterKey, Counter>,
}

impl Validation {
    /// The packed `validationData` word.
    pub fn validation_data(&self) -> U256 {
        U256::from(self.signature_failed as u8)
            | (U256::from(self.valid_until) << 160)
            | (U256::from(self.valid_after) << 208)
    }
}

struct State<'a> {
    ctx: &'a EvalContext,
    hash: B256,
    hint: u64,
    valid_after: u64,
    valid_until: u64,
    counters: BTreeMap<CounterKey, Counter>,
}

/// Signatures of a session op, when they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signatures<'a> {
    /// The EntryPoint's hash of the op.
    pub user_op_hash: B256,
    /// The session key's signature (rule 10).
    pub session_signature: &'a [u8],
    /// The owner's approval signature (enable mode).
    pub owner_signature: &'a [u8],
}

/// A session op with its signature already decoded: what an app has before it signs.
#[derive(Debug, Clone, Copy)]
pub struct SessionOp<'a> {
    /// `userOp.sender`.
    pub sender: Address,
    /// The session.
    pub spec: &'a SessionSpec,
    /// The session hash (`session_hash(spec)`).
    pub session_hash: B256,
    /// Use, or enable in first use.
    pub mode: SignatureMode,
    /// The signed time hint.
    pub time_hint: u64,
    /// `userOp.nonce`.
    pub nonce: U256,
    /// `userOp.callData`.
    pub call_data: &'a [u8],
    /// `userOp.accountGasLimits`.
    pub account_gas_limits: B256,
    /// `userOp.preVerificationGas`.
    pub pre_verification_gas: U256,
    /// `userOp.gasFees`.
    pub gas_fees: B256,
    /// `userOp.paymasterAndData`.
    pub paymaster_and_data: &'a [u8],
    /// The chains of the owner's approval (enable mode).
    pub chains: &'a [ChainEpoch],
    /// The signatures; `None` evaluates as if they will be valid (a pre-check before signing).
    pub signatures: Option<Signatures<'a>>,
}

/// Evaluates a signed userOp against a snapshot, exactly as the EntryPoint, the account and
/// the validator would, in that order: the op's fields, `initCode`, the account's routing on the
/// nonce key, then `validateUserOp` reading the packed signature (docs/compact-signatures.md,
/// docs/decisions.md "Validation order").
pub fn evaluate(ctx: &EvalContext, op: &UserOpInput) -> Result<Validation, Violation> {
    check_fields(ctx, op)?;
    create_sender(ctx, op)?;
    if route(ctx, op)? == Route::Owner {
        return Ok(owner_validation(ctx, op));
    }
    require_sender(ctx, op.sender)?;
    let decoded = decode_signature(&op.signature).map_err(Violation::from_signature_error)?;
    // Enable mode carries every policy: the whole spec, for its checks and its digest; use mode
    // only the session-wide fields beside the carried policies.
    let spec = match decoded.mode {
        SignatureMode::Enable => decoded.spec(),
        SignatureMode::Use => decoded.header.spec.clone(),
    };
    evaluate_core(
        ctx,
        &Core {
            session_hash: decoded.session_hash,
            time_hint: decoded.time_hint,
            nonce: op.nonce,
            call_data: &op.call_data,
            account_gas_limits: op.account_gas_limits,
            pre_verification_gas: op.pre_verification_gas,
            gas_fees: op.gas_fees,
            paymaster_and_data: &op.paymaster_and_data,
            mode: decoded.mode,
            scope: Scope::carried(&spec, &decoded),
            chains: &decoded.chains,
            signatures: Some(Signatures {
                user_op_hash: op.user_op_hash,
                session_signature: decoded.session_signature,
                owner_signature: decoded.owner_signature,
            }),
        },
    )
}

/// The session hash `op` carries as the validator reads it (None if it refuses the signature
/// before hashing): which session's storage a snapshot must hold.
pub fn carried_session_hash(op: &UserOpInput) -> Option<B256> {
    decode_signature(&op.signature)
        .ok()
        .map(|decoded| decoded.session_hash)
}

/// Nonce key validator zero: `SessionAccount` checks the owner's raw signature over the userOp
/// hash, with no time range (validUntil 0 is "no end").
fn owner_validation(ctx: &EvalContext, op: &UserOpInput) -> Validation {
    let valid = ctx.owner.is_some() && recover(op.user_op_hash, &op.signature) == ctx.owner;
    Validation {
        session_hash: B256::ZERO,
        signature_failed: !valid,
        valid_after: 0,
        valid_until: 0,
        header: ctx.header,
        counters: BTreeMap::new(),
    }
}

/// Evaluates a decoded session op, in the validator's order: status → calls and constraints →
/// op count → signatures → fee. The whole spec stands in for the policies the signature will
/// carry: an op carries exactly the policies its calls match, so the verdicts are the same.
pub fn evaluate_session_op(ctx: &EvalContext, op: &SessionOp<'_>) -> Result<Validation, Violation> {
    require_sender(ctx, op.sender)?;
    // The signature carries the hint in 6 bytes: a larger one cannot be encoded at all.
    if op.time_hint >> 48 != 0 {
        return Err(Violation::EmptyRevert);
    }
    evaluate_core(
        ctx,
        &Core {
            session_hash: op.session_hash,
            time_hint: op.time_hint,
            nonce: op.nonce,
            call_data: op.call_data,
            account_gas_limits: op.account_gas_limits,
            pre_verification_gas: op.pre_verification_gas,
            gas_fees: op.gas_fees,
            paymaster_and_data: op.paymaster_and_data,
            mode: op.mode,
            scope: Scope::whole(op.spec),
            chains: op.chains,
            signatures: op.signatures,
        },
    )
}

/// The policies an op may use, each with its index in its list: the whole spec (a pre-check,
/// enable in first use) or the policies a use-mode signature carries.
#[derive(Debug, Clone)]
struct Scope<'a> {
    /// The session-wide fields (its policy lists are the whole spec's, or empty when carried).
    spec: &'a SessionSpec,
    calls: Vec<(usize, &'a CallPolicy)>,
    transfers: Vec<(usize, &'a TransferPolicy)>,
    /// The session's number of call policies (transfer leaves are positioned after them).
    call_count: usize,
    /// Use mode read from a signature: every carried policy must be used (`PolicyNotUsed`).
    must_use: bool,
}

impl<'a> Scope<'a> {
    fn whole(spec: &'a SessionSpec) -> Self {
        Scope {
            spec,
            calls: spec.callPolicies.iter().enumerate().collect(),
            transfers: spec.transferPolicies.iter().enumerate().collect(),
            call_count: spec.callPolicies.len(),
            must_use: false,
        }
    }

    /// The policies `decoded` carries, borrowed, under the session-wide fields of `spec`; in use
    /// mode each must be used.
    fn carried(spec: &'a SessionSpec, decoded: &'a DecodedSignature<'_>) -> Self {
        let mut calls = Vec::new();
        let mut transfers = Vec::new();
        for carried in &decoded.carried {
            match &carried.policy {
                CarriedPolicy::Call { index, policy } => calls.push((*index, policy)),
                CarriedPolicy::Transfer { index, policy } => transfers.push((*index, policy)),
            }
        }
        Scope {
            spec,
            calls,
            transfers,
            call_count: decoded.header.call_count,
            must_use: decoded.mode == SignatureMode::Use,
        }
    }
}

/// The fields `validateUserOp` reads, and the policies it may match.
struct Core<'a> {
    session_hash: B256,
    time_hint: u64,
    nonce: U256,
    call_data: &'a [u8],
    account_gas_limits: B256,
    pre_verification_gas: U256,
    gas_fees: B256,
    paymaster_and_data: &'a [u8],
    mode: SignatureMode,
    scope: Scope<'a>,
    /// The chains of the owner's approval (enable mode).
    chains: &'a [ChainEpoch],
    /// None evaluates as if the signatures will be valid (a pre-check before signing).
    signatures: Option<Signatures<'a>>,
}

/// Rule 7: only the account itself runs validation of its own ops (`_requireSender`), so nobody
/// can replay a victim's op against the validator to burn its budgets.
fn require_sender(ctx: &EvalContext, sender: Address) -> Result<(), Violation> {
    if sender != ctx.account {
        return Err(Violation::sender_mismatch(ctx.account, sender));
    }
    Ok(())
}

/// Rule 19: a session's ops run on the nonce lane its hash names (`_requireLane`): the first
/// four bytes of the nonce key after the validator's address.
fn require_lane(hash: B256, nonce: U256) -> Result<(), Violation> {
    let lane = nonce_lane(nonce);
    if lane != session_lane(hash) {
        return Err(Violation::wrong_nonce_lane(hash, lane));
    }
    Ok(())
}

/// Rule 16: the one call to a banned target a session may make is `revokeSession` of its own
/// hash on the validator, with no value (`_isSelfRevoke`).
fn is_self_revoke(ctx: &EvalContext, hash: B256, call: &CallRef<'_>) -> bool {
    call.target == ctx.validator
        && call.value.is_zero()
        && call.data.len() == 36
        && call.data[..4] == ISessionKeyValidator::revokeSessionCall::SELECTOR
        && call.data[4..36] == hash[..]
}

/// Rule 6: every module installed on the account is a banned target, checked at every use
/// (`_isInstalledModule`).
fn is_installed_module(ctx: &EvalContext, target: Address) -> bool {
    ctx.installed_modules.contains(&target)
}

/// `validateUserOp` after the signature's head is read: lane → outer `execute` layer → time
/// hint → mode and status → the calls inside `execute` → each call → op count → signatures →
/// fee.
fn evaluate_core(ctx: &EvalContext, op: &Core<'_>) -> Result<Validation, Violation> {
    let (hash, hint) = (op.session_hash, op.time_hint);
    let scope = &op.scope;
    let spec: &SessionSpec = scope.spec;
    let (after, until): (u64, u64) = (spec.validAfter.to(), spec.validUntil.to());
    require_lane(hash, op.nonce)?;
    let execution = decode_outer(op.call_data)?;
    if hint < after || hint > until {
        return Err(Violation::time_hint_outside_session(hint, after, until));
    }

    // status
    let mut header = ctx.header;
    let mut owner_approved = true;
    match op.mode {
        SignatureMode::Enable => (header, owner_approved) = enable_in_first_use(ctx, op, header)?,
        SignatureMode::Use => require_active(ctx, hash, header)?,
    }

    // calls and their constraints
    let calls = decode_calls(execution)?;
    let mut state = State {
        ctx,
        hash,
        hint,
        valid_after: after,
        valid_until: until,
        counters: BTreeMap::new(),
    };
    let mut used = vec![false; scope.calls.len() + scope.transfers.len()];
    for (index, call) in calls.iter().enumerate() {
        if let Some(j) = check_call(&mut state, scope, index, call)? {
            used[j] = true;
        }
    }
    if scope.must_use
        && let Some(j) = used.iter().position(|u| !u)
    {
        let position = match scope.calls.get(j) {
            Some((p, _)) => *p,
            None => scope.call_count + scope.transfers[j - scope.calls.len()].0,
        };
        return Err(Violation::policy_not_used(position));
    }

    // op count
    header = charge_ops(&mut state, &spec.opLimit, header)?;

    // signatures (rule 10); the session signature is not checked when the owner's failed
    let signature_valid = owner_approved
        && match op.signatures {
            None => true,
            Some(signatures) => {
                let digest = session_digest(signatures.user_op_hash, hash, hint, op.mode);
                recover(digest, signatures.session_signature) == Some(spec.signer)
            }
        };

    // fee
    check_fee(&mut state, spec, op, signature_valid)?;

    Ok(Validation {
        session_hash: hash,
        signature_failed: !signature_valid,
        valid_after: state.valid_after,
        valid_until: state.valid_until,
        header,
        counters: state.counters,
    })
}

/// Rules 13, 15 and 18 (docs/rules.md). The scope is the whole spec: enable mode carries every
/// policy, and the session hash was computed from the same bytes.
fn enable_in_first_use(
    ctx: &EvalContext,
    op: &Core<'_>,
    header: SessionHeader,
) -> Result<(SessionHeader, bool), Violation> {
    let hash = op.session_hash;
    if ctx.registry.is_some() {
        return Err(Violation::registry_requires_onchain_enable());
    }
    let spec: &SessionSpec = op.scope.spec;
    validate_spec(spec)?;
    validate_targets(ctx, spec)?;
    if header.status != Status::None {
        require_active(ctx, hash, header)?;
        return Ok((header, true));
    }
    let epoch = op
        .chains
        .iter()
        .find(|c| c.chainId == ctx.chain_id)
        .map(|c| c.epoch)
        .ok_or_else(|| Violation::chain_not_approved(ctx.chain_id))?;
    if epoch != ctx.account_epoch {
        return Err(Violation::enable_epoch_mismatch(epoch, ctx.account_epoch));
    }
    let approved = match op.signatures {
        None => true,
        Some(signatures) => {
            let digest = enable_digest(ctx.validator, ctx.account, spec, op.chains);
            ctx.owner.is_some() && recover(digest, signatures.owner_signature) == ctx.owner
        }
    };
    Ok((
        SessionHeader {
            status: Status::Active,
            epoch: ctx.account_epoch,
            ..header
        },
        approved,
    ))
}

/// Rule 6 at enable (`_validateTargets`): a policy on an always-banned target can never be used,
/// so no enable accepts one; call policies first, then transfer policies, each by its own index.
fn validate_targets(ctx: &EvalContext, spec: &SessionSpec) -> Result<(), Violation> {
    let calls = spec.callPolicies.iter().map(|p| p.target).enumerate();
    let transfers = spec.transferPolicies.iter().map(|p| p.target).enumerate();
    match calls
        .chain(transfers)
        .find(|(_, target)| is_always_banned(ctx, *target))
    {
        Some((p, target)) => Err(Violation::policy_targets_banned(p, target)),
        None => Ok(()),
    }
}

/// Rule 14 (docs/rules.md).
fn require_active(ctx: &EvalContext, hash: B256, header: SessionHeader) -> Result<(), Violation> {
    match header.status {
        Status::None => Err(Violation::session_not_enabled(hash)),
        Status::Revoked => Err(Violation::session_revoked(hash)),
        Status::Active if header.epoch != ctx.account_epoch => Err(Violation::session_epoch_stale(
            hash,
            header.epoch,
            ctx.account_epoch,
        )),
        Status::Active => Ok(()),
    }
}

/// Rule 6 (docs/rules.md).
fn is_always_banned(ctx: &EvalContext, target: Address) -> bool {
    target == ctx.account
        || target == ctx.validator
        || ctx.entry_points.contains(&target)
        || ctx
            .registry
            .is_some_and(|r| r == target && r != Address::ZERO)
}

/// Rules 2 and 3 (docs/rules.md).
/// Returns the scope entry the call used (calls first, then transfers), if any.
fn check_call(
    state: &mut State<'_>,
    scope: &Scope<'_>,
    index: usize,
    call: &CallRef<'_>,
) -> Result<Option<usize>, Violation> {
    let ctx = state.ctx;
    if is_always_banned(ctx, call.target) {
        if is_self_revoke(ctx, state.hash, call) {
            return Ok(None);
        }
        return Err(Violation::banned_target(index, call.target));
    }
    if is_installed_module(ctx, call.target) {
        return Err(Violation::banned_target(index, call.target));
    }
    if call.data.is_empty() {
        let (j, (p, policy)) = scope
            .transfers
            .iter()
            .enumerate()
            .find(|(_, (_, p))| p.target == call.target)
            .ok_or_else(|| Violation::no_transfer_policy(index, call.target))?;
        let p = *p;
        if call.value > policy.maxValuePerUse {
            return Err(Violation::value_per_use_exceeded(
                index,
                p,
                call.value,
                policy.maxValuePerUse,
            ));
        }
        charge(
            state,
            &policy.valueLimit,
            CounterKind::TransferValue,
            p,
            0,
            call.value,
        )?;
        return Ok(Some(scope.calls.len() + j));
    }
    if call.data.len() < 4 {
        return Err(Violation::calldata_too_short_for_selector(
            index,
            call.data.len(),
        ));
    }
    let selector: [u8; 4] = call.data[..4].try_into().expect("4 bytes");
    let (j, (p, policy)) = scope
        .calls
        .iter()
        .enumerate()
        .find(|(_, (_, p))| p.target == call.target && p.selector.0 == selector)
        .ok_or_else(|| Violation::no_call_policy(index, call.target, selector))?;
    let p = *p;
    if call.value > policy.maxValuePerUse {
        return Err(Violation::value_per_use_exceeded(
            index,
            p,
            call.value,
            policy.maxValuePerUse,
        ));
    }
    charge(
        state,
        &policy.valueLimit,
        CounterKind::CallValue,
        p,
        0,
        call.value,
    )?;
    charge(
        state,
        &policy.callLimit,
        CounterKind::CallCount,
        p,
        0,
        U256::from(1),
    )?;
    for (c, constraint) in policy.constraints.iter().enumerate() {
        let required = 4 + 32 * (constraint.index as usize + 1);
        if call.data.len() < required {
            return Err(Violation::calldata_too_short_for_constraint(
                index,
                p,
                c,
                required,
                call.data.len(),
            ));
        }
        let word = B256::from_slice(&call.data[required - 32..required]);
        let value = U256::from_be_bytes(word.0);
        if constraint.bits < 256 && value >> constraint.bits as usize != U256::ZERO {
            return Err(Violation::word_too_wide(index, p, c, constraint.bits, word));
        }
        if !condition_holds(
            constraint.condition(),
            value,
            U256::from_be_bytes(constraint.refValue.0),
            &constraint.oneOf,
            word,
        ) {
            return Err(Violation::constraint_violated(
                index,
                p,
                c,
                constraint.condition,
                word,
            ));
        }
        charge(
            state,
            &constraint.limit,
            CounterKind::ConstraintSum,
            p,
            c,
            value,
        )?;
    }
    Ok(Some(j))
}

fn condition_holds(
    condition: Result<Condition, UnknownWord>,
    word: U256,
    reference: U256,
    one_of: &[B256],
    raw: B256,
) -> bool {
    match condition {
        Ok(Condition::Unconstrained) => true,
        Ok(Condition::Equal) => word == reference,
        Ok(Condition::Greater) => word > reference,
        Ok(Condition::Less) => word < reference,
        Ok(Condition::GreaterOrEqual) => word >= reference,
        Ok(Condition::LessOrEqual) => word <= reference,
        Ok(Condition::NotEqual) => word != reference,
        // Enable refuses unknown conditions; like the contract, anything else reads the list.
        Ok(Condition::OneOf) | Err(_) => one_of.contains(&raw),
    }
}

/// The period id and the usage that counts for this op; narrows the window (rule 8).
fn period_and_used(
    state: &mut State<'_>,
    limit: &UsageLimit,
    key: CounterKey,
    stored: Counter,
) -> Result<(u64, U256), Violation> {
    let period: u64 = limit.period.to();
    // The contract reads an allowance by its period (`_periodAndUsed`): a zero period, which
    // only a spec that skipped enable's checks can have, counts as a lifetime budget there too.
    if limit.limit_type() != Ok(LimitType::Allowance) || period == 0 {
        return Ok((0, stored.used));
    }
    let id = state.hint / period;
    if stored.period > id {
        return Err(Violation::time_hint_before_stored_period(
            key,
            stored.period,
            id,
        ));
    }
    let start = id as u128 * period as u128;
    let end = start + period as u128 - 1;
    if start > state.valid_after as u128 {
        state.valid_after = start as u64;
    }
    if end < state.valid_until as u128 {
        state.valid_until = end as u64;
    }
    Ok((
        id,
        if stored.period < id {
            U256::ZERO
        } else {
            stored.used
        },
    ))
}

/// What is left of a budget; nothing when a stored counter is already past the limit (a state
/// the contract never writes, but a snapshot such as `check --usage` can describe).
fn remaining(limit: &UsageLimit, used: U256) -> U256 {
    limit.limit.saturating_sub(used)
}

fn stored_counter(state: &State<'_>, key: CounterKey) -> Counter {
    state
        .counters
        .get(&key)
        .or_else(|| state.ctx.counters.get(&key))
        .copied()
        .unwrap_or_default()
}

/// Rules 4 and 5 (docs/rules.md).
fn charge(
    state: &mut State<'_>,
    limit: &UsageLimit,
    kind: CounterKind,
    policy: usize,
    constraint: usize,
    amount: U256,
) -> Result<(), Violation> {
    if limit.is_unlimited() {
        return Ok(());
    }
    let key = CounterKey {
        kind,
        policy: policy as u16,
        constraint: constraint as u16,
    };
    let stored = stored_counter(state, key);
    let (period, used) = period_and_used(state, limit, key, stored)?;
    if amount > remaining(limit, used) {
        return Err(Violation::limit_exceeded(key, limit.limit, used, amount));
    }
    state.counters.insert(
        key,
        Counter {
            period,
            used: used + amount,
        },
    );
    Ok(())
}

fn charge_ops(
    state: &mut State<'_>,
    limit: &UsageLimit,
    header: SessionHeader,
) -> Result<SessionHeader, Violation> {
    if limit.is_unlimited() {
        return Ok(header);
    }
    let key = CounterKey {
        kind: CounterKind::Ops,
        policy: 0,
        constraint: 0,
    };
    let stored = Counter {
        period: header.ops_period,
        used: U256::from(header.ops_used),
    };
    let (period, used) = period_and_used(state, limit, key, stored)?;
    // validate_spec caps the op limit at 2^64 - 1, so a count that passes fits in u64.
    let next = used.to::<u64>().checked_add(1);
    match next {
        Some(next) if U256::from(1) <= remaining(limit, used) => Ok(SessionHeader {
            ops_period: period,
            ops_used: next,
            ..header
        }),
        _ => Err(Violation::limit_exceeded(
            key,
            limit.limit,
            used,
            U256::from(1),
        )),
    }
}

/// Rules 11 and 12 (docs/rules.md).
fn check_fee(
    state: &mut State<'_>,
    spec: &SessionSpec,
    op: &Core<'_>,
    signature_valid: bool,
) -> Result<(), Violation> {
    let pm = op.paymaster_and_data;
    let mut paymaster_gas = U256::ZERO;
    if !pm.is_empty() {
        if pm.len() < 52 {
            return Err(Violation::malformed_paymaster_and_data(pm.len()));
        }
        let paymaster = Address::from_slice(&pm[..20]);
        if paymaster != Address::ZERO {
            let allowed = match spec.paymaster_mode() {
                Ok(PaymasterMode::None) => false,
                Ok(PaymasterMode::One) => paymaster == spec.paymaster,
                _ => true,
            };
            return if allowed {
                Ok(())
            } else {
                Err(Violation::paymaster_not_allowed(paymaster))
            };
        }
        paymaster_gas = U256::from_be_slice(&pm[20..36]) + U256::from_be_slice(&pm[36..52]);
    }
    let limit = &spec.feeLimit;
    if limit.is_unlimited() {
        return Ok(());
    }
    let gas_limits = U256::from_be_bytes(op.account_gas_limits.0);
    let max_fee = U256::from_be_slice(&op.gas_fees[16..]);
    // The EntryPoint's AA94 check (`check_fields`) caps every gas field at 2^120 before this
    // runs, so the prefund cannot overflow; were it to, the contract's checked arithmetic would
    // panic where this reads it as exceeding any budget.
    let prefund = op
        .pre_verification_gas
        .checked_add(gas_limits >> 128)
        .and_then(|g| g.checked_add(gas_limits & U256::from(u128::MAX)))
        .and_then(|g| g.checked_add(paymaster_gas))
        .and_then(|g| g.checked_mul(max_fee))
        .unwrap_or(U256::MAX);
    let key = CounterKey {
        kind: CounterKind::Fee,
        policy: 0,
        constraint: 0,
    };
    let stored = stored_counter(state, key);
    let (period, used) = period_and_used(state, limit, key, stored)?;
    if prefund > remaining(limit, used) {
        if signature_valid {
            return Err(Violation::limit_exceeded(key, limit.limit, used, prefund));
        }
        return Ok(());
    }
    state.counters.insert(
        key,
        Counter {
            period,
            used: used + prefund,
        },
    );
    Ok(())
}

/// Raw-digest ECDSA recovery with the contract's rules: 65 bytes, v ∈ {27, 28}, low s, and
/// never for digest 0 (anyone who knows a public key can forge a signature over it).
pub fn recover(digest: B256, signature: &[u8]) -> Option<Address> {
    if signature.len() != 65 || digest.is_zero() {
        return None;
    }
    let s = U256::from_be_slice(&signature[32..64]);
    let half_n = U256::from_str_radix(
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        16,
    )
    .expect("constant");
    let v = signature[64];
    if s > half_n || (v != 27 && v != 28) {
        return None;
    }
    let parsed = alloy::primitives::Signature::from_raw(signature).ok()?;
    parsed.recover_address_from_prehash(&digest).ok()
}
