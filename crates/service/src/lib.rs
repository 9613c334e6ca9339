#![doc = include_str!("../README.md")]

pub mod activity;
mod activity_queue;
pub mod alerts;
pub mod api;
pub mod app_key;
mod chain_views;
pub mod db;
pub mod erc7715;
pub mod error;
pub mod events;
mod group_commit;
pub mod idempotency;
pub mod journal;
mod lease;
pub mod master_key;
pub mod ops;
pub mod owner_actions;
pub mod owner_api;
pub mod owner_auth;
pub mod page;
pub mod permissions;
pub mod scope;
mod session_cache;
mod sql;
mod unpoisoned;
pub mod webhooks;

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::routing::{get, post};
use sessionkeys::backend::Backend;
use sessionkeys::{EntryPointVersion, deployment};
use std::sync::Arc;
use utoipa::OpenApi;

pub use db::Database;
pub use error::ServiceError;
pub use master_key::MasterKey;
pub use owner_auth::SignInOrigin;
pub use sql::Dialect;

/// Request bodies larger than this are refused (413): a session JSON of 256 policies is ~100 KB.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Requests a second each app may make unless `--rate-limit` says otherwise.
pub const DEFAULT_RATE_PER_SECOND: u32 = 1000;

/// Runtime worker threads per core for [`runtime`].
const WORKERS_PER_CORE: usize = 4;

/// The runtime to serve on: multi-threaded, with more worker threads than cores. The handlers
/// call the database and the chain synchronously, on the worker that runs them; a worker
/// waiting for an `fsync` or a lock would otherwise leave its core idle while other requests
/// are ready to run (docs/decisions.md, "The session service under load").
///
/// # Errors
/// When the operating system refuses the threads.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_mul(WORKERS_PER_CORE))
        .enable_all()
        .build()
}

/// The service: its database, the chain it acts on, and how it makes accounts.
pub struct Service {
    db: Arc<Database>,
    backend: Arc<dyn Backend>,
    version: EntryPointVersion,
    factory_owner: Address,
    relayer: Option<PrivateKeySigner>,
    origin: SignInOrigin,
    alerts: tokio::sync::broadcast::Sender<alerts::AlertBody>,
    webhook_backoff: std::time::Duration,
    metrics: ops::Metrics,
    rate_limit: Option<ops::RateLimit>,
    cors_origins: Vec<String>,
    log: Arc<dyn Fn(&str) + Send + Sync>,
    private_webhooks: bool,
    webhook_client: reqwest::Client,
    leases: lease::Leases,
    lease_term: i64,
    stale_after: i64,
    chain_views: chain_views::ChainViews,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("version", &self.version)
            .field("factory_owner", &self.factory_owner)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service over `db` acting on `backend`: new accounts on EntryPoint v0.7 from the
    /// factories every chain shares, and no relayer.
    pub fn new(db: Database, backend: Arc<dyn Backend>) -> Self {
        Self {
            db: Arc::new(db),
            backend,
            version: EntryPointVersion::V07,
            factory_owner: deployment::DEFAULT_FACTORY_OWNER,
            relayer: None,
            origin: SignInOrigin {
                domain: "127.0.0.1:8787".into(),
                uri: "http://127.0.0.1:8787".into(),
            },
            alerts: tokio::sync::broadcast::channel(1024).0,
            webhook_backoff: std::time::Duration::from_secs(1),
            metrics: ops::Metrics::default(),
            rate_limit: Some(ops::RateLimit::new(
                DEFAULT_RATE_PER_SECOND,
                2 * DEFAULT_RATE_PER_SECOND,
            )),
            cors_origins: Vec::new(),
            log: Arc::new(|line| eprintln!("{line}")),
            private_webhooks: false,
            webhook_client: webhooks::client(false),
            leases: lease::Leases::new(),
            lease_term: lease::LEASE_TERM_SECONDS,
            stale_after: idempotency::STALE_AFTER_SECONDS,
            chain_views: chain_views::ChainViews::new(std::time::Duration::ZERO),
        }
    }

