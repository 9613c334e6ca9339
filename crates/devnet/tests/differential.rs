//! Differential test: random sessions and sequences of ops, each judged by the Rust engine and
//! by the contract through `handleOps`. Verdicts must be identical (the same error with the
//! same arguments, or the same EntryPoint refusal), and after every accepted op the header and
//! counters the engine computed must equal the validator's storage.
//!
//! Most ops stay inside their session and drive a budget (a sum, a value, a call count, the fee)
//! to its exact edge: all that is left, or one more. A mutation layer that knows nothing of the
//! encoding then flips, sets, truncates, extends or splices bytes of the signature, callData and
//! paymasterAndData, routes ops to other validators through the nonce key, and adds initCode.
//!
//! `SESSIONKEYS_DIFF_OPS` sets how many ops to run (default 2,000; `scripts/differential` runs
//! 100,000); `SESSIONKEYS_DIFF_SEED` the seed. A failure prints the seed, the session and the op
//! to replay it.
mod common;

use alloy::primitives::{
    Address, B256, Bytes, U256,
    aliases::{U48, U160},
};
use alloy::sol_types::SolCall;
use common::*;
use sessionkeys_chain::execution::{Call, encode_calls, encode_with_mode};
use sessionkeys_chain::userop::{Paymaster, nonce_key, session_lane};
use sessionkeys_chain::validator_state::{
    ValidatorSetting, counter_slot, decode_counter, decode_header, header_slot, hosted,
};
use sessionkeys_chain::{EntryPointVersion, UserOperation, signing};
use sessionkeys_contracts::abi::{Game, SessionAccountFactory, TestToken};
use sessionkeys_contracts::session::{
    ChainEpoch, ISessionKeyValidator as V, SessionSpec, UsageLimit,
};
use sessionkeys_contracts::vocabulary::packed::decode_signature;
use sessionkeys_devnet::BundleError;
use sessionkeys_devnet::state::{eval_context, sender_state};
use sessionkeys_engine::advisory::{EntryPointRules, EntryPointVerdict, entry_point_verdict};
use sessionkeys_engine::evaluate::carried_session_hash;
use sessionkeys_engine::{CounterKey, CounterKind, EvalContext, SenderState, Violation, evaluate};
use std::collections::BTreeMap;

/// splitmix64: small, seedable, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

fn random_limit(rng: &mut Rng, scale: u64) -> UsageLimit {
    match rng.below(3) {
        0 => UsageLimit::unlimited(),
        1 => UsageLimit::lifetime(rng.below(scale * 3) + 1),
        _ => UsageLimit::allowance(rng.below(scale * 2) + 1, rng.pick(&[60, 120, 3600, 86_400])),
    }
}

fn random_spec(rng: &mut Rng, h: &Harness) -> SessionSpec {
    let now = h.now();
    let (usdc, token18, game) = (
        h.usdc(),
        h.devnet.addresses.token18,
        h.devnet.addresses.game,
    );
    let mut spec = h.spec();
    spec.validAfter = U48::from(now - rng.below(7200));
    spec.validUntil = U48::from(now + 3600 + rng.below(3 * 86_400));
    if rng.chance(3) {
        spec.validUntil = spec.validAfter; // degenerate
    }
    if rng.chance(3) {
        spec.signer = Address::ZERO;
    }
    let prefund = UserOperation::new(Address::ZERO, U256::ZERO, Bytes::new())
        .max_prefund()
        .to::<u64>();
    spec.feeLimit = random_limit(rng, prefund * 8);
    spec.opLimit = random_limit(rng, 7);
    let paymaster_mode = rng.pick(PaymasterMode::ALL);
    spec.paymasterMode = paymaster_mode.into();
    if paymaster_mode == PaymasterMode::One {
        spec.paymaster = h.devnet.addresses.paymaster(h.version);
    }
    if paymaster_mode != PaymasterMode::None && spec.feeLimit.is_unlimited() {
        // Rule 21: a named paymaster needs a finite fee budget (the refusal comes below).
        spec.feeLimit = UsageLimit::lifetime(prefund * 3);
    }
    let mut policies = Vec::new();
    if rng.chance(80) {
        let recipient = match rng.below(3) {
            0 => Constraint::new(Condition::Equal, 0, word(ALICE), UsageLimit::unlimited()),
            1 => Constraint::one_of(0, vec![word(ALICE), word(BOB)]),
            _ => Constraint::new(
                Condition::Unconstrained,
                0,
                B256::ZERO,
                UsageLimit::unlimited(),
            ),
        };
        let mut recipient = recipient;
        recipient.bits = rng.pick(&[160, 256, 160]);
        let mut amount = Constraint::new(
            rng.pick(&[
                Condition::Unconstrained,
                Condition::LessOrEqual,
                Condition::Less,
            ]),
            1,
            U256::from(20 * USDC).into(),
            random_limit(rng, 60 * USDC),
        );
        amount.bits = rng.pick(&[256, 256, 64, 16]);
        let mut p = call_policy(
            usdc,
            TestToken::transferCall::SELECTOR,
            vec![recipient, amount],
        );
        p.callLimit = random_limit(rng, 4);
        policies.push(p);
    }
    if rng.chance(30) {
        policies.push(call_policy(
            usdc,
            TestToken::approveCall::SELECTOR,
            vec![Constraint::new(
                Condition::Equal,
                0,
                word(BOB),
                UsageLimit::unlimited(),
            )],
        ));
    }
    if rng.chance(30) {
        policies.push(call_policy(
            token18,
            TestToken::transferCall::SELECTOR,
            vec![],
        ));
    }
    if rng.chance(50) {
        let mut direction = Constraint::new(
            Condition::Less,
            0,
            U256::from(4).into(),
            UsageLimit::unlimited(),
        );
        direction.bits = 8;
        policies.push(call_policy(game, Game::moveCall::SELECTOR, vec![direction]));
    }
    if rng.chance(50) {
        let mut p = call_policy(game, Game::buyItemCall::SELECTOR, vec![]);
        p.maxValuePerUse = U256::from(rng.pick(&[1u64, 2, 3]) * 1_000_000_000_000_000);
        p.valueLimit = random_limit(rng, 5_000_000_000_000_000);
        policies.push(p);
    }
    policies.sort_by_key(|p| (p.target, p.selector));
    if rng.chance(4) && policies.len() > 1 {
        policies.swap(0, 1); // unsorted
    }
    spec.callPolicies = policies;
    if rng.chance(50) {
        spec.transferPolicies = vec![transfer_policy(
            ALICE,
            rng.pick(&[100, 1000, 10_000]),
            random_limit(rng, 3000),
        )];
    }
    spec.salt = B256::from(U256::from(rng.next()));
    // Now and then a spec the contract must refuse when first-use enable checks it.
    match rng.below(40) {
        0 => spec.opLimit = UsageLimit::allowance(1, 30),
        1 => {
            // "only this paymaster" naming no paymaster
            spec.paymasterMode = PaymasterMode::One.into();
            spec.paymaster = Address::ZERO;
        }
        2 => {
            if let Some(p) = spec.callPolicies.first_mut() {
                // a width of 0 bits: refused at enable (an unknown condition has no packed
                // form at all; the signature mutations cover that byte)
                p.constraints
                    .push(Constraint::unconstrained(0).with_bits(0));
            }
        }
        4 => {
            // rule 21: a named paymaster with an unlimited fee budget
            spec.paymasterMode = PaymasterMode::Any.into();
            spec.paymaster = Address::ZERO;
            spec.feeLimit = UsageLimit::unlimited();
        }
        3 => {
            spec.transferPolicies = vec![
                transfer_policy(BOB, 1, UsageLimit::unlimited()),
                transfer_policy(ALICE, 1, UsageLimit::unlimited()),
            ];
        }
        _ => {}
    }
    spec
}

