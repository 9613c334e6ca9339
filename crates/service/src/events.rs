//! The endpoints of the activity log, the alerts (listed, and streamed as server-sent events),
//! the alert rules and the webhooks.

use crate::Service;
use crate::activity::{ActivityBody, Filter, Kind};
use crate::alerts::{AlertBody, AlertRules};
use crate::api::{AuthedApp, JsonBody, PathParam, QueryParams, parse_account};
use crate::error::{ErrorResponse, ServiceError};
use crate::owner_api::{AuthedOwner, AuthedOwnerUntil, owned_account};
use crate::webhooks::{DeliveryBody, WebhookBody, check_url};
use alloy::primitives::Address;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::{IntoParams, ToSchema};

/// Filters and paging of the activity log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// Only this session (its id, `ses_…`).
    pub session: Option<String>,
    /// Only this account.
    #[param(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub account: Option<Address>,
    /// Only this kind: `requested`, `approved`, `check`, `execute`, `attempt_after_revoke`,
    /// `revoked`, `enabled`, `self_revoke`, `owner_revoke`.
    pub kind: Option<String>,
    /// Only entries older than this id (the next page: the last id of this one).
    pub before: Option<i64>,
    /// At most this many (1..=500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A page of the activity log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    /// The entries.
    pub activity: Vec<ActivityBody>,
}

/// Paging of alerts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only this account's.
    #[param(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub account: Option<Address>,
    /// Only alerts older than this id.
    pub before: Option<i64>,
    /// At most this many (1..=500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A page of alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// The alerts.
    pub alerts: Vec<AlertBody>,
}

/// `POST /v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where the app's alerts are POSTed (http or https).
    #[schema(pattern = r"^https?://[^/@\s]+(/\S*)?$", max_length = 2048)]
    pub url: String,
}

/// A new webhook and its signing secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: WebhookBody,
    /// The HMAC-SHA256 secret deliveries are signed with (`whsec_…`).
    pub secret: String,
}

/// An app's webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// The webhooks.
    pub webhooks: Vec<WebhookBody>,
}

/// A webhook's delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Every attempt.
    pub deliveries: Vec<DeliveryBody>,
}

fn page_limit(limit: Option<u32>) -> Result<u32, ServiceError> {
    let limit = limit.unwrap_or(100);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ServiceError::BadRequest(format!(
            "limit {limit} is out of range: give 1 to 500"
        )))
    }
}

fn activity_filter(query: ActivityQuery) -> Result<Filter, ServiceError> {
    let kind = match query.kind.as_deref() {
        None => None,
        Some(word) => Some(
            Kind::ALL
                .into_iter()
                .find(|k| k.word() == word)
                .ok_or_else(|| {
                    ServiceError::BadRequest(format!(
                        "kind {word:?} is none of: {}",
                        Kind::ALL.map(Kind::word).join(", ")
                    ))
                })?,
        ),
    };
    Ok(Filter {
        session_id: query.session,
        account: query.account,
        kind,
        before: query.before,
        limit: page_limit(query.limit)?,
        ..Filter::default()
    })
}

/// This app's activity log.
#[utoipa::path(get, path = "/v1/activity", params(ActivityQuery), security(("app_key" = [])),
    responses(
        (status = 200, description = "A page, newest first", body = ActivityList),
        (status = 400, description = "A bad filter", body = ErrorResponse),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
    ))]
pub async fn app_activity(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    QueryParams(query): QueryParams<ActivityQuery>,
) -> Result<Json<ActivityList>, ServiceError> {
    let filter = Filter {
        app_id: Some(app.id),
        ..activity_filter(query)?
    };
    Ok(Json(ActivityList {
        activity: service.db.activity(&filter)?,
    }))
}

/// The activity of the owner's accounts, across apps.
#[utoipa::path(get, path = "/v1/owner/activity", params(ActivityQuery), security(("owner_token" = [])),
    responses(
        (status = 200, description = "A page, newest first", body = ActivityList),
        (status = 400, description = "A bad filter", body = ErrorResponse),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
    ))]
