//! The HTTP API: request a session, approve it, check and execute calls under it, list and
//! revoke. Every handler is a thin step over the SDK's workflow; the JSON shapes are here, and
//! `/openapi.json` is generated from them.

use crate::Service;
use crate::activity::{Entry, Kind, Verdict};
use crate::db::{App, SessionRow};
use crate::error::{ErrorResponse, FindingBody, ServiceError};
use crate::journal::{self, OpState, Settlement};
use alloy::primitives::{Address, B256, Bytes, U256};
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sessionkeys::backend::Backend;
use sessionkeys::relay::{RevokeRequest, RevokeTarget};
use sessionkeys::request::{self, RequestOptions};
use sessionkeys::store::StoredStatus;
use sessionkeys::{
    AccountPlan, Call, Enable, Enabled, EntryPointVersion, SdkError, SessionClient, SessionTemplate,
};
use sessionkeys_contracts::vocabulary::SignatureMode;
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::lint::Severity;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The app whose API key authorized the request.
#[derive(Debug, Clone)]
pub struct AuthedApp(pub App);

/// The app the request's key proved, put in the request's extensions by the outermost layer
/// (which checks the key for the rate limit anyway), so it is checked once per request.
/// Clients cannot set extensions.
#[derive(Debug, Clone)]
pub struct ProvenApp(pub App);

impl FromRequestParts<Arc<Service>> for AuthedApp {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(ProvenApp(app)) = parts.extensions.get::<ProvenApp>() {
            return Ok(AuthedApp(app.clone()));
        }
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ServiceError::Unauthorized)?;
        service
            .db
            .authenticate(key.trim())?
            .map(AuthedApp)
            .ok_or(ServiceError::Unauthorized)
    }
}

/// JSON bodies that fail to parse become a 400 that says what was wrong.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ServiceError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ServiceError::TooLarge)
            }
            Err(rejection) => Err(ServiceError::BadRequest(format!(
                "the request body is not what this endpoint takes: {}; see /openapi.json",
                rejection.body_text()
            ))),
        }
    }
}

/// Query strings that fail to parse become a 400 in the API's error shape.
pub struct QueryParams<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| {
                ServiceError::BadRequest(format!(
                    "the query string is not what this endpoint takes: {}; see /openapi.json",
                    rejection.body_text()
                ))
            })
    }
}

/// Path segments that fail to decode become a 400 in the API's error shape.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| {
                ServiceError::BadRequest(format!(
                    "the path does not decode: {}",
                    rejection.body_text()
                ))
            })
    }
}

/// `POST /v1/sessions`: a new session for an owner's account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSession {
    /// The account owner's address: the key whose wallet approves the session.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$", example = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")]
    pub owner: Address,
    /// Tells several accounts of one owner apart (default 0).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$", example = "0")]
    pub salt: Option<U256>,
    /// `v0.7` (default) or `v0.8`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "v0.7")]
    pub entry_point: Option<EntryPointVersion>,
    /// The session in the session JSON format (docs/session-format.md), without `signer`:
    /// the service makes the key.
    #[schema(value_type = Object)]
    pub session: serde_json::Value,
}

/// A session as the service keeps it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody {
    /// The service's id for it (`ses_…`).
    pub id: String,
    /// The app that requested it.
    pub app_id: String,
    /// The session hash the owner approves and the validator enforces.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub session_hash: B256,
    /// The smart account.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub account: Address,
    /// The account's owner.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub owner: Address,
    /// The session key's address (the key itself never leaves the service).
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub session_key: Address,
    /// The chain.
    pub chain_id: u64,
    /// `requested` (waits for the owner's signature), `approved` (enabled by its first op),
    /// `granted` (enabled on-chain) or `revoked` (this service signs nothing more for it).
    pub status: String,
    /// When it ends (unix seconds).
    pub valid_until: u64,
    /// When it was requested (unix seconds).
    pub created_at: u64,
}

/// The answer to a session request: what the owner is asked to sign, and why.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestedBody {
    /// The session.
    pub session: SessionBody,
    /// The EIP-712 typed data for the owner's wallet (`eth_signTypedData_v4`).
    #[schema(value_type = Object)]
    pub typed_data: serde_json::Value,
    /// Its digest: the owner's signature must recover to the owner from it.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub digest: B256,
    /// The session in plain words, riskiest first.
    pub explanation: ExplanationBody,
    /// Lint warnings (a request with lint errors is refused).
    pub lint: Vec<FindingBody>,
}

/// The session in plain words.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationBody {
    /// Who, until when.
    pub heading: String,
    /// What is allowed, riskiest first.
    pub lines: Vec<String>,
    /// What a person should know besides.
    pub notes: Vec<String>,
}

/// `POST /v1/sessions/{session}/approve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveSession {
    /// The owner wallet's signature of the typed data (65 bytes, hex).
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{130}$")]
    pub signature: Bytes,
    /// `firstUse` (default: the session's first op enables it, and deploys the account if it
    /// has no code) or `relayed` (the service's relayer sends `enableSessionWithApproval` now).
    #[serde(default)]
    pub enable: EnableRoute,
}

/// How an approved session is enabled.
#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum EnableRoute {
    /// By its first op.
    #[default]
    FirstUse,
    /// Now, by the service's relayer.
    Relayed,
}

/// The answer to an approval.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovedBody {
    /// The session, as it stands now.
    pub session: SessionBody,
    /// The relayed `enableSessionWithApproval` transaction, when `enable` was `relayed`.
    #[schema(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub transaction: Option<B256>,
}

