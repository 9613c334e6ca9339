//! Engine evaluations per second for a typical session: a USDC spending limit to two
//! recipients, a game action and a plain transfer policy; a pre-check (before signing) of a
//! single call and of a batch of five, against an active session with charged counters.
#![allow(missing_docs)]

use alloy::primitives::{Address, B256, U256, address, aliases::U48};
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sessionkeys_contracts::session::{
    CallPolicy, Constraint, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::{Condition, PaymasterMode, SignatureMode};
use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
use sessionkeys_engine::{
    Counter, CounterKey, CounterKind, EvalContext, SessionHeader, Status, session_hash,
};
use std::hint::black_box;

sol! {
    function transfer(address to, uint256 amount);
    function move(uint8 direction);
    struct Execution { address target; uint256 value; bytes callData; }
    function execute(bytes32 mode, bytes executionCalldata);
}

const ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");
const USDC: Address = address!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
const GAME: Address = address!("0x0000000000000000000000000000000000006a3e");
const ALICE: Address = address!("0xA11CE00000000000000000000000000000000001");
const BOB: Address = address!("0xB0B0000000000000000000000000000000000002");
const NOW: u64 = 1_795_490_745;

fn spec() -> SessionSpec {
    let none = UsageLimit::unlimited();
    let recipients = Constraint {
        condition: Condition::OneOf.into(),
        index: 0,
        bits: 160,
        refValue: B256::ZERO,
        oneOf: vec![ALICE.into_word(), BOB.into_word()],
        limit: none.clone(),
    };
    let amount = Constraint {
        condition: Condition::Unconstrained.into(),
        index: 1,
        bits: 256,
        refValue: B256::ZERO,
        oneOf: vec![],
        limit: UsageLimit::lifetime(100_000_000),
    };
    let direction = Constraint {
        condition: Condition::Less.into(),
        index: 0,
        bits: 8,
        refValue: U256::from(4).into(),
        oneOf: vec![],
        limit: none.clone(),
    };
    let mut policies = vec![
        CallPolicy {
            target: USDC,
            selector: transferCall::SELECTOR.into(),
            maxValuePerUse: U256::ZERO,
            valueLimit: none.clone(),
            callLimit: none.clone(),
            constraints: vec![recipients, amount],
        },
        CallPolicy {
            target: GAME,
            selector: moveCall::SELECTOR.into(),
            maxValuePerUse: U256::ZERO,
            valueLimit: none.clone(),
            callLimit: UsageLimit::lifetime(1000),
            constraints: vec![direction],
        },
    ];
    policies.sort_by_key(|p| (p.target, p.selector));
    SessionSpec {
        signer: address!("0x5e55104000000000000000000000000000005e55"),
        validAfter: U48::from(NOW - 60),
        validUntil: U48::from(NOW + 3600),
        feeLimit: UsageLimit::allowance(1_000_000_000_000_000_000, 86_400),
        paymasterMode: PaymasterMode::None.into(),
        paymaster: Address::ZERO,
        opLimit: UsageLimit::allowance(10, 60),
        callPolicies: policies,
        transferPolicies: vec![TransferPolicy {
            target: ALICE,
            maxValuePerUse: U256::from(1000),
            valueLimit: UsageLimit::lifetime(10_000),
        }],
        salt: B256::ZERO,
    }
}

fn execute_single(to: Address, data: Vec<u8>) -> Vec<u8> {
    let inner = [to.as_slice(), &U256::ZERO.to_be_bytes::<32>(), &data].concat();
    executeCall {
        mode: B256::ZERO,
        executionCalldata: inner.into(),
    }
    .abi_encode()
}

fn execute_batch(calls: Vec<(Address, Vec<u8>)>) -> Vec<u8> {
    let executions: Vec<Execution> = calls
        .into_iter()
        .map(|(target, data)| Execution {
            target,
            value: U256::ZERO,
            callData: data.into(),
        })
        .collect();
    let mut mode = [0u8; 32];
    mode[0] = 1;
    executeCall {
        mode: mode.into(),
        executionCalldata: executions.abi_encode().into(),
    }
    .abi_encode()
}

fn bench(c: &mut Criterion) {
    let spec = spec();
    let hash = session_hash(&spec).unwrap();
    let mut counters = std::collections::BTreeMap::new();
    counters.insert(
        CounterKey {
            kind: CounterKind::ConstraintSum,
            policy: 0,
            constraint: 1,
        },
        Counter {
            period: 0,
            used: U256::from(30_000_000),
        },
    );
    let ctx = EvalContext {
        chain_id: 8453,
        validator: address!("0x00000000000000000000000000000000000ba11d"),
        account: ACCOUNT,
        entry_points: [
            address!("0x0000000071727De22E5E9d8BAf0edAc6f37da032"),
            address!("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"),
        ],
        registry: None,
        installed_modules: vec![address!("0x00000000000000000000000000000000000ba11d")],
        account_epoch: 0,
        header: SessionHeader {
            status: Status::Active,
            epoch: 0,
            ops_period: NOW / 60,
            ops_used: 3,
        },
        counters,
        owner: None,
        sender: sessionkeys_engine::SenderState::deployed(
            sessionkeys_engine::advisory::EntryPointRules::V07,
            address!("0x00000000000000000000000000000000000ba11d"),
        ),
    };
    let transfer = transferCall {
        to: ALICE,
        amount: U256::from(1_000_000),
    }
    .abi_encode();
    let single = execute_single(USDC, transfer.clone());
    let batch = execute_batch(vec![
        (USDC, transfer.clone()),
        (GAME, moveCall { direction: 2 }.abi_encode()),
        (
            USDC,
            transferCall {
                to: BOB,
                amount: U256::from(2_000_000),
            }
            .abi_encode(),
        ),
        (GAME, moveCall { direction: 1 }.abi_encode()),
        (USDC, transfer),
    ]);
    let mut nonce_bytes = [0u8; 32];
    nonce_bytes[20..24].copy_from_slice(&hash[..4]);
    let mut limits = [0u8; 32];
    limits[15] = 0x0f; // verification gas
    limits[31] = 0x0f; // call gas
    let mut fees = [0u8; 32];
    fees[31] = 100;
    let op = |call_data: &[u8]| -> bool {
        let op = SessionOp {
            sender: ACCOUNT,
            spec: &spec,
            session_hash: hash,
            mode: SignatureMode::Use,
            time_hint: NOW,
            nonce: U256::from_be_bytes(nonce_bytes),
            call_data,
            account_gas_limits: limits.into(),
            pre_verification_gas: U256::from(50_000),
            gas_fees: fees.into(),
            paymaster_and_data: &[],
            chains: &[],
            signatures: None,
        };
        evaluate_session_op(&ctx, &op).is_ok()
    };
    assert!(op(&single) && op(&batch), "the benchmark ops pass");

    // The same single call as a signed userOp: signature decoding and ECDSA recovery included.
    let key =
        alloy::signers::local::PrivateKeySigner::from_bytes(&B256::repeat_byte(2)).expect("key");
    let mut signed_spec = spec.clone();
    signed_spec.signer = key.address();
    let signed_hash = session_hash(&signed_spec).unwrap();
    let mut signed_nonce = [0u8; 32];
    // The nonce key is validator ‖ lane: the account routes on the validator.
    signed_nonce[..20].copy_from_slice(ctx.validator.as_slice());
    signed_nonce[20..24].copy_from_slice(&signed_hash[..4]);
    let user_op_hash = B256::repeat_byte(0x42);
    let digest = alloy::primitives::keccak256(
        (user_op_hash, signed_hash, U256::from(NOW), U256::ZERO).abi_encode_params(),
    );
    let session_signature = {
        use alloy::signers::SignerSync;
        key.sign_hash_sync(&digest)
            .expect("sign")
            .as_bytes()
            .to_vec()
    };
    let signature = sessionkeys_contracts::vocabulary::packed::encode_use_signature(
        &signed_spec,
        NOW,
        &sessionkeys_engine::carry::carried_positions(&signed_spec, &single),
        &session_signature,
    )
    .expect("the bench's spec has a packed form");
    let signed = sessionkeys_engine::UserOpInput {
        sender: ACCOUNT,
        nonce: U256::from_be_bytes(signed_nonce),
        init_code: Default::default(),
        call_data: single.clone().into(),
        account_gas_limits: limits.into(),
        pre_verification_gas: U256::from(50_000),
        gas_fees: fees.into(),
        paymaster_and_data: Default::default(),
        signature: signature.into(),
        user_op_hash,
    };
    let validation = sessionkeys_engine::evaluate(&ctx, &signed).expect("the signed op passes");
    assert!(!validation.signature_failed, "the signature checks out");

    let mut group = c.benchmark_group("engine pre-check");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single call", |b| b.iter(|| op(black_box(&single))));
    group.bench_function("batch of 5", |b| b.iter(|| op(black_box(&batch))));
    group.finish();
    let mut group = c.benchmark_group("engine signed op");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single call, decode + ECDSA", |b| {
        b.iter(|| sessionkeys_engine::evaluate(&ctx, black_box(&signed)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
