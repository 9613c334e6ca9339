//! Session ops through real `handleOps`: the allowed path and every policy refusal.
mod common;

use alloy::primitives::{B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolError};
use common::*;
use sessionkeys_chain::execution::{
    Call, MODE_BATCH, encode_batch, encode_calls, encode_single, encode_with_mode,
};
use sessionkeys_chain::signing;
use sessionkeys_contracts::abi::{Game, TestToken};
use sessionkeys_contracts::session::{self, ISessionKeyValidator as V};

fn spending_session(h: &Harness, total: u64) -> session::SessionSpec {
    let mut spec = h.spec();
    spec.callPolicies = vec![usdc_policy(h.usdc(), &[ALICE], UsageLimit::lifetime(total))];
    spec
}

#[test]
fn a_session_transfers_within_scope_and_the_usage_view_shows_what_remains() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 30 * USDC)]);
        h.submit(op).unwrap_ok();
        assert_eq!(h.usdc_balance(ALICE), U256::from(30 * USDC + 1));
        let now = h.now();
        let usage = h.session_usage(&spec, now);
        assert_eq!(usage.len(), 1);
        assert_eq!(
            (usage[0].kind, usage[0].used, usage[0].remaining),
            (4, U256::from(30 * USDC), U256::from(70 * USDC))
        );
    });
}

#[test]
fn a_wrong_selector_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let approve = Call::typed(
            usdc,
            &TestToken::approveCall {
                spender: ALICE,
                amount: U256::from(1),
            },
        );
        let op = h.session_op(&spec, &[approve]);
        match h.submit(op).unwrap_refused() {
            VErr::NoCallPolicy(e) => {
                assert_eq!(
                    (e.callIndex, e.target, e.selector),
                    (U256::ZERO, usdc, TestToken::approveCall::SELECTOR.into())
                )
            }
            other => panic!("expected NoCallPolicy, got {}", error_name(&other)),
        }
    });
}

#[test]
fn a_wrong_target_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let other_token = h.devnet.addresses.token18;
        let op = h.session_op(&spec, &[usdc_transfer(other_token, ALICE, 1)]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::NoCallPolicy(e) if e.target == other_token)
        );
    });
}

#[test]
fn a_recipient_outside_the_constraint_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, BOB, 1)]);
        match h.submit(op).unwrap_refused() {
            VErr::ConstraintViolated(e) => {
                assert_eq!(
                    (e.policyIndex, e.constraintIndex, e.condition, e.word),
                    (U256::ZERO, U256::ZERO, 1, word(BOB))
                )
            }
            other => panic!("expected ConstraintViolated, got {}", error_name(&other)),
        }
    });
}

#[test]
fn one_of_admits_each_listed_recipient_and_nobody_else() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE, BOB],
            UsageLimit::lifetime(100 * USDC),
        )];
        h.enable(&spec);
        for to in [ALICE, BOB] {
            let op = h.session_op(&spec, &[usdc_transfer(usdc, to, USDC)]);
            h.submit(op).unwrap_ok();
        }
        let op = h.session_op(&spec, &[usdc_transfer(usdc, CAROL, USDC)]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::ConstraintViolated(e) if e.condition == u8::from(Condition::OneOf))
        );
    });
}

#[test]
fn spending_exactly_the_limit_passes_and_one_unit_more_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 60 * USDC)]);
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 40 * USDC + 1)]);
        match h.submit(op).unwrap_refused() {
            VErr::LimitExceeded(e) => {
                assert_eq!(e.kind, u8::from(CounterKind::ConstraintSum));
                assert_eq!(
                    (e.limit, e.used, e.requested),
                    (
                        U256::from(100 * USDC),
                        U256::from(60 * USDC),
                        U256::from(40 * USDC + 1)
                    )
                );
            }
            other => panic!("expected LimitExceeded, got {}", error_name(&other)),
        }
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 40 * USDC)]);
        h.submit(op).unwrap_ok();
        assert_eq!(h.usdc_balance(ALICE), U256::from(100 * USDC + 1));
    });
}