fn random_call(rng: &mut Rng, h: &Harness) -> Call {
    let (usdc, token18, game) = (
        h.usdc(),
        h.devnet.addresses.token18,
        h.devnet.addresses.game,
    );
    match rng.below(18) {
        0..=8 => {
            let to = rng.pick(&[ALICE, ALICE, ALICE, BOB, CAROL]);
            let amount = rng.pick(&[0, 1, USDC, 5 * USDC, 20 * USDC, 20 * USDC + 1, 45 * USDC]);
            let mut call = usdc_transfer(usdc, to, amount);
            if rng.chance(5) {
                let mut data = call.data.to_vec();
                data[4] = 0x01; // a dirty high byte in the recipient word
                call.data = data.into();
            }
            call
        }
        9 => Call::typed(
            usdc,
            &TestToken::approveCall {
                spender: rng.pick(&[BOB, CAROL]),
                amount: U256::from(1),
            },
        ),
        10 => Call::typed(
            token18,
            &TestToken::transferCall {
                to: ALICE,
                amount: U256::ZERO,
            },
        ),
        11 => Call::typed(
            game,
            &Game::moveCall {
                direction: rng.below(6) as u8,
            },
        ),
        12 => {
            let item = rng.below(3) + 1;
            Call {
                to: game,
                value: U256::from(item * 1_000_000_000_000_000),
                data: Game::buyItemCall {
                    itemId: U256::from(item),
                }
                .abi_encode()
                .into(),
            }
        }
        13 => Call::transfer(
            rng.pick(&[ALICE, BOB]),
            U256::from(rng.pick(&[1u64, 100, 1000, 1001])),
        ),
        14 => Call::new(usdc, vec![0xa9, 0x05]),
        15 => Call::new(
            usdc,
            TestToken::transferCall {
                to: ALICE,
                amount: U256::from(1),
            }
            .abi_encode()[..36]
                .to_vec(),
        ),
        16 => Call::typed(
            rng.pick(&[h.account, h.validator, h.version.address()]),
            &TestToken::transferCall {
                to: ALICE,
                amount: U256::from(1),
            },
        ),
        _ => Call::typed(
            h.validator,
            &V::revokeSessionCall {
                sessionHash: B256::from(U256::from(rng.next())),
            },
        ),
    }
}

/// Sometimes breaks the packed signature (docs/compact-signatures.md): an unknown mode, the
/// first carried policy claimed at the next position (on the lane of the hash that names, or on
/// the original lane), a cut signature, or a byte appended.
fn tamper_signature(rng: &mut Rng, h: &mut Harness, op: &mut UserOperation) {
    let Ok(decoded) = decode_signature(&op.signature) else {
        return;
    };
    let mut signature = op.signature.to_vec();
    // The first carried position (use mode), right after the header and the count.
    let first_position = decoded.header.range.end + 2;
    match rng.below(50) {
        0 | 1 => signature[0] = SignatureMode::UNKNOWN,
        2 | 3 | 5 if decoded.mode == SignatureMode::Use && !decoded.carried.is_empty() => {
            let position =
                u16::from_be_bytes([signature[first_position], signature[first_position + 1]]);
            let moved = position.wrapping_add(1).to_be_bytes();
            signature[first_position..first_position + 2].copy_from_slice(&moved);
            if rng.below(3) != 2
                && let Ok(carried) = decode_signature(&signature)
            {
                let lane = sessionkeys_chain::userop::session_lane(carried.session_hash);
                let key = sessionkeys_chain::userop::nonce_key(h.validator, lane);
                op.nonce = h.devnet.nonce(h.version, h.account, key).unwrap();
            }
        }
        4 => signature.truncate(31),
        6 => signature.push(rng.next() as u8),
        _ => return,
    }
    op.signature = signature.into();
}

/// What is left of `limit` for `key` at `hint`, from the engine's snapshot (None: unlimited).
fn remaining(ctx: &EvalContext, limit: &UsageLimit, key: CounterKey, hint: u64) -> Option<U256> {
    let stored = ctx.counters.get(&key).copied().unwrap_or_default();
    let used = match limit.limit_type() {
        Ok(LimitType::Unlimited) => return None,
        Ok(LimitType::Allowance) if stored.period != hint / limit.period.to::<u64>() => U256::ZERO,
        _ => stored.used,
    };
    Some(limit.limit.saturating_sub(used))
}

/// An amount at a budget's edge: all that is left, one more, or part of it; `cap` bounds the
/// amount when no budget does.
fn edge_amount(rng: &mut Rng, left: Option<U256>, cap: U256) -> U256 {
    let left = left.unwrap_or(cap);
    match rng.below(10) {
        0..=3 => left,
        4 => left + U256::from(1),
        _ => left / U256::from(2),
    }
}

