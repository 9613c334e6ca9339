//! A real chain: any Ethereum node over HTTP JSON-RPC, and any ERC-4337 bundler (ERC-7769).

use crate::backend::{Backend, BackendError, Fees, LogQuery, PlainTransaction, TransactionOutcome};
use crate::erc7769::{GasEstimate, RpcUserOperation, UserOperationReceipt};
use alloy::network::{EthereumWallet, TransactionBuilder, TransactionBuilder7702};
use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{BlockNumberOrTag, Filter, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::http::{Http, reqwest};
use alloy::transports::{RpcError, TransportErrorKind};
use std::borrow::Cow;
use std::time::Duration;

/// The least time a sent transaction is waited for by default before the wait gives up (a few
/// blocks of any chain); a longer `--rpc-timeout` waits longer, and
/// [`RpcBackend::with_mining_wait`] sets it.
pub const MIN_MINING_WAIT: Duration = Duration::from_secs(120);

/// A node and a bundler reached over HTTP.
#[derive(Debug, Clone)]
pub struct RpcBackend {
    node_url: reqwest_url::Url,
    bundler_url: reqwest_url::Url,
    node: RootProvider,
    bundler: RpcClient,
    http: reqwest::Client,
    timeout: Duration,
    mining_wait: Duration,
}

mod reqwest_url {
    pub use alloy::transports::http::reqwest::Url;
}

/// How long one request may wait for its answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A JSON-RPC client over `http` for `url`.
fn client_for(http: &reqwest::Client, url: &reqwest_url::Url) -> RpcClient {
    let local = alloy::transports::utils::guess_local_url(url.as_str());
    RpcClient::new(Http::with_client(http.clone(), url.clone()), local)
}

impl RpcBackend {
    /// The latest block's number, hash and time (`eth_getBlockByNumber("latest")`).
    async fn latest_head(&self) -> Result<crate::backend::Head, BackendError> {
        let block = self
            .node
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.node_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| BackendError::Decode {
                method: "eth_getBlockByNumber".into(),
                reason: "the node has no latest block".into(),
            })?;
        Ok(crate::backend::Head {
            block: block.header.number,
            hash: block.header.hash,
            timestamp: block.header.timestamp,
        })
    }

    /// A backend for the node at `node_url` and the bundler at `bundler_url`, each request
    /// answered within [`DEFAULT_TIMEOUT`]. Nothing is contacted until the first request.
    pub fn new(node_url: &str, bundler_url: &str) -> Result<Self, BackendError> {
        Self::with_timeout(node_url, bundler_url, DEFAULT_TIMEOUT)
    }

    /// As [`RpcBackend::new`], with every request (node and bundler) given up after `timeout`
    /// with [`BackendError::TimedOut`] naming the URL: a node that takes the connection and
    /// never answers must not hang the caller.
    pub fn with_timeout(
        node_url: &str,
        bundler_url: &str,
        timeout: Duration,
    ) -> Result<Self, BackendError> {
        let parse = |url: &str| {
            url.parse::<reqwest_url::Url>()
                .map_err(|e| BackendError::Unreachable {
                    url: url.to_string(),
                    method: "(none: the URL does not parse)".into(),
                    reason: e.to_string(),
                })
        };
        let (node_url, bundler_url) = (parse(node_url)?, parse(bundler_url)?);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| BackendError::Unreachable {
                url: node_url.to_string(),
                method: "(none: the HTTP client cannot start)".into(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            node: RootProvider::new(client_for(&http, &node_url)),
            bundler: client_for(&http, &bundler_url),
            node_url,
            bundler_url,
            http,
            timeout,
            mining_wait: timeout.max(MIN_MINING_WAIT),
        })
    }

    /// How long a sent transaction is waited for before [`BackendError::NotMined`] (by default
    /// the request timeout, at least [`MIN_MINING_WAIT`]).
    pub fn with_mining_wait(mut self, wait: Duration) -> Self {
        self.mining_wait = wait;
        self
    }

    fn node_error(&self, method: &str, error: RpcError<TransportErrorKind>) -> BackendError {
        map_error(self.node_url.as_str(), method, error, self.timeout)
    }

    async fn bundler_request<P, R>(
        &self,
        method: &'static str,
        params: P,
    ) -> Result<R, BackendError>
    where
        P: alloy::rpc::json_rpc::RpcSend,
        R: alloy::rpc::json_rpc::RpcRecv,
    {
        self.bundler
            .request::<P, R>(Cow::Borrowed(method), params)
            .await
            .map_err(|e| map_error(self.bundler_url.as_str(), method, e, self.timeout))
    }
}

