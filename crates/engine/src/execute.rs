//! The canonical `execute(mode, data)` decoder, mirroring `ExecutionLib` (hardening rule 1).

use crate::Violation;
use alloy::primitives::{Address, B256, U256};

const EXECUTE_SELECTOR: [u8; 4] = [0xe9, 0xae, 0x5c, 0x53];

/// One call the account would make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRef<'a> {
    /// Callee.
    pub target: Address,
    /// Wei sent.
    pub value: U256,
    /// Calldata.
    pub data: &'a [u8],
}

fn word(data: &[u8], at: usize) -> U256 {
    U256::from_be_slice(&data[at..at + 32])
}

fn ceil32(n: usize) -> usize {
    n.div_ceil(32) * 32
}

/// Decodes `userOp.callData` into the calls it runs, refusing anything non-canonical: the
/// outer layer, then the calls.
/// Rule 1 (docs/rules.md).
pub fn decode_execute(call_data: &[u8]) -> Result<Vec<CallRef<'_>>, Violation> {
    let execution = decode_outer(call_data)?;
    decode_calls(execution)
}

/// The execution data of `execute(mode, data)` and its mode, checked at the outer layer only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Execution<'a> {
    /// Batch mode (else a single call).
    pub batch: bool,
    /// The `data` argument.
    pub data: &'a [u8],
}

/// `ExecutionLib.decodeExecute`: selector, mode, and the outer `bytes` (the validator checks
/// this before the time hint; the calls inside come after the session's status, see
/// [`decode_calls`] and docs/decisions.md, "Validation order").
pub fn decode_outer(call_data: &[u8]) -> Result<Execution<'_>, Violation> {
    if call_data.len() < 4 {
        return Err(Violation::ExecuteSelectorRequired([0; 4]));
    }
    let selector: [u8; 4] = call_data[..4].try_into().expect("4 bytes");
    if selector != EXECUTE_SELECTOR {
        return Err(Violation::ExecuteSelectorRequired(selector));
    }
    if call_data.len() < 100 {
        return Err(Violation::NonCanonicalExecution(call_data.len()));
    }
    let mode = B256::from_slice(&call_data[4..36]);
    let batch = match (mode[0], mode[1..].iter().all(|b| *b == 0)) {
        (0x01, true) => true,
        (0x00, true) => false,
        _ => return Err(Violation::UnsupportedExecutionMode(mode)),
    };
    if word(call_data, 36) != U256::from(0x40) {
        return Err(Violation::NonCanonicalExecution(36));
    }
    let length = word(call_data, 68);
    let rest = call_data.len() - 100;
    if length > U256::from(rest) || 100 + ceil32(length.to::<usize>()) != call_data.len() {
        return Err(Violation::NonCanonicalExecution(68));
    }
    Ok(Execution {
        batch,
        data: &call_data[100..100 + length.to::<usize>()],
    })
}

/// `ExecutionLib.validateBatch` / `decodeSingle`: the calls inside the execution data.
pub fn decode_calls(execution: Execution<'_>) -> Result<Vec<CallRef<'_>>, Violation> {
    if execution.batch {
        decode_batch(execution.data)
    } else {
        decode_single(execution.data).map(|c| vec![c])
    }
}

fn decode_single(data: &[u8]) -> Result<CallRef<'_>, Violation> {
    if data.len() < 52 {
        return Err(Violation::NonCanonicalExecution(data.len()));
    }
    Ok(CallRef {
        target: Address::from_slice(&data[..20]),
        value: word(data, 20),
        data: &data[52..],
    })
}

fn decode_batch(data: &[u8]) -> Result<Vec<CallRef<'_>>, Violation> {
    if data.len() < 64 || word(data, 0) != U256::from(0x20) {
        return Err(Violation::NonCanonicalExecution(0));
    }
    let count = word(data, 32);
    if count.is_zero() {
        return Err(Violation::EmptyBatch);
    }
    if count > U256::from((data.len() - 64) / 160) {
        return Err(Violation::NonCanonicalExecution(32));
    }
    let count = count.to::<usize>();
    let mut expected = 32 * count;
    let mut calls = Vec::with_capacity(count);
    for i in 0..count {
        let head = 64 + 32 * i;
        if word(data, head) != U256::from(expected) {
            return Err(Violation::NonCanonicalExecution(head));
        }
        let elem = 64 + expected;
        if elem + 128 > data.len() {
            return Err(Violation::NonCanonicalExecution(head));
        }
        let target_word = word(data, elem);
        if target_word >> 160 != U256::ZERO {
            return Err(Violation::NonCanonicalExecution(elem));
        }
        if word(data, elem + 64) != U256::from(0x60) {
            return Err(Violation::NonCanonicalExecution(elem + 64));
        }
        let length = word(data, elem + 96);
        if length > U256::from(data.len() - elem - 128) {
            return Err(Violation::NonCanonicalExecution(elem + 96));
        }
        let length = length.to::<usize>();
        calls.push(CallRef {
            target: Address::from_slice(&data[elem + 12..elem + 32]),
            value: word(data, elem + 32),
            data: &data[elem + 128..elem + 128 + length],
        });
        expected += 128 + ceil32(length);
    }
    if 64 + expected != data.len() {
        return Err(Violation::NonCanonicalExecution(data.len()));
    }
    Ok(calls)
}
