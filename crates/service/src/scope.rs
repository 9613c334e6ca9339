//! `GET /v1/sessions/{session}/scope`: what a program acting in one session needs, in one
//! answer — the session as the owner approved it (session JSON), where it stands on-chain and
//! here, and each budget with what is left and when it resets. The agent's `--service` mode
//! (docs/agents.md) stands on it.

use crate::Service;
use crate::api::{
    AuthedApp, PathParam, QueryParams, SelectQuery, SessionBody, select, session_body,
};
use crate::db::SessionRow;
use crate::error::{ErrorResponse, ServiceError};
use alloy::primitives::Address;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sessionkeys::SdkError;
use sessionkeys::backend::Backend;
use sessionkeys::client::session_usage;
use sessionkeys::session_rows::OnchainState;
use sessionkeys::sessions::session_status;
use sessionkeys::store::StoredStatus;
use sessionkeys_contracts::session::CounterUsage;
use sessionkeys_contracts::vocabulary::{CounterKind, LimitType};
use sessionkeys_engine::format::SessionJson;
use std::sync::Arc;
use utoipa::ToSchema;

/// The answer to `GET /v1/sessions/{session}/scope`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeBody {
    /// The session in this service.
    pub session: SessionBody,
    /// The session in the session JSON format (docs/session-format.md), its signer the
    /// session key: every policy the owner approved.
    #[schema(value_type = Object)]
    pub spec: SessionJson,
    /// The validator that enforces it.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub validator: Address,
    /// The EntryPoint version its ops go to (`v0.7`, `v0.8`).
    pub entry_point: String,
    /// The latest block's time when this was read (unix seconds): judge the session's window
    /// and the resets against it, not against your own clock.
    pub chain_time: u64,
    /// Where it stands on-chain: `notEnabled`, `active`, `revoked`, `revokedWithAll`.
    #[schema(value_type = String)]
    pub onchain: OnchainState,
    /// Whether this service would sign an op under it now and the chain accept one: not
    /// revoked here or on-chain, approved, within its window.
    pub usable: bool,
    /// Its budgets this period.
    pub budgets: Vec<UsageBody>,
}

/// One budget of a session: the validator's `sessionUsage` row, its numbers as words.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageBody {
    /// What it counts: `ops`, `fee`, `callValue`, `callCount`, `constraintSum`,
    /// `transferValue`.
    #[schema(value_type = String)]
    pub kind: CounterKind,
    /// The policy it belongs to (its index among the call or transfer policies).
    pub policy: u16,
    /// The constraint it belongs to (for `constraintSum`).
    pub constraint: u16,
    /// `lifetime` or `allowance` (resets every `period` seconds).
    #[schema(value_type = String)]
    pub limit_type: LimitType,
    /// The limit (decimal, in the counted unit: wei, ops, calls, or the word's base units).
    pub limit: String,
    /// Used this period (decimal).
    pub used: String,
    /// Left this period (decimal).
    pub remaining: String,
    /// The period of an allowance, in seconds (0 for a lifetime total).
    pub period: u64,
    /// When an allowance next resets (unix seconds; 0 for a lifetime total).
    pub resets_at: u64,
}

impl UsageBody {
    /// The row as the API tells it; `None` for a row with a number no word knows (a newer
    /// validator than this service).
    pub fn from_usage(row: &CounterUsage) -> Option<Self> {
        Some(Self {
            kind: CounterKind::try_from(row.kind).ok()?,
            policy: row.policyIndex,
            constraint: row.constraintIndex,
            limit_type: LimitType::try_from(row.limitType).ok()?,
            limit: row.limit.to_string(),
            used: row.used.to_string(),
            remaining: row.remaining.to_string(),
            period: row.period.to(),
            resets_at: row.resetsAt.to(),
        })
    }
}

/// A session's scope and where it stands: its policies, its on-chain state and budgets, read
/// from the chain now.
#[utoipa::path(get, path = "/v1/sessions/{session}/scope", params(
        ("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"),
        SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The session, its policies and budgets now", body = ScopeBody),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 502, description = "The node did not answer", body = ErrorResponse),
    ))]
pub async fn session_scope(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
) -> Result<Json<ScopeBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    scope_of(&service, &row).await.map(Json)
}

async fn scope_of(service: &Service, row: &SessionRow) -> Result<ScopeBody, ServiceError> {
    let record = &row.record;
    let spec = record.spec()?;
    let backend: &dyn Backend = service.backend.as_ref();
    let chain_time = backend.latest_timestamp().await.map_err(SdkError::from)?;
    let (status, current) =
        session_status(backend, record.validator, record.account, record.hash).await?;
    let onchain = OnchainState::from_status(status, current);
    let usage = match session_usage(backend, record.validator, record.account, &spec).await {
        Ok(usage) => usage,
        // No usage lens: a validator older than this service.
        Err(SdkError::NotDeployed(_)) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let within =
        chain_time >= spec.validAfter.to::<u64>() && chain_time <= spec.validUntil.to::<u64>();
    let approved_here = matches!(
        record.status,
        StoredStatus::Approved | StoredStatus::Granted
    );
    let accepted_on_chain = onchain.usable() || onchain == OnchainState::NotEnabled;
    Ok(ScopeBody {
        session: session_body(row),
        spec: SessionJson::from_spec(&spec),
        validator: record.validator,
        entry_point: record.entry_point.to_string(),
        chain_time,
        onchain,
        usable: approved_here && accepted_on_chain && within,
        budgets: usage.iter().filter_map(UsageBody::from_usage).collect(),
    })
}
