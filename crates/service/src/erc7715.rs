//! `POST /v1/erc7715`: ERC-7715 ("Request Permissions from Wallets", the draft of
//! ethereum/ERCs commit `2adc378`) as JSON-RPC 2.0 for an app's users' accounts — the service
//! plays the wallet. A permission becomes a session whose key is the dapp's `to` (it keeps the
//! key); the owner approves asynchronously; ops are redeemed through `prepare` and `submit`
//! (docs/decisions.md and docs/service.md, "ERC-7715").

use crate::Service;
use crate::activity::{Entry, Kind};
use crate::api::AuthedApp;
use crate::db::{App, Database, SessionRow, unix_now};
use crate::error::{FindingBody, ServiceError};
use crate::permissions::{self, NotGrantable, PermissionRequest};
use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sessionkeys::request::{self, AccountPlan, RequestOptions};
use sessionkeys::store::StoreError;
use sessionkeys::store::StoredStatus;
use sessionkeys::{SdkError, SessionTemplate};
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::lint::Severity;
use std::sync::Arc;

/// JSON-RPC 2.0: invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// A method this endpoint does not have.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Malformed params, or a permission this service cannot grant (with `data: {path, reason}`).
pub const INVALID_PARAMS: i64 = -32602;
/// The chain, the bundler or the database failed (retry later).
pub const INTERNAL_ERROR: i64 = -32603;

/// At most this many permissions per `wallet_requestExecutionPermissions` call: each costs
/// several chain reads and a stored session, under one rate-limit token.
pub const MAX_REQUESTS_PER_CALL: usize = 16;

/// A JSON-RPC error: its code, a sentence, and details.
#[derive(Debug)]
pub struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
    /// "Retry later" (the database down, the session busy): not kept under an
    /// `Idempotency-Key`, as the REST endpoints' 503 and 409 `session_busy` are not.
    transient: bool,
}

impl From<NotGrantable> for RpcError {
    fn from(refusal: NotGrantable) -> Self {
        Self {
            code: INVALID_PARAMS,
            message: refusal.to_string(),
            data: Some(json!({ "path": refusal.path, "reason": refusal.reason })),
            transient: false,
        }
    }
}

impl From<ServiceError> for RpcError {
    fn from(error: ServiceError) -> Self {
        let body = error.body();
        let status = error.status_and_code().0;
        let transient = status == axum::http::StatusCode::SERVICE_UNAVAILABLE
            || matches!(error, ServiceError::Busy(_));
        Self {
            code: if status.is_server_error() {
                INTERNAL_ERROR
            } else {
                INVALID_PARAMS
            },
            message: body.error.message.clone(),
            data: Some(serde_json::to_value(&body.error).unwrap_or(Value::Null)),
            transient,
        }
    }
}

impl From<SdkError> for RpcError {
    fn from(error: SdkError) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<StoreError> for RpcError {
    fn from(error: StoreError) -> Self {
        ServiceError::from(error).into()
    }
}

fn invalid_params(path: &str, reason: impl Into<String>) -> RpcError {
    NotGrantable {
        path: path.into(),
        reason: reason.into(),
    }
    .into()
}

#[derive(Deserialize)]
struct RpcRequest {
    jsonrpc: String,
    id: Value,
    method: String,
    #[serde(default)]
    params: Value,
}

/// ERC-7715's four methods over JSON-RPC 2.0. Every answer is HTTP 200 with a JSON-RPC result
/// or error; a missing or unknown API key is the 401 of every app endpoint.
#[utoipa::path(post, path = "/v1/erc7715", security(("app_key" = [])),
    request_body(content = Object, description = "A JSON-RPC 2.0 request: `wallet_requestExecutionPermissions`, `wallet_getSupportedExecutionPermissions`, `wallet_getGrantedExecutionPermissions` or `wallet_revokeExecutionPermission`"),
    responses(
        (status = 200, description = "A JSON-RPC 2.0 response (result or error)", body = Object),
        (status = 401, description = "No or an unknown API key", body = crate::error::ErrorResponse),
    ))]
