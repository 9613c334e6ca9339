//! The owner's endpoints: sign in with a wallet (EIP-4361), see every session of one's accounts
//! across apps, revoke any of them. An app's API key opens none of these, and an owner's token
//! opens no app endpoint.

use crate::Service;
use crate::api::{
    AccountSessionList, JsonBody, PathParam, QueryParams, RevokedAllBody, RevokedBody, SessionBody,
    account_rows, parse_account, revoke_all_rows, revoke_row, session_body,
};
use crate::error::{ErrorResponse, ServiceError};
use alloy::primitives::{Address, B256, Bytes};
use alloy::sol_types::SolCall;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sessionkeys::SdkError;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The owner a bearer token signed in.
#[derive(Debug, Clone, Copy)]
pub struct AuthedOwner(pub Address);

/// The owner a bearer token signed in, and when the token expires (for streams that must end
/// with it).
#[derive(Debug, Clone, Copy)]
pub struct AuthedOwnerUntil(pub Address, pub i64);

impl FromRequestParts<Arc<Service>> for AuthedOwnerUntil {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ServiceError::OwnerUnauthorized)?;
        service
            .db
            .owner_for_token(token.trim(), crate::db::unix_now())?
            .map(|(owner, until)| AuthedOwnerUntil(owner, until))
            .ok_or(ServiceError::OwnerUnauthorized)
    }
}

impl FromRequestParts<Arc<Service>> for AuthedOwner {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let AuthedOwnerUntil(owner, _) =
            AuthedOwnerUntil::from_request_parts(parts, service).await?;
        Ok(Self(owner))
    }
}

/// `POST /v1/owner/challenge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The owner's address (the key its wallet holds).
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub address: Address,
    /// The chain the wallet is on (default: the service's chain).
    pub chain_id: Option<u64>,
}

/// An EIP-4361 message to sign.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeBody {
    /// The message, byte for byte what `personal_sign` must sign.
    pub message: String,
    /// Its single-use nonce.
    pub nonce: String,
    /// Until when it can be used (unix seconds).
    pub expires_at: i64,
}

/// `POST /v1/owner/sign-in`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The message as issued.
    pub message: String,
    /// The wallet's `personal_sign` signature of it (65 bytes, hex).
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{130}$")]
    pub signature: Bytes,
}

/// A signed-in owner.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedInBody {
    /// The bearer token for the owner endpoints (`sk_own_…`), shown once.
    pub token: String,
    /// Whose it is.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub owner: Address,
    /// Until when (unix seconds).
    pub expires_at: i64,
}

/// Paging of the owner's sessions.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OwnerListQuery {
    /// At most this many (1..=100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Skip this many (default 0).
    pub offset: Option<u32>,
}

/// The owner's sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerSessionList {
    /// The sessions, each with the app that requested it.
    pub sessions: Vec<SessionBody>,
}

/// Issue a sign-in message for an owner's wallet.
#[utoipa::path(post, path = "/v1/owner/challenge", request_body = ChallengeRequest,
    responses(
        (status = 200, description = "The EIP-4361 message to sign with personal_sign", body = ChallengeBody),
        (status = 400, description = "The body is malformed", body = ErrorResponse),
    ))]
pub async fn challenge(
    State(service): State<Arc<Service>>,
    JsonBody(body): JsonBody<ChallengeRequest>,
) -> Result<Json<ChallengeBody>, ServiceError> {
    let chain_id = match body.chain_id {
        Some(id) => id,
        None => service.backend.chain_id().await.map_err(SdkError::from)?,
    };
    let challenge = service.db.issue_challenge(
        &service.origin,
        body.address,
        chain_id,
        crate::db::unix_now(),
    )?;
    Ok(Json(ChallengeBody {
        message: challenge.message,
        nonce: challenge.nonce,
        expires_at: challenge.expires_at,
    }))
}

/// Sign in with the signed message: a token for the owner endpoints.
#[utoipa::path(post, path = "/v1/owner/sign-in", request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in", body = SignedInBody),
        (status = 401, description = "Not an issued, unused, unexpired message signed by its address", body = ErrorResponse),
    ))]
pub async fn sign_in(
    State(service): State<Arc<Service>>,
    JsonBody(body): JsonBody<SignInRequest>,
) -> Result<Json<SignedInBody>, ServiceError> {
    let (token, owner, expires_at) = service
        .db
        .sign_in(&body.message, &body.signature, crate::db::unix_now())?
        .map_err(ServiceError::from)?;
    Ok(Json(SignedInBody {
        token,
        owner,
        expires_at,
    }))
}

