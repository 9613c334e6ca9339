//! Operations: Prometheus metrics, one structured log line per request (never a key, a body or
//! a header's value), per-app rate limits, CORS for the owner's page, and readiness.

use crate::Service;
use crate::error::ServiceError;
use crate::unpoisoned::lock;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the latency histogram's buckets (seconds).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The service's metrics, in memory, rendered in the Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, String, u16), u64>>,
    latency: Mutex<HashMap<String, Histogram>>,
    verdicts: Mutex<HashMap<(String, String, String), u64>>,
    bundler_errors: Mutex<HashMap<String, u64>>,
    rate_limited: Mutex<u64>,
}

/// Escapes a label value (Prometheus text format).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        let mut latency = lock(&self.latency);
        let histogram = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Counts a check's or execute's verdict, by the violation's name (a bounded set).
    pub fn verdict(&self, kind: &str, verdict: &str, reason: &str) {
        *lock(&self.verdicts)
            .entry((kind.to_string(), verdict.to_string(), reason.to_string()))
            .or_default() += 1;
    }

    /// Counts a bundler error by its JSON-RPC code.
    pub fn bundler_error(&self, code: i64) {
        *lock(&self.bundler_errors)
            .entry(code.to_string())
            .or_default() += 1;
    }

    /// The text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out += "# HELP sessionkeys_http_requests_total HTTP requests answered, by route, method and status.\n";
        out += "# TYPE sessionkeys_http_requests_total counter\n";
        let mut requests: Vec<_> = lock(&self.requests)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        requests.sort();
        for ((route, method, status), count) in requests {
            let _ = writeln!(
                out,
                "sessionkeys_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                label(&route)
            );
        }
        out += "# HELP sessionkeys_http_request_duration_seconds Time to answer, by route.\n";
        out += "# TYPE sessionkeys_http_request_duration_seconds histogram\n";
        let latency = lock(&self.latency);
        let mut routes: Vec<_> = latency.keys().cloned().collect();
        routes.sort();
        for route in routes {
            let h = &latency[&route];
            let route = label(&route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "sessionkeys_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "sessionkeys_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sessionkeys_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sessionkeys_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        drop(latency);
        out += "# HELP sessionkeys_verdicts_total Checks and executes, by verdict and reason (the validator's error name).\n";
        out += "# TYPE sessionkeys_verdicts_total counter\n";
        let mut verdicts: Vec<_> = lock(&self.verdicts)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        verdicts.sort();
        for ((kind, verdict, reason), count) in verdicts {
            let _ = writeln!(
                out,
                "sessionkeys_verdicts_total{{kind=\"{kind}\",verdict=\"{verdict}\",reason=\"{}\"}} {count}",
                label(&reason)
            );
        }
        out += "# HELP sessionkeys_bundler_errors_total Bundler refusals and failures, by JSON-RPC code.\n";
        out += "# TYPE sessionkeys_bundler_errors_total counter\n";
        let mut errors: Vec<_> = lock(&self.bundler_errors)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        errors.sort();
        for (code, count) in errors {
            let _ = writeln!(
                out,
                "sessionkeys_bundler_errors_total{{code=\"{code}\"}} {count}"
            );
        }
        out += "# HELP sessionkeys_rate_limited_total Requests refused by an app's rate limit.\n";
        out += "# TYPE sessionkeys_rate_limited_total counter\n";
        let _ = writeln!(
            out,
            "sessionkeys_rate_limited_total {}",
            lock(&self.rate_limited)
        );
        out
    }
}

/// Buckets kept before full ones are forgotten.
const MAX_BUCKETS: usize = 10_000;

