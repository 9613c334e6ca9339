//! The service route: the session service (`sessionkeys serve`) holds the session key and
//! signs; the agent acts through its HTTP API with an app's key (`--service URL`). The
//! service's engine judges every call before it signs, as the local route's does.
//!
//! Sends carry an `Idempotency-Key`: a request whose answer was lost is sent again with the
//! same key, and the service answers it with the first one's result instead of sending twice.
//!
//! # Security
//! The app's API key goes only into the `Authorization` header; it is in no message, log or
//! `Debug` output.

use crate::route::Failure;
use alloy::primitives::{Address, B256, Bytes, U256};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sessionkeys::Call;
use sessionkeys::session_rows::OnchainState;
use sessionkeys_contracts::session::{CounterUsage, SessionSpec};
use sessionkeys_contracts::vocabulary::{CounterKind, LimitType};
use sessionkeys_engine::format::SessionJson;
use sessionkeys_engine::violation_from_revert;
use std::time::Duration;

/// How long one request to the service may take: under the 60 s an MCP client waits for a
/// tool (the TypeScript SDK's default), so the agent answers before its client gives up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(50);

/// The session service, one session in it.
pub struct ServiceRoute {
    http: reqwest::Client,
    base: reqwest::Url,
    key: String,
    session: String,
}

impl std::fmt::Debug for ServiceRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRoute")
            .field("base", &self.base.as_str())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The service could not be reached, or answered what this agent cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceRouteError {
    /// The URL is not an http(s) URL.
    #[error("--service {0:?} is not an http:// or https:// URL (e.g. http://127.0.0.1:8787)")]
    Url(String),
    /// The service did not answer.
    #[error("the session service did not answer ({0}); is `sessionkeys serve` running there?")]
    Unreachable(String),
    /// The service answered with an error.
    #[error("the session service refused: {code}: {message}")]
    Refused {
        /// Its stable code (`not_found`, `unauthorized`, …).
        code: String,
        /// Its sentence.
        message: String,
    },
    /// The answer did not decode.
    #[error("the session service answered what this agent cannot read: {0}")]
    Decode(String),
}

