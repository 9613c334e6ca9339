//! `Idempotency-Key`: a retried POST returns the first result, and its work is never done twice.
//!
//! The first request with a key reserves the key (state `pending`) before its handler runs, so
//! a retry that arrives while the first is still running is told so (409, `Retry-After: 1`)
//! instead of sending the op again. When the handler answers, its status and body are stored
//! (`done`) and every retry gets them back, with `Idempotent-Replayed: true`. Keys are per app;
//! a key reused with another method, path or body is refused (422), never replayed for the
//! wrong request. Every answer is kept, errors included: a refused execute stays refused under
//! its key; send a new key to try again. Stored answers are sealed under the master key (one
//! may carry a webhook's secret, shown once). Every POST's handler runs as its own task, so a
//! client that hangs up does not cut an execute short.

use crate::db::{Database, db_error, unix_now};
use crate::{MAX_BODY_BYTES, Service, ServiceError};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::{OptionalExtension, params};
use sessionkeys::store::StoreError;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

/// What the database holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The key was free and is now reserved for this request.
    Reserved,
    /// A request with this key is still running.
    Pending,
    /// The key was used for another method, path or body.
    Mismatch,
    /// The first answer: status and body.
    Done(u16, Vec<u8>),
}

impl Database {
    /// Reserves `key` of `app_id` for a request with `fingerprint`, or says what it holds.
    pub fn reserve_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
        fingerprint: &[u8; 32],
    ) -> Result<Stored, StoreError> {
        let connection = self.lock();
        let inserted = connection
            .execute(
                "INSERT OR IGNORE INTO idempotency (app_id, key, fingerprint, state, created_at) \
                 VALUES (?1, ?2, ?3, 'pending', ?4)",
                params![app_id, key, fingerprint.as_slice(), unix_now()],
            )
            .map_err(db_error)?;
        if inserted == 1 {
            return Ok(Stored::Reserved);
        }
        let (stored_fingerprint, state, status, body): (
            Vec<u8>,
            String,
            Option<u16>,
            Option<Vec<u8>>,
        ) = connection
            .query_row(
                "SELECT fingerprint, state, status, body FROM idempotency \
                     WHERE app_id = ?1 AND key = ?2",
                params![app_id, key],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(db_error)?
            .ok_or_else(|| db_error("an idempotency key vanished while it was read"))?;
        Ok(if stored_fingerprint != fingerprint {
            Stored::Mismatch
        } else if state == "done" {
            // Answers are sealed: one may carry a secret shown once (a webhook's).
            let body = self
                .master()
                .open(&format!("{app_id}/{key}"), &body.unwrap_or_default())
                .ok_or_else(|| StoreError::Sealed {
                    key_ref: format!("idempotency {key}"),
                })?;
            Stored::Done(status.unwrap_or(500), body)
        } else {
            Stored::Pending
        })
    }

    /// Stores the answer to the request that reserved `key`.
    pub fn finish_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let sealed = self.master().seal(&format!("{app_id}/{key}"), body);
        self.lock()
            .execute(
                "UPDATE idempotency SET state = 'done', status = ?3, body = ?4 \
                 WHERE app_id = ?1 AND key = ?2",
                params![app_id, key, status, sealed],
            )
            .map_err(db_error)?;
        Ok(())
    }
}

fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Runs the handler as its own task: a client that hangs up mid-request (an execute waiting for
/// its receipt) does not cut the work short, so the op, its log entry and its stored answer
/// all happen or none starts.
async fn run_to_completion(next: Next, request: Request) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(_) => ServiceError::Conflict(
            "the request stopped before it answered: look the session's activity up before \
             retrying"
                .into(),
        )
        .into_response(),
    }
}

/// The middleware on the app's POST endpoints.
pub async fn idempotency(
    State(service): State<Arc<Service>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return run_to_completion(next, request).await;
    };
    let Some(key) = key
        .to_str()
        .ok()
        .filter(|k| valid_key(k))
        .map(str::to_string)
    else {
        return ServiceError::BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID, say)".into(),
        )
        .into_response();
    };
    // Keys belong to an app; without one the handler answers 401 and nothing is stored.
    let app = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| service.db().authenticate(k.trim()));
    let app = match app {
        Some(Ok(Some(app))) => app,
        Some(Err(error)) => return ServiceError::from(error).into_response(),
        _ => return run_to_completion(next, request).await,
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return ServiceError::TooLarge.into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint: [u8; 32] = hasher.finalize().into();
    match service
        .db()
        .reserve_idempotency_key(&app.id, &key, &fingerprint)
    {
        Err(error) => ServiceError::from(error).into_response(),
        Ok(Stored::Mismatch) => ServiceError::IdempotencyMismatch(key).into_response(),
        Ok(Stored::Pending) => {
            let mut response = ServiceError::IdempotencyInProgress(key).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Ok(Stored::Done(status, body)) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            response
        }
        Ok(Stored::Reserved) => {
            let response =
                run_to_completion(next, Request::from_parts(parts, Body::from(bytes))).await;
            let (parts, body) = response.into_parts();
            let Ok(bytes) = to_bytes(body, usize::MAX).await else {
                return ServiceError::Conflict("the answer could not be read to store it".into())
                    .into_response();
            };
            if let Err(error) =
                service
                    .db()
                    .finish_idempotency_key(&app.id, &key, parts.status.as_u16(), &bytes)
            {
                return ServiceError::from(error).into_response();
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}
