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
use crate::error::Transient;
use crate::sql::values;
use crate::{MAX_BODY_BYTES, Service, ServiceError};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessionkeys::store::StoreError;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// After how long a reserved key whose request never answered counts as cut off by default:
/// longer than any request runs (a lease wait of 90 s, then pricing, sending and a 60 s wait
/// for the receipt).
pub const STALE_AFTER_SECONDS: i64 = 300;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

/// What the database holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The key was free and is now reserved for this request, at `since`.
    Reserved {
        /// When (Unix seconds): the reservation's fencing token.
        since: i64,
    },
    /// A request with this key reserved it at `since` (Unix seconds) and has not answered: it
    /// is still running, or its replica died.
    Pending {
        /// When it was reserved.
        since: i64,
    },
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
        let since = unix_now();
        let inserted = self.sql().execute_relaxed(
            "INSERT INTO idempotency (app_id, key, fingerprint, state, created_at) \
             VALUES (?1, ?2, ?3, 'pending', ?4) ON CONFLICT DO NOTHING",
            values![app_id, key, fingerprint.as_slice(), since],
        )?;
        if inserted == 1 {
            return Ok(Stored::Reserved { since });
        }
        let row = self
            .sql()
            .query_one(
                "SELECT fingerprint, state, status, body, created_at FROM idempotency \
                 WHERE app_id = ?1 AND key = ?2",
                values![app_id, key],
            )?
            .ok_or_else(|| db_error("an idempotency key vanished while it was read"))?;
        let (stored_fingerprint, state) = (row.blob(0)?, row.text(1)?);
        let status: Option<u16> = row.opt_int(2)?.map(|_| row.number(2)).transpose()?;
        let body = row.opt_blob(3)?;
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
            Stored::Pending { since: row.int(4)? }
        })
    }

    /// Takes a key over from a request cut off since `since` (its replica died): whether this
    /// request now holds it (one of several racing retries does).
    pub fn take_over_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
        since: i64,
    ) -> Result<Option<i64>, StoreError> {
        let now = unix_now().max(since.saturating_add(1));
        let taken = self.sql().execute_relaxed(
            "UPDATE idempotency SET created_at = ?4 \
             WHERE app_id = ?1 AND key = ?2 AND state = 'pending' AND created_at = ?3",
            values![app_id, key, since, now],
        )?;
        Ok((taken == 1).then_some(now))
    }

    /// Whether the request that reserved `key` at `since` still holds it (no retry took it
    /// over): checked before an op is sent.
    pub fn holds_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .sql()
            .query_one(
                "SELECT 1 FROM idempotency WHERE app_id = ?1 AND key = ?2 \
                 AND state = 'pending' AND created_at = ?3",
                values![app_id, key, since],
            )?
            .is_some())
    }

    /// Gives a key back (its request answered "retry later"): the next request with it runs.
    pub fn release_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
        since: i64,
    ) -> Result<(), StoreError> {
        self.sql().execute_relaxed(
            "DELETE FROM idempotency WHERE app_id = ?1 AND key = ?2 \
             AND state = 'pending' AND created_at = ?3",
            values![app_id, key, since],
        )?;
        Ok(())
    }

    /// Marks every key a request still holds as abandoned (the database's sole replica
    /// starting: the requests were cut off with the process that ran them), so its retry
    /// settles it or takes it over at once instead of after the stale time; how many.
    /// Abandoned means reserved at time 0: it fences out any holder as a takeover does.
    pub(crate) fn abandon_pending_idempotency_keys(&self) -> Result<u64, StoreError> {
        self.sql().execute_relaxed(
            "UPDATE idempotency SET created_at = 0 WHERE state = 'pending'",
            values![],
        )
    }

    /// Stores the answer to the request that reserved `key` at `since` (unless a retry took
    /// the key over meanwhile: its answer is the one kept).
    pub fn finish_idempotency_key(
        &self,
        app_id: &str,
        key: &str,
        since: i64,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let sealed = self.master().seal(&format!("{app_id}/{key}"), body);
        // Durable: for a request that sent no op (a session requested, a webhook made) the
        // journal cannot rebuild this answer, and its retry would run the request again.
        self.sql().execute(
            "UPDATE idempotency SET state = 'done', status = ?4, body = ?5 \
             WHERE app_id = ?1 AND key = ?2 AND state = 'pending' AND created_at = ?3",
            values![app_id, key, since, status, sealed],
        )?;
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
    let proven = request
        .extensions()
        .get::<crate::api::ProvenApp>()
        .map(|proven| Ok(Some(proven.0.clone())));
    let app = proven.or_else(|| {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|k| service.db().authenticate(k.trim()))
    });
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
        Ok(Stored::Pending { since })
            if unix_now().saturating_sub(since) > service.stale_after_seconds() =>
        {
            // The request that reserved the key was cut off (its replica died). If it sent an
            // op, the op's fate is its answer; if it sent none, or one that can no longer land,
            // this request runs in its place (an op of the same session takes the same nonce,
            // so at most one of the two lands).
            match cut_off(&service, &app.id, &key).await {
                // Not an answer to keep: the op's fate is still open.
                Ok(CutOff::MayStillLand) => in_progress(key),
                Ok(CutOff::Settled(response)) => {
                    let (parts, body) = response.into_parts();
                    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
                    if let Err(error) = service.db().finish_idempotency_key(
                        &app.id,
                        &key,
                        since,
                        parts.status.as_u16(),
                        &bytes,
                    ) {
                        return ServiceError::from(error).into_response();
                    }
                    let mut response = Response::from_parts(parts, Body::from(bytes));
                    response
                        .headers_mut()
                        .insert(REPLAYED, HeaderValue::from_static("true"));
                    response
                }
                Ok(CutOff::RunAgain) => {
                    match service.db().take_over_idempotency_key(&app.id, &key, since) {
                        Ok(Some(since)) => {
                            run_and_store(&service, &app.id, &key, since, next, parts, bytes).await
                        }
                        Ok(None) => in_progress(key),
                        Err(error) => ServiceError::from(error).into_response(),
                    }
                }
                Err(error) => error.into_response(),
            }
        }
        Ok(Stored::Pending { .. }) => in_progress(key),
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
        Ok(Stored::Reserved { since }) => {
            run_and_store(&service, &app.id, &key, since, next, parts, bytes).await
        }
    }
}

