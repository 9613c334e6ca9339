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
    harness_with(Database::in_memory(MasterKey::random()).unwrap())
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