pub async fn owner_activity(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    QueryParams(query): QueryParams<ActivityQuery>,
) -> Result<Json<ActivityList>, ServiceError> {
    let filter = Filter {
        owner: Some(owner),
        ..activity_filter(query)?
    };
    Ok(Json(ActivityList {
        activity: service.db.activity(&filter)?,
    }))
}

/// This app's alerts.
#[utoipa::path(get, path = "/v1/alerts", params(AlertQuery), security(("app_key" = [])),
    responses(
        (status = 200, description = "A page, newest first", body = AlertList),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
    ))]
pub async fn app_alerts(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    QueryParams(query): QueryParams<AlertQuery>,
) -> Result<Json<AlertList>, ServiceError> {
    Ok(Json(AlertList {
        alerts: service.db.alerts(
            Some(&app.id),
            None,
            query.account,
            query.before,
            page_limit(query.limit)?,
        )?,
    }))
}

/// The alerts of the owner's accounts, across apps.
#[utoipa::path(get, path = "/v1/owner/alerts", params(AlertQuery), security(("owner_token" = [])),
    responses(
        (status = 200, description = "A page, newest first", body = AlertList),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
    ))]
pub async fn owner_alerts(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    QueryParams(query): QueryParams<AlertQuery>,
) -> Result<Json<AlertList>, ServiceError> {
    Ok(Json(AlertList {
        alerts: service.db.alerts(
            None,
            Some(owner),
            query.account,
            query.before,
            page_limit(query.limit)?,
        )?,
    }))
}

type EventStream = axum::response::Response;

fn alert_stream(
    service: &Service,
    until: Option<i64>,
    keep: impl Fn(&AlertBody) -> bool + Send + 'static,
) -> EventStream {
    let alerts = BroadcastStream::new(service.alerts.subscribe())
        // An owner's stream delivers nothing after the owner's sign-in expires.
        .take_while(move |_| until.is_none_or(|t| crate::db::unix_now() <= t))
        .filter_map(move |alert| {
            // A subscriber too slow to keep up misses alerts (they stay in GET …/alerts).
            let alert = alert.ok()?;
            keep(&alert).then(|| {
                Event::default()
                    .event("alert")
                    .id(alert.id.to_string())
                    .json_data(&alert)
            })
        });
    Sse::new(alerts)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// This app's alerts as they happen (server-sent events, `event: alert`).
#[utoipa::path(get, path = "/v1/alerts/stream", security(("app_key" = [])),
    responses(
        (status = 200, description = "A text/event-stream of alerts"),
        (status = 401, description = "No or an unknown API key", body = ErrorResponse),
    ))]
pub async fn app_alert_stream(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
) -> EventStream {
    alert_stream(&service, None, move |alert| alert.app_id == app.id)
}

/// The alerts of the owner's accounts as they happen (server-sent events, `event: alert`).
#[utoipa::path(get, path = "/v1/owner/alerts/stream", security(("owner_token" = [])),
    responses(
        (status = 200, description = "A text/event-stream of alerts"),
        (status = 401, description = "No or an expired owner token", body = ErrorResponse),
    ))]
pub async fn owner_alert_stream(
    State(service): State<Arc<Service>>,
    AuthedOwnerUntil(owner, until): AuthedOwnerUntil,
) -> EventStream {
    alert_stream(&service, Some(until), move |alert| alert.owner == owner)
}

/// An account's alert rules (the defaults until its owner sets others).
#[utoipa::path(get, path = "/v1/owner/accounts/{account}/alert-rules",
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "The rules", body = AlertRules),
        (status = 404, description = "Not an account of this owner", body = ErrorResponse),
    ))]
pub async fn get_alert_rules(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(account): PathParam,
) -> Result<Json<AlertRules>, ServiceError> {
    let account = parse_account(&account)?;
    owned_account(&service, owner, account).await?;
    Ok(Json(service.db.alert_rules(account)?))
}

