//! The usage file of `check`: any text must parse or be refused with a path; an accepted one,
//! as the snapshot of the examples' sessions, must give a verdict on an op without panicking.

#![no_main]

use alloy::primitives::{B256, U256};
use libfuzzer_sys::fuzz_target;
use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
use sessionkeys_engine::format::usage::parse_usage_json;
use sessionkeys_engine::{SessionHeader, Status, session_hash};
use sessionkeys_contracts::vocabulary::SignatureMode;
use sessionkeys_fuzz::{ACCOUNT, context, encode_execute, example_sessions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(usage) = parse_usage_json(text) else {
        return;
    };
    for spec in example_sessions() {
        let Ok(hash) = session_hash(&spec) else {
            continue;
        };
        let mut ctx = context(
            SessionHeader {
                status: Status::Active,
                epoch: 0,
                ops_period: usage.ops_period,
                ops_used: usage.ops_used,
            },
            0,
        );
        ctx.counters = usage.counters();
        let mut nonce = [0u8; 32];
        nonce[20..24].copy_from_slice(&hash[..4]);
        // Each of the session's call policies once, with a small first argument.
        for policy in &spec.callPolicies {
            let mut data = policy.selector.to_vec();
            data.extend_from_slice(&U256::from(1).to_be_bytes::<32>());
            data.extend_from_slice(&U256::from(5).to_be_bytes::<32>());
            let call_data = encode_execute(&[(policy.target, U256::ZERO, data)], false);
            for hint in [spec.validAfter.to::<u64>(), spec.validUntil.to::<u64>()] {
                let op = SessionOp {
                    sender: ACCOUNT,
                    spec: &spec,
                    session_hash: hash,
                    mode: SignatureMode::Use,
                    time_hint: hint,
                    nonce: U256::from_be_bytes(nonce),
                    call_data: &call_data,
                    account_gas_limits: B256::ZERO,
                    pre_verification_gas: U256::from(60_000),
                    gas_fees: B256::ZERO,
                    paymaster_and_data: &[],
                    chains: &[],
                    signatures: None,
                };
                let _ = evaluate_session_op(&ctx, &op).map_err(|v| v.to_string());
            }
        }
    }
});
