//! The service over the devnet, called through its router (no sockets), and the scenario's
//! USDC session.
#![allow(dead_code)] // each test binary uses its own subset

#[path = "../../../sdk/tests/support/scenario.rs"]
pub mod scenario;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use scenario::*;
use serde_json::{Value, json};
use sessionkeys::backend::Backend;
use sessionkeys::{AccountPlan, DevnetBackend, EntryPointVersion};
use sessionkeys_service::db::App;
use sessionkeys_service::{Database, MasterKey, Service};
use std::sync::Arc;
use tower::ServiceExt;

pub struct Harness {
    pub backend: Arc<DevnetBackend>,
    pub service: Arc<Service>,
}

pub fn harness_with(db: Database) -> Harness {
    harness_configured(db, |service| service)
}

/// A harness whose service `configure` adjusts (e.g. a short webhook backoff).
pub fn harness_configured(db: Database, configure: impl FnOnce(Service) -> Service) -> Harness {
    let backend = DevnetBackend::new().expect("the devnet (run `npm ci --prefix contracts`)");
    backend.with_devnet(|d| {
        d.chain
            .set_balance(funder().address(), U256::from(10u64).pow(U256::from(24)))
    });
    let backend = Arc::new(backend);
    let service = Arc::new(configure(Service::new(db, backend.clone())));
    Harness { backend, service }
}

pub fn harness() -> Harness {
    harness_with(test_database())
}

/// The PostgreSQL server the tests use when set (`scripts/postgres-tests` sets it):
/// key-value connection settings, e.g. `host=127.0.0.1 port=5433 user=postgres dbname=x`.
pub const POSTGRES_ENV: &str = "SESSIONKEYS_TEST_POSTGRES";

/// A fresh, empty database: in SQLite's memory, or a new schema of the test PostgreSQL server
/// when [`POSTGRES_ENV`] is set, so every test runs on either.
pub fn test_database() -> Database {
    let master = MasterKey::random();
    match postgres_settings() {
        Some(settings) => Database::postgres(&fresh_schema(&settings), master).unwrap(),
        None => Database::in_memory(master).unwrap(),
    }
}

/// The test PostgreSQL server's settings, if set.
pub fn postgres_settings() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())
}

/// Makes a new schema on the test server; returns settings whose connections use it.
pub fn fresh_schema(settings: &str) -> String {
    fresh_schema_named(settings).0
}

/// Like [`fresh_schema`], and the schema's name, which is also its connections'
/// `application_name` (to find them in `pg_stat_activity`).
pub fn fresh_schema_named(settings: &str) -> (String, String) {
    let schema = format!("t_{}", alloy::hex::encode(rand_bytes()));
    admin(settings, &format!("CREATE SCHEMA {schema}"));
    (
        format!("{settings} application_name={schema} options='-c search_path={schema}'"),
        schema,
    )
}

