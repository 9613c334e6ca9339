//! The devnet behind the [`Backend`] interface, with an in-process bundler: the SDK's
//! code path is the same as against a real node and bundler (docs/decisions.md, "SDK and real chains").
//!
//! Its bundler estimates gas by running the op's parts on a copy of the chain: the factory,
//! then `validateUserOp` and `execute` called from the EntryPoint, each measured as a whole
//! transaction (so the estimate errs high by the intrinsic cost), and it refuses an op exactly as
//! `handleOps` does, with ERC-7769's error codes.

use crate::backend::{Backend, BackendError, Fees, LogQuery, PlainTransaction, TransactionOutcome};
use crate::erc7769::{
    BundleTransaction, GasEstimate, RpcLog, RpcUserOperation, UserOperationReceipt,
};
use crate::held_lock::{Held, TimedMutex};
use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::entrypoint::abi::IEntryPoint;
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::SessionAccount;
use sessionkeys_devnet::devnet::DEVNET_BUNDLER;
use sessionkeys_devnet::evm::BASE_FEE;
use sessionkeys_devnet::{BundleError, Devnet, DevnetError};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// ERC-7769: the account's (or the EntryPoint's) validation refused the op.
pub const REJECTED_BY_ACCOUNT: i64 = -32500;
/// ERC-7769: the paymaster refused the op.
pub const REJECTED_BY_PAYMASTER: i64 = -32501;
/// ERC-7769: the op's time range is not valid now.
pub const OUT_OF_TIME_RANGE: i64 = -32503;
/// ERC-7769 (estimation): the execution reverted.
pub const EXECUTION_REVERTED: i64 = -32521;
/// JSON-RPC: invalid params (an op that does not convert).
pub const INVALID_PARAMS: i64 = -32602;

/// Gas the EntryPoint spends around an op beyond what the account's own calls use.
const ENTRY_POINT_OVERHEAD: u64 = 50_000;

#[derive(Debug, Default)]
struct Ledger {
    receipts: HashMap<B256, UserOperationReceipt>,
    logs: Vec<Log>,
    bundles: u64,
}

/// The devnet and its in-process bundler.
#[derive(Debug)]
pub struct DevnetBackend {
    /// The chain runs one call at a time; how long it is held is what every caller waits on.
    devnet: TimedMutex<Devnet>,
    ledger: Mutex<Ledger>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave the chain half-written: every change is one revm commit.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn devnet_error(error: DevnetError) -> BackendError {
    BackendError::Devnet(error.to_string())
}

fn refusal(code: i64, message: String, data: Option<Bytes>) -> BackendError {
    BackendError::Rpc {
        url: "devnet".into(),
        method: "eth_sendUserOperation".into(),
        code,
        message,
        data,
    }
}

fn version_at(entry_point: Address) -> Result<EntryPointVersion, BackendError> {
    EntryPointVersion::ALL
        .into_iter()
        .find(|v| v.address() == entry_point)
        .ok_or_else(|| {
            refusal(
                INVALID_PARAMS,
                format!("unsupported EntryPoint {entry_point}"),
                None,
            )
        })
}

fn to_op(op: &RpcUserOperation) -> Result<UserOperation, BackendError> {
    UserOperation::try_from(op).map_err(|e| refusal(INVALID_PARAMS, e.to_string(), None))
}

/// What a bundle failure means to a bundler's client (ERC-7769 codes).
fn bundle_refusal(error: BundleError) -> BackendError {
    match error {
        BundleError::FailedOp { reason, inner, .. } => {
            let code = if reason.starts_with("AA22") {
                OUT_OF_TIME_RANGE
            } else if reason.starts_with("AA3") {
                REJECTED_BY_PAYMASTER
            } else {
                REJECTED_BY_ACCOUNT
            };
            let data = (!inner.is_empty()).then_some(inner);
            refusal(code, reason, data)
        }
        BundleError::Reverted(data) => {
            refusal(REJECTED_BY_ACCOUNT, "handleOps reverted".into(), Some(data))
        }
    }
}

impl DevnetBackend {
    /// A fresh devnet (EntryPoints read from npm, everything deployed).
    pub fn new() -> Result<Self, BackendError> {
        Ok(Self::from_devnet(Devnet::new().map_err(devnet_error)?))
    }

    /// Wraps an existing devnet.
    pub fn from_devnet(devnet: Devnet) -> Self {
        Self {
            devnet: TimedMutex::new(devnet),
            ledger: Mutex::new(Ledger::default()),
        }
    }

    fn chain(&self) -> Held<'_, Devnet> {
        self.devnet.lock()
    }