/// The session as the service tells it.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The service's id for it (`ses_…`).
    pub id: String,
    /// The session hash.
    pub session_hash: B256,
    /// The account.
    pub account: Address,
    /// The validator.
    pub validator: Address,
    /// Every policy the owner approved.
    pub spec: SessionSpec,
    /// The latest block's time.
    pub chain_time: u64,
    /// On-chain; `Revoked` also when the service revoked it (it signs nothing more).
    pub onchain: OnchainState,
    /// Its budgets this period.
    pub usage: Vec<CounterUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeAnswer {
    session: SessionAnswer,
    spec: SessionJson,
    validator: Address,
    chain_time: u64,
    onchain: OnchainState,
    budgets: Vec<UsageAnswer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    id: String,
    session_hash: B256,
    account: Address,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageAnswer {
    kind: CounterKind,
    policy: u16,
    constraint: u16,
    limit_type: LimitType,
    limit: U256,
    used: U256,
    remaining: U256,
    period: u64,
    resets_at: u64,
}

impl From<UsageAnswer> for CounterUsage {
    fn from(row: UsageAnswer) -> Self {
        CounterUsage {
            kind: row.kind.code(),
            policyIndex: row.policy,
            constraintIndex: row.constraint,
            limitType: row.limit_type.code(),
            limit: row.limit,
            used: row.used,
            remaining: row.remaining,
            period: alloy::primitives::aliases::U48::saturating_from(row.period),
            resetsAt: alloy::primitives::aliases::U48::saturating_from(row.resets_at),
        }
    }
}

/// An HTTP answer: its status and JSON body (`Null` when it had none).
type Answer = (StatusCode, Value);

impl ServiceRoute {
    /// The service at `url`, acting with the app key `key` in its session `session` (`ses_…`,
    /// a session hash, or `latest?account=0x…`).
    ///
    /// # Errors
    /// `url` is not an http(s) URL.
    pub fn new(url: &str, key: String, session: String) -> Result<Self, ServiceRouteError> {
        let mut base =
            reqwest::Url::parse(url).map_err(|_| ServiceRouteError::Url(url.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ServiceRouteError::Url(url.to_string()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ServiceRouteError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            base,
            key,
            session,
        })
    }

    /// The session's path: `v1/sessions/<selector><rest>`, its query kept after `rest`.
    fn session_path(&self, rest: &str) -> String {
        match self.session.split_once('?') {
            Some((selector, query)) => format!("v1/sessions/{selector}{rest}?{query}"),
            None => format!("v1/sessions/{}{rest}", self.session),
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ServiceRouteError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| ServiceRouteError::Url(e.to_string()))?;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.key)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        // reqwest's error text names the URL; the kind is enough here.
        let unreachable = |e: reqwest::Error| {
            ServiceRouteError::Unreachable(
                if e.is_timeout() {
                    "no answer in time"
                } else if e.is_connect() {
                    "connection refused or unreachable"
                } else {
                    "the connection failed"
                }
                .into(),
            )
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ServiceRouteError::Decode(format!("a {status} answer that is not JSON ({e})"))
            })?
        };
        Ok((status, body))
    }

    /// The session, its policies, where it stands and its budgets, read now.
    ///
    /// # Errors
    /// The service did not answer, or has no such session for this app.
    pub async fn scope(&self) -> Result<Scope, ServiceRouteError> {
        let (status, body) = self
            .request(
                reqwest::Method::GET,
                &self.session_path("/scope"),
                None,
                None,
            )
            .await?;
        if status != StatusCode::OK {
            return Err(service_error(&body));
        }
        let answer: ScopeAnswer =
            serde_json::from_value(body).map_err(|e| ServiceRouteError::Decode(e.to_string()))?;
        let spec = answer
            .spec
            .to_spec(None)
            .map_err(|e| ServiceRouteError::Decode(format!("the session's spec: {e}")))?;
        let onchain = if answer.session.status == "revoked" {
            OnchainState::Revoked
        } else {
            answer.onchain
        };
        Ok(Scope {
            id: answer.session.id,
            session_hash: answer.session.session_hash,
            account: answer.session.account,
            validator: answer.validator,
            spec,
            chain_time: answer.chain_time,
            onchain,
            usage: answer.budgets.into_iter().map(CounterUsage::from).collect(),
        })
    }

    /// The service's pre-check of `calls`: nothing is signed.
    ///
    /// # Errors
    /// Why they would not pass.
    pub async fn check(&self, calls: &[Call]) -> Result<(), Failure> {
        let body = calls_body(calls);
        match self
            .request(
                reqwest::Method::POST,
                &self.session_path("/check"),
                Some(&body),
                None,
            )
            .await
        {
            Ok((StatusCode::OK, _)) => Ok(()),
            Ok((_, answer)) => Err(failure_of_answer(&answer, false)),
            Err(error) => Err(Failure::NotSent {
                reason: "Unavailable".into(),
                message: format!("{error}; nothing was signed or sent: try again"),
            }),
        }
    }

    /// Sends `path` once, and once more with the same `Idempotency-Key` when no answer came:
    /// the service answers a repeat with the first one's result, never sending twice.
    async fn send_once(&self, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let key = idempotency_key();
        let mut last = None;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            match self
                .request(reqwest::Method::POST, path, body, Some(&key))
                .await
            {
                Ok((StatusCode::OK, answer)) => return Ok(answer),
                // Still running under this key: ask again after a while.
                Ok((StatusCode::CONFLICT, answer))
                    if answer["error"]["code"] == "idempotency_key_in_progress" =>
                {
                    last = Some(ServiceRouteError::Unreachable("still running".into()));
                }
                Ok((_, answer)) => return Err(failure_of_answer(&answer, true)),
                Err(error) => last = Some(error),
            }
        }
        let why = last.map(|e| e.to_string()).unwrap_or_default();
        Err(Failure::Sent {
            reason: "Unknown".into(),
            message: format!(
                "{why} (Idempotency-Key {key}): the service may have sent the op. Read history \
                 before sending the calls again, or they may be paid for twice"
            ),
            user_op_hash: None,
        })
    }

    /// The service pre-checks, signs and sends `calls` as one op, and waits for its receipt.
    ///
    /// # Errors
    /// Why not, and whether it was sent.
    pub async fn execute(&self, calls: &[Call]) -> Result<Value, Failure> {
        let answer = self
            .send_once(&self.session_path("/execute"), Some(&calls_body(calls)))
            .await?;
        let cost: U256 = answer["actualGasCost"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or_default();
        Ok(json!({
            "userOpHash": answer["userOpHash"],
            "transactionHash": answer["transactionHash"],
            "gasCostWei": cost.to_string(),
        }))
    }

    /// Revokes the session in the service (it signs nothing more, at once), which also tries
    /// the session key's own revoke on-chain.
    ///
    /// # Errors
    /// The service did not revoke it.
    pub async fn revoke(&self) -> Result<Value, Failure> {
        let answer = self.send_once(&self.session_path("/revoke"), None).await?;
        Ok(json!({
            "revokedInService": answer["session"]["status"] == "revoked",
            "selfRevoke": answer.get("selfRevoke").cloned().unwrap_or(Value::Null),
        }))
    }

    /// The session's ops from the service's activity log, oldest first.
    ///
    /// # Errors
    /// The service did not answer.
    pub async fn history(&self, id: &str) -> Result<Vec<Value>, ServiceRouteError> {
        let (status, body) = self
            .request(
                reqwest::Method::GET,
                &format!("v1/activity?session={id}&limit=500"),
                None,
                None,
            )
            .await?;
        if status != StatusCode::OK {
            return Err(service_error(&body));
        }
        let entries = body["activity"].as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .rev()
            // An op's own entries (`enabled` repeats the first op's hash).
            .filter(|entry| {
                entry["userOpHash"].is_string()
                    && matches!(entry["kind"].as_str(), Some("execute" | "self_revoke"))
            })
            .map(|entry| {
                json!({
                    "userOpHash": entry["userOpHash"],
                    "transactionHash": entry["transactionHash"],
                    "kind": entry["kind"],
                    "verdict": entry["verdict"],
                    "reason": entry["reason"],
                    "gasUsed": entry["gasUsed"],
                    "at": entry["at"],
                })
            })
            .collect())
    }
}

