//! The service's one error type, mapped once to an HTTP status and a JSON body:
//! `{"error": {"code": "...", "message": "...", ...}}`. Messages say what was wrong and how to
//! fix it; none carries a key.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sessionkeys::SdkError;
use sessionkeys::store::StoreError;
use sessionkeys_engine::Violation;
use utoipa::ToSchema;

/// A lint finding, as the API returns it (docs/lint.md).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FindingBody {
    /// Stable code, e.g. `SK001`.
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    /// Where, e.g. `callPolicies[0]`.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl From<&sessionkeys_engine::lint::Finding> for FindingBody {
    fn from(finding: &sessionkeys_engine::lint::Finding) -> Self {
        Self {
            code: finding.code.to_string(),
            severity: match finding.severity {
                sessionkeys_engine::lint::Severity::Error => "error",
                sessionkeys_engine::lint::Severity::Warning => "warning",
            }
            .to_string(),
            location: finding.location.clone(),
            message: finding.message.clone(),
            hint: finding.hint.clone(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `sign_in_refused`, `not_found`, `bad_request`,
    /// `too_large`, `idempotency_key_reused`, `idempotency_key_in_progress`, `refused`,
    /// `lint_errors`,
    /// `session_revoked`, `not_approved`, `conflict`, `chain_unavailable`,
    /// `database_unavailable`, `session_busy`, `internal`.
    pub code: String,
    /// A sentence for a person: what was wrong and how to fix it.
    pub message: String,
    /// For `refused`: the validator's named error (e.g. `LimitExceeded`), as the chain would
    /// revert with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
    /// For `refused` by the validator: its error as the chain reverts with it (ABI-encoded,
    /// hex), to decode for the numbers (a `LimitExceeded`'s limit and use).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^0x([0-9a-fA-F]{2})*$")]
    pub revert_data: Option<alloy::primitives::Bytes>,
    /// When the op was sent (mined with its calls reverted, or no receipt in time): its userOp
    /// hash. It may have been paid for: look it up before sending the calls again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub user_op_hash: Option<alloy::primitives::B256>,
    /// For `lint_errors`: the findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingBody>>,
}

/// The `Retry-After` of a 503 for a database that is down.
pub const DATABASE_RETRY_AFTER_SECONDS: u64 = 5;

/// The `Retry-After` of a 409 for a busy session.
pub const BUSY_RETRY_AFTER_SECONDS: u64 = 2;

/// Marks an answer that says "retry later" (a 503, a busy session): the idempotency layer
/// gives the key back instead of keeping the answer.
#[derive(Debug, Clone, Copy)]
pub struct Transient;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No or an unknown API key (401).
    #[error(
        "this endpoint needs an app's API key: send `Authorization: Bearer sk_app_…` (made by \
         `sessionkeys app create`)"
    )]
    Unauthorized,
    /// Nothing of this app matches (404): ids of other apps look exactly like unknown ones.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than [`crate::MAX_BODY_BYTES`] (413).
    #[error(
        "the request body is over {} bytes: send fewer calls or a smaller session",
        crate::MAX_BODY_BYTES
    )]
    TooLarge,
    /// The `Idempotency-Key` was used for another request (422).
    #[error(
        "Idempotency-Key {0:?} was used for another request (method, path or body): use a new key for a new request"
    )]
    IdempotencyMismatch(String),
    /// A request with this `Idempotency-Key` is still running (409).
    #[error("a request with Idempotency-Key {0:?} is still running: retry after it answers")]
    IdempotencyInProgress(String),
    /// An owner's sign-in was refused (401).
    #[error(transparent)]
    SignIn(#[from] crate::owner_auth::SignInError),
    /// No or an expired owner token (401).
    #[error(
        "this endpoint needs an owner's sign-in: send `Authorization: Bearer sk_own_…` from \
         POST /v1/owner/sign-in (tokens last 15 minutes)"
    )]
    OwnerUnauthorized,
    /// The app's rate limit is spent for now (429).
    #[error(
        "this app made too many requests: retry after {0} s (the limit is per app; see --rate-limit)"
    )]
    RateLimited(u64),
    /// Lint found errors in the session (422).
    #[error("lint reports {} error(s) in the session (docs/lint.md): fix them and request it again", .0.iter().filter(|f| f.severity == "error").count())]
    LintErrors(Vec<FindingBody>),
    /// The service stopped signing for this session (409).
    #[error("session {0} was revoked in this service: nothing is signed for it any more")]
    Revoked(String),
    /// The session's state does not allow the step (409).
    #[error("{0}")]
    Conflict(String),
    /// The session is busy with another op, or one that may still land (409 with
    /// `Retry-After`): not an answer to keep under an `Idempotency-Key`.
    #[error("{0}")]
    Busy(String),
    /// An SDK step failed.
    #[error(transparent)]
    Sdk(#[from] SdkError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        Self::Sdk(SdkError::Store(error))
    }
}