pub async fn erc7715(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let request: RpcRequest = match serde_json::from_slice::<Value>(&body) {
        Err(error) => {
            return answer(
                Value::Null,
                Err(RpcError {
                    code: PARSE_ERROR,
                    message: format!("the body is not JSON: {error}"),
                    data: None,
                    transient: false,
                }),
            );
        }
        Ok(value) => {
            let id = value.get("id").cloned().unwrap_or(Value::Null);
            match serde_json::from_value(value) {
                Ok(request) => request,
                Err(error) => {
                    return answer(
                        id,
                        Err(RpcError {
                            code: INVALID_REQUEST,
                            message: format!(
                                "not a JSON-RPC 2.0 request ({{\"jsonrpc\": \"2.0\", \"id\", \
                                 \"method\", \"params\"}}): {error}"
                            ),
                            data: None,
                            transient: false,
                        }),
                    );
                }
            }
        }
    };
    if request.jsonrpc != "2.0" {
        return answer(
            request.id,
            Err(RpcError {
                code: INVALID_REQUEST,
                message: format!("jsonrpc must be \"2.0\", not {:?}", request.jsonrpc),
                data: None,
                transient: false,
            }),
        );
    }
    let result = match request.method.as_str() {
        "wallet_getSupportedExecutionPermissions" => supported(&service).await,
        "wallet_requestExecutionPermissions" => {
            request_permissions(&service, &app, request.params).await
        }
        "wallet_getGrantedExecutionPermissions" => granted(&service, &app).await,
        "wallet_revokeExecutionPermission" => revoke(&service, &app, request.params).await,
        other => Err(RpcError {
            code: METHOD_NOT_FOUND,
            message: format!(
                "{other:?} is not a method of this endpoint; it has \
                 wallet_requestExecutionPermissions, wallet_getSupportedExecutionPermissions, \
                 wallet_getGrantedExecutionPermissions, wallet_revokeExecutionPermission"
            ),
            data: None,
            transient: false,
        }),
    };
    answer(request.id, result)
}

fn answer(id: Value, result: Result<Value, RpcError>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (body, transient) = rpc_body(id, result);
    let mut response = Json(body).into_response();
    if transient {
        response.extensions_mut().insert(crate::error::Transient);
    }
    response
}

/// The JSON-RPC 2.0 response body, and whether it says "retry later".
fn rpc_body(id: Value, result: Result<Value, RpcError>) -> (Value, bool) {
    match result {
        Ok(result) => (
            json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            false,
        ),
        Err(error) => {
            let mut body = json!({ "code": error.code, "message": error.message });
            if let Some(data) = error.data {
                body["data"] = data;
            }
            (
                json!({ "jsonrpc": "2.0", "id": id, "error": body }),
                error.transient,
            )
        }
    }
}

async fn chain_id(service: &Service) -> Result<u64, RpcError> {
    Ok(service.backend.chain_id().await.map_err(SdkError::from)?)
}

