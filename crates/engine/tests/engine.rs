//! Engine behaviour that does not need a chain: decoding refusals and readable violations.

use alloy::primitives::{Address, B256, U256, address};
use sessionkeys_engine::execute::decode_execute;
use sessionkeys_engine::{Violation, violation_from_revert};

fn execute_single(target: Address, data: &[u8]) -> Vec<u8> {
    let mut inner = target.to_vec();
    inner.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    inner.extend_from_slice(data);
    let mut out = vec![0xe9, 0xae, 0x5c, 0x53];
    out.extend_from_slice(&[0u8; 32]); // single mode
    out.extend_from_slice(&U256::from(0x40).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(inner.len()).to_be_bytes::<32>());
    let padded = inner.len().div_ceil(32) * 32;
    inner.resize(padded, 0);
    out.extend_from_slice(&inner);
    out
}

const TOKEN: Address = address!("0x00000000000000000000000000000000000070c0");

#[test]
fn a_canonical_single_call_decodes_to_its_target_and_data() {
    let data = execute_single(TOKEN, &[0xa9, 0x05, 0x9c, 0xbb, 1, 2]);
    let calls = decode_execute(&data).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].target, TOKEN);
    assert_eq!(calls[0].data, &[0xa9, 0x05, 0x9c, 0xbb, 1, 2]);
}

#[test]
fn a_bare_call_without_execute_is_refused() {
    assert_eq!(
        decode_execute(&[0xa9, 0x05, 0x9c, 0xbb]),
        Err(Violation::ExecuteSelectorRequired([0xa9, 0x05, 0x9c, 0xbb]))
    );
    assert_eq!(
        decode_execute(&[]),
        Err(Violation::ExecuteSelectorRequired([0; 4]))
    );
}

#[test]
fn delegatecall_and_try_modes_are_refused() {
    for first_bytes in [[0xff, 0x00], [0x00, 0x01], [0xfe, 0x00], [0x01, 0x01]] {
        let mut data = execute_single(TOKEN, &[1, 2, 3, 4]);
        data[4] = first_bytes[0];
        data[5] = first_bytes[1];
        assert!(
            matches!(
                decode_execute(&data),
                Err(Violation::UnsupportedExecutionMode(_))
            ),
            "{first_bytes:?}"
        );
    }
}

#[test]
fn trailing_bytes_and_a_moved_offset_are_refused() {
    let mut data = execute_single(TOKEN, &[1, 2, 3, 4]);
    data.extend_from_slice(&[0u8; 32]);
    assert_eq!(
        decode_execute(&data),
        Err(Violation::NonCanonicalExecution(68))
    );
    let mut data = execute_single(TOKEN, &[1, 2, 3, 4]);
    data[67] = 0x60;
    assert_eq!(
        decode_execute(&data),
        Err(Violation::NonCanonicalExecution(36))
    );
}

#[test]
fn an_empty_batch_is_refused() {
    let mut data = vec![0xe9, 0xae, 0x5c, 0x53, 0x01];
    data.extend_from_slice(&[0u8; 31]);
    data.extend_from_slice(&U256::from(0x40).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(64).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(0x20).to_be_bytes::<32>());
    data.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    assert_eq!(decode_execute(&data), Err(Violation::EmptyBatch));
}

#[test]
fn violations_round_trip_through_revert_data_and_read_as_sentences() {
    let violation = Violation::NonCanonicalExecution(68);
    assert_eq!(
        violation_from_revert(&violation.revert_data()),
        Some(violation.clone())
    );
    assert_eq!(
        violation.to_string(),
        "the execute encoding is not canonical at byte 68; encode it with abi.encodeCall"
    );
    let mode = Violation::UnsupportedExecutionMode(B256::repeat_byte(0xff));
    assert!(mode.to_string().contains("no delegatecall"));
    assert_eq!(mode.name(), "UnsupportedExecutionMode");
}

#[test]
fn every_validator_error_renders_a_sentence_and_round_trips() {
    use alloy::sol_types::SolInterface;
    use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as E;
    let mut seen = 0;
    for selector in E::SELECTORS {
        // Zero words are a valid encoding of every argument list here (no dynamic types).
        let error = E::abi_decode_raw(*selector, &[0u8; 32 * 8])
            .unwrap_or_else(|e| panic!("{selector:?}: {e}"));
        let violation = Violation::validator(error);
        let sentence = violation.to_string();
        assert!(
            sentence.len() > 20 && !sentence.contains("{"),
            "{}: {sentence:?}",
            violation.name()
        );
        assert_eq!(
            violation_from_revert(&violation.revert_data()),
            Some(violation.clone()),
            "{}",
            violation.name()
        );
        seen += 1;
    }
    assert_eq!(seen, 41, "one sentence per contract error");
}