/// One call.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallBody {
    /// The callee.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub to: Address,
    /// Wei sent along (decimal or 0x hex string; default 0).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$")]
    pub value: Option<U256>,
    /// Calldata (hex; default empty).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^0x([0-9a-fA-F]{2})*$")]
    pub data: Option<Bytes>,
}

/// `POST …/check` and `…/execute`: the calls of one op (a batch when more than one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallsBody {
    /// The calls, in order.
    pub calls: Vec<CallBody>,
}

/// The answer to `prepare`: the op and what the session key signs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreparedBody {
    /// The userOp in its ERC-7769 JSON form; its `signature` is a placeholder of the real
    /// one's length, replaced at `submit`.
    #[schema(value_type = Object)]
    pub user_op: sessionkeys::erc7769::RpcUserOperation,
    /// The EntryPoint's hash of it.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub user_op_hash: B256,
    /// What the session key signs (rule 10): raw ECDSA over these 32 bytes, no EIP-191 prefix.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub digest: B256,
    /// The time hint the digest binds: give it back to `submit`.
    pub time_hint: u64,
    /// `use`, or `enable` when this op also enables the session: give it back to `submit`.
    pub mode: String,
}

/// `POST …/submit`: a prepared op and the session key's signature of its digest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitBody {
    /// The userOp `prepare` returned (its gas fields may be changed; they are judged again).
    #[schema(value_type = Object)]
    pub user_op: sessionkeys::erc7769::RpcUserOperation,
    /// The `timeHint` `prepare` returned.
    pub time_hint: u64,
    /// The `mode` `prepare` returned.
    pub mode: String,
    /// The session key's signature of the digest (65 bytes, hex).
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{130}$")]
    pub signature: Bytes,
}

/// The answer to a check: the op would pass the validator now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckedBody {
    /// Always true (a refusal is a 422 naming the violation).
    pub allowed: bool,
    /// `use`, or `enable` when the op would also enable the session.
    pub mode: String,
    /// The time the op would be judged at (unix seconds).
    pub time_hint: u64,
}

/// The answer to an execute: the op landed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutedBody {
    /// The userOp hash.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub user_op_hash: B256,
    /// The bundle transaction's hash.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub transaction_hash: B256,
    /// What the account paid, in wei (decimal).
    pub actual_gas_cost: String,
    /// Gas the EntryPoint charged for (decimal).
    pub actual_gas_used: String,
}

/// The answer to a revoke.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedBody {
    /// The session: `revoked` here, so nothing more is signed for it.
    pub session: SessionBody,
    /// For the owner's wallet: revoking on-chain through the validator's
    /// `revokeSessionsWithApproval` (any relayer can send it).
    #[schema(value_type = Object)]
    pub owner_revoke_typed_data: serde_json::Value,
    /// Its digest.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub owner_revoke_digest: B256,
    /// The session key's own `revokeSession` on-chain, tried once when the session was
    /// enabled: a session op under the session's own limits, so it may be refused (a spent fee
    /// budget); the owner's typed data above revokes it regardless.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_revoke: Option<SelfRevokeBody>,
}

/// What the session key's self-revoke did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfRevokeBody {
    /// The userOp that revoked the session on-chain, when it landed.
    #[schema(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub user_op_hash: Option<B256>,
    /// Why it did not, otherwise.
    pub error: Option<String>,
}

/// The answer to a revoke-all.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedAllBody {
    /// The sessions this service stopped signing for.
    pub revoked: Vec<SessionBody>,
    /// For the owner's wallet: `revokeAllWithApproval`, which moves the account's revocation
    /// epoch so every session of it, granted anywhere, stops on-chain.
    #[schema(value_type = Object)]
    pub owner_revoke_all_typed_data: serde_json::Value,
    /// Its digest.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub owner_revoke_all_digest: B256,
}

/// One session of an account as the chain knows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessionBody {
    /// The session hash.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub session_hash: B256,
    /// This service's id for it, when it holds the session; absent for sessions granted
    /// elsewhere.
    pub id: Option<String>,
    /// This service's status for it, when it holds it.
    pub status: Option<String>,
    /// `active`, `not enabled`, `revoked`, `revoked (all)`, or `previous validator`.
    pub onchain: String,
    /// Whether ops under it can pass on-chain now.
    pub usable: bool,
    /// Its budgets this period.
    pub limits: Vec<BudgetBody>,
}

/// A budget of a session and what is left of it this period.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetBody {
    /// What it counts: `ops`, `fees`, `value`, `calls`, `sum`, `transfers`.
    pub kind: String,
    /// The policy it belongs to.
    pub policy: u16,
    /// The constraint it belongs to.
    pub constraint: u16,
    /// The limit (decimal, in the counted unit).
    pub limit: String,
    /// Used this period (decimal).
    pub used: String,
    /// Left this period (decimal).
    pub remaining: String,
    /// The period in seconds (0: the session's lifetime, no reset).
    pub period: u64,
    /// When this period's use resets (unix seconds; 0 when it never does).
    pub resets_at: u64,
}

/// An account's sessions from the chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountSessionList {
    /// Oldest first: the ones this service holds, then those granted elsewhere.
    pub sessions: Vec<AccountSessionBody>,
}

/// Paging and filtering of `GET /v1/sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    /// Only this account's sessions.
    #[param(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub account: Option<Address>,
    /// At most this many (1..=100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Skip this many (default 0).
    pub offset: Option<u32>,
}

/// A page of sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The sessions.
    pub sessions: Vec<SessionBody>,
}

