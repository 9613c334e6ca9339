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
    assert_eq!(seen, 37, "one sentence per contract error");
}

mod refusals_the_entrypoint_never_lets_through {
    //! Rules 7 and 11 refuse inputs that never get past the EntryPoint, so the differential test
    //! cannot reach them; the engine must still refuse them as the contract does.
    use alloy::primitives::{Address, B256, U256, address, aliases::U48};
    use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as E;
    use sessionkeys_contracts::session::{SessionSpec, TransferPolicy, UsageLimit};
    use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
    use sessionkeys_engine::{EvalContext, SessionHeader, Status, session_hash};

    const ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");
    const ALICE: Address = address!("0xA11CE00000000000000000000000000000000001");

    fn spec() -> SessionSpec {
        let none = UsageLimit {
            limitType: 0,
            limit: U256::ZERO,
            period: U48::ZERO,
        };
        SessionSpec {
            signer: address!("0x0000000000000000000000000000000000005e55"),
            validAfter: U48::from(100),
            validUntil: U48::from(10_000),
            feeLimit: none.clone(),
            paymasterMode: 1,
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
        let hash = session_hash(spec);
        let call_data = transfer_to_alice();
        let op = SessionOp {
            sender,
            spec,
            session_hash: hash,
            mode: 0,
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

    // Inputs that once panicked the engine (docs/fuzzing.md). Each is refused with a
    // validator error instead.

    #[test]
    fn a_time_hint_beyond_uint48_is_a_malformed_signature_not_a_panic() {
        for hint in [1u64 << 48, u64::MAX] {
            assert!(
                matches!(
                    check_op(&spec(), &context(), ACCOUNT, &[], hint),
                    Some(E::MalformedSignature(_))
                ),
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
    fn a_periodic_limit_of_period_zero_is_refused_as_at_enable_not_divided_by() {
        // Only a spec that skipped enable's checks can have one: refused as enable would.
        let mut spec = spec();
        spec.opLimit = UsageLimit {
            limitType: 2,
            limit: U256::from(5),
            period: U48::ZERO,
        };
        assert!(matches!(
            check_op(&spec, &context(), ACCOUNT, &[], 500),
            Some(E::InvalidUsageLimit(e)) if e.kind == 0
        ));
    }

    #[test]
    fn a_snapshot_already_past_its_limit_is_refused_not_wrapped() {
        // `check --usage` can describe counters the contract never writes: more used than the
        // limit, or the largest op count. Nothing remains of such a budget.
        let mut spec = spec();
        spec.opLimit = UsageLimit {
            limitType: 1,
            limit: U256::from(3),
            period: U48::ZERO,
        };
        for used in [4, u64::MAX] {
            let mut context = context();
            context.header.ops_used = used;
            assert!(
                matches!(
                    check_op(&spec, &context, ACCOUNT, &[], 500),
                    Some(E::LimitExceeded(e)) if e.kind == 0 && e.used == U256::from(used)
                ),
                "ops used {used}"
            );
        }
    }

    #[test]
    fn an_overflowing_prefund_exceeds_any_fee_budget() {
        let mut spec = spec();
        spec.feeLimit = UsageLimit {
            limitType: 1,
            limit: (U256::from(1) << 208) - U256::from(1),
            period: U48::ZERO,
        };
        // paymaster gas 2 × (2^128 - 1) with a zero paymaster, at the largest fee per gas:
        // the prefund overflows 256 bits, which the contract's checked arithmetic refuses.
        let mut paymaster_and_data = vec![0u8; 20];
        paymaster_and_data.extend_from_slice(&[0xff; 32]);
        let refused = {
            let hash = session_hash(&spec);
            let call_data = transfer_to_alice();
            let op = SessionOp {
                sender: ACCOUNT,
                spec: &spec,
                session_hash: hash,
                mode: 0,
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
                assert_eq!((e.kind, e.requested), (1, U256::MAX))
            }
            other => panic!("expected LimitExceeded, got {other:?}"),
        }
    }
}