    /// Checks are answered from views of the chain kept until its head moves; the head is
    /// asked at most this often (default: at each check; a node behind a network may be asked
    /// less often, at the price of a view up to this old: docs/service.md, "Checks from the
    /// service's state").
    pub fn with_head_every(mut self, every: std::time::Duration) -> Self {
        self.chain_views = chain_views::ChainViews::new(every);
        self
    }

    /// Each app may make `per_second` requests a second, in bursts of up to twice that
    /// (429 with `Retry-After` beyond); 0 turns the limit off.
    pub fn with_rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit =
            (per_second > 0).then(|| ops::RateLimit::new(per_second, per_second.saturating_mul(2)));
        self
    }

    /// Browsers on these origins (the owner's page) may call the API.
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// Lets webhooks post to plain http and to private addresses (loopback, the LAN): for
    /// `--dev` and tests. Off, they go only to https URLs of public addresses, checked again
    /// when each delivery connects.
    pub fn with_private_webhooks(mut self, allow: bool) -> Self {
        self.private_webhooks = allow;
        self.webhook_client = webhooks::client(allow);
        self
    }

    /// Where the one JSON line per request goes (standard error by default).
    pub fn with_log(mut self, log: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.log = Arc::new(log);
        self
    }

    /// How long a session's lease lasts, and an op without a receipt may still land (default
    /// 120 s; docs/service.md, "Replicas" and "Faults"). Longer than an execute takes.
    pub fn with_lease_term(mut self, seconds: i64) -> Self {
        self.lease_term = seconds.max(1);
        self
    }

    /// After how long a request that reserved an `Idempotency-Key` and never answered counts
    /// as cut off (its replica died), so a retry may settle or take it over (default 300 s).
    pub fn with_stale_after(mut self, seconds: i64) -> Self {
        self.stale_after = seconds.max(1);
        self
    }

    /// Declares this process the database's only user (SQLite, whose file `serve` locks):
    /// every session lease and every `Idempotency-Key` still held belongs to a process that
    /// died, so they are given back now, and the next execute of each session (or the retry
    /// of each request) settles what those processes sent instead of waiting out the lease
    /// term and the stale time (docs/service.md, "Faults"). Returns the leases and keys given
    /// back. Never for a database replicas share: their live requests would be cut off.
    ///
    /// # Errors
    /// The database's.
    pub fn recover_as_sole_replica(&self) -> Result<(u64, u64), ServiceError> {
        let leases = self.db.release_every_lease()?;
        let keys = self.db.abandon_pending_idempotency_keys()?;
        Ok((leases, keys))
    }

    pub(crate) fn lease_term_seconds(&self) -> i64 {
        self.lease_term
    }

    pub(crate) fn stale_after_seconds(&self) -> i64 {
        self.stale_after
    }

    /// Settles every op the journal holds as sent (after a restart: the requests that sent them
    /// are gone) from the bundler's receipts; returns how many may still land.
    ///
    /// # Errors
    /// The node's, the bundler's or the database's failure.
    pub async fn reconcile(self: &Arc<Self>) -> Result<usize, ServiceError> {
        let ops = self.db.unsettled_ops(None)?;
        Ok(journal::reconcile(self, ops).await?.len())
    }

    /// The wait before a webhook's second attempt (doubling after each); 1 s by default.
    pub fn with_webhook_backoff(mut self, backoff: std::time::Duration) -> Self {
        self.webhook_backoff = backoff;
        self
    }

    /// Logs a warning: something that did not fail the request but an operator should see.
    pub(crate) fn warn(&self, message: &str) {
        (self.log)(
            &serde_json::json!({
                "ts": db::unix_now(),
                "level": "warn",
                "msg": message,
            })
            .to_string(),
        );
    }

    /// Records `entry` for `row` in the activity log, and raises the alerts it calls for:
    /// kept, streamed, and delivered to the app's webhooks. A failure to record is not the
    /// request's failure: what the request did stands.
    pub(crate) fn note(
        self: &Arc<Self>,
        row: &db::SessionRow,
        entry: activity::Entry,
        usage: &[sessionkeys_contracts::session::CounterUsage],
    ) {
        if let (Some(kind @ (activity::Kind::Check | activity::Kind::Execute)), Some(verdict)) =
            (entry.kind, entry.verdict)
        {
            // The violation's name only: a bounded set of label values.
            let reason = match verdict {
                activity::Verdict::Refused => entry
                    .reason
                    .as_deref()
                    .and_then(|r| r.split(':').next())
                    .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric()))
                    .unwrap_or("other"),
                _ => "",
            };
            let verdict_word = match verdict {
                activity::Verdict::Allowed => "allowed",
                activity::Verdict::Refused => "refused",
                activity::Verdict::Failed => "failed",
            };
            self.metrics.verdict(kind.word(), verdict_word, reason);
            // An allowed check raises no alert: its entry needs no commit of its own.
            if (kind, verdict) == (activity::Kind::Check, activity::Verdict::Allowed) {
                self.db.queue_activity(row, &entry);
                return;
            }
        }
        let Ok(recorded) = self.db.record_activity(row, &entry) else {
            return;
        };
        let Ok(raised) = self.db.evaluate_alerts(row, &recorded, usage) else {
            return;
        };
        for alert in raised {
            // No subscriber is not an error: the alert is kept and listed.
            let _ = self.alerts.send(alert.clone());
            webhooks::deliver(self.clone(), alert, self.webhook_backoff);
        }
    }

    /// New accounts use this EntryPoint version unless a request names one.
    pub fn with_entry_point(mut self, version: EntryPointVersion) -> Self {
        self.version = version;
        self
    }

    /// New accounts come from the factories of this stake owner.
    pub fn with_factory_owner(mut self, owner: Address) -> Self {
        self.factory_owner = owner;
        self
    }

    /// This key pays for relayed enables (`"enable": "relayed"`).
    ///
    /// # Security
    /// The relayer key only pays gas; it gains no power over any account.
    pub fn with_relayer(mut self, relayer: PrivateKeySigner) -> Self {
        self.relayer = Some(relayer);
        self
    }

    /// Where the service says it is in the sign-in messages it issues (EIP-4361 `domain` and
    /// `URI`): its public URL.
    pub fn with_origin(mut self, origin: SignInOrigin) -> Self {
        self.origin = origin;
        self
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Waits for `session`'s turn to send, on this replica and among replicas.
    async fn send_lease(&self, session: B256) -> Result<lease::Lease, ServiceError> {
        self.leases
            .acquire(&self.db, session, self.lease_term)
            .await
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        // The app's endpoints; its POSTs honour `Idempotency-Key`.
        let app = Router::new()
            .route(
                "/v1/sessions",
                post(api::create_session).get(api::list_sessions),
            )
            .route("/v1/sessions/{session}", get(api::get_session))
            .route("/v1/sessions/{session}/scope", get(scope::session_scope))
            .route("/v1/sessions/{session}/approve", post(api::approve_session))
            .route("/v1/sessions/{session}/check", post(api::check_calls))
            .route("/v1/sessions/{session}/execute", post(api::execute_calls))
            .route("/v1/sessions/{session}/prepare", post(api::prepare_calls))
            .route("/v1/sessions/{session}/submit", post(api::submit_op))
            .route("/v1/erc7715", post(erc7715::erc7715))
            .route("/v1/sessions/{session}/revoke", post(api::revoke_session))
            .route(
                "/v1/webhooks",
                post(events::create_webhook).get(events::list_webhooks),
            )
            .route(
                "/v1/webhooks/{id}",
                axum::routing::delete(events::delete_webhook),
            )
            .route(
                "/v1/accounts/{account}/sessions",
                get(api::account_sessions),
            )
            .route(
                "/v1/accounts/{account}/revoke-all",
                post(api::revoke_account),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                idempotency::idempotency,
            ));
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ops::readyz))
            .route(
                "/metrics",
                get(
                    |axum::extract::State(service): axum::extract::State<Arc<Service>>| async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4",
                            )],
                            service.metrics.render() + &service.db.render_metrics(),
                        )
                    },
                ),
            )
            .route("/openapi.json", get(|| async { axum::Json(openapi()) }))
            .merge(app)
            .route("/v1/owner/challenge", post(owner_api::challenge))
            .route("/v1/owner/sign-in", post(owner_api::sign_in))
            .route("/v1/owner/sessions", get(owner_api::owner_sessions))
            .route(
                "/v1/owner/sessions/{hash}/revoke",
                post(owner_api::owner_revoke),
            )
            .route(
                "/v1/owner/sessions/{hash}/approval",
                get(owner_actions::owner_approval),
            )
            .route(
                "/v1/owner/sessions/{hash}/approve",
                post(owner_actions::owner_approve),
            )
            .route(
                "/v1/owner/accounts/{account}/revocations",
                post(owner_actions::owner_relay_revocation),
            )
            .route(
                "/v1/owner/accounts/{account}/sessions",
                get(owner_api::owner_account_sessions),
            )
            .route(
                "/v1/owner/accounts/{account}/revoke-all",
                post(owner_api::owner_revoke_all),
            )
            .route("/v1/activity", get(events::app_activity))
            .route("/v1/alerts", get(events::app_alerts))
            .route("/v1/alerts/stream", get(events::app_alert_stream))
            .route(
                "/v1/webhooks/{id}/deliveries",
                get(events::webhook_deliveries),
            )
            .route("/v1/owner/activity", get(events::owner_activity))
            .route("/v1/owner/alerts", get(events::owner_alerts))
            .route("/v1/owner/alerts/stream", get(events::owner_alert_stream))
            .route(
                "/v1/owner/accounts/{account}/alert-rules",
                get(events::get_alert_rules).put(events::put_alert_rules),
            )
            .fallback(|| async {
                ServiceError::NotFound(
                    "no such endpoint: /openapi.json lists the ones there are".into(),
                )
            })
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                ops::observe,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                ops::cors,
            ))
            .with_state(self)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sessionkeys service",
        description = "Session keys for ERC-4337 / ERC-7579 smart accounts over HTTP: request a \
                       session for an owner's account, have the owner approve it in any wallet, \
                       then check and execute calls the chain enforces (docs/service.md)."
    ),
    paths(
        api::create_session,
        api::list_sessions,
        api::get_session,
        scope::session_scope,
        api::approve_session,
        api::check_calls,
        api::execute_calls,
        api::prepare_calls,
        api::submit_op,
        erc7715::erc7715,
        api::revoke_session,
        api::account_sessions,
        api::revoke_account,
        owner_api::challenge,
        owner_api::sign_in,
        owner_api::owner_sessions,
        owner_api::owner_revoke,
        owner_api::owner_account_sessions,
        owner_api::owner_revoke_all,
        owner_actions::owner_approval,
        owner_actions::owner_approve,
        owner_actions::owner_relay_revocation,
        events::app_activity,
        events::owner_activity,
        events::app_alerts,
        events::owner_alerts,
        events::app_alert_stream,
        events::owner_alert_stream,
        events::get_alert_rules,
        events::put_alert_rules,
        events::create_webhook,
        events::list_webhooks,
        events::delete_webhook,
        events::webhook_deliveries
    ),
    modifiers(&AppKeyScheme, &CommonResponses)
)]
struct ApiDoc;

/// The answers every operation can give besides its own: a malformed request (400), a missing
/// or wrong key (401, where one is needed), a body too large (413), a spent rate limit (429),
/// the database down (503).
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorResponse")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(description).into());
                };
                add(
                    "400",
                    "The request is malformed: the message says which part and why",
                );
                add("413", "The body is over 512 KiB");
                add(
                    "503",
                    "The database is down or restarting: retry after Retry-After seconds",
                );
                if secured {
                    add(
                        "401",
                        "No key or token, an unknown one, or one for the other kind of endpoint",
                    );
                    add("429", "The app's rate limit is spent for now (Retry-After)");
                }
            }
        }
    }
}

struct AppKeyScheme;

impl utoipa::Modify for AppKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "app_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An app's API key, `sk_app_…`, from `sessionkeys app create`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "owner_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An owner's sign-in token, `sk_own_…`, from POST /v1/owner/sign-in",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI 3.1 document of the API, generated from the handlers and their types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Serves `service` on `listener` until `shutdown` resolves; requests in flight finish first.
///
/// # Errors
/// What the listener reports.
pub async fn serve(
    service: Arc<Service>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, service.router())
        .with_graceful_shutdown(shutdown)
        .await
}