/// A call the session allows, with its amount driven to the edge of the budgets that count it:
/// the generator's way to accept ops and to test each budget at exactly its limit.
fn conforming_call(
    rng: &mut Rng,
    h: &Harness,
    spec: &SessionSpec,
    ctx: &EvalContext,
    hint: u64,
) -> Option<Call> {
    let choices = spec.callPolicies.len() + spec.transferPolicies.len();
    if choices == 0 {
        return None;
    }
    let pick = rng.below(choices as u64) as usize;
    let key = |kind, policy: usize, constraint: usize| CounterKey {
        kind,
        policy: policy as u16,
        constraint: constraint as u16,
    };
    if pick >= spec.callPolicies.len() {
        let p = pick - spec.callPolicies.len();
        let policy = &spec.transferPolicies[p];
        let left = remaining(
            ctx,
            &policy.valueLimit,
            key(CounterKind::TransferValue, p, 0),
            hint,
        );
        let cap = policy.maxValuePerUse;
        let value = edge_amount(rng, left.map(|l| l.min(cap)), cap);
        return Some(Call::transfer(policy.target, value));
    }
    let policy = &spec.callPolicies[pick];
    if policy.target == h.devnet.addresses.game && policy.selector.0 == Game::moveCall::SELECTOR {
        return Some(Call::typed(
            policy.target,
            &Game::moveCall {
                direction: rng.pick(&[0u8, 1, 2, 3, 3, 4]),
            },
        ));
    }
    if policy.selector.0 == Game::buyItemCall::SELECTOR {
        let left = remaining(
            ctx,
            &policy.valueLimit,
            key(CounterKind::CallValue, pick, 0),
            hint,
        );
        let value = edge_amount(
            rng,
            left.map(|l| l.min(policy.maxValuePerUse)),
            policy.maxValuePerUse,
        );
        return Some(Call {
            to: policy.target,
            value,
            data: Game::buyItemCall {
                itemId: U256::from(1),
            }
            .abi_encode()
            .into(),
        });
    }
    // A token transfer: the recipient every generated recipient constraint allows, and an amount
    // at the edge of the amount constraint's sum budget, its condition and its width.
    let mut cap = U256::from(45 * USDC);
    let mut left = None;
    for (c, constraint) in policy.constraints.iter().enumerate() {
        if constraint.index != 1 {
            continue;
        }
        let reference = U256::from_be_bytes(constraint.refValue.0);
        match constraint.condition() {
            Ok(Condition::LessOrEqual) => cap = cap.min(reference),
            Ok(Condition::Less) => cap = cap.min(reference.saturating_sub(U256::from(1))),
            _ => {}
        }
        if constraint.bits < 256 {
            cap = cap.min((U256::from(1) << constraint.bits as usize) - U256::from(1));
        }
        left = remaining(
            ctx,
            &constraint.limit,
            key(CounterKind::ConstraintSum, pick, c),
            hint,
        );
    }
    let amount = edge_amount(rng, left.map(|l| l.min(cap)), cap);
    if policy.selector.0 == TestToken::approveCall::SELECTOR {
        return Some(Call::typed(
            policy.target,
            &TestToken::approveCall {
                spender: BOB,
                amount,
            },
        ));
    }
    let to = if rng.chance(90) { ALICE } else { BOB };
    Some(Call::typed(
        policy.target,
        &TestToken::transferCall { to, amount },
    ))
}

/// A mutation that knows nothing of the encoding: flip a bit, set a byte, truncate, extend,
/// splice a word from elsewhere, or dirty the top byte of a word.
fn mutate_bytes(rng: &mut Rng, bytes: &[u8]) -> Bytes {
    let mut out = bytes.to_vec();
    let len = out.len().max(1) as u64;
    match rng.below(7) {
        0 if !out.is_empty() => {
            let at = rng.below(len) as usize;
            out[at] ^= 1 << rng.below(8);
        }
        1 if !out.is_empty() => {
            let at = rng.below(len) as usize;
            out[at] = rng.next() as u8;
        }
        2 => out.truncate(rng.below(len) as usize),
        3 => {
            let extra = rng.below(70) as usize + 1;
            let junk = rng.chance(50);
            out.extend((0..extra).map(|_| if junk { rng.next() as u8 } else { 0 }));
        }
        4 if out.len() >= 64 => {
            // splice: one word copied over another (offsets, lengths and values trade places)
            let words = out.len() / 32;
            let (from, to) = (
                rng.below(words as u64) as usize * 32,
                rng.below(words as u64) as usize * 32,
            );
            let word: Vec<u8> = out[from..from + 32].to_vec();
            out[to..to + 32].copy_from_slice(&word);
        }
        5 if out.len() >= 32 => {
            // dirty the high byte of a word (a uint8/uint48 member's unused bits, or an offset)
            let at = rng.below((out.len() / 32) as u64) as usize * 32;
            out[at] |= 1 << rng.below(8);
        }
        _ => {
            // junk past the end: bytes nobody reads
            out.extend((0..32).map(|_| rng.next() as u8));
        }
    }
    out.into()
}

/// The packed fields the contract reads first: a bit of the mode byte, of the hint, of the
/// header's first limit type, or of the count of carried policies (use mode).
fn mutate_signature_fields(rng: &mut Rng, signature: &[u8]) -> Bytes {
    let mut out = signature.to_vec();
    let Ok(decoded) = decode_signature(signature) else {
        return out.into();
    };
    let fee_limit_type = decoded.header.range.start + 32;
    let count = decoded.header.range.end;
    let at = match rng.below(4) {
        0 => 0,
        1 => 1 + rng.below(6) as usize,
        2 => fee_limit_type,
        _ => count + rng.below(2) as usize,
    };
    if let Some(byte) = out.get_mut(at) {
        *byte ^= 1 << rng.below(8);
    }
    out.into()
}

/// Puts the op on the lane of the session hash it now carries (as the contract reads it), so
/// a mutated spec gets past the lane check half of the time and reaches the deeper reads.
fn relane(h: &mut Harness, op: &mut UserOperation) {
    let input = sessionkeys_devnet::judge::engine_input(op, B256::ZERO);
    if let Some(carried) = carried_session_hash(&input) {
        let key = nonce_key(h.validator, session_lane(carried));
        op.nonce = h.devnet.nonce(h.version, h.account, key).unwrap();
    }
}