    /// How long the chain has been held by calls, in all since it was made: the devnet runs
    /// one call at a time, so over a measurement, held time ÷ elapsed time is how busy it was
    /// (near 1, the chain is what bounds the rate).
    pub fn chain_held(&self) -> Duration {
        self.devnet.held()
    }

    /// Runs `f` on the devnet (to move time, mint, or read what the backend does not expose).
    pub fn with_devnet<R>(&self, f: impl FnOnce(&mut Devnet) -> R) -> R {
        f(&mut self.chain())
    }

    fn estimate(
        &self,
        version: EntryPointVersion,
        op: &UserOperation,
    ) -> Result<GasEstimate, BackendError> {
        let mut devnet = self.chain().clone();
        let chain = &mut devnet.chain;
        let entry_point = version.address();
        let mut verification = ENTRY_POINT_OVERHEAD;
        if let Some((factory, data)) = &op.factory {
            let deployed = chain
                .transact(entry_point, *factory, U256::ZERO, data.clone())
                .map_err(devnet_error)?;
            if !deployed.success {
                return Err(refusal(
                    REJECTED_BY_ACCOUNT,
                    "AA13 initCode failed or OOG".into(),
                    Some(deployed.output),
                ));
            }
            verification += deployed.gas_used;
        }
        let hash = devnet.user_op_hash(version, op).map_err(devnet_error)?;
        let chain = &mut devnet.chain;
        let validate = SessionAccount::validateUserOpCall {
            userOp: account_form(op),
            userOpHash: hash,
            missingAccountFunds: U256::ZERO,
        };
        let validated = chain
            .transact(
                entry_point,
                op.sender,
                U256::ZERO,
                validate.abi_encode().into(),
            )
            .map_err(devnet_error)?;
        if !validated.success {
            return Err(refusal(
                REJECTED_BY_ACCOUNT,
                "AA23 reverted".into(),
                Some(validated.output),
            ));
        }
        verification += validated.gas_used;
        let executed = chain
            .transact(entry_point, op.sender, U256::ZERO, op.call_data.clone())
            .map_err(devnet_error)?;
        if !executed.success {
            return Err(BackendError::Rpc {
                url: "devnet".into(),
                method: "eth_estimateUserOperationGas".into(),
                code: EXECUTION_REVERTED,
                message: "execution reverted".into(),
                data: Some(executed.output),
            });
        }
        Ok(GasEstimate {
            pre_verification_gas: U256::from(pre_verification_gas(op)),
            verification_gas_limit: U256::from(verification),
            call_gas_limit: U256::from(executed.gas_used),
            paymaster_verification_gas_limit: op.paymaster.as_ref().map(|_| U256::from(100_000)),
            paymaster_post_op_gas_limit: op.paymaster.as_ref().map(|_| U256::from(50_000)),
        })
    }
}

/// The packed op in the account ABI's own type (the same struct, generated twice).
fn account_form(op: &UserOperation) -> SessionAccount::PackedUserOperation {
    let p = op.pack();
    SessionAccount::PackedUserOperation {
        sender: p.sender,
        nonce: p.nonce,
        initCode: p.initCode,
        callData: p.callData,
        accountGasLimits: p.accountGasLimits,
        preVerificationGas: p.preVerificationGas,
        gasFees: p.gasFees,
        paymasterAndData: p.paymasterAndData,
        signature: p.signature,
    }
}

/// The op's share of a bundle of one: the transaction's base cost and its calldata.
fn pre_verification_gas(op: &UserOperation) -> u64 {
    let call = IEntryPoint::handleOpsCall {
        ops: vec![op.pack()],
        beneficiary: DEVNET_BUNDLER,
    }
    .abi_encode();
    let calldata: u64 = call.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum();
    21_000 + calldata + 10_000
}

#[async_trait::async_trait]
impl Backend for DevnetBackend {
    fn describe(&self) -> String {
        "the devnet".into()
    }

    async fn chain_id(&self) -> Result<u64, BackendError> {
        Ok(self.chain().chain.chain_id())
    }

    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, BackendError> {
        self.chain().chain.call(to, data).map_err(|e| match e {
            DevnetError::CallReverted { to, data } => BackendError::Reverted { to, data },
            other => devnet_error(other),
        })
    }

    async fn code(&self, at: Address) -> Result<Bytes, BackendError> {
        Ok(self.chain().chain.code(at))
    }

    async fn storage(&self, at: Address, slot: U256) -> Result<U256, BackendError> {
        Ok(self.chain().chain.storage(at, slot))
    }

    async fn balance(&self, of: Address) -> Result<U256, BackendError> {
        Ok(self.chain().chain.balance(of))
    }

    async fn transaction_count(&self, of: Address) -> Result<u64, BackendError> {
        Ok(self.chain().chain.nonce(of))
    }

    async fn latest_timestamp(&self) -> Result<u64, BackendError> {
        Ok(self.chain().chain.time())
    }