fn in_progress(key: String) -> Response {
    let mut response = ServiceError::IdempotencyInProgress(key).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// What the request holding an `Idempotency-Key` carries to its handler: the key and when it
/// was reserved, which the handler checks before it sends an op (a retry may have taken the
/// key over from a request presumed dead).
#[derive(Debug, Clone)]
pub struct Hold {
    /// The key.
    pub key: String,
    /// When it was reserved (the fencing token).
    pub since: i64,
}

/// Runs the request that holds `key` since `since`, and stores its answer — unless the answer
/// says "retry later" (a 503, a busy session): then the key is given back.
async fn run_and_store(
    service: &Service,
    app_id: &str,
    key: &str,
    since: i64,
    next: Next,
    parts: axum::http::request::Parts,
    bytes: axum::body::Bytes,
) -> Response {
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(Hold {
        key: key.to_string(),
        since,
    });
    let response = run_to_completion(next, request).await;
    if response.extensions().get::<Transient>().is_some() {
        if let Err(error) = service.db().release_idempotency_key(app_id, key, since) {
            return ServiceError::from(error).into_response();
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return ServiceError::Conflict("the answer could not be read to store it".into())
            .into_response();
    };
    if let Err(error) =
        service
            .db()
            .finish_idempotency_key(app_id, key, since, parts.status.as_u16(), &bytes)
    {
        return ServiceError::from(error).into_response();
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// What became of a request cut off (its replica died) while it held an `Idempotency-Key`.
enum CutOff {
    /// It sent an op that has settled (landed or reverted): the op's outcome is its answer,
    /// stored under the key.
    Settled(Response),
    /// It sent an op that may still land: retry later; nothing is stored, so a later retry
    /// looks again.
    MayStillLand,
    /// It sent none, or one that can no longer land: the request may run again.
    RunAgain,
}

/// What became of the request cut off while it held `key`.
async fn cut_off(service: &Arc<Service>, app_id: &str, key: &str) -> Result<CutOff, ServiceError> {
    let Some(op) = service.db().op_for_idempotency_key(app_id, key)? else {
        return Ok(CutOff::RunAgain);
    };
    if !crate::journal::reconcile(service, vec![op.clone()])
        .await?
        .is_empty()
    {
        return Ok(CutOff::MayStillLand);
    }
    let settled = service.db().journal_op(op.user_op_hash)?.unwrap_or(op);
    Ok(match crate::journal::settled_answer(&settled) {
        Some(Ok(body)) => CutOff::Settled(axum::Json(body).into_response()),
        Some(Err(error)) => CutOff::Settled(error.into_response()),
        None => CutOff::RunAgain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master_key::MasterKey;

    #[test]
    fn a_key_taken_over_fences_out_the_request_that_held_it() {
        let db = Database::in_memory(MasterKey::random()).unwrap();
        let (app, _) = db.create_app("shop").unwrap();
        let fingerprint = [7u8; 32];
        let Stored::Reserved { since } = db
            .reserve_idempotency_key(&app.id, "k", &fingerprint)
            .unwrap()
        else {
            panic!("a fresh key is reserved");
        };
        assert!(db.holds_idempotency_key(&app.id, "k", since).unwrap());
        assert_eq!(
            db.reserve_idempotency_key(&app.id, "k", &fingerprint)
                .unwrap(),
            Stored::Pending { since }
        );
        // One retry takes it over; a second one racing it with the same view does not.
        let taken = db
            .take_over_idempotency_key(&app.id, "k", since)
            .unwrap()
            .expect("taken over");
        assert!(taken > since);
        assert_eq!(
            db.take_over_idempotency_key(&app.id, "k", since).unwrap(),
            None
        );
        // The first request no longer holds it, and its late answer is not kept.
        assert!(!db.holds_idempotency_key(&app.id, "k", since).unwrap());
        db.finish_idempotency_key(&app.id, "k", since, 500, b"late")
            .unwrap();
        assert_eq!(
            db.reserve_idempotency_key(&app.id, "k", &fingerprint)
                .unwrap(),
            Stored::Pending { since: taken }
        );
        db.finish_idempotency_key(&app.id, "k", taken, 200, b"{}")
            .unwrap();
        assert_eq!(
            db.reserve_idempotency_key(&app.id, "k", &fingerprint)
                .unwrap(),
            Stored::Done(200, b"{}".to_vec())
        );
    }

    #[test]
    fn a_sole_replica_restarting_abandons_held_keys_and_keeps_answers() {
        let db = Database::in_memory(MasterKey::random()).unwrap();
        let (app, _) = db.create_app("shop").unwrap();
        let Stored::Reserved { since: held } = db
            .reserve_idempotency_key(&app.id, "held", &[1; 32])
            .unwrap()
        else {
            panic!("a fresh key is reserved");
        };
        let Stored::Reserved { since: answered } = db
            .reserve_idempotency_key(&app.id, "answered", &[2; 32])
            .unwrap()
        else {
            panic!("a fresh key is reserved");
        };
        db.finish_idempotency_key(&app.id, "answered", answered, 200, b"{}")
            .unwrap();
        assert_eq!(db.abandon_pending_idempotency_keys().unwrap(), 1);
        // The dead request is fenced out; its retry sees a key held since time 0 (stale at
        // once) and takes it over; the kept answer is untouched.
        assert!(!db.holds_idempotency_key(&app.id, "held", held).unwrap());
        assert_eq!(
            db.reserve_idempotency_key(&app.id, "held", &[1; 32])
                .unwrap(),
            Stored::Pending { since: 0 }
        );
        assert!(
            db.take_over_idempotency_key(&app.id, "held", 0)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            db.reserve_idempotency_key(&app.id, "answered", &[2; 32])
                .unwrap(),
            Stored::Done(200, b"{}".to_vec())
        );
    }

    #[test]
    fn a_key_given_back_is_free_for_the_next_request() {
        let db = Database::in_memory(MasterKey::random()).unwrap();
        let (app, _) = db.create_app("shop").unwrap();
        let Stored::Reserved { since } =
            db.reserve_idempotency_key(&app.id, "k", &[1; 32]).unwrap()
        else {
            panic!("a fresh key is reserved");
        };
        db.release_idempotency_key(&app.id, "k", since).unwrap();
        assert!(matches!(
            db.reserve_idempotency_key(&app.id, "k", &[2; 32]).unwrap(),
            Stored::Reserved { .. }
        ));
    }
}