impl ServiceError {
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::Unauthorized | Self::OwnerUnauthorized => (S::UNAUTHORIZED, "unauthorized"),
            Self::SignIn(_) => (S::UNAUTHORIZED, "sign_in_refused"),
            Self::IdempotencyMismatch(_) => (S::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            Self::IdempotencyInProgress(_) => (S::CONFLICT, "idempotency_key_in_progress"),
            Self::NotFound(_) => (S::NOT_FOUND, "not_found"),
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad_request"),
            Self::TooLarge => (S::PAYLOAD_TOO_LARGE, "too_large"),
            Self::RateLimited(_) => (S::TOO_MANY_REQUESTS, "rate_limited"),
            Self::LintErrors(_) => (S::UNPROCESSABLE_ENTITY, "lint_errors"),
            Self::Revoked(_) => (S::CONFLICT, "session_revoked"),
            Self::Conflict(_) => (S::CONFLICT, "conflict"),
            Self::Busy(_) => (S::CONFLICT, "session_busy"),
            Self::Sdk(error) => match error {
                SdkError::Refused { .. }
                | SdkError::OutOfTimeRange { .. }
                | SdkError::ExpiresTooSoon { .. }
                | SdkError::BundlerRefused { .. }
                | SdkError::ExecutionReverted { .. } => (S::UNPROCESSABLE_ENTITY, "refused"),
                SdkError::InvalidSpec(_)
                | SdkError::Unencodable(_)
                | SdkError::Template(_)
                | SdkError::SessionExpired { .. }
                | SdkError::MalformedSignature(_)
                | SdkError::WrongSigner { .. }
                | SdkError::WrongSessionSigner { .. }
                | SdkError::ForeignOp { .. } => (S::UNPROCESSABLE_ENTITY, "bad_request"),
                SdkError::NonceUsed { .. } => (S::CONFLICT, "conflict"),
                SdkError::KeyHeldElsewhere { .. } => (S::CONFLICT, "external_signer"),
                SdkError::LintErrors { .. } => (S::UNPROCESSABLE_ENTITY, "lint_errors"),
                SdkError::LaneTaken { .. }
                | SdkError::ApprovalStale { .. }
                | SdkError::NotRequested { .. } => (S::CONFLICT, "conflict"),
                SdkError::Account(_) => (S::CONFLICT, "not_approved"),
                SdkError::Store(StoreError::UnknownSession { .. }) => (S::NOT_FOUND, "not_found"),
                SdkError::Store(StoreError::Revoked { .. }) => (S::CONFLICT, "session_revoked"),
                SdkError::Store(StoreError::Superseded { .. }) => (S::CONFLICT, "conflict"),
                SdkError::Store(StoreError::Unavailable { .. }) => {
                    (S::SERVICE_UNAVAILABLE, "database_unavailable")
                }
                SdkError::Backend(_) | SdkError::Timeout { .. } | SdkError::NotDeployed(_) => {
                    (S::BAD_GATEWAY, "chain_unavailable")
                }
                _ => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }

    /// The message a caller sees: the error's own, except for the node's and the bundler's
    /// failures, whose text names their URLs (hosted ones carry API keys).
    pub fn public_message(&self) -> String {
        match self {
            Self::Sdk(error) => public_sdk_message(error),
            other => other.to_string(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorResponse {
        let (_, code) = self.status_and_code();
        let violation = match self {
            Self::Sdk(SdkError::Refused { violation }) => Some(violation.clone()),
            Self::Sdk(SdkError::BundlerRefused {
                reason: Some(reason),
                ..
            }) => match reason.as_ref() {
                sessionkeys_chain::RevertReason::Validator(e) => {
                    Some(Violation::Validator(Box::new(e.clone())))
                }
                _ => None,
            },
            _ => None,
        };
        let user_op_hash = match self {
            Self::Sdk(
                SdkError::ExecutionReverted { user_op_hash, .. }
                | SdkError::Timeout { user_op_hash, .. },
            ) => Some(*user_op_hash),
            _ => None,
        };
        ErrorResponse {
            error: ErrorBody {
                code: code.to_string(),
                message: self.public_message(),
                revert_data: violation
                    .as_ref()
                    .filter(|v| v.as_validator().is_some())
                    .map(Violation::revert_data),
                violation: violation.map(|v| v.name().to_string()),
                user_op_hash,
                findings: match self {
                    Self::LintErrors(findings) => Some(findings.clone()),
                    _ => None,
                },
            },
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let (status, _) = self.status_and_code();
        let retry_after = match &self {
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(DATABASE_RETRY_AFTER_SECONDS),
            Self::Busy(_) => Some(BUSY_RETRY_AFTER_SECONDS),
            _ => None,
        };
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(seconds) = retry_after {
            // The database is down, or the session busy: a retry after a while may work, so
            // the answer is not kept under an `Idempotency-Key`.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
            response.extensions_mut().insert(Transient);
        }
        response
    }
}

/// An SDK error as the service tells it: a backend failure without the URL it names.
pub fn public_sdk_message(error: &SdkError) -> String {
    match error {
        SdkError::Backend(_) => "the node or the bundler failed: it did not answer, or answered \
             with an error (GET /readyz says which is down); try again later"
            .to_string(),
        other => other.to_string(),
    }
}