/// Every session of the signed-in owner's accounts, across apps.
#[utoipa::path(get, path = "/v1/owner/sessions", params(OwnerListQuery),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "A page of sessions, newest first", body = OwnerSessionList),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
    ))]
pub async fn owner_sessions(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    QueryParams(query): QueryParams<OwnerListQuery>,
) -> Result<Json<OwnerSessionList>, ServiceError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ServiceError::BadRequest(format!(
            "limit {limit} is out of range: give 1 to 100"
        )));
    }
    let rows = service
        .db
        .owner_sessions(owner, limit, query.offset.unwrap_or(0))?;
    Ok(Json(OwnerSessionList {
        sessions: rows.iter().map(session_body).collect(),
    }))
}

/// Revoke one of the owner's sessions, whichever app holds it.
#[utoipa::path(post, path = "/v1/owner/sessions/{hash}/revoke",
    params(("hash" = String, Path, pattern = r"^0x[0-9a-fA-F]{64}$", description = "The session hash (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "Revoked here; the typed data revokes it on-chain", body = RevokedBody),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
        (status = 404, description = "No session of this owner has that hash", body = ErrorResponse),
    ))]
pub async fn owner_revoke(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(hash): PathParam,
) -> Result<Json<RevokedBody>, ServiceError> {
    let row = owner_row(&service, owner, &hash)?;
    Ok(Json(revoke_row(&service, row, "owner").await?))
}

/// The owner's session whose hash is `hash` (the path's text), or a 400 or 404 that says why.
pub(crate) fn owner_row(
    service: &Service,
    owner: Address,
    hash: &str,
) -> Result<crate::db::SessionRow, ServiceError> {
    let hash: B256 = hash.parse().map_err(|_| {
        ServiceError::BadRequest(format!(
            "{hash:?} is not a session hash: 0x and 64 hex digits"
        ))
    })?;
    service
        .db
        .owner_session(owner, hash)?
        .ok_or_else(|| ServiceError::NotFound(format!("you have no session {hash}")))
}

/// A deployed account's `owner()`, or `None` when it answers nothing a `SessionAccount` would.
pub(crate) async fn account_owner(service: &Service, account: Address) -> Option<Address> {
    let out = service
        .backend
        .call(
            account,
            sessionkeys_contracts::abi::SessionAccount::ownerCall {}
                .abi_encode()
                .into(),
        )
        .await
        .ok()?;
    sessionkeys_contracts::abi::SessionAccount::ownerCall::abi_decode_returns(&out).ok()
}

/// The owner's sessions on `account`, or a 404 when the account is not the owner's: its
/// `owner()` on-chain, or, while it has no code, the owner the service made it for.
pub(crate) async fn owned_account(
    service: &Service,
    owner: Address,
    account: Address,
) -> Result<Vec<crate::db::SessionRow>, ServiceError> {
    let held = service.db.owner_account_sessions(owner, account)?;
    let code = service
        .backend
        .code(account)
        .await
        .map_err(SdkError::from)?;
    let owns = if code.is_empty() {
        !held.is_empty()
    } else {
        account_owner(service, account).await == Some(owner)
    };
    if !owns {
        return Err(ServiceError::NotFound(format!(
            "{account} is not an account of {owner}"
        )));
    }
    Ok(held)
}

/// One of the owner's accounts: every session the chain knows, from any app or anywhere else,
/// with status and remaining budgets.
#[utoipa::path(get, path = "/v1/owner/accounts/{account}/sessions",
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "Its sessions, oldest first", body = AccountSessionList),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
        (status = 404, description = "Not an account of this owner", body = ErrorResponse),
    ))]
pub async fn owner_account_sessions(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(account): PathParam,
) -> Result<Json<AccountSessionList>, ServiceError> {
    let account = parse_account(&account)?;
    let held = owned_account(&service, owner, account).await?;
    Ok(Json(AccountSessionList {
        sessions: account_rows(&service, account, &held).await?,
    }))
}

/// Stop every app of this service signing for the account, and get the typed data that
/// revokes all of its sessions on-chain.
#[utoipa::path(post, path = "/v1/owner/accounts/{account}/revoke-all",
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "Revoked here; the typed data revokes all on-chain", body = RevokedAllBody),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
        (status = 404, description = "Not an account of this owner", body = ErrorResponse),
    ))]
pub async fn owner_revoke_all(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(account): PathParam,
) -> Result<Json<RevokedAllBody>, ServiceError> {
    let account = parse_account(&account)?;
    let held = owned_account(&service, owner, account).await?;
    Ok(Json(
        revoke_all_rows(&service, account, held, "owner").await?,
    ))
}