/// The mutation layer, blind to the encoding: the signature, callData and paymasterAndData
/// bytes; nonce keys that name another validator (none, one not installed); initCode on a
/// deployed sender.
fn mutate_op(rng: &mut Rng, h: &mut Harness, op: &mut UserOperation) {
    match rng.below(100) {
        0..=5 => {
            op.signature = mutate_bytes(rng, &op.signature);
            if rng.chance(50) {
                relane(h, op);
            }
        }
        6..=8 => op.signature = mutate_signature_fields(rng, &op.signature),
        9 | 10 => op.call_data = mutate_bytes(rng, &op.call_data),
        11 | 12 => {
            let pm = op.paymaster_and_data();
            op.raw_paymaster_and_data = Some(mutate_bytes(rng, &pm));
        }
        13 | 14 => {
            let other = if h.validator == h.devnet.addresses.validator {
                h.devnet.addresses.registry_validator
            } else {
                h.devnet.addresses.validator
            };
            let random = Address::from(U160::from(rng.next()));
            let validator = rng.pick(&[Address::ZERO, other, random]);
            let lane = op.nonce.to_be_bytes::<32>()[20..24].try_into().unwrap();
            let key = nonce_key(validator, u32::from_be_bytes(lane));
            op.nonce = h.devnet.nonce(h.version, h.account, key).unwrap();
        }
        15 | 16 => {
            let factory = h.devnet.addresses.factory(h.version);
            let data: Bytes = SessionAccountFactory::createAccountCall {
                owner: h.owner.address(),
                validators: vec![h.validator],
                salt: U256::ZERO,
            }
            .abi_encode()
            .into();
            // v0.8 reads the 0x7702 marker as an init call on a delegated EOA (getUserOpHash
            // refuses a sender that is not one); v0.7 as a factory address.
            let mut marker = Address::ZERO;
            marker.0[0] = 0x77;
            marker.0[1] = 0x02;
            op.factory = Some(match (rng.below(3), h.version) {
                (0, EntryPointVersion::V07) => (marker, data),
                (1, _) => (Address::from(U160::from(rng.next())), Bytes::new()),
                _ => (factory, data),
            });
        }
        _ => {}
    }
}

#[derive(Debug)]
enum Outcome {
    Accepted,
    SignatureError,
    OutOfTimeRange,
    Refused(Bytes),
    /// AA3x: the paymaster's own validation, which the EntryPoint runs after the account's
    /// and before it reads the account's validation data; AA21: the account's deposit. Outside
    /// the session's semantics (the engine has no balances).
    AfterValidation(String),
    /// The EntryPoint refused before the account ran (`AA1x`, `AA9x`), as `FailedOp` or as a
    /// plain `Error(string)` revert of `handleOps`.
    EntryPoint(String),
}

fn contract_outcome(h: &mut Harness, op: UserOperation) -> Outcome {
    match h.devnet.handle_ops(h.version, &[op]) {
        Ok(_) => Outcome::Accepted,
        Err(sessionkeys_devnet::DevnetError::Bundle(BundleError::FailedOp {
            reason,
            inner,
            ..
        })) => match reason.as_str() {
            "AA24 signature error" => Outcome::SignatureError,
            "AA22 expired or not due" => Outcome::OutOfTimeRange,
            "AA23 reverted" => Outcome::Refused(inner),
            after if after.starts_with("AA3") || after.starts_with("AA21") => {
                Outcome::AfterValidation(reason)
            }
            before if before.starts_with("AA1") || before.starts_with("AA9") => {
                Outcome::EntryPoint(reason)
            }
            other => panic!("unexpected EntryPoint refusal {other}"),
        },
        Err(sessionkeys_devnet::DevnetError::Bundle(BundleError::Reverted(data))) => {
            match <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_decode(&data) {
                Ok(revert) => Outcome::EntryPoint(revert.reason),
                Err(_) => panic!("handleOps reverted: {data}"),
            }
        }
        Err(e) => panic!("bundle failed: {e}"),
    }
}

#[test]
fn the_engine_agrees_with_the_contract_on_random_sessions_and_ops() {
    judge_random_sessions_and_ops(ValidatorCode::Deployed);
}

/// The same corpus (the same seed) with the one-pass check of the common op turned off: the
/// precise path alone must give every verdict and every stored counter the engine gives, as the
/// deployed validator does, so the pass and the precise path agree on every op of the corpus.
#[test]
fn the_engine_agrees_with_the_precise_path_alone_on_the_same_ops() {
    judge_random_sessions_and_ops(ValidatorCode::PreciseOnly);
}

/// Which code runs at the validators' addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValidatorCode {
    /// The deployed SessionKeyValidator: the one pass, then the precise path.
    Deployed,
    /// The fixture PreciseOnlyValidator (the pass turned off), with the same immutables.
    PreciseOnly,
}

/// PreciseOnlyValidator's runtime code with the immutables of the validator deployed for
/// `registry` (zero: the plain one), built once by deploying it on a copy of the devnet.
fn precise_only_code(registry: Address) -> Bytes {
    static CODE: std::sync::OnceLock<BTreeMap<Address, Bytes>> = std::sync::OnceLock::new();
    let codes = CODE.get_or_init(|| {
        let mut devnet = devnet();
        let mut codes = BTreeMap::new();
        for registry in [Address::ZERO, devnet.addresses.registry] {
            let deployed = sessionkeys_chain::deployment::session_key_validator(registry);
            let validator_code =
                &sessionkeys_contracts::artifacts::session_key_validator().bytecode;
            let arguments = &deployed.init_code[validator_code.len()..];
            let init_code: Vec<u8> = [
                &sessionkeys_contracts::artifacts::precise_only_validator().bytecode[..],
                arguments,
            ]
            .concat();
            let at = devnet
                .chain
                .deploy_create2(
                    sessionkeys_devnet::devnet::DEVNET_ADMIN,
                    deployed.salt,
                    &init_code,
                )
                .unwrap();
            codes.insert(registry, devnet.chain.code(at));
        }
        codes
    });
    codes[&registry].clone()
}

/// The fixture really turns the pass off, and the deployed code really takes it: the same
/// common op (one spending policy, one transfer) costs more gas on the precise path alone, and
/// leaves the same counters.
#[test]
fn the_common_op_takes_the_one_pass_on_the_deployed_code_and_not_on_the_fixture() {
    let mut gas = Vec::new();
    for code in [ValidatorCode::Deployed, ValidatorCode::PreciseOnly] {
        let mut h = Harness::new(EntryPointVersion::V07);
        let spec = spending_session(&h);
        h.enable(&spec);
        if code == ValidatorCode::PreciseOnly {
            let validator = h.validator;
            h.devnet
                .chain
                .set_code(validator, precise_only_code(Address::ZERO));
        }
        let usdc = h.usdc();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 7 * USDC)]);
        gas.push(h.submit(op).unwrap_ok().gas_used);
        let hint = h.now();
        let spent = h
            .session_usage(&spec, hint)
            .into_iter()
            .find(|usage| usage.counter_kind() == Ok(CounterKind::ConstraintSum))
            .expect("the spending limit is listed");
        assert_eq!(spent.used, U256::from(7 * USDC), "{code:?}");
    }
    assert!(
        gas[0] + 2_000 < gas[1],
        "the one pass saves gas on the common op: {gas:?}"
    );
}