#[test]
fn charges_accumulate_inside_a_batch() {
    // Rule 5: two calls of 60 against a remaining 100 fail on the second.
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let calls = [
            usdc_transfer(usdc, ALICE, 60 * USDC),
            usdc_transfer(usdc, ALICE, 60 * USDC),
        ];
        let op = h.session_op(&spec, &calls);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::LimitExceeded(e) if e.used == U256::from(60 * USDC))
        );
    });
}

#[test]
fn a_batch_with_one_call_of_five_out_of_scope_is_refused_whole() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let mut calls: Vec<Call> = (0..5).map(|_| usdc_transfer(usdc, ALICE, USDC)).collect();
        calls[3] = usdc_transfer(usdc, BOB, USDC);
        let op = h.session_op(&spec, &calls);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::ConstraintViolated(e) if e.callIndex == U256::from(3))
        );
        assert_eq!(
            h.usdc_balance(ALICE),
            U256::from(1),
            "nothing of the batch ran"
        );
    });
}

#[test]
fn the_allowance_resets_in_the_next_window() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.validUntil = alloy::primitives::aliases::U48::from(h.now() + 10 * 86_400);
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE],
            UsageLimit::allowance(10 * USDC, 86_400),
        )];
        h.enable(&spec);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 10 * USDC)]);
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 1)]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::LimitExceeded(_)
        ));
        h.devnet.chain.advance(86_400);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 10 * USDC)]);
        h.submit(op).unwrap_ok();
        assert_eq!(h.usdc_balance(ALICE), U256::from(20 * USDC + 1));
    });
}

#[test]
fn a_lying_time_hint_is_rejected_by_the_entrypoint() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.validUntil = alloy::primitives::aliases::U48::from(h.now() + 10 * 86_400);
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE],
            UsageLimit::allowance(10 * USDC, 86_400),
        )];
        h.enable(&spec);
        // Claim tomorrow's window to get a fresh allowance today.
        let tomorrow = h.now() + 86_400;
        let data =
            sessionkeys_chain::execution::encode_calls(&[usdc_transfer(usdc, ALICE, 10 * USDC)]);
        let op = h.session_op_with(&spec, data, tomorrow, None, |_| {});
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA22 expired or not due");
    });
}

#[test]
fn a_hint_before_the_stored_period_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.validAfter = alloy::primitives::aliases::U48::from(h.now() - 3 * 86_400);
        spec.validUntil = alloy::primitives::aliases::U48::from(h.now() + 10 * 86_400);
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE],
            UsageLimit::allowance(10 * USDC, 86_400),
        )];
        h.enable(&spec);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, USDC)]);
        h.submit(op).unwrap_ok();
        let yesterday = h.now() - 86_400;
        let data = sessionkeys_chain::execution::encode_calls(&[usdc_transfer(usdc, ALICE, USDC)]);
        let op = h.session_op_with(&spec, data, yesterday, None, |_| {});
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::TimeHintBeforeStoredPeriod(_)
        ));
    });
}

#[test]
fn a_hint_outside_the_session_window_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let late = h.now() + 7200;
        let data = sessionkeys_chain::execution::encode_calls(&[usdc_transfer(usdc, ALICE, 1)]);
        let op = h.session_op_with(&spec, data, late, None, |_| {});
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::TimeHintOutsideSession(_)
        ));
    });
}

#[test]
fn the_rate_limit_refuses_the_eleventh_op_in_a_minute_and_resets_after() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = spending_session(&h, 100 * USDC);
        spec.opLimit = UsageLimit::allowance(10, 60);
        let usdc = h.usdc();
        h.enable(&spec);
        // Start one second into a minute so all ten fit in one window (at the first second
        // EntryPoint v0.8, whose validAfter is exclusive, refuses: see the test below).
        let now = h.now();
        h.devnet.chain.set_time(now - now % 60 + 60 + 1);
        for _ in 0..10 {
            let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 1)]);
            h.submit(op).unwrap_ok();
        }
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 1)]);
        match h.submit(op).unwrap_refused() {
            VErr::LimitExceeded(e) => assert_eq!(
                (e.kind, e.limit, e.used),
                (0, U256::from(10), U256::from(10))
            ),
            other => panic!("expected LimitExceeded, got {}", error_name(&other)),
        }
        h.devnet.chain.advance(60);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 1)]);
        h.submit(op).unwrap_ok();
    });
}