/// Which account `latest` means.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SelectQuery {
    /// With `latest` as the session: the account whose newest session of this app is meant.
    #[param(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub account: Option<Address>,
}

pub(crate) fn session_body(row: &SessionRow) -> SessionBody {
    let record = &row.record;
    let spec = record.spec().ok();
    SessionBody {
        id: row.id.clone(),
        app_id: row.app_id.clone(),
        session_hash: record.hash,
        account: record.account,
        owner: record.owner,
        session_key: spec.as_ref().map(|s| s.signer).unwrap_or_default(),
        chain_id: record.chain_id,
        status: record.status.word().to_string(),
        valid_until: spec.map(|s| s.validUntil.to()).unwrap_or_default(),
        created_at: record.created_at,
    }
}

/// Finds the app's session named by `selector`: its id, its hash (`0x` and 64 hex digits), or
/// `latest` with `?account=`.
pub(crate) fn select(
    service: &Service,
    app: &App,
    selector: &str,
    query: &SelectQuery,
) -> Result<SessionRow, ServiceError> {
    let not_found = || {
        ServiceError::NotFound(format!(
            "this app has no session {selector:?}: name one by its id (ses_…), its hash (0x…), \
             or `latest?account=0x…`"
        ))
    };
    if selector == "latest" {
        let account = query.account.ok_or_else(|| {
            ServiceError::BadRequest(
                "`latest` needs the account: add ?account=0x… to the path".into(),
            )
        })?;
        return service
            .db
            .sessions(app, Some(account), 1, 0)?
            .into_iter()
            .next()
            .ok_or_else(not_found);
    }
    if query.account.is_some() {
        return Err(ServiceError::BadRequest(
            "?account= goes only with `latest`: a session id or hash names one session already"
                .into(),
        ));
    }
    let row = if selector.starts_with("0x") {
        let hash: B256 = selector.parse().map_err(|_| {
            ServiceError::BadRequest(format!(
                "{selector:?} is not a session hash: 0x and 64 hex digits"
            ))
        })?;
        service.db.session_by_hash(app, hash)?
    } else {
        service.db.session_by_id(app, selector)?
    };
    row.ok_or_else(not_found)
}

/// The service checks the chain's time, not its own clock, so a devnet's moved time counts.
async fn chain_now(backend: &dyn Backend) -> Result<u64, ServiceError> {
    Ok(backend.latest_timestamp().await.map_err(SdkError::from)?)
}

/// Request a session for an owner's account.
#[utoipa::path(post, path = "/v1/sessions", request_body = CreateSession,
    security(("app_key" = [])),
    responses(
        (status = 201, description = "The session is requested: the owner signs `typedData`", body = RequestedBody),
        (status = 400, description = "The body is malformed", body = ErrorResponse),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
        (status = 422, description = "The session is invalid, ended, or lint finds errors in it", body = ErrorResponse),
        (status = 502, description = "The chain or bundler failed", body = ErrorResponse),
    ))]
pub async fn create_session(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    JsonBody(body): JsonBody<CreateSession>,
) -> Result<(StatusCode, Json<RequestedBody>), ServiceError> {
    let template = SessionTemplate::parse(&body.session.to_string()).map_err(SdkError::from)?;
    let backend = service.backend.as_ref();
    let now = chain_now(backend).await?;
    template.ensure_not_expired(now)?;
    let findings: Vec<FindingBody> = template.lint(now).iter().map(FindingBody::from).collect();
    if template
        .lint(now)
        .iter()
        .any(|f| f.severity == Severity::Error)
    {
        return Err(ServiceError::LintErrors(findings));
    }
    let mut plan = AccountPlan::new(body.owner, body.entry_point.unwrap_or(service.version));
    plan.factory_owner = service.factory_owner;
    plan.salt = body.salt.unwrap_or_default();
    let records = service.db.records(&app);
    let requested = request::request(
        backend,
        &records,
        &template,
        &plan,
        RequestOptions::default(),
    )
    .await?;
    let row = service
        .db
        .session_by_hash(&app, requested.session.hash)?
        .ok_or_else(|| ServiceError::NotFound("the session just stored is gone".into()))?;
    service.note(
        &row,
        Entry {
            kind: Some(Kind::Requested),
            actor: Some("app"),
            ..Entry::default()
        },
        &[],
    );
    let explanation = template.explain(&Labels::well_known());
    Ok((
        StatusCode::CREATED,
        Json(RequestedBody {
            session: session_body(&row),
            typed_data: requested.typed_data,
            digest: requested.digest,
            explanation: ExplanationBody {
                heading: explanation.heading,
                lines: explanation.lines.into_iter().map(|l| l.text).collect(),
                notes: explanation.notes,
            },
            lint: findings,
        }),
    ))
}

/// List this app's sessions, newest first.
#[utoipa::path(get, path = "/v1/sessions", params(ListQuery), security(("app_key" = [])),
    responses(
        (status = 200, description = "A page of sessions", body = SessionList),
        (status = 400, description = "A bad filter", body = ErrorResponse),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
    ))]
pub async fn list_sessions(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<SessionList>, ServiceError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ServiceError::BadRequest(format!(
            "limit {limit} is out of range: give 1 to 100"
        )));
    }
    let rows = service
        .db
        .sessions(&app, query.account, limit, query.offset.unwrap_or(0))?;
    Ok(Json(SessionList {
        sessions: rows.iter().map(session_body).collect(),
    }))
}

/// One of this app's sessions.
#[utoipa::path(get, path = "/v1/sessions/{session}", params(
        ("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"),
        SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The session", body = SessionBody),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
    ))]