mod refusals_the_entrypoint_never_lets_through {
    //! Rules 7 and 11 refuse inputs that never get past the EntryPoint, so the differential test
    //! cannot reach them; the engine must still refuse them as the contract does.
    use alloy::primitives::{Address, B256, U256, address, aliases::U48};
    use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as E;
    use sessionkeys_contracts::session::{SessionSpec, TransferPolicy, UsageLimit};
    use sessionkeys_contracts::vocabulary::{LimitType, PaymasterMode, SignatureMode};
    use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
    use sessionkeys_engine::{CounterKind, EvalContext, SessionHeader, Status, session_hash};

    const ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");
    const ALICE: Address = address!("0xA11CE00000000000000000000000000000000001");

    fn spec() -> SessionSpec {
        let none = UsageLimit::unlimited();
        SessionSpec {
            signer: address!("0x0000000000000000000000000000000000005e55"),
            validAfter: U48::from(100),
            validUntil: U48::from(10_000),
            feeLimit: none.clone(),
            paymasterMode: PaymasterMode::Any.into(),
            paymaster: Address::ZERO,
            opLimit: none.clone(),
            callPolicies: vec![],
            transferPolicies: vec![TransferPolicy {
                target: ALICE,
                maxValuePerUse: U256::ZERO,
                valueLimit: none,
            }],
            salt: B256::ZERO,
        }
    }

    fn context() -> EvalContext {
        EvalContext {
            chain_id: 1,
            validator: address!("0x000000000000000000000000000000000000ba11"),
            account: ACCOUNT,
            entry_points: [Address::ZERO; 2],
            registry: None,
            installed_modules: vec![],
            account_epoch: 0,
            header: SessionHeader {
                status: Status::Active,
                ..Default::default()
            },
            counters: Default::default(),
            owner: None,
            sender: sessionkeys_engine::SenderState::deployed(
                sessionkeys_engine::advisory::EntryPointRules::V07,
                address!("0x000000000000000000000000000000000000ba11"),
            ),
        }
    }

    /// The validator error the op is refused with, or None if it passes.
    fn check(sender: Address, paymaster_and_data: &[u8]) -> Option<E> {
        check_op(&spec(), &context(), sender, paymaster_and_data, 500)
    }

    /// execute(single, ALICE ‖ 0 ‖ ""): a plain transfer the session's policy allows.
    fn transfer_to_alice() -> Vec<u8> {
        let mut inner = ALICE.to_vec();
        inner.extend_from_slice(&[0u8; 32]);
        let mut call_data = vec![0xe9, 0xae, 0x5c, 0x53];
        call_data.extend_from_slice(&[0u8; 32]);
        call_data.extend_from_slice(&U256::from(0x40).to_be_bytes::<32>());
        call_data.extend_from_slice(&U256::from(inner.len()).to_be_bytes::<32>());
        inner.resize(64, 0);
        call_data.extend_from_slice(&inner);
        call_data
    }

    /// The session's lane of the validator, sequence 0.
    fn lane_nonce(hash: B256) -> U256 {
        let mut nonce = [0u8; 32];
        nonce[20..24].copy_from_slice(&hash[..4]);
        U256::from_be_bytes(nonce)
    }

    /// [`check`] with the spec, snapshot and time hint given.
    fn check_op(
        spec: &SessionSpec,
        context: &EvalContext,
        sender: Address,
        paymaster_and_data: &[u8],
        time_hint: u64,
    ) -> Option<E> {
        let hash = session_hash(spec).unwrap();
        let call_data = transfer_to_alice();
        let op = SessionOp {
            sender,
            spec,
            session_hash: hash,
            mode: SignatureMode::Use,
            time_hint,
            nonce: lane_nonce(hash),
            call_data: &call_data,
            account_gas_limits: B256::ZERO,
            pre_verification_gas: U256::ZERO,
            gas_fees: B256::ZERO,
            paymaster_and_data,
            chains: &[],
            signatures: None,
        };
        evaluate_session_op(context, &op)
            .err()
            .map(|v| v.as_validator().cloned().expect("a validator error"))
    }

    #[test]
    fn rule_7_an_op_of_another_sender_is_refused() {
        let stranger = address!("0x000000000000000000000000000000000000bad1");
        match check(stranger, &[]) {
            Some(E::SenderMismatch(e)) => assert_eq!((e.caller, e.sender), (ACCOUNT, stranger)),
            other => panic!("expected SenderMismatch, got {other:?}"),
        }
    }