    async fn head(&self) -> Result<Option<crate::backend::Head>, BackendError> {
        let devnet = self.chain();
        Ok(Some(crate::backend::Head {
            block: devnet.chain.changes(),
            hash: B256::ZERO,
            timestamp: devnet.chain.time(),
        }))
    }

    /// The devnet has no clock of its own: waiting moves its time forward (never back).
    async fn wait_for_block_time(&self, timestamp: u64) -> Result<(), BackendError> {
        let mut devnet = self.chain();
        if devnet.chain.time() < timestamp {
            devnet.chain.set_time(timestamp);
        }
        Ok(())
    }

    async fn fees(&self) -> Result<Fees, BackendError> {
        // The devnet's base fee never moves: offer twice it, as a node's estimate would.
        Ok(Fees {
            max_fee_per_gas: 2 * u128::from(BASE_FEE),
            max_priority_fee_per_gas: u128::from(BASE_FEE),
        })
    }

    async fn logs(&self, query: LogQuery) -> Result<Vec<Log>, BackendError> {
        Ok(lock(&self.ledger)
            .logs
            .iter()
            .filter(|log| {
                let topics = log.topics();
                log.address == query.address
                    && topics.first() == Some(&query.topic0)
                    && query.topic1.is_none_or(|t| topics.get(1) == Some(&t))
                    && query.topic2.is_none_or(|t| topics.get(2) == Some(&t))
            })
            .cloned()
            .collect())
    }

    async fn send_transaction(
        &self,
        from: &PrivateKeySigner,
        tx: PlainTransaction,
    ) -> Result<TransactionOutcome, BackendError> {
        let mut devnet = self.chain();
        for authorization in &tx.authorizations {
            let authority = authorization.recover_authority().map_err(|e| {
                BackendError::Devnet(format!("an EIP-7702 authorization does not recover: {e}"))
            })?;
            devnet
                .chain
                .set_delegation(authority, authorization.address);
        }
        let outcome = devnet
            .chain
            .transact(from.address(), tx.to, tx.value, tx.data)
            .map_err(devnet_error)?;
        if !outcome.success {
            return Err(BackendError::TransactionFailed {
                hash: B256::ZERO,
                to: Some(tx.to),
            });
        }
        lock(&self.ledger).logs.extend(outcome.logs);
        Ok(TransactionOutcome {
            hash: B256::ZERO,
            gas_used: outcome.gas_used,
        })
    }

    async fn supported_entry_points(&self) -> Result<Vec<Address>, BackendError> {
        Ok(EntryPointVersion::ALL.iter().map(|v| v.address()).collect())
    }

    async fn estimate_user_operation_gas(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<GasEstimate, BackendError> {
        self.estimate(version_at(entry_point)?, &to_op(op)?)
    }

    async fn send_user_operation(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<B256, BackendError> {
        let version = version_at(entry_point)?;
        let op = to_op(op)?;
        let mut devnet = self.chain();
        let receipt = devnet
            .handle_ops(version, std::slice::from_ref(&op))
            .map_err(|e| match e {
                DevnetError::Bundle(bundle) => bundle_refusal(bundle),
                other => devnet_error(other),
            })?;
        let result = receipt.ops.first().cloned().ok_or_else(|| {
            BackendError::Devnet("handleOps emitted no UserOperationEvent".into())
        })?;
        let mut ledger = lock(&self.ledger);
        ledger.bundles += 1;
        let transaction_hash = B256::from(U256::from(ledger.bundles));
        ledger.logs.extend(receipt.logs.iter().cloned());
        ledger.receipts.insert(
            result.user_op_hash,
            UserOperationReceipt {
                user_op_hash: result.user_op_hash,
                entry_point,
                sender: op.sender,
                nonce: op.nonce,
                paymaster: op.paymaster.as_ref().map(|p| p.address),
                actual_gas_cost: result.actual_gas_cost,
                actual_gas_used: result.actual_gas_used,
                success: result.success,
                reason: result.revert_reason.clone(),
                logs: receipt
                    .logs
                    .iter()
                    .map(|log| RpcLog {
                        address: log.address,
                        topics: log.topics().to_vec(),
                        data: log.data.data.clone(),
                    })
                    .collect(),
                receipt: BundleTransaction {
                    transaction_hash,
                    block_number: None,
                    gas_used: Some(U256::from(receipt.gas_used)),
                },
            },
        );
        Ok(result.user_op_hash)
    }

    async fn user_operation_receipt(
        &self,
        user_op_hash: B256,
    ) -> Result<Option<UserOperationReceipt>, BackendError> {
        Ok(lock(&self.ledger).receipts.get(&user_op_hash).cloned())
    }
}