fn judge_random_sessions_and_ops(code: ValidatorCode) {
    let total_ops: usize = std::env::var("SESSIONKEYS_DIFF_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("SESSIONKEYS_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5e55_104e);
    let mut rng = Rng(seed);
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    let mut ops_run = 0;
    let mut session_index = 0;
    while ops_run < total_ops {
        session_index += 1;
        let version = if session_index % 2 == 0 {
            EntryPointVersion::V07
        } else {
            EntryPointVersion::V08
        };
        let rules = if version == EntryPointVersion::V07 {
            EntryPointRules::V07
        } else {
            EntryPointRules::V08
        };
        // One session in ten runs under the registry-mode validator.
        let registry_mode = rng.chance(10);
        let mut h = if registry_mode {
            Harness::with_validator(version, devnet().addresses.registry_validator)
        } else {
            Harness::new(version)
        };
        if code == ValidatorCode::PreciseOnly {
            let addresses = h.devnet.addresses;
            for (validator, registry) in [
                (addresses.validator, Address::ZERO),
                (addresses.registry_validator, addresses.registry),
            ] {
                h.devnet
                    .chain
                    .set_code(validator, precise_only_code(registry));
            }
        }
        let token18 = h.devnet.addresses.token18;
        let account = h.account;
        h.devnet
            .send(
                sessionkeys_devnet::devnet::DEVNET_ADMIN,
                token18,
                U256::ZERO,
                &TestToken::mintCall {
                    to: account,
                    amount: U256::from(ETHER),
                },
            )
            .unwrap();
        let spec = random_spec(&mut rng, &h);
        let hash = signing::session_hash(&spec).unwrap();
        // Enable on-chain half of the time (if the spec is valid); otherwise ops carry approvals.
        let onchain = rng.chance(50) && {
            let validator = h.validator;
            let op = h.owner_op(&[Call::typed(
                validator,
                &V::enableSessionCall {
                    spec: packed(&spec),
                },
            )]);
            matches!(h.submit(op), Verdict::Ok(_))
        };
        let setting = ValidatorSetting {
            validator: h.validator,
            entry_points: [
                EntryPointVersion::V07.address(),
                EntryPointVersion::V08.address(),
            ],
            registry: registry_mode.then_some(h.devnet.addresses.registry),
        };
        // A session runs up to 20 ops; one the contract refuses for good (an invalid spec, a
        // revoke, a window that has passed) only a few more, so the ops go where the verdicts
        // still vary.
        let refused_for_good =
            sessionkeys_engine::validate_spec(&spec).is_err() || registry_mode && !onchain; // first-use enable is refused under a registry
        let mut ops_left = if refused_for_good { 4 } else { 20 };
        for op_index in 0..20 {
            if ops_run >= total_ops || ops_left == 0 {
                break;
            }
            ops_run += 1;
            ops_left -= 1;
            let step = if rng.chance(3) {
                86_400
            } else {
                rng.pick(&[0, 1, 7, 30, 30, 61, 61, 120, 600, 3600])
            };
            h.devnet.chain.advance(step);
            if rng.chance(1) {
                let validator = h.validator;
                let revoke = if rng.chance(50) {
                    Call::typed(validator, &V::revokeAllCall {})
                } else {
                    Call::typed(validator, &V::revokeSessionCall { sessionHash: hash })
                };
                h.owner_exec(&[revoke]);
                ops_left = ops_left.min(3);
            }
            let now = h.now();
            if now > spec.validUntil.to::<u64>() {
                ops_left = ops_left.min(2);
            }
            // Most ops stay inside the session and drive a budget to its edge; the rest are
            // random calls, most of them refused.
            let conforming = rng.chance(80);
            let before = EvalContext {
                sender: SenderState::deployed(rules, h.validator),
                ..eval_context(
                    &h.devnet.chain,
                    &setting,
                    h.account,
                    Some(h.owner.address()),
                    vec![h.validator],
                    &spec,
                    hash,
                )
            };
            let calls: Vec<Call> = match conforming
                .then(|| conforming_call(&mut rng, &h, &spec, &before, now))
                .flatten()
            {
                Some(call) => vec![call],
                None => (0..rng.below(3) + 1)
                    .map(|_| random_call(&mut rng, &h))
                    .collect(),
            };
            let mut call_data = encode_calls(&calls);
            if !conforming && rng.chance(3) {
                let mut mode = [0u8; 32];
                mode[0] = rng.pick(&[0xff, 0xfe, 0x00]);
                mode[1] = 1;
                call_data = encode_with_mode(B256::from(mode), call_data.slice(100..));
            }
            let hint = match rng.below(if conforming { 100 } else { 20 }) {
                0 => now.saturating_sub(rng.below(90_000)),
                1 => now + rng.below(90_000),
                _ => now,
            };
            let enable_mode = !onchain && rng.chance(85) || rng.chance(5);
            let approval = enable_mode.then(|| {
                let epoch = h.epoch();
                let chain = match rng.below(if conforming { 50 } else { 6 }) {
                    0 => ChainEpoch { chainId: 1, epoch },
                    1 => ChainEpoch {
                        chainId: h.devnet.chain.chain_id(),
                        epoch: epoch + 1,
                    },
                    _ => ChainEpoch {
                        chainId: h.devnet.chain.chain_id(),
                        epoch,
                    },
                };
                let mut approval = h.approval(&spec, vec![chain]);
                if !conforming && rng.chance(5) {
                    approval.owner_signature = signing::sign_digest(&key(7), B256::ZERO);
                }
                approval
            });
            let wrong_key = !conforming && rng.chance(5);
            let sponsor = rng.below(if conforming { 25 } else { 10 });
            // The fee budget at its edge too: a max fee that makes the prefund all that is left
            // of it (to the wei when it divides), or one wei per gas more.
            let fee_key = CounterKey {
                kind: CounterKind::Fee,
                policy: 0,
                constraint: 0,
            };
            let fee_left =
                remaining(&before, &spec.feeLimit, fee_key, hint).filter(|_| rng.chance(90));
            // Spend all of it now and then (then one wei per gas over, or a tenth of it).
            let (fee_over, fee_share) = (
                rng.chance(10),
                rng.pick(&[1u64, 10, 20, 20, 30, 30, 30, 30, 30, 30]),
            );
            let (paymaster_ours, paymaster_other) = (
                h.devnet.addresses.paymaster(version),
                h.devnet
                    .addresses
                    .paymaster(if version == EntryPointVersion::V07 {
                        EntryPointVersion::V08
                    } else {
                        EntryPointVersion::V07
                    }),
            );
            let real_key = h.session_key.clone();
            if wrong_key {
                h.session_key = key(3);
            }
            let op = h.session_op_with(&spec, call_data, hint, approval.as_ref(), |op| {
                let pm = |address| {
                    Some(Paymaster {
                        address,
                        verification_gas_limit: 100_000,
                        post_op_gas_limit: 50_000,
                        data: Bytes::new(),
                    })
                };
                match sponsor {
                    0 => op.paymaster = pm(paymaster_ours),
                    1 => op.paymaster = pm(paymaster_other),
                    _ => {}
                }
                if let Some(left) = fee_left {
                    let gas = op.pre_verification_gas
                        + U256::from(op.verification_gas_limit)
                        + U256::from(op.call_gas_limit);
                    let fee = left / gas / U256::from(fee_share) + U256::from(fee_over as u8);
                    if fee >= U256::from(1) && fee <= U256::from(u64::MAX) {
                        op.max_fee_per_gas = fee.to();
                        op.max_priority_fee_per_gas =
                            op.max_priority_fee_per_gas.min(op.max_fee_per_gas);
                    }
                }
            });
            h.session_key = real_key;
            let mut op = op;
            if !conforming {
                tamper_signature(&mut rng, &mut h, &mut op);
            }
            mutate_op(&mut rng, &mut h, &mut op);

            let Ok(user_op_hash) = h.devnet.user_op_hash(version, &op) else {
                panic!("getUserOpHash reverted on a generated op: {op:?}");
            };
            let mut input = sessionkeys_devnet::judge::engine_input(&op, user_op_hash);
            let carried_hash = carried_session_hash(&input).unwrap_or(hash);
            let context = EvalContext {
                sender: sender_state(&mut h.devnet.chain, rules, &input, vec![h.validator]),
                ..eval_context(
                    &h.devnet.chain,
                    &setting,
                    h.account,
                    Some(h.owner.address()),
                    vec![h.validator],
                    &spec,
                    carried_hash,
                )
            };
            input.user_op_hash = user_op_hash;
            let engine = evaluate(&context, &input);
            let block_time = h.now();
            let contract = contract_outcome(&mut h, op);
            let replay = || {
                format!(
                    "seed {seed}, session {session_index}, op {op_index}, {version}\nspec: {spec:?}\ncalls: {calls:?}"
                )
            };
            let label = match (&engine, &contract) {
                (Err(violation), Outcome::Refused(data)) => {
                    assert_eq!(
                        &violation.revert_data(),
                        data,
                        "engine {violation} vs contract {}\n{}",
                        sessionkeys_chain::decode_revert(data),
                        replay()
                    );
                    violation.name().to_string()
                }
                (Ok(_), Outcome::AfterValidation(reason)) => format!("after validation: {reason}"),
                (Err(Violation::EntryPoint(expected)), Outcome::EntryPoint(reason)) => {
                    assert_eq!(expected, reason, "EntryPoint refusal\n{}", replay());
                    reason[..4].to_string()
                }
                (Ok(validation), outcome) => {
                    let expected = entry_point_verdict(rules, validation, block_time);
                    let agrees = matches!(
                        (expected, outcome),
                        (EntryPointVerdict::Accepted, Outcome::Accepted)
                            | (EntryPointVerdict::SignatureError, Outcome::SignatureError)
                            | (EntryPointVerdict::OutOfTimeRange, Outcome::OutOfTimeRange)
                    );
                    assert!(
                        agrees,
                        "engine {expected:?} ({validation:?}) vs contract {outcome:?}\n{}",
                        replay()
                    );
                    if expected == EntryPointVerdict::Accepted {
                        let validator = h.validator;
                        let (stored, hosted_counter) = decode_header(
                            h.devnet
                                .chain
                                .storage(validator, header_slot(carried_hash, h.account)),
                            hosted(&spec),
                        );
                        assert_eq!(
                            stored,
                            validation.header,
                            "header after the op\n{}",
                            replay()
                        );
                        for (key, counter) in &validation.counters {
                            let stored = match hosted_counter {
                                Some((hosted_key, hosted)) if hosted_key == *key => hosted,
                                _ => decode_counter(h.devnet.chain.storage(
                                    validator,
                                    counter_slot(carried_hash, *key, h.account),
                                )),
                            };
                            assert_eq!(
                                stored,
                                *counter,
                                "counter {key:?} after the op\n{}",
                                replay()
                            );
                        }
                    }
                    format!("{expected:?}")
                }
                (engine, contract) => {
                    panic!("engine {engine:?} vs contract {contract:?}\n{}", replay())
                }
            };
            *histogram.entry(label).or_default() += 1;
        }
    }
    println!("differential ({code:?}): {ops_run} ops over {session_index} sessions, seed {seed}");
    for (verdict, count) in &histogram {
        println!("  {verdict:<32} {count}");
    }
    let accepted = histogram.get("Accepted").copied().unwrap_or(0);
    let share = accepted as f64 / ops_run as f64;
    println!("  accepted share: {:.1} %", 100.0 * share);
    // Budgets are driven to their edges by ops that get there: most ops must pass.
    assert!(
        share >= 0.30,
        "only {:.1} % of the ops were accepted",
        100.0 * share
    );
    // The generator must reach every refusal it is built to provoke. (InvalidWindow cannot come
    // out of validateUserOp in practice: the hint must lie inside the window before the spec
    // checks run; session_lifecycle::degenerate_specs_are_refused_at_enable covers it.)
    for expected in [
        "Accepted",
        "SignatureError",
        "OutOfTimeRange",
        "NoCallPolicy",
        "NoTransferPolicy",
        "ConstraintViolated",
        "LimitExceeded",
        "ValuePerUseExceeded",
        "BannedTarget",
        "WordTooWide",
        "CalldataTooShortForSelector",
        "CalldataTooShortForConstraint",
        "TimeHintOutsideSession",
        "SessionNotEnabled",
        "UnsupportedExecutionMode",
        "PaymasterNotAllowed",
        "ChainNotApproved",
        "EnableEpochMismatch",
        "InvalidSigner",
        "SessionRevoked",
        "SessionEpochStale",
        "CallPoliciesNotSorted",
        "UnknownSignatureMode",
        "WrongNonceLane",
        "InvalidUsageLimit",
        "InvalidPaymasterPolicy",
        "FeeLimitRequired",
        "InvalidConstraint",
        "TransferPoliciesNotSorted",
        "MalformedEncoding",
        "RegistryRequiresOnchainEnable",
        "NonCanonicalExecution",
        "ValidatorNotInstalled",
        "AA10",
        "AA93",
    ] {
        assert!(
            histogram.contains_key(expected),
            "the generator never produced {expected}: {histogram:#?}"
        );
    }
}