pub async fn get_session(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
) -> Result<Json<SessionBody>, ServiceError> {
    Ok(Json(session_body(&select(
        &service, &app, &selector, &query,
    )?)))
}

/// Approve a requested session with the owner's wallet signature of its typed data.
#[utoipa::path(post, path = "/v1/sessions/{session}/approve", request_body = ApproveSession,
    params(("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"), SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "Approved (and enabled, when relayed)", body = ApprovedBody),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 409, description = "Not waiting for approval, or its lane or epoch moved", body = ErrorResponse),
        (status = 422, description = "Not the owner's signature of this typed data", body = ErrorResponse),
    ))]
pub async fn approve_session(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
    JsonBody(body): JsonBody<ApproveSession>,
) -> Result<Json<ApprovedBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    Ok(Json(approve_row(&service, row, body).await?))
}

/// Approves the requested session `row` with the owner's signature in `body`, for its app.
pub(crate) async fn approve_row(
    service: &Arc<Service>,
    row: SessionRow,
    body: ApproveSession,
) -> Result<ApprovedBody, ServiceError> {
    let app = crate::db::App {
        id: row.app_id.clone(),
        name: String::new(),
    };
    let how = match body.enable {
        EnableRoute::FirstUse => Enable::FirstUse,
        EnableRoute::Relayed => Enable::Relayed(service.relayer.as_ref().ok_or_else(|| {
            ServiceError::Conflict(
                "this service has no relayer key (--relayer-key-env): approve with \
                 \"enable\": \"firstUse\""
                    .into(),
            )
        })?),
    };
    // Under the session's send lock: a revoke cannot slip between the approval's read and its
    // save (the save refuses to revive a revoked session either way).
    let _lease = service.send_lease(row.record.hash).await?;
    let records = service.db.records(&app);
    let approved = request::approve(
        service.backend.as_ref(),
        &records,
        row.record.hash,
        &body.signature,
        how,
    )
    .await?;
    service.chain_views.forget();
    let row = service
        .db
        .session_by_id_any(&row.id)?
        .ok_or_else(|| ServiceError::NotFound(format!("session {} is gone", row.id)))?;
    let transaction = match approved.enabled {
        Enabled::Relayed { transaction, .. } => Some(transaction),
        _ => None,
    };
    service.note(
        &row,
        Entry {
            kind: Some(Kind::Approved),
            actor: Some("owner"),
            ..Entry::default()
        },
        &[],
    );
    if transaction.is_some() {
        service.note(
            &row,
            Entry {
                kind: Some(Kind::Enabled),
                transaction_hash: transaction,
                ..Entry::default()
            },
            &[],
        );
    }
    Ok(ApprovedBody {
        session: session_body(&row),
        transaction,
    })
}

fn calls(body: &CallsBody) -> Result<Vec<Call>, ServiceError> {
    if body.calls.is_empty() {
        return Err(ServiceError::BadRequest(
            "`calls` is empty: give at least one call".into(),
        ));
    }
    Ok(body
        .calls
        .iter()
        .map(|c| Call {
            to: c.to,
            value: c.value.unwrap_or_default(),
            data: c.data.clone().unwrap_or_default(),
        })
        .collect())
}

/// A client for a session this service may still sign for; an attempt under a revoked one is
/// logged (and alerted on).
fn client(
    service: &Arc<Service>,
    app: &App,
    row: &SessionRow,
    targets: &[Address],
) -> Result<SessionClient, ServiceError> {
    refuse_if_revoked(service, row, targets)?;
    let records = service.db.records(app);
    Ok(SessionClient::from_records(
        service.backend.clone(),
        &records,
        &row.record,
    )?)
}

/// A session revoked in this service is refused before anything else, and the attempt noted.
fn refuse_if_revoked(
    service: &Arc<Service>,
    row: &SessionRow,
    targets: &[Address],
) -> Result<(), ServiceError> {
    if row.record.status == StoredStatus::Revoked {
        service.note(
            row,
            Entry {
                kind: Some(Kind::AttemptAfterRevoke),
                verdict: Some(Verdict::Refused),
                reason: Some("revoked in this service".into()),
                targets: targets.to_vec(),
                ..Entry::default()
            },
            &[],
        );
        return Err(ServiceError::Revoked(row.id.clone()));
    }
    Ok(())
}

/// Would these calls pass under the session now? Nothing is signed or sent.
#[utoipa::path(post, path = "/v1/sessions/{session}/check", request_body = CallsBody,
    params(("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"), SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The op would pass the validator", body = CheckedBody),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 409, description = "Revoked here, or not approved yet", body = ErrorResponse),
        (status = 422, description = "Refused: `violation` names the validator's error", body = ErrorResponse),
    ))]
pub async fn check_calls(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
    JsonBody(body): JsonBody<CallsBody>,
) -> Result<Json<CheckedBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    let calls = calls(&body)?;
    let targets: Vec<Address> = calls.iter().map(|c| c.to).collect();
    let checked = if row.record.key_is_external() {
        // Its ops are sent by whoever holds its key: the chain is read at each check.
        client(&service, &app, &row, &targets)?
            .precheck(&calls)
            .await
    } else {
        refuse_if_revoked(&service, &row, &targets)?;
        let judge = service
            .chain_views
            .judge(&service.backend, &row.id, &row.record)?;
        service
            .chain_views
            .precheck(service.backend.as_ref(), &judge, &calls)
            .await
    };
    note_check(&service, &row, targets, &checked);
    let precheck = checked?;
    Ok(Json(CheckedBody {
        allowed: true,
        mode: mode_word(precheck.mode).to_string(),
        time_hint: precheck.time_hint,
    }))
}

