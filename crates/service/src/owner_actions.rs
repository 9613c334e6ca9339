//! What the owner's page does with a wallet, through the owner's token: read the approval a
//! requested session waits for, approve it with the wallet's signature, and have the service
//! relay the owner's signed revocation. The page builds every message it asks the wallet to
//! sign from values it checked itself (docs/page.md); these endpoints check the signatures
//! again against the owner before anything is stored or sent.

use crate::Service;
use crate::activity::{Entry, Kind};
use crate::api::{
    ApproveSession, ApprovedBody, JsonBody, PathParam, SessionBody, approve_row, parse_account,
    session_body,
};
use crate::error::{ErrorResponse, ServiceError};
use crate::owner_api::{AuthedOwner, owned_account, owner_row};
use alloy::primitives::{Address, B256, Bytes};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sessionkeys::relay::{RevokeRequest, RevokeTarget, relay_revoke};
use sessionkeys::store::StoredStatus;
use sessionkeys_contracts::session::ChainEpoch;
use std::sync::Arc;
use utoipa::ToSchema;

/// What a requested session waits for: the owner's signature of this typed data.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalBody {
    /// The session.
    pub session: SessionBody,
    /// The EIP-712 typed data for the owner's wallet (`eth_signTypedData_v4`).
    #[schema(value_type = Object)]
    pub typed_data: serde_json::Value,
    /// The digest the service expects the signature of. The page computes its own from the
    /// typed data and signs nothing when the two differ.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub digest: B256,
}

/// A chain and the account's revocation epoch on it, as the owner signed them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainEpochBody {
    /// The chain id.
    pub chain_id: u64,
    /// The account's revocation epoch on it.
    pub epoch: u64,
}

/// `POST /v1/owner/accounts/{account}/revocations`: the owner's signed revocation, to relay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevocationRequest {
    /// The sessions revoked (`RevokeSessions`); left out, every session of the account
    /// (`RevokeAllSessions`).
    #[schema(value_type = Option<Vec<String>>)]
    pub session_hashes: Option<Vec<B256>>,
    /// The chains and epochs the owner signed.
    pub chains: Vec<ChainEpochBody>,
    /// The owner wallet's signature of the revocation's typed data (65 bytes, hex).
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{130}$")]
    pub signature: Bytes,
}

/// A relayed revocation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevocationBody {
    /// The transaction that revoked on-chain.
    #[schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{64}$")]
    pub transaction: B256,
    /// This service's sessions it covers, each `revoked` here (nothing more is signed).
    pub revoked: Vec<SessionBody>,
}

/// The typed data a requested session of the owner waits for.
#[utoipa::path(get, path = "/v1/owner/sessions/{hash}/approval",
    params(("hash" = String, Path, pattern = r"^0x[0-9a-fA-F]{64}$", description = "The session hash (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "The typed data to sign and its digest", body = ApprovalBody),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
        (status = 404, description = "No session of this owner has that hash", body = ErrorResponse),
        (status = 409, description = "The session waits for no approval (approved, granted or revoked)", body = ErrorResponse),
    ))]
pub async fn owner_approval(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(hash): PathParam,
) -> Result<Json<ApprovalBody>, ServiceError> {
    let row = owner_row(&service, owner, &hash)?;
    let (typed_data, digest) = sessionkeys::request::approval_of(&row.record)?;
    Ok(Json(ApprovalBody {
        session: session_body(&row),
        typed_data,
        digest,
    }))
}

/// Approve one of the owner's requested sessions with the wallet's signature of its typed
/// data, whichever app requested it.
#[utoipa::path(post, path = "/v1/owner/sessions/{hash}/approve", request_body = ApproveSession,
    params(("hash" = String, Path, pattern = r"^0x[0-9a-fA-F]{64}$", description = "The session hash (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "Approved (and enabled, when relayed)", body = ApprovedBody),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
        (status = 404, description = "No session of this owner has that hash", body = ErrorResponse),
        (status = 409, description = "Not waiting for an approval, or signed at a stale epoch", body = ErrorResponse),
        (status = 422, description = "Not the owner's signature of this typed data", body = ErrorResponse),
    ))]
