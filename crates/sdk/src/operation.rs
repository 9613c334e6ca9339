//! Sending one userOp: fees, gas from the bundler's estimate with a stub signature, the
//! signature, `eth_sendUserOperation`, and the wait for the receipt.

use crate::backend::{Backend, BackendError};
use crate::erc7769::{RpcUserOperation, UserOperationReceipt};
use crate::error::SdkError;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::SolCall;
use sessionkeys_chain::entrypoint::abi::IEntryPoint;
use sessionkeys_chain::{EntryPointVersion, UserOperation, decode_revert};
use std::time::Duration;

/// How long [`submit`] waits for a receipt, and how often it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Give up after this long.
    pub timeout: Duration,
    /// Ask the bundler this often.
    pub poll_interval: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
        }
    }
}

/// A mined userOp whose execution succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The userOp hash.
    pub user_op_hash: B256,
    /// The bundle's transaction hash.
    pub transaction_hash: B256,
    /// What the account (or paymaster) paid, in wei.
    pub actual_gas_cost: U256,
    /// Gas the EntryPoint charged for.
    pub actual_gas_used: U256,
    /// Receipt gas of the whole bundle transaction, when the bundler reports it.
    pub bundle_gas_used: Option<U256>,
    /// The block the bundle landed in, when the bundler reports it.
    pub block_number: Option<U256>,
    /// The op as sent.
    pub op: UserOperation,
}

/// The EntryPoint's hash of `op`, asked of the EntryPoint itself.
pub async fn user_op_hash(
    backend: &dyn Backend,
    version: EntryPointVersion,
    op: &UserOperation,
) -> Result<B256, SdkError> {
    let output = backend
        .call(
            version.address(),
            IEntryPoint::getUserOpHashCall { userOp: op.pack() }
                .abi_encode()
                .into(),
        )
        .await?;
    IEntryPoint::getUserOpHashCall::abi_decode_returns(&output)
        .map_err(|e| SdkError::Decode(format!("getUserOpHash: {e}")))
}

/// The next nonce of `sender` on `key`.
pub async fn next_nonce(
    backend: &dyn Backend,
    version: EntryPointVersion,
    sender: Address,
    key: alloy::primitives::aliases::U192,
) -> Result<U256, SdkError> {
    let output = backend
        .call(
            version.address(),
            IEntryPoint::getNonceCall { sender, key }
                .abi_encode()
                .into(),
        )
        .await?;
    IEntryPoint::getNonceCall::abi_decode_returns(&output)
        .map_err(|e| SdkError::Decode(format!("getNonce: {e}")))
}

/// Fills fees and gas (estimated with `stub_signature` in place), signs with `sign` (given the
/// userOp hash), sends, and waits for the receipt.
pub async fn submit(
    backend: &dyn Backend,
    version: EntryPointVersion,
    op: UserOperation,
    stub_signature: Bytes,
    sign: impl FnOnce(B256) -> Bytes,
    wait: WaitPolicy,
) -> Result<Executed, SdkError> {
    let priced = price(backend, version, op, stub_signature).await?;
    sign_and_send(backend, version, priced, sign, wait).await
}

/// Fills the backend's fees and the bundler's gas estimate, made with `stub_signature` in the
/// signature field (same length as the real one, so `preVerificationGas` holds).
pub async fn price(
    backend: &dyn Backend,
    version: EntryPointVersion,
    mut op: UserOperation,
    stub_signature: Bytes,
) -> Result<UserOperation, SdkError> {
    let fees = backend.fees().await?;
    op.max_fee_per_gas = fees.max_fee_per_gas;
    op.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
    op.signature = stub_signature;
    let estimate = backend
        .estimate_user_operation_gas(&RpcUserOperation::from(&op), version.address())
        .await
        .map_err(bundler_refusal)?;
    estimate
        .apply(&mut op)
        .map_err(|e| SdkError::Decode(e.to_string()))?;
    Ok(op)
}

/// Signs a priced op with `sign` (given the userOp hash), sends it, and waits for the receipt.
pub async fn sign_and_send(
    backend: &dyn Backend,
    version: EntryPointVersion,
    op: UserOperation,
    sign: impl FnOnce(B256) -> Bytes,
    wait: WaitPolicy,
) -> Result<Executed, SdkError> {
    sign_record_and_send(backend, version, op, sign, |_, _| Ok(()), wait).await
}

/// What a caller writes down about an op before it is sent (a journal that outlives a crash):
/// given the userOp hash and the signed op. An error sends nothing.
pub type RecordBeforeSend = dyn Fn(B256, &UserOperation) -> Result<(), SdkError> + Send + Sync;