/// Logs a pre-check (`check`, `prepare`) with its verdict and, for a refusal, the reason.
fn note_check<T>(
    service: &Arc<Service>,
    row: &SessionRow,
    targets: Vec<Address>,
    checked: &Result<T, SdkError>,
) {
    let (verdict, reason) = match checked {
        Ok(_) => (Verdict::Allowed, None),
        Err(error) => outcome(error),
    };
    service.note(
        row,
        Entry {
            kind: Some(Kind::Check),
            verdict: Some(verdict),
            reason,
            targets,
            ..Entry::default()
        },
        &[],
    );
}

/// Execute calls under the session: pre-checked by the engine (a refusal signs and sends
/// nothing), priced, signed with the session key, sent to the bundler, and waited for.
#[utoipa::path(post, path = "/v1/sessions/{session}/execute", request_body = CallsBody,
    params(("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"), SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The op landed", body = ExecutedBody),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 409, description = "Revoked here, not approved yet, or an earlier op of the session may still land (retry later)", body = ErrorResponse),
        (status = 422, description = "Refused before sending (nothing signed), or by the bundler, or reverted", body = ErrorResponse),
        (status = 502, description = "The chain or bundler failed", body = ErrorResponse),
    ))]
pub async fn execute_calls(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
    hold: Option<axum::Extension<crate::idempotency::Hold>>,
    JsonBody(body): JsonBody<CallsBody>,
) -> Result<Json<ExecutedBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    let calls = calls(&body)?;
    if row.record.key_is_external() {
        return Err(SdkError::KeyHeldElsewhere {
            session: row.record.hash,
            signer: row.record.spec()?.signer,
        }
        .into());
    }
    let (mut lease, row) = turn_to_send(&service, &app, &row).await?;
    let targets: Vec<Address> = calls.iter().map(|c| c.to).collect();
    let (record, recorded) =
        journal::recorder(&service, &row, hold.map(|axum::Extension(hold)| hold));
    let client = client(&service, &app, &row, &targets)?.with_journal(record);
    let sent = client.send(&calls).await;
    // Its op may land before the head is next asked: checks read the chain again.
    service.chain_views.forget();
    let recorded = *recorded.lock().unwrap_or_else(|p| p.into_inner());
    settle_sent(
        &service, &app, &row, &mut lease, targets, recorded, &client, sent,
    )
    .await
}

/// An op for a session whose key the app holds (ERC-7715): judged by the engine, priced,
/// and returned with the digest the app's key signs. Nothing is kept: `submit` takes it back.
#[utoipa::path(post, path = "/v1/sessions/{session}/prepare", request_body = CallsBody,
    params(("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"), SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The op and the digest to sign", body = PreparedBody),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 409, description = "Revoked here, not approved yet, or the service holds the key (use execute)", body = ErrorResponse),
        (status = 422, description = "Refused by the engine (the named violation)", body = ErrorResponse),
        (status = 502, description = "The chain or bundler failed", body = ErrorResponse),
    ))]
pub async fn prepare_calls(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
    JsonBody(body): JsonBody<CallsBody>,
) -> Result<Json<PreparedBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    ensure_external_key(&row)?;
    let calls = calls(&body)?;
    let targets: Vec<Address> = calls.iter().map(|c| c.to).collect();
    let prepared = client(&service, &app, &row, &targets)?
        .prepare_op(&calls)
        .await;
    note_check(&service, &row, targets, &prepared);
    let prepared = prepared?;
    Ok(Json(PreparedBody {
        user_op: sessionkeys::erc7769::RpcUserOperation::from(&prepared.op),
        user_op_hash: prepared.user_op_hash,
        digest: prepared.digest,
        time_hint: prepared.time_hint,
        mode: mode_word(prepared.mode).to_string(),
    }))
}

/// A prepared op with the app's key's signature over its digest: checked, judged again, sent
/// and waited for as `execute` does (under the session's lease and `Idempotency-Key`).
#[utoipa::path(post, path = "/v1/sessions/{session}/submit", request_body = SubmitBody,
    params(("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"), SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The op landed", body = ExecutedBody),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 409, description = "Revoked here, the service holds the key, or an earlier op may still land", body = ErrorResponse),
        (status = 422, description = "Not the session key's signature, refused by the engine or the bundler, or reverted", body = ErrorResponse),
        (status = 502, description = "The chain or bundler failed", body = ErrorResponse),
    ))]
pub async fn submit_op(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
    hold: Option<axum::Extension<crate::idempotency::Hold>>,
    JsonBody(body): JsonBody<SubmitBody>,
) -> Result<Json<ExecutedBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    ensure_external_key(&row)?;
    let op = sessionkeys_chain::UserOperation::try_from(&body.user_op)
        .map_err(|e| ServiceError::BadRequest(format!("userOp: {e}")))?;
    let mode = [SignatureMode::Use, SignatureMode::Enable]
        .into_iter()
        .find(|mode| mode_word(*mode) == body.mode)
        .ok_or_else(|| {
            ServiceError::BadRequest(format!(
                "mode {:?}: give the mode prepare returned, \"use\" or \"enable\"",
                body.mode
            ))
        })?;
    let targets: Vec<Address> = sessionkeys_engine::execute::decode_execute(&op.call_data)
        .map(|calls| calls.iter().map(|c| c.target).collect())
        .unwrap_or_default();
    let (mut lease, row) = turn_to_send(&service, &app, &row).await?;
    let (record, recorded) =
        journal::recorder(&service, &row, hold.map(|axum::Extension(hold)| hold));
    let client = client(&service, &app, &row, &targets)?.with_journal(record);
    let sent = client
        .submit_prepared(op, mode, body.time_hint, &body.signature)
        .await;
    service.chain_views.forget();
    let recorded = *recorded.lock().unwrap_or_else(|p| p.into_inner());
    settle_sent(
        &service, &app, &row, &mut lease, targets, recorded, &client, sent,
    )
    .await
}