/// `wallet_getSupportedExecutionPermissions`.
async fn supported(service: &Service) -> Result<Value, RpcError> {
    let chain = format!("0x{:x}", chain_id(service).await?);
    Ok(permissions::SUPPORTED_PERMISSIONS
        .iter()
        .map(|kind| {
            (
                kind.to_string(),
                json!({ "chainIds": [chain], "ruleTypes": permissions::SUPPORTED_RULES }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into())
}

/// `wallet_requestExecutionPermissions`: every request is checked before any is stored.
async fn request_permissions(
    service: &Arc<Service>,
    app: &App,
    params: Value,
) -> Result<Value, RpcError> {
    let requests: Vec<PermissionRequest> = serde_json::from_value(params)
        .map_err(|e| invalid_params("params", format!("an array of PermissionRequest: {e}")))?;
    if requests.is_empty() || requests.len() > MAX_REQUESTS_PER_CALL {
        return Err(invalid_params(
            "params",
            format!(
                "{} PermissionRequests: give 1 to {MAX_REQUESTS_PER_CALL} per call",
                requests.len()
            ),
        ));
    }
    let chain = chain_id(service).await?;
    let now = service
        .backend
        .latest_timestamp()
        .await
        .map_err(SdkError::from)?;
    let mut planned = Vec::with_capacity(requests.len());
    for (i, asked) in requests.iter().enumerate() {
        let at = |path: &str| format!("params[{i}].{path}");
        let session = permissions::session_json(asked, chain, now).map_err(|refused| {
            RpcError::from(NotGrantable {
                path: at(&refused.path),
                reason: refused.reason,
            })
        })?;
        let template = SessionTemplate::parse(&session.to_string()).map_err(SdkError::from)?;
        let lint = template.lint(now);
        let findings: Vec<FindingBody> = lint.iter().map(FindingBody::from).collect();
        // ERC-7715's ERC-20 permissions allow any recipient by definition: SK001 (a free
        // transfer destination) is the permission itself, bounded by its budget, and the owner
        // sees the finding before signing. Any other error refuses the request.
        if lint
            .iter()
            .any(|f| f.severity == Severity::Error && f.code != permissions::ANY_RECIPIENT_FINDING)
        {
            return Err(ServiceError::LintErrors(findings).into());
        }
        let code = service
            .backend
            .code(asked.to)
            .await
            .map_err(SdkError::from)?;
        if !code.is_empty() {
            return Err(invalid_params(
                &at("to"),
                format!(
                    "{} has code: the session key must be a key (an address without code) whose \
                     holder signs each op's digest; contracts cannot",
                    asked.to
                ),
            ));
        }
        let from = asked.from.ok_or_else(|| {
            invalid_params(
                &at("from"),
                "required: the account the permission is asked of (this service has no user to \
                 ask which)",
            )
        })?;
        let plan = account_plan(service, app, from).await?.ok_or_else(|| {
            invalid_params(
                &at("from"),
                format!(
                    "{from} is not an account this service knows: request a session for its \
                     owner first (POST /v1/sessions with its owner and salt), or deploy it"
                ),
            )
        })?;
        planned.push((asked, template, findings, plan));
    }
    let mut granted = Vec::with_capacity(planned.len());
    for (asked, template, findings, plan) in planned {
        let records = service.db.records(app);
        let requested = request::request_for_signer(
            service.backend.as_ref(),
            &records,
            &template,
            &plan,
            // Checked above: the only errors are the permission's own any-recipient finding.
            RequestOptions {
                allow_lint_errors: true,
            },
            asked.to,
        )
        .await?;
        let row = service
            .db
            .session_by_hash(app, requested.session.hash)?
            .ok_or_else(|| ServiceError::NotFound("the session just stored is gone".into()))?;
        service.db.save_permission_request(&row, asked)?;
        service.note(
            &row,
            Entry {
                kind: Some(Kind::Requested),
                actor: Some("app"),
                reason: Some(format!("ERC-7715 {}", asked.permission.kind)),
                ..Entry::default()
            },
            &[],
        );
        let explanation = template.explain(&Labels::well_known());
        let mut response = response(service, &row, asked).await?;
        response["sessionkeys"] = json!({
            "sessionId": row.id,
            "typedData": requested.typed_data,
            "digest": requested.digest,
            "explanation": {
                "heading": explanation.heading,
                "lines": explanation.lines.into_iter().map(|l| l.text).collect::<Vec<_>>(),
                "notes": explanation.notes,
            },
            "lint": findings,
            "approve": format!("POST /v1/sessions/{}/approve with the owner's signature of typedData", row.id),
            "redeem": redeem_note(&row),
        });
        granted.push(response);
    }
    Ok(Value::Array(granted))
}

fn redeem_note(row: &SessionRow) -> String {
    format!(
        "not through ERC-7710: POST /v1/sessions/{id}/prepare with the calls, sign its digest \
         with the key of `to` (raw ECDSA over the 32 bytes), POST /v1/sessions/{id}/submit",
        id = row.id
    )
}

/// The plan of account `from`: from a session this app holds on it, else from its `owner()`
/// if it is that owner's default account; `None` when neither. Chain failures are errors
/// (their text never reaches the app: it would quote the node's URL).
async fn account_plan(
    service: &Service,
    app: &App,
    from: Address,
) -> Result<Option<AccountPlan>, RpcError> {
    if let Some(row) = service.db.app_session_of_account(app, from)?
        && let Some(factory) = &row.record.factory
    {
        let mut plan = AccountPlan::new(row.record.owner, row.record.entry_point);
        plan.factory_owner = service.factory_owner;
        plan.salt = factory.salt;
        if plan.stored_factory().factory == factory.factory {
            return Ok(Some(plan));
        }
    }
    let code = service.backend.code(from).await.map_err(SdkError::from)?;
    if code.is_empty() {
        return Ok(None);
    }
    let owner = crate::owner_api::account_owner(service, from).await;
    let Some(owner) = owner else {
        return Ok(None);
    };
    let mut plan = AccountPlan::new(owner, service.version);
    plan.factory_owner = service.factory_owner;
    let account = plan.account(service.backend.as_ref()).await?;
    Ok((account.address == from).then_some(plan))
}

/// A PermissionResponse: the request as asked, `context` (the session hash), `dependencies`,
/// `delegationManager` (the validator: not an ERC-7710 manager) and the session's `status`.
async fn response(
    service: &Service,
    row: &SessionRow,
    asked: &PermissionRequest,
) -> Result<Value, RpcError> {
    let account = row.record.account()?;
    let deployed = account.is_deployed(service.backend.as_ref()).await?;
    let dependencies: Vec<Value> = match (&account.factory, deployed) {
        (Some((factory, data)), false) => vec![json!({ "factory": factory, "factoryData": data })],
        _ => Vec::new(),
    };
    let mut response = serde_json::to_value(asked).unwrap_or(Value::Null);
    response["from"] = json!(row.record.account);
    response["context"] = json!(row.record.hash);
    response["dependencies"] = Value::Array(dependencies);
    response["delegationManager"] = json!(row.record.validator);
    response["status"] = json!(status_word(row.record.status));
    Ok(response)
}

fn status_word(status: StoredStatus) -> &'static str {
    match status {
        StoredStatus::Requested => "pending",
        StoredStatus::Approved => "approved",
        StoredStatus::Granted => "enabled",
        StoredStatus::Revoked => "revoked",
    }
}

/// `wallet_getGrantedExecutionPermissions`: this app's permissions granted and usable.
async fn granted(service: &Service, app: &App) -> Result<Value, RpcError> {
    // The chain's time, as the validator judges expiry.
    let now = service
        .backend
        .latest_timestamp()
        .await
        .map_err(SdkError::from)?;
    let mut out = Vec::new();
    for (row, asked) in service.db.permission_requests(app)? {
        let live = matches!(
            row.record.status,
            StoredStatus::Approved | StoredStatus::Granted
        ) && row
            .record
            .spec()
            .is_ok_and(|spec| spec.validUntil.to::<u64>() > now);
        if live {
            let mut response = response(service, &row, &asked).await?;
            response["sessionkeys"] = json!({ "sessionId": row.id, "redeem": redeem_note(&row) });
            out.push(response);
        }
    }
    Ok(Value::Array(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeParams {
    permission_context: B256,
}

/// `wallet_revokeExecutionPermission`: the kill switch. Params `{permissionContext}` (or an
/// array holding it).
async fn revoke(service: &Arc<Service>, app: &App, params: Value) -> Result<Value, RpcError> {
    let params = match params {
        Value::Array(mut items) if items.len() == 1 => items.remove(0),
        other => other,
    };
    let RevokeParams {
        permission_context: hash,
    } = serde_json::from_value(params).map_err(|e| {
        invalid_params(
            "params",
            format!("{{\"permissionContext\": \"0x…\"}}, the context a request returned: {e}"),
        )
    })?;
    let row = service
        .db
        .session_by_hash(app, hash)?
        .filter(|row| row.record.key_is_external())
        .ok_or_else(|| {
            invalid_params(
                "params.permissionContext",
                format!("{hash} is not a permission this app was granted"),
            )
        })?;
    crate::api::revoke_row(service, row, "app").await?;
    Ok(json!({}))
}

impl Database {
    /// Keeps the ERC-7715 request a session was made from (its response repeats it).
    pub(crate) fn save_permission_request(
        &self,
        row: &SessionRow,
        asked: &PermissionRequest,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(asked).map_err(|e| StoreError::Corrupt {
            path: format!("erc7715/{}", row.id).into(),
            reason: e.to_string(),
        })?;
        self.sql().execute(
            "INSERT INTO erc7715_permissions (session_id, app_id, request, created_at) \
             VALUES (?1, ?2, ?3, ?4)",
            crate::sql::values![&row.id, &row.app_id, text, unix_now()],
        )?;
        Ok(())
    }

    /// `app`'s ERC-7715 sessions with the requests they were made from, oldest first.
    pub(crate) fn permission_requests(
        &self,
        app: &App,
    ) -> Result<Vec<(SessionRow, PermissionRequest)>, StoreError> {
        let rows = self.sql().query(
            "SELECT session_id, request FROM erc7715_permissions WHERE app_id = ?1 \
             ORDER BY created_at, session_id",
            crate::sql::values![&app.id],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, text) = (row.text(0)?, row.text(1)?);
            let asked = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: format!("erc7715/{id}").into(),
                reason: e.to_string(),
            })?;
            if let Some(session) = self.session_by_id(app, &id)? {
                out.push((session, asked));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_a_json_rpc_2_response_with_the_request_id() {
        let (ok, _) = rpc_body(json!(7), Ok(json!({})));
        assert_eq!(ok, json!({ "jsonrpc": "2.0", "id": 7, "result": {} }));
        let (refused, transient) =
            rpc_body(json!("a"), Err(invalid_params("params[0].to", "has code")));
        assert_eq!(refused["error"]["code"], INVALID_PARAMS);
        assert_eq!(refused["error"]["data"]["path"], "params[0].to");
        assert_eq!(refused["id"], "a");
        assert!(!transient);
        // The database down is "retry later": not kept under an Idempotency-Key.
        let down = RpcError::from(ServiceError::from(StoreError::Unavailable {
            reason: "connection closed".into(),
        }));
        assert_eq!(down.code, INTERNAL_ERROR);
        assert!(down.transient);
    }

    #[test]
    fn statuses_are_the_words_the_dapp_sees() {
        assert_eq!(status_word(StoredStatus::Requested), "pending");
        assert_eq!(status_word(StoredStatus::Granted), "enabled");
    }
}