/// `{"calls": [{to, value, data}]}`.
fn calls_body(calls: &[Call]) -> Value {
    json!({"calls": calls.iter().map(|c| json!({
        "to": c.to,
        "value": c.value.to_string(),
        "data": Bytes::from(c.data.to_vec()),
    })).collect::<Vec<_>>()})
}

/// A fresh `Idempotency-Key`: 128 random bits.
fn idempotency_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("agent-{}", alloy::hex::encode(bytes))
}

fn service_error(body: &Value) -> ServiceRouteError {
    ServiceRouteError::Refused {
        code: body["error"]["code"].as_str().unwrap_or("unknown").into(),
        message: body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .into(),
    }
}

/// The failure an error answer tells (to a send when `sending`): sent when it names a userOp hash; the validator's
/// violation when it carries its revert data; otherwise nothing sent, with the service's code.
fn failure_of_answer(body: &Value, sending: bool) -> Failure {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("unknown");
    let message = error["message"]
        .as_str()
        .unwrap_or("the session service refused")
        .to_string();
    let violation = error["violation"].as_str();
    if let Some(hash) = error["userOpHash"].as_str().and_then(|h| h.parse().ok()) {
        let reason = if code == "refused" {
            "ExecutionReverted"
        } else {
            "Timeout"
        };
        return Failure::Sent {
            reason: reason.into(),
            message: format!("{message}. It was sent: read history before sending the calls again"),
            user_op_hash: Some(hash),
        };
    }
    if let Some(violation) = error["revertData"]
        .as_str()
        .and_then(|d| d.parse::<Bytes>().ok())
        .and_then(|d| violation_from_revert(&d))
    {
        return Failure::Refused(violation);
    }
    let reason = match code {
        "session_revoked" => "SessionRevoked".to_string(),
        "refused" => violation.unwrap_or("Refused").to_string(),
        "chain_unavailable" if sending => {
            // Before or after signing, the service cannot say here: it may have been sent.
            return Failure::Sent {
                reason: "Unknown".into(),
                message: format!(
                    "{message}. The service may have sent the op: read history before sending \
                     the calls again"
                ),
                user_op_hash: None,
            };
        }
        "chain_unavailable" => "Unavailable".into(),
        "session_busy" => "SessionBusy".into(),
        "rate_limited" => "RateLimited".into(),
        "not_approved" => "NotApproved".into(),
        other => format!("Service_{other}"),
    };
    Failure::NotSent { reason, message }
}