/// `prepare` and `submit` are for sessions whose key the app holds; the service signs the
/// others itself (`execute`).
fn ensure_external_key(row: &SessionRow) -> Result<(), ServiceError> {
    if row.record.key_is_external() {
        Ok(())
    } else {
        Err(ServiceError::Conflict(format!(
            "session {} is signed by this service: use POST /v1/sessions/{}/execute",
            row.id, row.id
        )))
    }
}

fn mode_word(mode: SignatureMode) -> &'static str {
    match mode {
        SignatureMode::Enable => "enable",
        _ => "use",
    }
}

/// The session's turn to send, on every replica (each op takes the next nonce of its lane):
/// its lease, the row read again under it (a revoke that landed while this waited stops it),
/// and the ops an earlier request sent settled first.
async fn turn_to_send(
    service: &Arc<Service>,
    app: &App,
    row: &SessionRow,
) -> Result<(crate::lease::Lease, SessionRow), ServiceError> {
    let lease = service.send_lease(row.record.hash).await?;
    let row = select(service, app, &row.id, &SelectQuery::default())?;
    // An earlier op of the session whose request never saw its end (a replica died, a receipt
    // timed out) is settled first; while it may still land, nothing else is sent.
    let ops = service.db.ops_to_settle(
        row.record.hash,
        crate::db::unix_now().saturating_sub(journal::DROPPED_RECHECK_SECONDS),
    )?;
    if let Some(op) = journal::reconcile(service, ops).await?.first() {
        return Err(ServiceError::Busy(format!(
            "op {} of this session was sent and may still land: retry once it settles (within {} s)",
            op.user_op_hash,
            op.sent_at
                .saturating_add(service.lease_term_seconds())
                .saturating_sub(crate::db::unix_now())
                .max(1)
        )));
    }
    Ok((lease, row))
}

/// After an op was sent (or not): its journal entry settled, the log written, the session
/// marked enabled by its first op, the budgets read for the alerts; the answer.
#[allow(clippy::too_many_arguments)] // one step of execute and submit, not an API
async fn settle_sent(
    service: &Arc<Service>,
    app: &App,
    row: &SessionRow,
    lease: &mut crate::lease::Lease,
    targets: Vec<Address>,
    recorded: Option<B256>,
    client: &SessionClient,
    sent: Result<sessionkeys::Executed, SdkError>,
) -> Result<Json<ExecutedBody>, ServiceError> {
    let executed = match sent {
        Ok(executed) => {
            // The op landed: a failure to write that down is logged, not answered (a 503
            // would invite a retry that pays again); the journal settles it from its receipt
            // before the session's next op.
            let landed = Settlement {
                state: OpState::Landed,
                transaction_hash: Some(executed.transaction_hash),
                gas_used: Some(executed.actual_gas_used),
                gas_cost: Some(executed.actual_gas_cost),
                revert_data: None,
            };
            if let Err(error) = service.db.settle_op(executed.user_op_hash, &landed) {
                service.warn(&format!(
                    "op {}: not settled: {error}",
                    executed.user_op_hash
                ));
            }
            executed
        }
        Err(error) => {
            let settled = match (&error, recorded) {
                // The bundler refused the op in validation: it is in no mempool.
                (SdkError::BundlerRefused { code, .. }, Some(user_op_hash))
                    if journal::refusal_is_final(*code) =>
                {
                    Some((user_op_hash, Settlement::dropped()))
                }
                // Sent, or perhaps sent (the answer was lost, the bundler failed otherwise): it
                // may land, so no next op until it has or the lease ends.
                (SdkError::BundlerRefused { .. } | SdkError::Backend(_), Some(_)) => {
                    lease.keep_to_term();
                    None
                }
                (
                    SdkError::ExecutionReverted {
                        user_op_hash,
                        actual_gas_cost,
                        ..
                    },
                    _,
                ) => Some((
                    *user_op_hash,
                    Settlement {
                        state: OpState::Reverted,
                        gas_cost: Some(*actual_gas_cost),
                        ..Settlement::default()
                    },
                )),
                _ => None,
            };
            if let Some((user_op_hash, settlement)) = settled
                && let Err(failure) = service.db.settle_op(user_op_hash, &settlement)
            {
                service.warn(&format!("op {user_op_hash}: not settled: {failure}"));
            }
            if let SdkError::BundlerRefused { code, .. } = &error {
                service.metrics.bundler_error(*code);
            }
            let (verdict, reason) = outcome(&error);
            let op = match &error {
                SdkError::ExecutionReverted { user_op_hash, .. } => Some(*user_op_hash),
                SdkError::Timeout { user_op_hash, .. } => {
                    // Sent, and it may still land: no next op until it has or the lease ends.
                    lease.keep_to_term();
                    Some(*user_op_hash)
                }
                _ => None,
            };
            service.note(
                row,
                Entry {
                    kind: Some(Kind::Execute),
                    verdict: Some(verdict),
                    reason,
                    user_op_hash: op,
                    targets,
                    ..Entry::default()
                },
                &[],
            );
            return Err(error.into());
        }
    };
    if row.record.status == StoredStatus::Approved {
        // Its first op enabled it.
        let mut record = row.record.clone();
        record.status = StoredStatus::Granted;
        record.approval = None;
        // The op landed whatever happens here: a revoke that came meanwhile (the row stays
        // revoked) or a database failure is logged, not answered.
        if let Err(error) = sessionkeys::SessionRecords::save(&service.db.records(app), &record) {
            service.warn(&format!("session {}: not marked enabled: {error}", row.id));
        }
        service.note(
            row,
            Entry {
                kind: Some(Kind::Enabled),
                user_op_hash: Some(executed.user_op_hash),
                transaction_hash: Some(executed.transaction_hash),
                ..Entry::default()
            },
            &[],
        );
    }
    // The budgets after the op, for the budget alert (best effort: a failed read skips it).
    let usage = client.usage().await.unwrap_or_default();
    service.note(
        row,
        Entry {
            kind: Some(Kind::Execute),
            verdict: Some(Verdict::Allowed),
            user_op_hash: Some(executed.user_op_hash),
            transaction_hash: Some(executed.transaction_hash),
            gas_used: Some(executed.actual_gas_used.to_string()),
            targets,
            ..Entry::default()
        },
        &usage,
    );
    Ok(Json(ExecutedBody {
        user_op_hash: executed.user_op_hash,
        transaction_hash: executed.transaction_hash,
        actual_gas_cost: executed.actual_gas_cost.to_string(),
        actual_gas_used: executed.actual_gas_used.to_string(),
    }))
}