#[test]
fn the_call_count_limit_is_enforced() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let game = h.devnet.addresses.game;
        let mut policy = call_policy(game, Game::moveCall::SELECTOR, vec![]);
        policy.callLimit = UsageLimit::lifetime(2);
        spec.callPolicies = vec![policy];
        h.enable(&spec);
        let mv = Call::typed(game, &Game::moveCall { direction: 1 });
        let op = h.session_op(&spec, &[mv.clone(), mv.clone()]);
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &[mv]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::LimitExceeded(e) if e.kind == u8::from(CounterKind::CallCount))
        );
    });
}

#[test]
fn value_caps_per_use_and_in_total_are_enforced() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let game = h.devnet.addresses.game;
        let mut policy = call_policy(game, Game::buyItemCall::SELECTOR, vec![]);
        policy.maxValuePerUse = U256::from(2_000_000_000_000_000u64);
        policy.valueLimit = UsageLimit::lifetime(3_000_000_000_000_000);
        spec.callPolicies = vec![policy];
        spec.transferPolicies = vec![transfer_policy(ALICE, 1_000, UsageLimit::lifetime(1_500))];
        h.enable(&spec);
        let buy = |item: u64| Call {
            to: game,
            value: U256::from(item * 1_000_000_000_000_000),
            data: Game::buyItemCall {
                itemId: U256::from(item),
            }
            .abi_encode()
            .into(),
        };
        let op = h.session_op(&spec, &[buy(3)]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::ValuePerUseExceeded(_)
        ));
        let op = h.session_op(&spec, &[buy(2)]);
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &[buy(2)]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::LimitExceeded(e) if e.kind == u8::from(CounterKind::CallValue))
        );
        // plain transfers
        let op = h.session_op(&spec, &[Call::transfer(ALICE, U256::from(1_001))]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::ValuePerUseExceeded(_)
        ));
        let op = h.session_op(&spec, &[Call::transfer(ALICE, U256::from(1_000))]);
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &[Call::transfer(ALICE, U256::from(501))]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::LimitExceeded(e) if e.kind == u8::from(CounterKind::TransferValue))
        );
        let op = h.session_op(&spec, &[Call::transfer(BOB, U256::from(1))]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::NoTransferPolicy(_)
        ));
    });
}

#[test]
fn short_calldata_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        // 1–3 bytes hold no selector (rule 2).
        let op = h.session_op(&spec, &[Call::new(usdc, vec![0xa9, 0x05])]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::CalldataTooShortForSelector(e) if e.length == U256::from(2))
        );
        // transfer(to) without the amount word: the constrained word 1 is missing.
        let full = TestToken::transferCall {
            to: ALICE,
            amount: U256::from(1),
        }
        .abi_encode();
        let op = h.session_op(&spec, &[Call::new(usdc, full[..36].to_vec())]);
        match h.submit(op).unwrap_refused() {
            VErr::CalldataTooShortForConstraint(e) => {
                assert_eq!((e.required, e.length), (U256::from(68), U256::from(36)))
            }
            other => panic!(
                "expected CalldataTooShortForConstraint, got {}",
                error_name(&other)
            ),
        }
    });
}

#[test]
fn a_word_wider_than_its_stated_width_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let usdc = h.usdc();
        let mut policy = usdc_policy(usdc, &[ALICE], UsageLimit::lifetime(100 * USDC));
        policy.constraints[0].bits = 160;
        spec.callPolicies = vec![policy];
        h.enable(&spec);
        // ALICE with a dirty high bit: Equal would fail too, but the width check comes first.
        let mut data = TestToken::transferCall {
            to: ALICE,
            amount: U256::from(1),
        }
        .abi_encode();
        data[4] = 0x01;
        let op = h.session_op(&spec, &[Call::new(usdc, data)]);
        assert!(matches!(h.submit(op).unwrap_refused(), VErr::WordTooWide(e) if e.bits == 160));
    });
}