    #[test]
    fn rule_11_paymaster_and_data_shorter_than_52_bytes_is_refused() {
        assert_eq!(
            check(ACCOUNT, &[]),
            None,
            "the same op without paymaster data passes"
        );
        match check(ACCOUNT, &[0x11u8; 51]) {
            Some(E::MalformedPaymasterAndData(e)) => assert_eq!(e.length, U256::from(51)),
            other => panic!("expected MalformedPaymasterAndData, got {other:?}"),
        }
        // 52 bytes naming a paymaster: allowed, since the session lets any paymaster sponsor.
        assert_eq!(check(ACCOUNT, &[0x11u8; 52]), None);
    }

    #[test]
    fn rule_21_a_named_paymaster_needs_a_finite_fee_limit() {
        use sessionkeys_engine::validate_spec;
        let mut s = spec();
        // Any paymaster, unlimited fees: refused.
        match validate_spec(&s)
            .err()
            .and_then(|v| v.as_validator().cloned())
        {
            Some(E::FeeLimitRequired(e)) => {
                assert_eq!(e.paymasterMode, u8::from(PaymasterMode::Any))
            }
            other => panic!("expected FeeLimitRequired, got {other:?}"),
        }
        // One named paymaster, unlimited fees: refused too.
        s.paymasterMode = PaymasterMode::One.into();
        s.paymaster = address!("0x000000000000000000000000000000000000beef");
        assert!(matches!(
            validate_spec(&s).err().and_then(|v| v.as_validator().cloned()),
            Some(E::FeeLimitRequired(e)) if e.paymasterMode == u8::from(PaymasterMode::One)
        ));
        // A zero lifetime budget is finite: accepted.
        s.feeLimit = UsageLimit::new(LimitType::Lifetime, U256::ZERO, 0);
        assert_eq!(validate_spec(&s), Ok(()));
        // No paymaster: unlimited fees stay valid on-chain (lint SK011 flags them).
        s.paymasterMode = PaymasterMode::None.into();
        s.paymaster = Address::ZERO;
        s.feeLimit.limitType = LimitType::Unlimited.into();
        assert_eq!(validate_spec(&s), Ok(()));
    }

    // Inputs that once panicked the engine (docs/fuzzing.md). Each is refused with a
    // validator error instead.

    #[test]
    fn a_time_hint_beyond_uint48_reverts_without_data_as_the_contract_does_not_a_panic() {
        // A hint wider than uint48 can only come from a word with bits above 48, which the
        // contract's calldata read refuses with an empty revert.
        let session = spec();
        let hash = session_hash(&session).unwrap();
        let call_data = transfer_to_alice();
        for hint in [1u64 << 48, u64::MAX] {
            let op = SessionOp {
                sender: ACCOUNT,
                spec: &session,
                session_hash: hash,
                mode: SignatureMode::Use,
                time_hint: hint,
                nonce: lane_nonce(hash),
                call_data: &call_data,
                account_gas_limits: B256::ZERO,
                pre_verification_gas: U256::ZERO,
                gas_fees: B256::ZERO,
                paymaster_and_data: &[],
                chains: &[],
                signatures: None,
            };
            assert_eq!(
                evaluate_session_op(&context(), &op).err(),
                Some(sessionkeys_engine::Violation::EmptyRevert),
                "hint {hint}"
            );
        }
        // The largest uint48 is a hint like any other: outside this session's window.
        assert!(matches!(
            check_op(&spec(), &context(), ACCOUNT, &[], (1 << 48) - 1),
            Some(E::TimeHintOutsideSession(_))
        ));
    }

    #[test]
    fn a_periodic_limit_of_period_zero_counts_as_a_lifetime_budget_as_the_validator_reads_it() {
        // Only a spec that skipped enable's checks can have one. The validator reads an
        // allowance by its period, so a zero period is a lifetime budget there: never divided
        // by, never reset, and still a limit.
        let mut spec = spec();
        spec.opLimit = UsageLimit::new(LimitType::Allowance, U256::from(5), 0);
        assert_eq!(check_op(&spec, &context(), ACCOUNT, &[], 500), None);
        let mut spent = context();
        spent.header.ops_used = 5;
        assert!(matches!(
            check_op(&spec, &spent, ACCOUNT, &[], 500),
            Some(E::LimitExceeded(e)) if e.kind == CounterKind::Ops as u8
        ));
    }