/// Cases found by hand (issue 9, section 6), each judged by both sides through
/// `sessionkeys_devnet::judge`: the engine and `handleOps` against the same state.
mod found_by_hand {
    use super::*;
    use sessionkeys_devnet::judge::{Judgement, Refusal, Verdict as J, judge};

    fn judged(h: &mut Harness, spec: &SessionSpec, op: UserOperation) -> Judgement {
        let (version, validator, owner) = (h.version, h.validator, h.owner.address());
        let judgement = judge(&mut h.devnet, version, validator, Some(owner), spec, op).unwrap();
        assert!(
            judgement.agrees(),
            "engine {} vs contract {}",
            judgement.engine,
            judgement.contract
        );
        judgement
    }

    /// An enabled session and a signed op of it that both sides accept as it is.
    fn enabled(version: EntryPointVersion) -> (Harness, SessionSpec, UserOperation) {
        let mut h = Harness::new(version);
        let usdc = h.usdc();
        let mut spec = h.spec();
        spec.callPolicies = vec![usdc_policy(usdc, &[ALICE], UsageLimit::unlimited())];
        h.enable(&spec);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, USDC)]);
        (h, spec, op)
    }

    /// The contract's verdict on `op` with its signature replaced by `signature`.
    fn judged_signature(version: EntryPointVersion, signature: Vec<u8>) -> J {
        let (mut h, spec, mut op) = enabled(version);
        op.signature = signature.into();
        judged(&mut h, &spec, op).contract
    }

    fn malformed_at(offset: usize) -> J {
        J::Refused(Refusal::Violation(Violation::malformed_encoding(offset)))
    }

    #[test]
    fn a_cut_or_extended_signature_is_malformed_at_the_same_byte_on_both_sides() {
        each_version(|version| {
            let (_, _, op) = enabled(version);
            let signature = op.signature.to_vec();
            let decoded = decode_signature(&signature).unwrap();
            let leaf = decoded.carried[0].offset;
            // Cut inside the leaf: the field it cuts; a byte appended: the proof region of a
            // one-policy session must be empty.
            let cut = leaf + 30;
            let mut short = signature[..cut].to_vec();
            short.extend_from_slice(&[0x11; 65]);
            assert!(matches!(judged_signature(version, short), J::Refused(_)));
            let mut long = signature.clone();
            long.insert(signature.len() - 65, 0);
            let proof_start = signature.len() - 65;
            assert_eq!(judged_signature(version, long), malformed_at(proof_start));
        });
    }

    #[test]
    fn an_unknown_limit_type_is_malformed_at_its_byte_on_both_sides() {
        each_version(|version| {
            let (_, _, op) = enabled(version);
            let mut signature = op.signature.to_vec();
            let fee_limit_type = decode_signature(&signature).unwrap().header.range.start + 32;
            signature[fee_limit_type] = sessionkeys_contracts::vocabulary::LimitType::UNKNOWN;
            assert_eq!(
                judged_signature(version, signature),
                malformed_at(fee_limit_type)
            );
        });
    }

    #[test]
    fn an_unknown_mode_byte_is_refused_by_name_on_both_sides() {
        each_version(|version| {
            let (_, _, op) = enabled(version);
            let mut signature = op.signature.to_vec();
            signature[0] = SignatureMode::UNKNOWN;
            assert_eq!(
                judged_signature(version, signature),
                J::Refused(Refusal::Violation(Violation::unknown_signature_mode(
                    SignatureMode::UNKNOWN
                )))
            );
        });
    }

    #[test]
    fn a_bad_batch_encoding_reports_the_contracts_first_error_the_session_status() {
        each_version(|version| {
            let mut h = Harness::new(version);
            let spec = h.spec(); // never enabled
            let usdc = h.usdc();
            let mut call_data = encode_calls(&[
                usdc_transfer(usdc, ALICE, USDC),
                usdc_transfer(usdc, BOB, USDC),
            ])
            .to_vec();
            // the batch's first element offset (byte 64 of the execution data) off by a word
            call_data[100 + 64 + 31] ^= 0x20;
            let hint = h.now();
            let op = h.session_op_with(&spec, call_data.into(), hint, None, |_| {});
            let judgement = judged(&mut h, &spec, op);
            let J::Refused(Refusal::Violation(violation)) = &judgement.contract else {
                panic!("refused expected, got {}", judgement.contract);
            };
            assert_eq!(violation.name(), "SessionNotEnabled", "{violation}");
        });
    }

    #[test]
    fn a_nonce_key_naming_a_validator_not_installed_is_refused_as_the_account_refuses_it() {
        each_version(|version| {
            let (mut h, spec, mut op) = enabled(version);
            let other = h.devnet.addresses.registry_validator;
            let lane = op.nonce.to_be_bytes::<32>()[20..24].try_into().unwrap();
            op.nonce = h
                .devnet
                .nonce(
                    version,
                    h.account,
                    nonce_key(other, u32::from_be_bytes(lane)),
                )
                .unwrap();
            let judgement = judged(&mut h, &spec, op);
            assert_eq!(
                judgement.contract,
                J::Refused(Refusal::Violation(Violation::ValidatorNotInstalled(other)))
            );
        });
    }

    #[test]
    fn a_nonce_key_naming_no_validator_is_the_owners_signature_check() {
        each_version(|version| {
            let (mut h, spec, op) = enabled(version);
            let lane = op.nonce.to_be_bytes::<32>()[20..24].try_into().unwrap();
            let key = nonce_key(Address::ZERO, u32::from_be_bytes(lane));
            let nonce = h.devnet.nonce(version, h.account, key).unwrap();
            // signed by the session key for this very op: only the owner's signature counts here
            let (usdc, hint) = (h.usdc(), h.now());
            let call_data = encode_calls(&[usdc_transfer(usdc, ALICE, USDC)]);
            let op = h.session_op_with(&spec, call_data, hint, None, |op| op.nonce = nonce);
            let judgement = judged(&mut h, &spec, op);
            assert_eq!(judgement.contract, J::SignatureFailed);
        });
    }

    #[test]
    fn an_init_code_for_a_deployed_sender_is_refused_with_aa10_by_both_sides() {
        each_version(|version| {
            let (mut h, spec, _) = enabled(version);
            let factory = h.devnet.addresses.factory(version);
            let data: Bytes = SessionAccountFactory::createAccountCall {
                owner: h.owner.address(),
                validators: vec![h.validator],
                salt: U256::ZERO,
            }
            .abi_encode()
            .into();
            let usdc = h.usdc();
            let hint = h.now();
            let op = h.session_op_with(
                &spec,
                encode_calls(&[usdc_transfer(usdc, ALICE, USDC)]),
                hint,
                None,
                |op| op.factory = Some((factory, data)),
            );
            let judgement = judged(&mut h, &spec, op);
            assert_eq!(
                judgement.contract,
                J::EntryPoint("AA10 sender already constructed".into())
            );
        });
    }
}