/// Sets an account's alert rules; `null` turns a rule off.
#[utoipa::path(put, path = "/v1/owner/accounts/{account}/alert-rules", request_body = AlertRules,
    params(("account" = String, Path, pattern = r"^0x[0-9a-fA-F]{40}$", description = "The smart account (0x…)")),
    security(("owner_token" = [])),
    responses(
        (status = 200, description = "The rules now", body = AlertRules),
        (status = 400, description = "A rule that fires on nothing or everything", body = ErrorResponse),
        (status = 404, description = "Not an account of this owner", body = ErrorResponse),
    ))]
pub async fn put_alert_rules(
    State(service): State<Arc<Service>>,
    AuthedOwner(owner): AuthedOwner,
    PathParam(account): PathParam,
    JsonBody(rules): JsonBody<AlertRules>,
) -> Result<Json<AlertRules>, ServiceError> {
    let account = parse_account(&account)?;
    owned_account(&service, owner, account).await?;
    rules.validate().map_err(ServiceError::BadRequest)?;
    service.db.set_alert_rules(account, &rules)?;
    Ok(Json(rules))
}

/// Make a webhook for this app's alerts; its signing secret is shown once.
#[utoipa::path(post, path = "/v1/webhooks", request_body = CreateWebhook, security(("app_key" = [])),
    responses(
        (status = 201, description = "The webhook and its secret", body = CreatedWebhook),
        (status = 400, description = "Not an http(s) URL", body = ErrorResponse),
    ))]
pub async fn create_webhook(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    JsonBody(body): JsonBody<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ServiceError> {
    check_url(&body.url, service.private_webhooks).map_err(ServiceError::BadRequest)?;
    if service.db.webhooks(&app.id)?.len() >= crate::webhooks::MAX_PER_APP {
        return Err(ServiceError::Conflict(format!(
            "this app has {} webhooks already: delete one first",
            crate::webhooks::MAX_PER_APP
        )));
    }
    let (webhook, secret) = service.db.create_webhook(&app.id, &body.url)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook { webhook, secret }),
    ))
}

/// This app's webhooks (never their secrets).
#[utoipa::path(get, path = "/v1/webhooks", security(("app_key" = [])),
    responses((status = 200, description = "The webhooks", body = WebhookList)))]
pub async fn list_webhooks(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
) -> Result<Json<WebhookList>, ServiceError> {
    Ok(Json(WebhookList {
        webhooks: service.db.webhooks(&app.id)?,
    }))
}

/// Delete one of this app's webhooks.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", params(("id" = String, Path, pattern = r"^wh_[0-9a-f]{16}$", description = "`wh_…`")),
    security(("app_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "This app has no such webhook", body = ErrorResponse),
    ))]
pub async fn delete_webhook(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(id): PathParam,
) -> Result<StatusCode, ServiceError> {
    if service.db.delete_webhook(&app.id, &id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ServiceError::NotFound(format!(
            "this app has no webhook {id:?}"
        )))
    }
}

/// A webhook's delivery log: every attempt, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", params(("id" = String, Path, pattern = r"^wh_[0-9a-f]{16}$", description = "`wh_…`")),
    security(("app_key" = [])),
    responses(
        (status = 200, description = "The attempts", body = DeliveryList),
        (status = 404, description = "This app has no such webhook", body = ErrorResponse),
    ))]
pub async fn webhook_deliveries(
    State(service): State<Arc<Service>>,
    AuthedApp(app): AuthedApp,
    PathParam(id): PathParam,
) -> Result<Json<DeliveryList>, ServiceError> {
    service
        .db
        .deliveries(&app.id, &id, 500)?
        .map(|deliveries| Json(DeliveryList { deliveries }))
        .ok_or_else(|| ServiceError::NotFound(format!("this app has no webhook {id:?}")))
}