/// Maps a transport error to what the user can act on: unreachable, or refused with a code.
fn map_error(
    url: &str,
    method: &str,
    error: RpcError<TransportErrorKind>,
    timeout: Duration,
) -> BackendError {
    match error {
        RpcError::Transport(TransportErrorKind::Custom(inner))
            if inner
                .downcast_ref::<reqwest::Error>()
                .is_some_and(reqwest::Error::is_timeout) =>
        {
            BackendError::TimedOut {
                url: url.to_string(),
                method: method.to_string(),
                seconds: timeout.as_secs().max(1),
            }
        }
        RpcError::ErrorResp(payload) => BackendError::Rpc {
            url: url.to_string(),
            method: method.to_string(),
            code: payload.code,
            message: payload.message.to_string(),
            data: payload.as_revert_data(),
        },
        RpcError::Transport(kind) => BackendError::Unreachable {
            url: url.to_string(),
            method: method.to_string(),
            reason: kind.to_string(),
        },
        other => BackendError::Decode {
            method: method.to_string(),
            reason: other.to_string(),
        },
    }
}

#[async_trait::async_trait]
impl Backend for RpcBackend {
    fn describe(&self) -> String {
        format!("node {} + bundler {}", self.node_url, self.bundler_url)
    }

    async fn chain_id(&self) -> Result<u64, BackendError> {
        self.node
            .get_chain_id()
            .await
            .map_err(|e| self.node_error("eth_chainId", e))
    }

    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, BackendError> {
        let tx = TransactionRequest::default().with_to(to).with_input(data);
        match self.node.call(tx).await {
            Ok(output) => Ok(output),
            Err(RpcError::ErrorResp(payload)) if payload.as_revert_data().is_some() => {
                Err(BackendError::Reverted {
                    to,
                    data: payload.as_revert_data().unwrap_or_default(),
                })
            }
            Err(e) => Err(self.node_error("eth_call", e)),
        }
    }

    async fn code(&self, at: Address) -> Result<Bytes, BackendError> {
        self.node
            .get_code_at(at)
            .await
            .map_err(|e| self.node_error("eth_getCode", e))
    }

    async fn storage(&self, at: Address, slot: U256) -> Result<U256, BackendError> {
        self.node
            .get_storage_at(at, slot)
            .await
            .map_err(|e| self.node_error("eth_getStorageAt", e))
    }

    async fn balance(&self, of: Address) -> Result<U256, BackendError> {
        self.node
            .get_balance(of)
            .await
            .map_err(|e| self.node_error("eth_getBalance", e))
    }

    async fn transaction_count(&self, of: Address) -> Result<u64, BackendError> {
        self.node
            .get_transaction_count(of)
            .await
            .map_err(|e| self.node_error("eth_getTransactionCount", e))
    }

    async fn latest_timestamp(&self) -> Result<u64, BackendError> {
        Ok(self.latest_head().await?.timestamp)
    }

    async fn head(&self) -> Result<Option<crate::backend::Head>, BackendError> {
        self.latest_head().await.map(Some)
    }

    /// A node's latest block may be seconds old (anvil mines only on demand) while bundlers
    /// go by the clock: the later of the two.
    async fn clock(&self) -> Result<u64, BackendError> {
        let latest = self.latest_timestamp().await?;
        Ok(latest.max(system_time()))
    }