/// Runs `sql` on the test server (on a thread of its own: the blocking client must not run
/// inside a test's async runtime).
pub fn admin(settings: &str, sql: &str) {
    let (settings, sql) = (settings.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&settings, postgres::NoTls)
            .expect("the test PostgreSQL server (scripts/postgres-tests starts one)");
        client.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

/// The rows of `sql` on the test server, every column as text.
pub fn admin_query(settings: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let (settings, sql) = (settings.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&settings, postgres::NoTls).unwrap();
        client
            .simple_query(&sql)
            .unwrap()
            .into_iter()
            .filter_map(|message| match message {
                postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    })
    .join()
    .unwrap()
}

fn rand_bytes() -> [u8; 8] {
    rand::random()
}

impl Harness {
    pub fn app(&self, name: &str) -> (App, String) {
        self.service.db().create_app(name).unwrap()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, text) = self
            .call_raw(method, path, key, body.map(|b| b.to_string()))
            .await;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Body::from(body.unwrap_or_default())).unwrap();
        let response = self
            .service
            .clone()
            .router()
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// A request with any headers; the status, the headers and the body as JSON.
    pub async fn call_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self
            .service
            .clone()
            .router()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }

    /// Signs `owner` in through the API (challenge, personal_sign, sign-in): its token.
    pub async fn owner_token(&self, owner: &PrivateKeySigner) -> String {
        let (status, challenge) = self
            .call(
                "POST",
                "/v1/owner/challenge",
                None,
                Some(json!({ "address": owner.address() })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{challenge}");
        let message = challenge["message"].as_str().unwrap();
        let signature = owner.sign_message_sync(message.as_bytes()).unwrap();
        let (status, signed_in) = self
            .call(
                "POST",
                "/v1/owner/sign-in",
                None,
                Some(json!({ "message": message,
                    "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())) })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{signed_in}");
        signed_in["token"].as_str().unwrap().to_string()
    }

    /// The owner's counterfactual account, funded with ETH and 1,000 USDC.
    pub async fn funded_owner(&self) -> (PrivateKeySigner, Address) {
        let owner = PrivateKeySigner::random();
        let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
        let account = plan.account(self.backend.as_ref()).await.unwrap();
        fund(self.backend.as_ref(), account.address).await;
        (owner, account.address)
    }

    pub async fn now(&self) -> u64 {
        self.backend.latest_timestamp().await.unwrap()
    }

    /// The app with `key` executes the scenario's USDC transfer to Alice under session `id`.
    pub async fn execute_to_alice(&self, key: &str, id: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            &format!("/v1/sessions/{id}/execute"),
            Some(key),
            Some(calls(ALICE, USDC)),
        )
        .await
    }

    /// Requests the scenario's USDC session (Alice or Bob, 100 USDC) and approves it for first
    /// use; returns the session's id.
    pub async fn approved_session(&self, key: &str, owner: &PrivateKeySigner) -> (String, Value) {
        let now = self.now().await;
        let (status, requested) = self
            .call(
                "POST",
                "/v1/sessions",
                Some(key),
                Some(json!({
                    "owner": owner.address(),
                    "session": usdc_session_json(now),
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{requested}");
        let id = requested["session"]["id"].as_str().unwrap().to_string();
        let digest: B256 = requested["digest"].as_str().unwrap().parse().unwrap();
        let signature = owner.sign_hash_sync(&digest).unwrap();
        let (status, approved) = self
            .call(
                "POST",
                &format!("/v1/sessions/{id}/approve"),
                Some(key),
                Some(json!({
                    "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())),
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{approved}");
        assert_eq!(approved["session"]["status"], "approved");
        (id, requested)
    }
}

/// The scenario's USDC session as session JSON without a signer.
pub fn usdc_session_json(now: u64) -> Value {
    let spec = usdc_session(Address::with_last_byte(1), now);
    let mut json = sessionkeys_engine::format::SessionJson::from_spec(&spec);
    json.signer = None;
    serde_json::to_value(json).unwrap()
}

pub fn calls(to: Address, amount: u64) -> Value {
    let call = transfer(to, amount);
    json!({ "calls": [{ "to": call.to, "data": call.data }] })
}

/// The devnet as a node and a bundler reached over a network: a pause before each answer, so
/// concurrent requests interleave as in production; and, to stand in for a process that dies
/// mid-request, a bundler that never answers a send or a receipt query.
pub struct Scripted {
    pub chain: Arc<DevnetBackend>,
    pub pause: std::time::Duration,
    /// `eth_sendUserOperation` never answers: the op never reaches the bundler.
    pub stall_sends: bool,
    /// `eth_getUserOperationReceipt` never answers: the op lands, its sender never learns.
    pub stall_receipts: bool,
    /// The bundler has no receipt yet (`eth_getUserOperationReceipt` answers null).
    pub lagging_receipts: bool,
    /// The node's logs trail its state (they show no event), as they may for a moment after a
    /// block.
    pub lagging_logs: bool,
    /// It tells its head (the devnet's), so the service may keep what it read.
    pub heads: bool,
    /// It tells a head that never moves, as a node polled less often than it makes blocks
    /// would: only the service's own bookkeeping can drop what it kept.
    pub frozen_head: bool,
    /// How many state reads (`eth_getStorageAt`, `eth_call`, `eth_getCode`) it answered.
    pub reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl Scripted {
    pub fn network_like(chain: Arc<DevnetBackend>) -> Self {
        Self {
            chain,
            pause: std::time::Duration::from_millis(2),
            stall_sends: false,
            stall_receipts: false,
            lagging_receipts: false,
            lagging_logs: false,
            heads: false,
            frozen_head: false,
            reads: Arc::default(),
        }
    }

    fn read(&self) {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    async fn pause(&self) {
        tokio::time::sleep(self.pause).await;
    }
}

use alloy::primitives::{Bytes, Log};
use sessionkeys::backend::{BackendError, Fees, LogQuery, PlainTransaction, TransactionOutcome};
use sessionkeys::erc7769::{GasEstimate, RpcUserOperation, UserOperationReceipt};

#[async_trait::async_trait]
impl Backend for Scripted {
    fn describe(&self) -> String {
        self.chain.describe()
    }
    async fn chain_id(&self) -> Result<u64, BackendError> {
        self.pause().await;
        self.chain.chain_id().await
    }
    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, BackendError> {
        self.pause().await;
        self.read();
        self.chain.call(to, data).await
    }
    async fn code(&self, at: Address) -> Result<Bytes, BackendError> {
        self.pause().await;
        self.read();
        self.chain.code(at).await
    }
    async fn storage(&self, at: Address, slot: U256) -> Result<U256, BackendError> {
        self.pause().await;
        self.read();
        self.chain.storage(at, slot).await
    }
    async fn head(&self) -> Result<Option<sessionkeys::backend::Head>, BackendError> {
        if self.frozen_head {
            return Ok(Some(sessionkeys::backend::Head {
                block: 1,
                hash: alloy::primitives::B256::ZERO,
                timestamp: 0,
            }));
        }
        if !self.heads {
            return Ok(None);
        }
        self.pause().await;
        self.chain.head().await
    }
    async fn balance(&self, of: Address) -> Result<U256, BackendError> {
        self.pause().await;
        self.chain.balance(of).await
    }
    async fn transaction_count(&self, of: Address) -> Result<u64, BackendError> {
        self.pause().await;
        self.chain.transaction_count(of).await
    }
    async fn latest_timestamp(&self) -> Result<u64, BackendError> {
        self.pause().await;
        self.chain.latest_timestamp().await
    }
    async fn clock(&self) -> Result<u64, BackendError> {
        self.pause().await;
        self.chain.clock().await
    }
    async fn wait_for_block_time(&self, timestamp: u64) -> Result<(), BackendError> {
        self.chain.wait_for_block_time(timestamp).await
    }
    async fn fees(&self) -> Result<Fees, BackendError> {
        self.pause().await;
        self.chain.fees().await
    }
    async fn logs(&self, query: LogQuery) -> Result<Vec<Log>, BackendError> {
        self.pause().await;
        if self.lagging_logs {
            return Ok(Vec::new());
        }
        self.chain.logs(query).await
    }
    async fn send_transaction(
        &self,
        from: &PrivateKeySigner,
        tx: PlainTransaction,
    ) -> Result<TransactionOutcome, BackendError> {
        self.pause().await;
        self.chain.send_transaction(from, tx).await
    }
    async fn supported_entry_points(&self) -> Result<Vec<Address>, BackendError> {
        self.chain.supported_entry_points().await
    }
    async fn estimate_user_operation_gas(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<GasEstimate, BackendError> {
        self.pause().await;
        self.chain
            .estimate_user_operation_gas(op, entry_point)
            .await
    }
    async fn send_user_operation(
        &self,
        op: &RpcUserOperation,
        entry_point: Address,
    ) -> Result<B256, BackendError> {
        self.pause().await;
        if self.stall_sends {
            std::future::pending::<()>().await;
        }
        self.chain.send_user_operation(op, entry_point).await
    }
    async fn user_operation_receipt(
        &self,
        user_op_hash: B256,
    ) -> Result<Option<UserOperationReceipt>, BackendError> {
        self.pause().await;
        if self.stall_receipts {
            std::future::pending::<()>().await;
        }
        if self.lagging_receipts {
            return Ok(None);
        }
        self.chain.user_operation_receipt(user_op_hash).await
    }
}
