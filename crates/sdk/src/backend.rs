//! The one interface the SDK talks to a chain through: a node and a bundler. The devnet
//! and a real node + bundler both implement it, so the SDK's code path is the same on both
//! (docs/decisions.md, "SDK and real chains").

use crate::erc7769::{GasEstimate, RpcUserOperation, UserOperationReceipt};
use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::signers::local::PrivateKeySigner;

/// Why a backend request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Nothing answered at the URL (connection refused, DNS, TLS, timeout).
    #[error(
        "cannot reach {url} (tried {method}): {reason}; check that the node or bundler runs and \
         the URL is right"
    )]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The JSON-RPC method tried.
        method: String,
        /// What the transport said.
        reason: String,
    },
    /// The endpoint took the connection but gave no answer in time (a hung or overloaded
    /// node, or a URL that is no JSON-RPC endpoint).
    #[error(
        "{url} did not answer {method} within {seconds} s; check that the node or bundler at \
         that URL works, or allow it longer if it is only slow"
    )]
    TimedOut {
        /// The endpoint.
        url: String,
        /// The JSON-RPC method tried.
        method: String,
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// A transaction was sent but no receipt came within the wait: it may still be mined.
    #[error(
        "transaction {hash} was sent but not mined within {seconds} s; it may still be mined: \
         look it up before sending again"
    )]
    NotMined {
        /// The transaction.
        hash: alloy::primitives::B256,
        /// How long it was waited for.
        seconds: u64,
    },
    /// The endpoint answered with a JSON-RPC error.
    #[error("{url} refused {method}: {message} (JSON-RPC error {code})")]
    Rpc {
        /// The endpoint.
        url: String,
        /// The JSON-RPC method.
        method: String,
        /// The JSON-RPC error code (ERC-7769 codes for a bundler: -32500 account validation,
        /// -32501 paymaster, -32502 opcode rules, -32503 time range, …).
        code: i64,
        /// The endpoint's message.
        message: String,
        /// Revert data or other hex data the error carried, if any.
        data: Option<Bytes>,
    },
    /// An `eth_call` reverted.
    #[error("call to {to} reverted with 0x{data:x}")]
    Reverted {
        /// The callee.
        to: Address,
        /// The revert data.
        data: Bytes,
    },
    /// A transaction was mined but failed.
    #[error("transaction {hash} to {to:?} reverted on-chain")]
    TransactionFailed {
        /// The transaction.
        hash: B256,
        /// Its recipient.
        to: Option<Address>,
    },
    /// The answer did not have the expected shape.
    #[error("{method}: unexpected answer: {reason}")]
    Decode {
        /// The JSON-RPC method.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// The node made no block with a timestamp at or after `wanted` in time.
    #[error(
        "{url} made no block at or after time {wanted} (its latest is at {latest}); a dev node \
         must mine on a timer (anvil --block-time 1) for ops that wait for a new period"
    )]
    NoNewBlock {
        /// The node.
        url: String,
        /// The block time waited for.
        wanted: u64,
        /// The latest block's time when waiting stopped.
        latest: u64,
    },
    /// The devnet refused a request.
    #[error("devnet: {0}")]
    Devnet(String),
}

impl BackendError {
    /// The revert data of a reverted call or of a bundler error that carries one.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Reverted { data, .. } => Some(data),
            Self::Rpc { data, .. } => data.as_ref(),
            _ => None,
        }
    }
}

/// EIP-1559 fees to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// Fee cap per gas.
    pub max_fee_per_gas: u128,
    /// Tip cap per gas.
    pub max_priority_fee_per_gas: u128,
}

/// A plain transaction (deployments, funding, owner actions outside ERC-4337).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlainTransaction {
    /// The callee.
    pub to: Address,
    /// Wei sent.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
    /// EIP-7702 authorizations (a type-4 transaction when not empty).
    pub authorizations: Vec<alloy::eips::eip7702::SignedAuthorization>,
}

/// A mined plain transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionOutcome {
    /// Its hash (zero on the devnet, which has no transaction hashes).
    pub hash: B256,
    /// Receipt gas.
    pub gas_used: u64,
}

