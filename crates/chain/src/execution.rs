//! ERC-7579 `execute(mode, data)` encodings, exactly as the contracts' canonical decoder
//! accepts them (hardening rule 1).

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolValue};

#[allow(missing_docs)]
mod abi {
    alloy::sol! {
        struct Execution { address target; uint256 value; bytes callData; }
        function execute(bytes32 mode, bytes executionCalldata);
    }
}

/// Single call, default exec type.
pub const MODE_SINGLE: B256 = B256::ZERO;
/// Batch, default exec type.
pub const MODE_BATCH: B256 = {
    let mut mode = [0u8; 32];
    mode[0] = 1;
    B256::new(mode)
};

/// One call an account makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The callee.
    pub to: Address,
    /// Wei sent along.
    pub value: U256,
    /// Calldata (empty for a plain transfer).
    pub data: Bytes,
}

impl Call {
    /// A call with no value.
    pub fn new(to: Address, data: impl Into<Bytes>) -> Self {
        Self {
            to,
            value: U256::ZERO,
            data: data.into(),
        }
    }

    /// A typed contract call with no value.
    pub fn typed<C: SolCall>(to: Address, call: &C) -> Self {
        Self::new(to, call.abi_encode())
    }

    /// A plain value transfer.
    pub fn transfer(to: Address, value: U256) -> Self {
        Self {
            to,
            value,
            data: Bytes::new(),
        }
    }
}

/// `execute(MODE_SINGLE, target ‖ value ‖ data)`.
pub fn encode_single(call: &Call) -> Bytes {
    let packed = [
        call.to.as_slice(),
        &call.value.to_be_bytes::<32>(),
        &call.data,
    ]
    .concat();
    abi::executeCall {
        mode: MODE_SINGLE,
        executionCalldata: packed.into(),
    }
    .abi_encode()
    .into()
}

/// `execute(MODE_BATCH, abi.encode(Execution[]))`.
pub fn encode_batch(calls: &[Call]) -> Bytes {
    let executions: Vec<abi::Execution> = calls
        .iter()
        .map(|c| abi::Execution {
            target: c.to,
            value: c.value,
            callData: c.data.clone(),
        })
        .collect();
    abi::executeCall {
        mode: MODE_BATCH,
        executionCalldata: executions.abi_encode().into(),
    }
    .abi_encode()
    .into()
}

/// One call as a single, several as a batch.
pub fn encode_calls(calls: &[Call]) -> Bytes {
    match calls {
        [call] => encode_single(call),
        _ => encode_batch(calls),
    }
}

/// `execute(mode, data)` with an arbitrary mode (for refusal tests of other modes).
pub fn encode_with_mode(mode: B256, execution_calldata: Bytes) -> Bytes {
    abi::executeCall {
        mode,
        executionCalldata: execution_calldata,
    }
    .abi_encode()
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;
    use sessionkeys_engine::execute::decode_execute;

    fn decoded(data: &[u8]) -> Vec<Call> {
        decode_execute(data)
            .expect("the engine's canonical decoder accepts what the encoder writes")
            .into_iter()
            .map(|c| Call {
                to: c.target,
                value: c.value,
                data: Bytes::copy_from_slice(c.data),
            })
            .collect()
    }

    fn sample_calls() -> Vec<Call> {
        vec![
            Call::new(
                address!("0x00000000000000000000000000000000000000aa"),
                vec![0xa9, 0x05, 0x9c, 0xbb, 1, 2, 3],
            ),
            Call::transfer(
                address!("0x00000000000000000000000000000000000000bb"),
                U256::from(7),
            ),
            Call {
                to: address!("0x00000000000000000000000000000000000000cc"),
                value: U256::MAX,
                data: Bytes::from(vec![0u8; 65]),
            },
        ]
    }

    #[test]
    fn a_single_call_round_trips_through_the_engines_decoder() {
        for call in sample_calls() {
            let encoded = encode_calls(std::slice::from_ref(&call));
            assert_eq!(&encoded[4..36], MODE_SINGLE.as_slice());
            assert_eq!(decoded(&encoded), vec![call]);
        }
    }

    #[test]
    fn a_batch_round_trips_through_the_engines_decoder() {
        let calls = sample_calls();
        let encoded = encode_calls(&calls);
        assert_eq!(&encoded[4..36], MODE_BATCH.as_slice());
        assert_eq!(decoded(&encoded), calls);
        // A batch of one stays a batch when asked for explicitly.
        let one = encode_batch(&calls[..1]);
        assert_eq!(decoded(&one), calls[..1].to_vec());
    }

    #[test]
    fn an_empty_batch_is_encoded_but_refused_by_the_decoder() {
        // Rule 1: the canonical decoder refuses a batch of nothing; the encoder writes it only
        // so refusal tests can send it.
        assert_eq!(
            decode_execute(&encode_calls(&[])),
            Err(sessionkeys_engine::Violation::EmptyBatch)
        );
    }
}
