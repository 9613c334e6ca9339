//! The hosted counter (docs/storage.md): one budget per session keeps its counter in the header
//! slot. Which one, that the validator, the usage lens and the Rust reader agree, and that a
//! hosted budget refuses one unit over its limit like any other.
mod common;

use alloy::primitives::{Address, U256};
use common::*;
use sessionkeys_chain::validator_state::{
    Hosted, counter_slot, decode_counter, decode_header, header_slot, hosted,
};
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::CounterKey;

fn key(kind: CounterKind, policy: u16, constraint: u16) -> CounterKey {
    CounterKey {
        kind,
        policy,
        constraint,
    }
}

/// The header's hosted counter and the word of `key`'s own slot after the session's ops.
fn stored(h: &Harness, spec: &SessionSpec, key: CounterKey) -> (U256, U256) {
    let hash = sessionkeys_chain::signing::session_hash(spec).unwrap();
    let chain = &h.devnet.chain;
    let header = chain.storage(h.validator, header_slot(hash, h.account));
    let own = decode_counter(chain.storage(h.validator, counter_slot(hash, key, h.account))).used;
    let hosted_used = match decode_header(header, hosted(spec)).1 {
        Some((hosted_key, counter)) if hosted_key == key => counter.used,
        _ => U256::ZERO,
    };
    (hosted_used, own)
}

fn spending(h: &Harness, limit: UsageLimit) -> SessionSpec {
    let mut spec = h.spec();
    spec.callPolicies = vec![usdc_policy(h.usdc(), &[ALICE], limit)];
    spec
}

fn used_of(h: &mut Harness, spec: &SessionSpec, kind: CounterKind) -> U256 {
    let hint = h.now();
    h.session_usage(spec, hint)
        .iter()
        .find(|row| row.counter_kind() == Ok(kind))
        .map(|row| row.used)
        .unwrap()
}

#[test]
fn the_first_policys_spending_limit_lives_in_the_header_and_refuses_one_unit_over() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending(&h, UsageLimit::lifetime(100 * USDC));
        let sum = key(CounterKind::ConstraintSum, 0, 1);
        assert_eq!(hosted(&spec), Hosted::Counter(sum));
        h.enable(&spec);
        let usdc = h.usdc();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 30 * USDC)]);
        h.submit(op).unwrap_ok();
        assert_eq!(stored(&h, &spec, sum), (U256::from(30 * USDC), U256::ZERO));
        assert_eq!(
            used_of(&mut h, &spec, CounterKind::ConstraintSum),
            U256::from(30 * USDC)
        );
        // 70 USDC remain: 70 USDC and one unit is refused, 70 USDC passes.
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 70 * USDC + 1)]);
        match h.submit(op).unwrap_refused() {
            VErr::LimitExceeded(e) => assert_eq!(
                (e.used, e.requested),
                (U256::from(30 * USDC), U256::from(70 * USDC + 1))
            ),
            other => panic!("expected LimitExceeded, got {}", error_name(&other)),
        }
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 70 * USDC)]);
        h.submit(op).unwrap_ok();
        assert_eq!(stored(&h, &spec, sum), (U256::from(100 * USDC), U256::ZERO));
    });
}

#[test]
fn a_limit_too_wide_for_the_header_keeps_its_own_slot_and_no_later_budget_takes_its_place() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let mut spec = spending(&h, UsageLimit::lifetime(100 * USDC));
    // The call count comes first in the leaf and is limited beyond 136 bits.
    spec.callPolicies[0].callLimit = UsageLimit::new(LimitType::Lifetime, U256::from(1) << 140, 0);
    assert_eq!(hosted(&spec), Hosted::Nothing);
    h.enable(&spec);
    let usdc = h.usdc();
    let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 5 * USDC)]);
    h.submit(op).unwrap_ok();
    let count = key(CounterKind::CallCount, 0, 0);
    let sum = key(CounterKind::ConstraintSum, 0, 1);
    assert_eq!(stored(&h, &spec, count), (U256::ZERO, U256::from(1)));
    assert_eq!(stored(&h, &spec, sum), (U256::ZERO, U256::from(5 * USDC)));
    assert_eq!(
        used_of(&mut h, &spec, CounterKind::CallCount),
        U256::from(1)
    );
    assert_eq!(
        used_of(&mut h, &spec, CounterKind::ConstraintSum),
        U256::from(5 * USDC)
    );
}

#[test]
fn a_fee_budget_takes_the_header_before_any_policy() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let mut spec = spending(&h, UsageLimit::lifetime(100 * USDC));
    spec.feeLimit = UsageLimit::lifetime(10u64.pow(18));
    let fee = key(CounterKind::Fee, 0, 0);
    assert_eq!(hosted(&spec), Hosted::Counter(fee));
    h.enable(&spec);
    let usdc = h.usdc();
    let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 5 * USDC)]);
    h.submit(op).unwrap_ok();
    let (hosted_fee, own_fee) = stored(&h, &spec, fee);
    assert!(
        hosted_fee > U256::ZERO,
        "the prefund is charged in the header"
    );
    assert_eq!(own_fee, U256::ZERO);
    assert_eq!(used_of(&mut h, &spec, CounterKind::Fee), hosted_fee);
    let sum = key(CounterKind::ConstraintSum, 0, 1);
    assert_eq!(stored(&h, &spec, sum), (U256::ZERO, U256::from(5 * USDC)));
}

#[test]
fn a_policy_at_another_position_keeps_its_own_slot() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let mut spec = spending(&h, UsageLimit::lifetime(100 * USDC));
    // A policy sorted before the USDC one takes position 0; it has no budget, so nothing is
    // hosted, and the USDC policy (position 1) charges its own slot.
    let first = Address::from([0x01; 20]);
    spec.callPolicies
        .insert(0, call_policy(first, [0xaa; 4], vec![]));
    assert_eq!(hosted(&spec), Hosted::Nothing);
    h.enable(&spec);
    let usdc = h.usdc();
    let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 5 * USDC)]);
    h.submit(op).unwrap_ok();
    let sum = key(CounterKind::ConstraintSum, 1, 1);
    assert_eq!(stored(&h, &spec, sum), (U256::ZERO, U256::from(5 * USDC)));
    assert_eq!(
        used_of(&mut h, &spec, CounterKind::ConstraintSum),
        U256::from(5 * USDC)
    );
}

#[test]
fn an_allowance_in_the_header_resets_with_its_period() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = spending(&h, UsageLimit::allowance(10 * USDC, 600));
    h.enable(&spec);
    let usdc = h.usdc();
    let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 10 * USDC)]);
    h.submit(op).unwrap_ok();
    let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 1)]);
    assert!(matches!(
        h.submit(op).unwrap_refused(),
        VErr::LimitExceeded(_)
    ));
    h.devnet.chain.advance(600);
    assert_eq!(
        used_of(&mut h, &spec, CounterKind::ConstraintSum),
        U256::ZERO
    );
    let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 10 * USDC)]);
    h.submit(op).unwrap_ok();
    let sum = key(CounterKind::ConstraintSum, 0, 1);
    assert_eq!(stored(&h, &spec, sum), (U256::from(10 * USDC), U256::ZERO));
}
