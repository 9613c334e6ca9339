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