pub async fn owner_approve(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(hash): PathParam,
    JsonBody(body): JsonBody<ApproveSession>,
) -> Result<Json<ApprovedBody>, ServiceError> {
    let row = owner_row(&service, owner, &hash)?;
    Ok(Json(approve_row(&service, row, body).await?))
}

/// Relay the owner's signed revocation of some of an account's sessions, or of all of them:
/// the signature is checked against the account's owner first, this service stops signing for
/// every session it covers, then the service's relayer sends it (checked with `eth_call`
/// before, so a refusal costs nothing and is named).
#[utoipa::path(post, path = "/v1/owner/accounts/{account}/revocations", request_body = RevocationRequest,
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "Revoked on-chain and here", body = RevocationBody),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
        (status = 404, description = "Not an account of this owner", body = ErrorResponse),
        (status = 409, description = "This service has no relayer key", body = ErrorResponse),
        (status = 422, description = "Not the owner's signature of this revocation, or the validator refused it (a stale epoch)", body = ErrorResponse),
    ))]
pub async fn owner_relay_revocation(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(account): PathParam,
    JsonBody(body): JsonBody<RevocationRequest>,
) -> Result<Json<RevocationBody>, ServiceError> {
    let account = parse_account(&account)?;
    let held = owned_account(&service, owner, account).await?;
    let relayer = service.relayer.as_ref().ok_or_else(|| {
        ServiceError::Conflict(
            "this service has no relayer key (--relayer-key-env): send the signed revocation \
             to the validator from any wallet instead"
                .into(),
        )
    })?;
    if body.chains.is_empty() {
        return Err(ServiceError::BadRequest(
            "chains: give the {chainId, epoch} pairs the owner signed".into(),
        ));
    }
    let target = match body.session_hashes {
        Some(hashes) if hashes.is_empty() => {
            return Err(ServiceError::BadRequest(
                "sessionHashes is empty: list the sessions to revoke, or leave it out to revoke \
                 every session of the account"
                    .into(),
            ));
        }
        Some(hashes) => RevokeTarget::Sessions(hashes),
        None => RevokeTarget::All,
    };
    // The validator of this service's accounts: one deployment, the same on every chain.
    let validator = sessionkeys::deployment::session_key_validator(Address::ZERO).address();
    let request = RevokeRequest {
        validator,
        account,
        target,
        chains: body
            .chains
            .iter()
            .map(|c| ChainEpoch {
                chainId: c.chain_id,
                epoch: c.epoch,
            })
            .collect(),
    };
    // The owner's consent, checked before anything changes.
    let approval = request.with_wallet_signature(owner, &body.signature)?;
    let covered = |hash: &B256| match &approval.target {
        RevokeTarget::Sessions(hashes) => hashes.contains(hash),
        RevokeTarget::All => true,
    };
    // The kill switch here first: whatever the chain says next, nothing more is signed.
    let mut revoked = Vec::new();
    for mut row in held.into_iter().filter(|r| covered(&r.record.hash)) {
        if row.record.status != StoredStatus::Revoked {
            service.db.mark_revoked(&row)?;
            service.note(
                &row,
                Entry {
                    kind: Some(Kind::Revoked),
                    actor: Some("owner"),
                    ..Entry::default()
                },
                &[],
            );
            row.record.status = StoredStatus::Revoked;
        }
        revoked.push(row);
    }
    let outcome = relay_revoke(service.backend.as_ref(), validator, &approval, relayer).await?;
    service.chain_views.forget();
    for row in &revoked {
        service.note(
            row,
            Entry {
                kind: Some(Kind::OwnerRevoke),
                actor: Some("owner"),
                transaction_hash: Some(outcome.hash),
                ..Entry::default()
            },
            &[],
        );
    }
    Ok(Json(RevocationBody {
        transaction: outcome.hash,
        revoked: revoked.iter().map(session_body).collect(),
    }))
}