mod counterfactual {
    use super::*;
    use sessionkeys_chain::signing::EnableApproval;
    use sessionkeys_devnet::judge::{Judgement, judge};

    /// The first op of a counterfactual account, with first-use enable, whose initCode asks
    /// the factory for the account of salt `init_salt` (the sender is that of salt 77).
    fn first_op(version: EntryPointVersion, init_salt: u64) -> (Harness, Address, Judgement) {
        let mut h = Harness::new(version);
        let usdc = h.usdc();
        let mut spec = h.spec();
        spec.callPolicies = vec![usdc_policy(usdc, &[ALICE], UsageLimit::unlimited())];
        let (owner, validator) = (h.owner.address(), h.validator);
        let factory = h.devnet.addresses.factory(version);
        let salt = U256::from(77);
        let account = h
            .devnet
            .chain
            .call_typed(
                factory,
                &SessionAccountFactory::getAddressCall {
                    owner,
                    validators: vec![validator],
                    salt,
                },
            )
            .unwrap();
        h.devnet.chain.set_balance(account, U256::from(ETHER));
        let chains = vec![ChainEpoch {
            chainId: h.devnet.chain.chain_id(),
            epoch: 0,
        }];
        let digest = signing::enable_digest(validator, account, &spec, &chains);
        let approval = EnableApproval {
            chains,
            owner_signature: signing::sign_digest(&h.owner, digest),
        };
        let init: Bytes = SessionAccountFactory::createAccountCall {
            owner,
            validators: vec![validator],
            salt: U256::from(init_salt),
        }
        .abi_encode()
        .into();
        let hint = h.now();
        let session_key = h.session_key.clone();
        let op = h
            .devnet
            .session_op(
                version,
                validator,
                account,
                &spec,
                &session_key,
                encode_calls(&[usdc_transfer(usdc, ALICE, 0)]),
                hint,
                Some(&approval),
                |op| op.factory = Some((factory, init)),
            )
            .unwrap();
        let judgement = judge(&mut h.devnet, version, validator, Some(owner), &spec, op).unwrap();
        assert!(
            judgement.agrees(),
            "engine {} vs contract {}",
            judgement.engine,
            judgement.contract
        );
        (h, account, judgement)
    }