#[test]
fn delegatecall_try_mode_and_other_modes_are_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let single = encode_single(&usdc_transfer(usdc, ALICE, 1));
        let inner: Bytes = single[100..].to_vec().into();
        let inner = Bytes::from(inner[..20 + 32 + 68].to_vec());
        for mode_byte in [[0xff, 0x00], [0x00, 0x01], [0x01, 0x01], [0xfe, 0x00]] {
            let mut mode = [0u8; 32];
            mode[..2].copy_from_slice(&mode_byte);
            let data = encode_with_mode(B256::from(mode), inner.clone());
            let hint = h.now();
            let op = h.session_op_with(&spec, data, hint, None, |_| {});
            let Verdict::EntryPoint(reason, revert) = h.submit(op) else {
                panic!("mode {mode_byte:?} must be refused")
            };
            assert_eq!(reason, "AA23 reverted");
            let e = session::UnsupportedExecutionMode::abi_decode(&revert)
                .expect("UnsupportedExecutionMode");
            assert_eq!(e.mode, B256::from(mode));
        }
    });
}

#[test]
fn non_canonical_batch_encodings_are_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let usdc = h.usdc();
        let batch = encode_batch(&[usdc_transfer(usdc, ALICE, 1), usdc_transfer(usdc, ALICE, 1)]);
        // trailing bytes after the canonical encoding
        let mut trailing = batch.to_vec();
        trailing.extend_from_slice(&[0u8; 32]);
        // the second offset pointing back at the first call (validator and account must agree)
        let mut aliased = batch.to_vec();
        let offsets_at = 4 + 32 + 32 + 32 + 64; // selector, mode, offset, length, then [0x20][n]
        let first = aliased[offsets_at..offsets_at + 32].to_vec();
        aliased[offsets_at + 32..offsets_at + 64].copy_from_slice(&first);
        for data in [trailing, aliased] {
            let hint = h.now();
            let op = h.session_op_with(&spec, data.into(), hint, None, |_| {});
            let Verdict::EntryPoint(_, revert) = h.submit(op) else {
                panic!("non-canonical batch must be refused")
            };
            assert!(
                session::NonCanonicalExecution::abi_decode(&revert).is_ok(),
                "NonCanonicalExecution, got {revert}"
            );
        }
        // and an execute-less callData
        let hint = h.now();
        let op = h.session_op_with(
            &spec,
            TestToken::transferCall {
                to: ALICE,
                amount: U256::from(1),
            }
            .abi_encode()
            .into(),
            hint,
            None,
            |_| {},
        );
        let Verdict::EntryPoint(_, revert) = h.submit(op) else {
            panic!("a bare call must be refused")
        };
        assert!(session::ExecuteSelectorRequired::abi_decode(&revert).is_ok());
        let _ = MODE_BATCH;
    });
}

#[test]
fn calls_to_the_account_validator_entrypoint_and_registry_are_refused() {
    each_version(|version| {
        let mut h = Harness::with_validator(version, devnet().addresses.registry_validator);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE],
            UsageLimit::lifetime(100 * USDC),
        )];
        // registry mode: review the policy so it can be enabled
        let registry = h.devnet.addresses.registry;
        h.devnet
            .send(
                sessionkeys_devnet::devnet::DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &sessionkeys_contracts::abi::PolicyRegistry::setCallStatusCall {
                    target: usdc,
                    selector: TestToken::transferCall::SELECTOR.into(),
                    status: ReviewStatus::Allowed.into(),
                },
            )
            .unwrap();
        h.enable(&spec);
        let account = h.account;
        let validator = h.validator;
        for target in [account, validator, version.address(), registry] {
            let op = h.session_op(&spec, &[usdc_transfer(target, ALICE, 1)]);
            assert!(
                matches!(h.submit(op).unwrap_refused(), VErr::BannedTarget(e) if e.target == target),
                "{target} is banned"
            );
        }
        // another installed module (the plain validator) is banned too
        let other = h.devnet.addresses.validator;
        let install = sessionkeys_contracts::abi::SessionAccount::installModuleCall {
            moduleTypeId: U256::from(1),
            module: other,
            initData: Default::default(),
        };
        h.owner_exec(&[Call::typed(account, &install)]);
        let op = h.session_op(&spec, &[Call::typed(other, &V::revokeAllCall {})]);
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::BannedTarget(e) if e.target == other)
        );
    });
}