/// Revoke a session: this service stops signing for it at once, and returns the typed data
/// the owner signs to revoke it on-chain as well.
#[utoipa::path(post, path = "/v1/sessions/{session}/revoke",
    params(("session" = String, Path, pattern = r"^(ses_[0-9a-f]{16}|0x[0-9a-fA-F]{64}|latest)$", description = "`ses_…`, the session hash (0x…), or `latest`"), SelectQuery),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "Revoked here; the owner's typed data revokes it on-chain", body = RevokedBody),
        (status = 404, description = "This app has no such session", body = ErrorResponse),
        (status = 502, description = "The chain failed (the session is revoked here all the same)", body = ErrorResponse),
    ))]
pub async fn revoke_session(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(selector): PathParam,
    QueryParams(query): QueryParams<SelectQuery>,
) -> Result<Json<RevokedBody>, ServiceError> {
    let row = select(&service, &app, &selector, &query)?;
    Ok(Json(revoke_row(&service, row, "app").await?))
}

/// The kill switch, then the owner's typed data to revoke on-chain too.
pub(crate) async fn revoke_row(
    service: &Arc<Service>,
    row: SessionRow,
    actor: &'static str,
) -> Result<RevokedBody, ServiceError> {
    let current = service
        .db
        .session_by_id_any(&row.id)?
        .ok_or_else(|| ServiceError::NotFound(format!("session {} is gone", row.id)))?;
    // The kill switch first, without waiting for anything: every execute re-reads the status
    // under the session's lease before it signs.
    service.db.mark_revoked(&current)?;
    if current.record.status != StoredStatus::Revoked {
        service.note(
            &current,
            Entry {
                kind: Some(Kind::Revoked),
                actor: Some(actor),
                ..Entry::default()
            },
            &[],
        );
    }
    // Then the session's turn to send: an execute that read the status before the switch
    // finishes first, so none is mid-flight when this returns; and the session key's own
    // revoke, for an enabled session.
    let self_revoke = match service.send_lease(row.record.hash).await {
        Ok(_lease) if current.record.key_is_external() => {
            (current.record.status == StoredStatus::Granted).then(|| SelfRevokeBody {
                user_op_hash: None,
                error: Some(
                    "the session key is held by the app that asked for it, so this service \
                     cannot send its own revoke: the chain accepts the key until the owner \
                     revokes the session, or the app sends the key's revokeSession op to a \
                     bundler itself"
                        .into(),
                ),
            })
        }
        Ok(_lease) if current.record.status == StoredStatus::Granted => {
            let done = self_revoke(service, &current).await;
            service.note(
                &current,
                Entry {
                    kind: Some(Kind::SelfRevoke),
                    verdict: Some(if done.user_op_hash.is_some() {
                        Verdict::Allowed
                    } else {
                        Verdict::Failed
                    }),
                    reason: done.error.clone(),
                    user_op_hash: done.user_op_hash,
                    ..Entry::default()
                },
                &[],
            );
            Some(done)
        }
        Ok(_lease) => None,
        Err(error) => Some(SelfRevokeBody {
            user_op_hash: None,
            error: Some(format!(
                "revoked in this service; the session key's own revoke was not sent: {}",
                error.public_message()
            )),
        }),
    };
    let owner_revoke = RevokeRequest::new(
        service.backend.as_ref(),
        row.record.validator,
        row.record.account,
        RevokeTarget::Sessions(vec![row.record.hash]),
    )
    .await?;
    let mut row = row;
    row.record.status = StoredStatus::Revoked;
    Ok(RevokedBody {
        session: session_body(&row),
        owner_revoke_typed_data: owner_revoke.typed_data(),
        owner_revoke_digest: owner_revoke.digest(),
        self_revoke,
    })
}