/// A token bucket per caller (an app, an owner, or anyone unproven): `per_second` tokens a
/// second, up to `burst`.
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_second` requests a second per app, with bursts of up to `burst`.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes a token for `app`; when there is none, the seconds until there is one.
    pub fn take(&self, app: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        if buckets.len() >= MAX_BUCKETS {
            // Full buckets hold nothing a caller is owed: forget them.
            let refill = self.burst / self.per_second;
            buckets.retain(|_, (_, last)| now.duration_since(*last).as_secs_f64() < refill);
        }
        let (tokens, last) = buckets.entry(app.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Per-request: the rate limit of the app the key names, then the handler, then the metrics
/// and the log line.
pub async fn observe(
    State(service): State<Arc<Service>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // A bounded label: made-up methods are `other`.
    let method = match *request.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::OPTIONS
        | Method::HEAD => request.method().to_string(),
        _ => "other".to_string(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    // Who is asking, for the rate limit and the log: an app its key proves, an owner its token
    // proves, else anyone. A key that names an app but does not prove it counts as anyone, so
    // nobody can spend another app's budget by sending its (public) id.
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let now = crate::db::unix_now();
    let (caller, app) = match bearer {
        Some(key) if key.starts_with("sk_app_") => match service.db.authenticate(key) {
            Ok(Some(app)) => {
                let caller = (format!("app:{}", app.id), Some(app.id.clone()));
                // Proven once per request: the handler's extractor takes it from here.
                request.extensions_mut().insert(crate::api::ProvenApp(app));
                caller
            }
            _ => ("anyone".to_string(), None),
        },
        Some(token) if token.starts_with("sk_own_") => match service.db.owner_for_token(token, now)
        {
            Ok(Some((owner, _))) => (format!("owner:{owner:x}"), None),
            _ => ("anyone".to_string(), None),
        },
        _ => ("anyone".to_string(), None),
    };
    let response = match &service.rate_limit {
        Some(limit) => match limit.take(&caller) {
            Ok(()) => next.run(request).await,
            Err(wait) => {
                *lock(&service.metrics.rate_limited) += 1;
                let mut response = ServiceError::RateLimited(wait).into_response();
                if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
        },
        None => next.run(request).await,
    };
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    service.metrics.request(&route, &method, status, seconds);
    // One JSON line: what was asked of which route and how it ended, never a key or a body.
    let line = serde_json::json!({
        "ts": crate::db::unix_now(),
        "level": if status >= 500 { "error" } else { "info" },
        "msg": "request",
        "method": method,
        "route": route,
        "status": status,
        "ms": (seconds * 1000.0 * 1000.0).round() / 1000.0,
        "app": app,
    });
    (service.log)(&line.to_string());
    response
}

/// CORS for the owner's page: the allowed origins get the headers and their preflights a
/// 204; any other origin gets none, so a browser refuses the answer to it.
pub async fn cors(State(service): State<Arc<Service>>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| service.cors_origins.iter().any(|allowed| allowed == o))
        .map(str::to_string);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, idempotency-key"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// `/readyz`: the database answers, and the node and the bundler each answer within 2 s.
pub async fn readyz(State(service): State<Arc<Service>>) -> Response {
    let db = service.db.ping().is_ok();
    let within = std::time::Duration::from_secs(2);
    let (chain, bundler) = tokio::join!(
        tokio::time::timeout(within, service.backend.chain_id()),
        tokio::time::timeout(within, service.backend.supported_entry_points()),
    );
    let (chain, bundler) = (
        chain.is_ok_and(|r| r.is_ok()),
        bundler.is_ok_and(|r| r.is_ok()),
    );
    let word = |up: bool| if up { "ok" } else { "unavailable" };
    let body = axum::Json(serde_json::json!({
        "database": word(db),
        "chain": word(chain),
        "bundler": word(bundler),
    }));
    if db && chain && bundler {
        (StatusCode::OK, body).into_response()
    } else {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let limit = RateLimit::new(1, 3);
        for _ in 0..3 {
            assert_eq!(limit.take("a"), Ok(()));
        }
        assert_eq!(limit.take("a"), Err(1));
        assert_eq!(limit.take("b"), Ok(()), "apps have their own buckets");
    }

    #[test]
    fn the_metrics_render_in_the_prometheus_text_format() {
        let metrics = Metrics::default();
        metrics.request("/v1/sessions", "POST", 201, 0.003);
        metrics.verdict("execute", "refused", "LimitExceeded");
        metrics.bundler_error(-32500);
        let text = metrics.render();
        assert!(text.contains(
            "sessionkeys_http_requests_total{route=\"/v1/sessions\",method=\"POST\",status=\"201\"} 1"
        ));
        assert!(text.contains(
            "sessionkeys_http_request_duration_seconds_bucket{route=\"/v1/sessions\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "sessionkeys_http_request_duration_seconds_bucket{route=\"/v1/sessions\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "sessionkeys_verdicts_total{kind=\"execute\",verdict=\"refused\",reason=\"LimitExceeded\"} 1"
        ));
        assert!(text.contains("sessionkeys_bundler_errors_total{code=\"-32500\"} 1"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