/// Like [`sign_and_send`], with `record` run after signing and before the op is sent: whoever
/// keeps that record learns of every op that may land, even if this process dies before the
/// receipt. When `record` fails, nothing is sent.
pub async fn sign_record_and_send(
    backend: &dyn Backend,
    version: EntryPointVersion,
    mut op: UserOperation,
    sign: impl FnOnce(B256) -> Bytes,
    record: impl FnOnce(B256, &UserOperation) -> Result<(), SdkError>,
    wait: WaitPolicy,
) -> Result<Executed, SdkError> {
    let hash = user_op_hash(backend, version, &op).await?;
    op.signature = sign(hash);
    record(hash, &op)?;
    let sent = backend
        .send_user_operation(&RpcUserOperation::from(&op), version.address())
        .await
        .map_err(bundler_refusal)?;
    if sent != hash {
        return Err(SdkError::Decode(format!(
            "the bundler returned userOp hash {sent}, but the EntryPoint computes {hash}"
        )));
    }
    let receipt = wait_for_receipt(backend, hash, wait).await?;
    if !receipt.success {
        let reason = receipt
            .reason
            .as_ref()
            .map_or(sessionkeys_chain::RevertReason::Empty, |data| {
                decode_revert(data)
            });
        return Err(SdkError::ExecutionReverted {
            user_op_hash: hash,
            reason: Box::new(reason),
            actual_gas_cost: receipt.actual_gas_cost,
        });
    }
    Ok(Executed {
        user_op_hash: hash,
        transaction_hash: receipt.receipt.transaction_hash,
        actual_gas_cost: receipt.actual_gas_cost,
        actual_gas_used: receipt.actual_gas_used,
        bundle_gas_used: receipt.receipt.gas_used,
        block_number: receipt.receipt.block_number,
        op,
    })
}

/// Polls `eth_getUserOperationReceipt` until the op is mined or `wait.timeout` passes.
pub async fn wait_for_receipt(
    backend: &dyn Backend,
    user_op_hash: B256,
    wait: WaitPolicy,
) -> Result<UserOperationReceipt, SdkError> {
    let started = std::time::Instant::now();
    loop {
        if let Some(receipt) = backend.user_operation_receipt(user_op_hash).await? {
            return Ok(receipt);
        }
        if started.elapsed() >= wait.timeout {
            return Err(SdkError::Timeout {
                user_op_hash,
                waited_seconds: wait.timeout.as_secs(),
            });
        }
        tokio::time::sleep(wait.poll_interval).await;
    }
}

/// A bundler's refusal, with the validator's named error when one can be found in its data or
/// message (bundlers differ in where they put the revert: alto writes it into the message).
pub fn bundler_refusal(error: BackendError) -> SdkError {
    match error {
        BackendError::Rpc {
            code,
            message,
            data,
            ..
        } => {
            let reason = data
                .filter(|d| d.len() >= 4)
                .or_else(|| hex_in(&message))
                .map(|d| Box::new(decode_revert(&d)));
            SdkError::BundlerRefused {
                code,
                message,
                reason,
            }
        }
        other => SdkError::Backend(other),
    }
}

/// The longest `0x…` hex run in `text` that could be revert data (a selector or more).
fn hex_in(text: &str) -> Option<Bytes> {
    text.match_indices("0x")
        .filter_map(|(start, _)| {
            let digits: String = text[start + 2..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            (digits.len() >= 8
                && digits.len().is_multiple_of(2)
                && digits.len() != 40
                && digits.len() != 64)
                .then(|| format!("0x{digits}").parse::<Bytes>().ok())
                .flatten()
        })
        .max_by_key(|b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;
    use sessionkeys_chain::RevertReason;
    use sessionkeys_contracts::session::ISessionKeyValidator;

    #[test]
    fn a_validator_error_inside_a_bundler_message_is_named() {
        let revert = ISessionKeyValidator::SessionNotEnabled {
            sessionHash: B256::repeat_byte(0x11),
        }
        .abi_encode();
        let message = format!(
            "UserOperation reverted during simulation with reason: AA23 reverted 0x{}",
            alloy::primitives::hex::encode(&revert)
        );
        let error = bundler_refusal(BackendError::Rpc {
            url: "http://127.0.0.1:4337".into(),
            method: "eth_sendUserOperation".into(),
            code: -32500,
            message,
            data: None,
        });
        match error {
            SdkError::BundlerRefused { code, reason, .. } => {
                assert_eq!(code, -32500);
                assert!(matches!(
                    reason.as_deref(),
                    Some(RevertReason::Validator(
                        ISessionKeyValidator::ISessionKeyValidatorErrors::SessionNotEnabled(_)
                    ))
                ));
            }
            other => panic!("expected a bundler refusal, got {other:?}"),
        }
    }

    #[test]
    fn addresses_and_hashes_in_a_message_are_not_taken_for_revert_data() {
        let message = format!("sender 0x{} op 0x{}", "ab".repeat(20), "cd".repeat(32));
        assert_eq!(hex_in(&message), None);
    }
}