/// The session key revokes its own session (rule 16): best effort, after the kill switch.
async fn self_revoke(service: &Service, row: &SessionRow) -> SelfRevokeBody {
    let app = App {
        id: row.app_id.clone(),
        name: String::new(),
    };
    let call = Call::typed(
        row.record.validator,
        &sessionkeys_contracts::session::ISessionKeyValidator::revokeSessionCall {
            sessionHash: row.record.hash,
        },
    );
    let sent = match SessionClient::from_records(
        service.backend.clone(),
        &service.db.records(&app),
        &row.record,
    ) {
        Ok(client) => client.send(&[call]).await,
        Err(error) => Err(error),
    };
    service.chain_views.forget();
    match sent {
        Ok(executed) => SelfRevokeBody {
            user_op_hash: Some(executed.user_op_hash),
            error: None,
        },
        Err(error) => SelfRevokeBody {
            user_op_hash: None,
            error: Some(crate::error::public_sdk_message(&error)),
        },
    }
}

/// Stops signing for every one of `rows` (the kill switch), and returns the owner's typed data
/// that revokes every session of `account` on-chain.
pub(crate) async fn revoke_all_rows(
    service: &Arc<Service>,
    account: Address,
    rows: Vec<SessionRow>,
    actor: &'static str,
) -> Result<RevokedAllBody, ServiceError> {
    let mut revoked = Vec::new();
    for mut row in rows {
        if row.record.status == StoredStatus::Revoked {
            continue;
        }
        // The kill switch alone: no lease, so a replica that died holding one delays nothing.
        service.db.mark_revoked(&row)?;
        service.note(
            &row,
            Entry {
                kind: Some(Kind::Revoked),
                actor: Some(actor),
                ..Entry::default()
            },
            &[],
        );
        row.record.status = StoredStatus::Revoked;
        revoked.push(session_body(&row));
    }
    let request = RevokeRequest::new(
        service.backend.as_ref(),
        sessionkeys::deployment::session_key_validator(Address::ZERO).address(),
        account,
        RevokeTarget::All,
    )
    .await?;
    Ok(RevokedAllBody {
        revoked,
        owner_revoke_all_typed_data: request.typed_data(),
        owner_revoke_all_digest: request.digest(),
    })
}

/// `account`'s sessions as the chain knows them: `held` (this service's rows of the account)
/// with their on-chain state, then every other session enabled for the account.
pub(crate) async fn account_rows(
    service: &Service,
    account: Address,
    held: &[SessionRow],
) -> Result<Vec<AccountSessionBody>, ServiceError> {
    let records: Vec<_> = held.iter().map(|r| r.record.clone()).collect();
    let rows = sessionkeys::session_rows::session_rows(
        &records,
        Some(service.backend.as_ref()),
        Some(account),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let ours = held.iter().find(|h| h.record.hash == row.session_hash);
            let onchain = row.onchain;
            AccountSessionBody {
                session_hash: row.session_hash,
                id: ours.map(|h| h.id.clone()),
                status: ours.map(|h| h.record.status.word().to_string()),
                onchain: onchain
                    .as_ref()
                    .map(|o| o.state.word().to_string())
                    .unwrap_or_default(),
                usable: onchain.as_ref().is_some_and(|o| o.state.usable()),
                limits: onchain
                    .map(|o| {
                        o.limits
                            .into_iter()
                            .map(|b| BudgetBody {
                                kind: b.kind.to_string(),
                                policy: b.policy,
                                constraint: b.constraint,
                                limit: b.limit,
                                used: b.used,
                                remaining: b.remaining,
                                period: b.period,
                                resets_at: b.resets_at,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// Every session of one account: listing and revoking take them all.
const ACCOUNT_SESSIONS_MAX: u32 = u32::MAX;

/// An account's sessions from the chain: those this app holds and those granted elsewhere, with
/// status and remaining budgets.
#[utoipa::path(get, path = "/v1/accounts/{account}/sessions",
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "Its sessions, oldest first", body = AccountSessionList),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
        (status = 502, description = "The chain failed", body = ErrorResponse),
    ))]
pub async fn account_sessions(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(account): PathParam,
) -> Result<Json<AccountSessionList>, ServiceError> {
    let account = parse_account(&account)?;
    let held = service
        .db
        .sessions(&app, Some(account), ACCOUNT_SESSIONS_MAX, 0)?;
    Ok(Json(AccountSessionList {
        sessions: account_rows(&service, account, &held).await?,
    }))
}

/// Stop signing for every session this app holds on an account, and get the owner's typed
/// data that revokes all of the account's sessions on-chain.
#[utoipa::path(post, path = "/v1/accounts/{account}/revoke-all",
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "Revoked here; the typed data revokes all on-chain", body = RevokedAllBody),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
    ))]
pub async fn revoke_account(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(account): PathParam,
) -> Result<Json<RevokedAllBody>, ServiceError> {
    let account = parse_account(&account)?;
    let rows = service
        .db
        .sessions(&app, Some(account), ACCOUNT_SESSIONS_MAX, 0)?;
    Ok(Json(revoke_all_rows(&service, account, rows, "app").await?))
}

/// How a failed check or execute is logged: refused (the validator, the engine or the bundler
/// said no) or failed (anything else), with the reason.
fn outcome(error: &SdkError) -> (Verdict, Option<String>) {
    match error {
        SdkError::Refused { violation } => (
            Verdict::Refused,
            Some(format!("{}: {violation}", violation.name())),
        ),
        SdkError::OutOfTimeRange { .. }
        | SdkError::ExpiresTooSoon { .. }
        | SdkError::BundlerRefused { .. } => (Verdict::Refused, Some(error.to_string())),
        _ => (
            Verdict::Failed,
            Some(crate::error::public_sdk_message(error)),
        ),
    }
}

pub(crate) fn parse_account(text: &str) -> Result<Address, ServiceError> {
    text.parse().map_err(|_| {
        ServiceError::BadRequest(format!(
            "{text:?} is not an account address: 0x and 40 hex digits"
        ))
    })
}