    #[test]
    fn a_snapshot_already_past_its_limit_is_refused_not_wrapped() {
        // `check --usage` can describe counters the contract never writes: more used than the
        // limit, or the largest op count. Nothing remains of such a budget.
        let mut spec = spec();
        spec.opLimit = UsageLimit::new(LimitType::Lifetime, U256::from(3), 0);
        for used in [4, u64::MAX] {
            let mut context = context();
            context.header.ops_used = used;
            assert!(
                matches!(
                    check_op(&spec, &context, ACCOUNT, &[], 500),
                    Some(E::LimitExceeded(e)) if e.kind == CounterKind::Ops as u8 && e.used == U256::from(used)
                ),
                "ops used {used}"
            );
        }
    }

    #[test]
    fn an_overflowing_prefund_exceeds_any_fee_budget() {
        let mut spec = spec();
        spec.feeLimit = UsageLimit::new(
            LimitType::Lifetime,
            (U256::from(1) << 208) - U256::from(1),
            0,
        );
        // paymaster gas 2 × (2^128 - 1) with a zero paymaster, at the largest fee per gas:
        // the prefund overflows 256 bits, which the contract's checked arithmetic refuses.
        let mut paymaster_and_data = vec![0u8; 20];
        paymaster_and_data.extend_from_slice(&[0xff; 32]);
        let refused = {
            let hash = session_hash(&spec).unwrap();
            let call_data = transfer_to_alice();
            let op = SessionOp {
                sender: ACCOUNT,
                spec: &spec,
                session_hash: hash,
                mode: SignatureMode::Use,
                time_hint: 500,
                nonce: lane_nonce(hash),
                call_data: &call_data,
                account_gas_limits: B256::repeat_byte(0xff),
                pre_verification_gas: U256::MAX,
                gas_fees: B256::repeat_byte(0xff),
                paymaster_and_data: &paymaster_and_data,
                chains: &[],
                signatures: None,
            };
            evaluate_session_op(&context(), &op)
        };
        match refused.map_err(|v| v.as_validator().cloned()) {
            Err(Some(E::LimitExceeded(e))) => {
                assert_eq!((e.kind, e.requested), (CounterKind::Fee as u8, U256::MAX))
            }
            other => panic!("expected LimitExceeded, got {other:?}"),
        }
    }
}

mod before_the_validator {
    //! The EntryPoint's field checks and `initCode`, and the account's routing, from explicit
    //! inputs (the chain tier checks the same refusals against `handleOps`).
    use alloy::primitives::{Address, B256, Bytes, U256, address};
    use sessionkeys_engine::advisory::EntryPointRules;
    use sessionkeys_engine::sender::{check_fields, create_sender, route};
    use sessionkeys_engine::{
        EvalContext, FactoryOutcome, SenderState, SessionHeader, UserOpInput, Violation,
    };

    const ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");
    const VALIDATOR: Address = address!("0x000000000000000000000000000000000000ba11");
    const FACTORY: Address = address!("0x000000000000000000000000000000000000fac7");

    fn context(sender: SenderState) -> EvalContext {
        EvalContext {
            chain_id: 1,
            validator: VALIDATOR,
            account: ACCOUNT,
            entry_points: [Address::ZERO; 2],
            registry: None,
            installed_modules: vec![],
            account_epoch: 0,
            header: SessionHeader::default(),
            counters: Default::default(),
            owner: None,
            sender,
        }
    }

    fn op(init_code: &[u8], validator: Address) -> UserOpInput {
        let mut nonce = [0u8; 32];
        nonce[..20].copy_from_slice(validator.as_slice());
        UserOpInput {
            sender: ACCOUNT,
            nonce: U256::from_be_bytes(nonce),
            init_code: Bytes::copy_from_slice(init_code),
            call_data: Bytes::new(),
            account_gas_limits: B256::ZERO,
            pre_verification_gas: U256::ZERO,
            gas_fees: B256::ZERO,
            paymaster_and_data: Bytes::new(),
            signature: Bytes::new(),
            user_op_hash: B256::ZERO,
        }
    }

    fn counterfactual(rules: EntryPointRules, factory: FactoryOutcome) -> EvalContext {
        context(SenderState {
            has_code: false,
            factory,
            ..SenderState::deployed(rules, VALIDATOR)
        })
    }

    fn refusal(result: Result<(), Violation>) -> String {
        match result {
            Err(Violation::EntryPoint(reason)) => reason,
            other => panic!("an EntryPoint refusal expected, got {other:?}"),
        }
    }