/// Where the chain stands for reads at the latest block ([`Backend::head`]): while the head
/// is the same, every such read answers as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Head {
    /// The latest block's number; on the devnet, which makes no blocks of its own, the stamp
    /// of its latest change (a transaction, a balance or a clock set).
    pub block: u64,
    /// The latest block's hash (a reorganised chain has another at the same height); zero on
    /// the devnet.
    pub hash: B256,
    /// The latest block's time.
    pub timestamp: u64,
}

/// Which logs to fetch: one emitter, topic 0, and optionally topic 1 (from block 0 to latest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogQuery {
    /// The emitting contract.
    pub address: Address,
    /// The event's signature hash.
    pub topic0: B256,
    /// The first indexed argument, if filtered.
    pub topic1: Option<B256>,
    /// The second indexed argument, if filtered.
    pub topic2: Option<B256>,
}

/// A node and a bundler.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// Where requests go, for messages.
    fn describe(&self) -> String;
    /// `eth_chainId`.
    async fn chain_id(&self) -> Result<u64, BackendError>;
    /// `eth_call` at the latest block; a revert is [`BackendError::Reverted`].
    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, BackendError>;
    /// `eth_getCode`.
    async fn code(&self, at: Address) -> Result<Bytes, BackendError>;
    /// `eth_getStorageAt`.
    async fn storage(&self, at: Address, slot: U256) -> Result<U256, BackendError>;
    /// `eth_getBalance`.
    async fn balance(&self, of: Address) -> Result<U256, BackendError>;
    /// `eth_getTransactionCount` at the latest block.
    async fn transaction_count(&self, of: Address) -> Result<u64, BackendError>;
    /// The latest block's timestamp.
    async fn latest_timestamp(&self) -> Result<u64, BackendError>;
    /// Where the chain stands: equal heads mean reads at the latest block answer alike, so a
    /// reader may keep what it read until the head moves. `None` (the default) when this
    /// backend cannot say: then nothing read from it may be kept.
    async fn head(&self) -> Result<Option<Head>, BackendError> {
        Ok(None)
    }
    /// The clock a bundler checks an op's `validUntil` against: the later of the latest
    /// block's time and this machine's clock for a node (a dev node's latest block may be
    /// old), the devnet's own time for the devnet.
    async fn clock(&self) -> Result<u64, BackendError> {
        self.latest_timestamp().await
    }
    /// Returns once the latest block's time has reached `timestamp` (a bundler simulates at
    /// the latest block): a node waits for its blocks, the devnet moves its time.
    ///
    /// # Errors
    /// [`BackendError::NoNewBlock`] when a node makes no block that late within a minute of
    /// the clock reaching `timestamp` (a dev node that mines only on demand).
    async fn wait_for_block_time(&self, timestamp: u64) -> Result<(), BackendError>;
    /// Fees a userOp should offer now.
    async fn fees(&self) -> Result<Fees, BackendError>;
    /// `eth_getLogs` over the whole chain.
    async fn logs(&self, query: LogQuery) -> Result<Vec<Log>, BackendError>;
    /// Signs and sends a plain transaction from `from`, and waits for it to be mined.
    ///
    /// # Security
    /// The key signs in memory; it is never sent, logged or stored.
    async fn send_transaction(
        &self,
        from: &PrivateKeySigner,
        tx: PlainTransaction,
    ) -> Result<TransactionOutcome, BackendError>;
    /// `eth_supportedEntryPoints`.
    async fn supported_entry_points(&self) -> Result<Vec<Address>, BackendError>;
    /// `eth_estimateUserOperationGas`.
    async fn estimate_user_operation_gas(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<GasEstimate, BackendError>;
    /// `eth_sendUserOperation`: the userOp hash.
    async fn send_user_operation(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<B256, BackendError>;
    /// `eth_getUserOperationReceipt`: `None` while it is not mined.
    async fn user_operation_receipt(
        &self,
        user_op_hash: B256,
    ) -> Result<Option<UserOperationReceipt>, BackendError>;
}