#[test]
fn a_policy_naming_a_banned_target_cannot_be_enabled() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        spec.callPolicies = vec![call_policy(
            version.address(),
            [0x20, 0x5c, 0x28, 0x78],
            vec![],
        )];
        let validator = h.validator;
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&spec),
            },
        )]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!("enable must revert")
        };
        assert!(matches!(
            <VErr as alloy::sol_types::SolInterface>::abi_decode(&data),
            Ok(VErr::PolicyTargetsBanned(_))
        ));
    });
}

#[test]
fn a_policy_naming_a_banned_target_cannot_be_enabled_in_first_use() {
    // Every enable path refuses it, so no enabled session carries a policy that a self-revoke
    // or a banned call would leave unused: the validator's revokeSession, transfers to itself.
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = h.spec();
        let validator = h.validator;
        spec.transferPolicies = vec![sessionkeys_contracts::session::TransferPolicy {
            target: validator,
            maxValuePerUse: U256::ZERO,
            valueLimit: UsageLimit::unlimited(),
        }];
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain]);
        let revoke = Call::typed(
            validator,
            &V::revokeSessionCall {
                sessionHash: signing::session_hash(&spec).unwrap(),
            },
        );
        let hint = h.now();
        let op = h.session_op_with(
            &spec,
            encode_calls(&[revoke]),
            hint,
            Some(&approval),
            |_| {},
        );
        match h.submit(op).unwrap_refused() {
            VErr::PolicyTargetsBanned(e) => {
                assert_eq!(e.policyIndex, U256::ZERO);
                assert_eq!(e.target, validator);
            }
            other => panic!("expected PolicyTargetsBanned, got {}", error_name(&other)),
        }
    });
}

#[test]
fn a_session_with_no_policies_allows_nothing() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = h.spec();
        h.enable(&spec);
        let op = h.session_op(&spec, &[Call::transfer(ALICE, U256::from(1))]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::NoTransferPolicy(_)
        ));
    });
}

#[test]
fn the_first_second_of_a_window_passes_on_v07_and_is_not_due_on_v08() {
    // v0.7 treats validAfter as inclusive, v0.8 as exclusive (rule 8, docs/rules.md).
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = spending_session(&h, 100 * USDC);
        spec.opLimit = UsageLimit::allowance(10, 60);
        let usdc = h.usdc();
        h.enable(&spec);
        let now = h.now();
        h.devnet.chain.set_time(now - now % 60 + 60);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 1)]);
        match version {
            sessionkeys_chain::EntryPointVersion::V07 => {
                h.submit(op).unwrap_ok();
            }
            sessionkeys_chain::EntryPointVersion::V08 => {
                assert_eq!(h.submit(op).unwrap_entrypoint(), "AA22 expired or not due");
            }
        }
    });
}

#[test]
fn a_batch_asks_about_installed_modules_again_for_each_new_target() {
    // The validator asks the account once per run of calls to one target; a module after a run
    // of allowed calls is still refused, at its own index.
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h, 100 * USDC);
        h.enable(&spec);
        let module = h.devnet.addresses.registry_validator;
        let install = sessionkeys_contracts::abi::SessionAccount::installModuleCall {
            moduleTypeId: U256::from(1),
            module,
            initData: Default::default(),
        };
        let account = h.account;
        h.owner_exec(&[Call::typed(account, &install)]);
        let usdc = h.usdc();
        let calls = [
            usdc_transfer(usdc, ALICE, USDC),
            usdc_transfer(usdc, ALICE, USDC),
            Call::typed(module, &V::revokeAllCall {}),
        ];
        let op = h.session_op(&spec, &calls);
        match h.submit(op).unwrap_refused() {
            VErr::BannedTarget(e) => assert_eq!((e.callIndex, e.target), (U256::from(2), module)),
            other => panic!("expected BannedTarget, got {}", error_name(&other)),
        }
        // The same batch without the module passes: the run of USDC calls is asked about once.
        let op = h.session_op(&spec, &calls[..2]);
        h.submit(op).unwrap_ok();
    });
}