    #[test]
    fn init_code_refusals_follow_the_entrypoint_order() {
        let init = [FACTORY.as_slice(), &[1, 2, 3]].concat();
        let deployed = context(SenderState::deployed(EntryPointRules::V08, VALIDATOR));
        assert_eq!(
            refusal(create_sender(&deployed, &op(&init, VALIDATOR))),
            "AA10 sender already constructed"
        );
        let fails = counterfactual(EntryPointRules::V08, FactoryOutcome::Fails);
        assert_eq!(
            refusal(create_sender(&fails, &op(&init, VALIDATOR))),
            "AA13 initCode failed or OOG"
        );
        assert_eq!(
            refusal(create_sender(&fails, &op(&[1, 2, 3], VALIDATOR))),
            "AA99 initCode too small"
        );
        let elsewhere = counterfactual(
            EntryPointRules::V07,
            FactoryOutcome::Returns {
                address: FACTORY,
                deployed: true,
            },
        );
        assert_eq!(
            refusal(create_sender(&elsewhere, &op(&init, VALIDATOR))),
            "AA14 initCode must return sender"
        );
        let empty = counterfactual(
            EntryPointRules::V07,
            FactoryOutcome::Returns {
                address: ACCOUNT,
                deployed: false,
            },
        );
        assert_eq!(
            refusal(create_sender(&empty, &op(&init, VALIDATOR))),
            "AA15 initCode must create sender"
        );
        let created = counterfactual(
            EntryPointRules::V07,
            FactoryOutcome::Returns {
                address: ACCOUNT,
                deployed: true,
            },
        );
        assert_eq!(create_sender(&created, &op(&init, VALIDATOR)), Ok(()));
    }

    #[test]
    fn a_v08_eip7702_init_call_runs_instead_of_a_factory() {
        let mut marker = vec![0x77, 0x02];
        marker.resize(20, 0);
        let with_call = [marker.as_slice(), &[0xab, 0xcd]].concat();
        let delegated = SenderState::deployed(EntryPointRules::V08, VALIDATOR);
        assert_eq!(
            create_sender(&context(delegated.clone()), &op(&with_call, VALIDATOR)),
            Ok(())
        );
        let reverting = context(SenderState {
            init_call_reverts: true,
            ..delegated
        });
        assert_eq!(
            refusal(create_sender(&reverting, &op(&with_call, VALIDATOR))),
            "AA13 EIP7702 sender init failed"
        );
        // v0.7 knows no marker: 0x7702 is a factory address, and the sender exists.
        let v07 = context(SenderState::deployed(EntryPointRules::V07, VALIDATOR));
        assert_eq!(
            refusal(create_sender(&v07, &op(&with_call, VALIDATOR))),
            "AA10 sender already constructed"
        );
    }

    #[test]
    fn the_account_routes_on_the_nonce_keys_validator() {
        let ctx = context(SenderState::deployed(EntryPointRules::V07, VALIDATOR));
        let stranger = address!("0x000000000000000000000000000000000000dead");
        assert_eq!(
            route(&ctx, &op(&[], stranger)),
            Err(Violation::ValidatorNotInstalled(stranger))
        );
        let refusal = Violation::ValidatorNotInstalled(stranger);
        assert_eq!(
            sessionkeys_engine::violation_from_revert(&refusal.revert_data()),
            Some(refusal),
            "the account's revert data reads back as the same refusal"
        );
        assert!(route(&ctx, &op(&[], VALIDATOR)).is_ok());
        assert!(route(&ctx, &op(&[], Address::ZERO)).is_ok());
    }

    #[test]
    fn the_entrypoint_refuses_short_paymaster_data_and_gas_values_above_120_bits() {
        let ctx = context(SenderState::deployed(EntryPointRules::V08, VALIDATOR));
        let mut short = op(&[], VALIDATOR);
        short.paymaster_and_data = Bytes::from(vec![0x11; 51]);
        assert_eq!(
            refusal(check_fields(&ctx, &short)),
            "AA93 invalid paymasterAndData"
        );
        let mut zero = op(&[], VALIDATOR);
        zero.paymaster_and_data = Bytes::from(vec![0; 52]);
        assert_eq!(refusal(check_fields(&ctx, &zero)), "AA98 invalid paymaster");
        let mut wide = op(&[], VALIDATOR);
        wide.pre_verification_gas = U256::from(1) << 120;
        assert_eq!(
            refusal(check_fields(&ctx, &wide)),
            "AA94 gas values overflow"
        );
        wide.pre_verification_gas -= U256::from(1);
        assert_eq!(check_fields(&ctx, &wide), Ok(()));
    }
}