    async fn wait_for_block_time(&self, timestamp: u64) -> Result<(), BackendError> {
        let give_up = system_time().max(timestamp) + BLOCK_WAIT_SECONDS;
        loop {
            let latest = self.latest_timestamp().await?;
            if latest >= timestamp {
                return Ok(());
            }
            if system_time() > give_up {
                return Err(BackendError::NoNewBlock {
                    url: self.node_url.to_string(),
                    wanted: timestamp,
                    latest,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    async fn fees(&self) -> Result<Fees, BackendError> {
        let estimate = self
            .node
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.node_error("eth_feeHistory", e))?;
        Ok(Fees {
            max_fee_per_gas: estimate.max_fee_per_gas,
            max_priority_fee_per_gas: estimate.max_priority_fee_per_gas,
        })
    }

    /// Every matching log from block 0 to the latest, in pages: the whole range first; a page
    /// the node refuses (a provider's range or result cap) is halved and asked again, and the
    /// pages after keep the size that passed. A node without caps answers in one request; a
    /// capped one in about range / cap requests, plus one per halving.
    async fn logs(&self, query: LogQuery) -> Result<Vec<Log>, BackendError> {
        let mut filter = Filter::new()
            .address(query.address)
            .event_signature(query.topic0);
        if let Some(topic1) = query.topic1 {
            filter = filter.topic1(topic1);
        }
        if let Some(topic2) = query.topic2 {
            filter = filter.topic2(topic2);
        }
        let latest = self
            .node
            .get_block_number()
            .await
            .map_err(|e| self.node_error("eth_blockNumber", e))?;
        let mut out = Vec::new();
        let mut start = 0u64;
        let mut page = latest.saturating_add(1);
        loop {
            let end = start.saturating_add(page - 1).min(latest);
            let paged = filter.clone().from_block(start).to_block(end);
            match self.node.get_logs(&paged).await {
                Ok(logs) => {
                    out.extend(logs.into_iter().map(|l| l.inner));
                    // Ends at the latest block, whatever number a node reports for it (a
                    // `start` past u64::MAX cannot be written, so no `start <= latest` test).
                    if end == latest {
                        return Ok(out);
                    }
                    start = end + 1;
                }
                // The node answered, refusing the page: a smaller one may pass.
                Err(RpcError::ErrorResp(_)) if page > 1 => page /= 2,
                Err(e) => return Err(self.node_error("eth_getLogs", e)),
            }
        }
    }

    async fn send_transaction(
        &self,
        from: &PrivateKeySigner,
        tx: PlainTransaction,
    ) -> Result<TransactionOutcome, BackendError> {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(from.clone()))
            .connect_client(client_for(&self.http, &self.node_url));
        let mut request = TransactionRequest::default()
            .with_to(tx.to)
            .with_value(tx.value)
            .with_input(tx.data);
        if !tx.authorizations.is_empty() {
            request = request.with_authorization_list(tx.authorizations);
        }
        let pending = provider
            .send_transaction(request)
            .await
            .map_err(|e| self.node_error("eth_sendRawTransaction", e))?;
        let hash = *pending.tx_hash();
        // Each request is bounded by the client's timeout; the wait for mining is bounded too,
        // so a chain that never includes the transaction cannot hang the caller.
        let wait = self.mining_wait;
        let receipt = tokio::time::timeout(wait, pending.get_receipt())
            .await
            .map_err(|_| BackendError::NotMined {
                hash,
                seconds: wait.as_secs(),
            })?
            .map_err(|e| BackendError::Decode {
                method: "eth_getTransactionReceipt".into(),
                reason: e.to_string(),
            })?;
        if !receipt.status() {
            return Err(BackendError::TransactionFailed {
                hash: receipt.transaction_hash,
                to: Some(tx.to),
            });
        }
        Ok(TransactionOutcome {
            hash: receipt.transaction_hash,
            gas_used: receipt.gas_used,
        })
    }

    async fn supported_entry_points(&self) -> Result<Vec<Address>, BackendError> {
        self.bundler_request("eth_supportedEntryPoints", ()).await
    }

    async fn estimate_user_operation_gas(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<GasEstimate, BackendError> {
        self.bundler_request("eth_estimateUserOperationGas", (op.clone(), entry_point))
            .await
    }

    async fn send_user_operation(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<B256, BackendError> {
        self.bundler_request("eth_sendUserOperation", (op.clone(), entry_point))
            .await
    }

    async fn user_operation_receipt(
        &self,
        user_op_hash: B256,
    ) -> Result<Option<UserOperationReceipt>, BackendError> {
        self.bundler_request("eth_getUserOperationReceipt", (user_op_hash,))
            .await
    }
}

/// How long after the clock reaches a wanted time a node may take to make a block that late.
const BLOCK_WAIT_SECONDS: u64 = 60;

/// This machine's clock, in unix seconds (0 if it is set before 1970).
fn system_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node on loopback whose `eth_getLogs` refuses any range wider than `cap` blocks (as
    /// hosted providers do) and finds one log at block 77 of 0..=100; it records each range
    /// asked.
    /// The block ranges a test node was asked for, in order.
    type Asked = std::sync::Arc<std::sync::Mutex<Vec<(u64, u64)>>>;

    fn capped_node(cap: u64) -> (String, Asked) {
        capped_node_at(cap, 100)
    }

    /// As [`capped_node`], with `latest` as the node's latest block.
    fn capped_node_at(cap: u64, latest: u64) -> (String, Asked) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&asked);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let number = |v: &serde_json::Value| {
                    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
                };
                let reply = match request["method"].as_str().unwrap() {
                    "eth_blockNumber" => serde_json::json!({ "result": format!("{latest:#x}") }),
                    "eth_getLogs" => {
                        let (from, to) = (
                            number(&request["params"][0]["fromBlock"]),
                            number(&request["params"][0]["toBlock"]),
                        );
                        record.lock().unwrap().push((from, to));
                        if to - from >= cap {
                            serde_json::json!({ "error": { "code": -32005,
                                "message": format!("block range is too wide (max {cap})") } })
                        } else if (from..=to).contains(&77) {
                            serde_json::json!({ "result": [{
                                "address": "0x0000000000000000000000000000000000000001",
                                "topics": [format!("0x{}", "ab".repeat(32))],
                                "data": "0x",
                                "blockNumber": "0x4d",
                                "blockHash": format!("0x{}", "11".repeat(32)),
                                "transactionHash": format!("0x{}", "22".repeat(32)),
                                "transactionIndex": "0x0",
                                "logIndex": "0x0",
                                "removed": false
                            }] })
                        } else {
                            serde_json::json!({ "result": [] })
                        }
                    }
                    other => panic!("unexpected {other}"),
                };
                let mut reply = reply;
                reply["jsonrpc"] = "2.0".into();
                reply["id"] = request["id"].clone();
                let text = reply.to_string();
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        (url, asked)
    }

    fn log_query() -> LogQuery {
        LogQuery {
            address: Address::with_last_byte(1),
            topic0: B256::repeat_byte(0xab),
            topic1: None,
            topic2: None,
        }
    }

    #[tokio::test]
    async fn logs_are_read_in_pages_a_capped_node_accepts() {
        let (url, asked) = capped_node(16);
        let backend = RpcBackend::new(&url, &url).unwrap();
        let logs = backend.logs(log_query()).await.unwrap();
        assert_eq!(logs.len(), 1, "the one log, found once");
        let asked = asked.lock().unwrap().clone();
        // Every block 0..=100 was read exactly once by the pages that passed.
        let mut covered: Vec<(u64, u64)> =
            asked.iter().copied().filter(|(f, t)| t - f < 16).collect();
        covered.sort_unstable();
        let mut next = 0;
        for (from, to) in &covered {
            assert_eq!(*from, next, "{covered:?}");
            next = to + 1;
        }
        assert_eq!(next, 101, "{covered:?}");
        // 101 → 50 → 25 refused, then pages of 12: 3 + 9 requests, not one per block.
        assert_eq!(asked.len(), 12, "{asked:?}");
    }

    #[tokio::test]
    async fn a_node_that_reports_the_last_possible_block_is_read_to_it_and_no_further() {
        // A chain's answer cannot make the pages go round for ever past u64::MAX.
        let (url, asked) = capped_node_at(u64::MAX, u64::MAX);
        let backend = RpcBackend::new(&url, &url).unwrap();
        assert_eq!(backend.logs(log_query()).await.unwrap().len(), 1);
        // 2^64 blocks make no u64 page size: two pages, each block once, then the end.
        assert_eq!(
            asked.lock().unwrap().as_slice(),
            [(0, u64::MAX - 1), (u64::MAX, u64::MAX)]
        );
    }

    #[tokio::test]
    async fn a_node_without_a_cap_is_asked_once() {
        let (url, asked) = capped_node(u64::MAX);
        let backend = RpcBackend::new(&url, &url).unwrap();
        assert_eq!(backend.logs(log_query()).await.unwrap().len(), 1);
        assert_eq!(asked.lock().unwrap().as_slice(), [(0, 100)]);
    }

    #[tokio::test]
    async fn a_node_that_takes_the_connection_and_never_answers_times_out_naming_its_url() {
        // Accepts on 127.0.0.1 and holds each connection without a word, until the test ends.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().take(2) {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        let backend = RpcBackend::with_timeout(&url, &url, Duration::from_secs(1)).unwrap();
        let started = std::time::Instant::now();
        let error = backend.chain_id().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        match &error {
            BackendError::TimedOut {
                url: named,
                method,
                seconds,
            } => {
                assert!(named.starts_with(&url), "{error}");
                assert_eq!((method.as_str(), *seconds), ("eth_chainId", 1));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        let error = backend.supported_entry_points().await.unwrap_err();
        assert!(matches!(error, BackendError::TimedOut { .. }), "{error}");
    }
}