    #[test]
    fn the_first_op_of_a_new_account_deploys_it_and_both_sides_accept_it() {
        each_version(|version| {
            let (h, account, judgement) = first_op(version, 77);
            assert!(judgement.contract.passed(), "{}", judgement.contract);
            assert!(
                !h.devnet.chain.code(account).is_empty(),
                "the op deployed the account"
            );
        });
    }

    #[test]
    fn an_init_code_for_another_account_is_refused_with_aa14_by_both_sides() {
        each_version(|version| {
            let (_, _, judgement) = first_op(version, 78);
            assert_eq!(
                judgement.contract,
                sessionkeys_devnet::judge::Verdict::EntryPoint(
                    "AA14 initCode must return sender".into()
                )
            );
        });
    }
}

mod eip7702_init {
    //! v0.8: an initCode of the 0x7702 marker runs an init call on the delegated sender before
    //! validation; the engine takes whether it reverts as an input (`SenderState`).
    use super::*;
    use sessionkeys_contracts::abi::SessionAccount;
    use sessionkeys_devnet::judge::{Verdict as J, judge};

    /// The owner's EOA delegated to SessionAccount with the session validator installed, and
    /// the judged verdict on a session op whose initCode is the marker and `init_call`.
    fn with_init_call(init_call: Bytes) -> J {
        let version = EntryPointVersion::V08;
        let mut h = Harness::new(version);
        let eoa = h.delegate_owner_eoa();
        h.devnet.chain.set_balance(eoa, U256::from(ETHER));
        h.account = eoa;
        let validator = h.validator;
        h.owner_exec(&[Call::typed(
            eoa,
            &SessionAccount::installModuleCall {
                moduleTypeId: U256::from(1),
                module: validator,
                initData: Default::default(),
            },
        )]);
        let usdc = h.usdc();
        let mut spec = h.spec();
        spec.callPolicies = vec![usdc_policy(usdc, &[ALICE], UsageLimit::unlimited())];
        h.enable(&spec);
        let mut marker = Address::ZERO;
        marker.0[0] = 0x77;
        marker.0[1] = 0x02;
        let hint = h.now();
        let call_data = encode_calls(&[usdc_transfer(usdc, ALICE, 0)]);
        let op = h.session_op_with(&spec, call_data, hint, None, |op| {
            op.factory = Some((marker, init_call))
        });
        let owner = Some(eoa);
        let judgement = judge(&mut h.devnet, version, validator, owner, &spec, op).unwrap();
        assert!(
            judgement.agrees(),
            "engine {} vs contract {}",
            judgement.engine,
            judgement.contract
        );
        judgement.contract
    }

    #[test]
    fn an_init_call_that_succeeds_lets_the_session_op_through_on_both_sides() {
        let verdict = with_init_call(SessionAccount::ownerCall {}.abi_encode().into());
        assert!(verdict.passed(), "{verdict}");
    }

    #[test]
    fn an_init_call_that_reverts_is_refused_with_aa13_by_both_sides() {
        // installModule only from the EntryPoint or the account itself: the SenderCreator is
        // neither
        let install = SessionAccount::installModuleCall {
            moduleTypeId: U256::from(1),
            module: Address::repeat_byte(0x42),
            initData: Default::default(),
        };
        assert_eq!(
            with_init_call(install.abi_encode().into()),
            J::EntryPoint("AA13 EIP7702 sender init failed".into())
        );
    }
}
