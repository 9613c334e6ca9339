//! `evaluate` on arbitrary userOps: any signature bytes, spec, mode, hint, callData, gas fields,
//! paymasterAndData and nonce, against a snapshot whose header and counters are arbitrary
//! too. It must give a verdict, never panic; an accepted op's window must be a sub-window
//! of the session's.

#![no_main]

use alloy::primitives::{B256, Bytes, U256};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sessionkeys_contracts::session::ChainEpoch;
use sessionkeys_contracts::vocabulary::SignatureMode;
use sessionkeys_contracts::vocabulary::packed::{
    MAX_TIME_HINT, encode_enable_signature, encode_use_signature,
};
use sessionkeys_engine::carry::carried_positions;
use sessionkeys_engine::{Counter, CounterKey, CounterKind, UserOpInput, evaluate, session_hash};
use sessionkeys_fuzz::{
    ACCOUNT, CallInput, HeaderInput, SpecInput, context, encode_execute, example_sessions, require,
};

#[derive(Arbitrary, Debug)]
enum SpecSource {
    /// One of the examples (valid, so the op gets far).
    Example(u8),
    /// Any spec.
    Any(Box<SpecInput>),
}

#[derive(Arbitrary, Debug)]
enum SignatureInput {
    /// Raw bytes.
    Raw(Vec<u8>),
    /// A well-formed packed signature of a spec (use mode with the policies the calls use, or
    /// enable mode), with any first byte.
    Encoded {
        spec: SpecSource,
        mode: u8,
        time_hint: u64,
        session_signature: Vec<u8>,
        chains: Vec<(u64, u64)>,
        owner_signature: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
enum CallDataInput {
    Raw(Vec<u8>),
    Calls { batch: bool, calls: Vec<CallInput> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    other_sender: bool,
    session_lane: bool,
    nonce: [u8; 32],
    /// Route to the snapshot's validator (the usual case) or keep the fuzzer's key.
    route_to_validator: bool,
    init_code: Vec<u8>,
    signature: SignatureInput,
    call_data: CallDataInput,
    account_gas_limits: [u8; 32],
    pre_verification_gas: [u8; 32],
    gas_fees: [u8; 32],
    paymaster_and_data: Vec<u8>,
    header: HeaderInput,
    account_epoch: u8,
    counters: Vec<(u8, u16, u16, u64, [u8; 32])>,
}

fuzz_target!(|input: Input| {
    let examples = example_sessions();
    let spec = match &input.signature {
        SignatureInput::Raw(_) => examples.first().cloned(),
        SignatureInput::Encoded { spec, .. } => Some(match spec {
            SpecSource::Example(i) => examples[*i as usize % examples.len()].clone(),
            SpecSource::Any(spec) => spec.spec(),
        }),
    };
    let Some(spec) = spec else { return };
    let call_data = match &input.call_data {
        CallDataInput::Raw(bytes) => bytes.clone(),
        CallDataInput::Calls { batch, calls } => {
            let calls: Vec<_> = calls.iter().map(|c| c.call(&spec)).collect();
            encode_execute(&calls, *batch || calls.len() != 1)
        }
    };
    let signature: Bytes = match &input.signature {
        SignatureInput::Raw(bytes) => bytes.clone().into(),
        SignatureInput::Encoded {
            mode,
            time_hint,
            session_signature,
            chains,
            owner_signature,
            ..
        } => {
            // The packed form (docs/compact-signatures.md) of any spec it can carry; a first
            // byte other than use or enable keeps the use form after it.
            let mut key_signature = session_signature.clone();
            key_signature.resize(65, 0);
            let hint = time_hint & MAX_TIME_HINT;
            let encoded = if *mode == SignatureMode::Enable.code() {
                let chains: Vec<ChainEpoch> = chains
                    .iter()
                    .map(|(chain, epoch)| ChainEpoch {
                        chainId: *chain,
                        epoch: *epoch,
                    })
                    .collect();
                encode_enable_signature(&spec, hint, &chains, owner_signature, &key_signature)
            } else {
                let positions = carried_positions(&spec, &call_data);
                encode_use_signature(&spec, hint, &positions, &key_signature)
            };
            let Ok(mut encoded) = encoded else { return };
            if let Some(first) = encoded.first_mut() {
                if *mode != SignatureMode::Enable.code() {
                    *first = *mode;
                }
            }
            encoded.into()
        }
    };
    let mut nonce = input.nonce;
    if input.route_to_validator {
        nonce[..20].copy_from_slice(sessionkeys_fuzz::VALIDATOR.as_slice());
    }
    if input.session_lane {
        if let Ok(hash) = session_hash(&spec) {
            nonce[20..24].copy_from_slice(&hash[..4]);
        }
    }
    let mut ctx = context(input.header.header(), u64::from(input.account_epoch % 4));
    let kinds = [
        CounterKind::Fee,
        CounterKind::CallValue,
        CounterKind::CallCount,
        CounterKind::ConstraintSum,
        CounterKind::TransferValue,
    ];
    for (kind, policy, constraint, period, used) in &input.counters {
        ctx.counters.insert(
            CounterKey {
                kind: kinds[*kind as usize % kinds.len()],
                policy: policy % 4,
                constraint: constraint % 4,
            },
            Counter {
                period: *period,
                used: U256::from_be_bytes(*used),
            },
        );
    }
    let op = UserOpInput {
        sender: if input.other_sender {
            alloy::primitives::Address::repeat_byte(0xbd)
        } else {
            ACCOUNT
        },
        nonce: U256::from_be_bytes(nonce),
        init_code: input.init_code.clone().into(),
        call_data: call_data.into(),
        account_gas_limits: B256::from(input.account_gas_limits),
        pre_verification_gas: U256::from_be_bytes(input.pre_verification_gas),
        gas_fees: B256::from(input.gas_fees),
        paymaster_and_data: input.paymaster_and_data.clone().into(),
        signature,
        user_op_hash: B256::repeat_byte(0x42),
    };
    match evaluate(&ctx, &op) {
        Ok(validation) => {
            let after: u64 = spec.validAfter.to();
            let until: u64 = spec.validUntil.to();
            if session_hash(&spec).is_ok_and(|hash| hash == validation.session_hash) {
                require(
                    validation.valid_after >= after && validation.valid_until <= until,
                    "an accepted op's window lies within the session's",
                );
            }
            let _ = validation.validation_data();
        }
        Err(violation) => {
            let _ = (
                violation.to_string(),
                violation.revert_data(),
                violation.name(),
            );
        }
    }
});
