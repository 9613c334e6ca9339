//! Operations: Prometheus metrics by route, status and verdict; one JSON log line per request
//! that never carries a key; per-app rate limits; CORS for the owner's page; readiness.

#[path = "support/harness.rs"]
mod harness;

use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use serde_json::Value;
use sessionkeys::SessionRecords;
use sessionkeys_service::Database;
use std::sync::{Arc, Mutex};

fn database() -> Database {
    test_database()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_verdicts_by_reason() {
    let h = harness();
    let (_, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    let execute = format!("/v1/sessions/{id}/execute");
    h.call("POST", &execute, Some(&key), Some(calls(ALICE, USDC)))
        .await;
    h.call("POST", &execute, Some(&key), Some(calls(ALICE, 500 * USDC)))
        .await;
    h.call("POST", &execute, Some(&key), Some(calls(CAROL, 1)))
        .await;
    let (status, text) = h.call_raw("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "sessionkeys_http_requests_total{route=\"/v1/sessions/{session}/execute\",method=\"POST\",status=\"200\"} 1",
        "sessionkeys_http_requests_total{route=\"/v1/sessions/{session}/execute\",method=\"POST\",status=\"422\"} 2",
        "sessionkeys_http_requests_total{route=\"/v1/sessions\",method=\"POST\",status=\"201\"} 1",
        "sessionkeys_verdicts_total{kind=\"execute\",verdict=\"allowed\",reason=\"\"} 1",
        "sessionkeys_verdicts_total{kind=\"execute\",verdict=\"refused\",reason=\"LimitExceeded\"} 1",
        "sessionkeys_verdicts_total{kind=\"execute\",verdict=\"refused\",reason=\"ConstraintViolated\"} 1",
        "sessionkeys_http_request_duration_seconds_count{route=\"/v1/sessions/{session}/execute\"} 3",
        "sessionkeys_activity_entries_lost_total 0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[tokio::test]
async fn each_request_logs_one_json_line_that_carries_no_key() {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let h = harness_configured(database(), move |s| {
        s.with_log(move |line| sink.lock().unwrap().push(line.to_string()))
    });
    let (app, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    h.call(
        "POST",
        &format!("/v1/sessions/{id}/execute"),
        Some(&key),
        Some(calls(ALICE, USDC)),
    )
    .await;
    let row = h.service.db().session_by_id(&app, &id).unwrap().unwrap();
    let session_key = h.service.db().records(&app).open_key(&row.record).unwrap();
    let secrets = [
        key.rsplit('_').next().unwrap().to_string(),
        alloy::hex::encode(session_key.to_bytes()),
    ];
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "request, approve, execute: {lines:?}");
    for line in &lines {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["msg"], "request");
        assert_eq!(entry["app"], app.id.as_str());
        for secret in &secrets {
            assert!(
                !line.to_lowercase().contains(secret),
                "a key in the log: {line}"
            );
        }
    }
    let executed: Value = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(executed["route"], "/v1/sessions/{session}/execute");
    assert_eq!(executed["status"], StatusCode::OK.as_u16());
}

#[tokio::test]
async fn an_app_over_its_rate_limit_gets_429_with_retry_after_and_others_go_on() {
    let h = harness_configured(database(), |s| s.with_rate_limit(1));
    let (_, busy) = h.app("busy");
    let (_, calm) = h.app("calm");
    for _ in 0..2 {
        let (status, _) = h.call("GET", "/v1/sessions", Some(&busy), None).await;
        assert_eq!(status, StatusCode::OK, "the burst is twice the rate");
    }
    let (status, headers, body) = h
        .call_headers(
            "GET",
            "/v1/sessions",
            &[("authorization", &format!("Bearer {busy}"))],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(headers["retry-after"], "1");
    let (status, _) = h.call("GET", "/v1/sessions", Some(&calm), None).await;
    assert_eq!(status, StatusCode::OK, "another app has its own budget");
}

#[tokio::test]
async fn only_the_allowed_origins_get_cors_headers_and_preflights() {
    let page = "https://owner.example";
    let h = harness_configured(database(), move |s| s.with_cors_origins(vec![page.into()]));
    let (status, headers, _) = h
        .call_headers(
            "OPTIONS",
            "/v1/owner/sessions",
            &[
                ("origin", page),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["access-control-allow-origin"], page);
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let (_, headers, _) = h
        .call_headers("GET", "/healthz", &[("origin", page)], None)
        .await;
    assert_eq!(headers["access-control-allow-origin"], page);
    let (_, headers, _) = h
        .call_headers(
            "GET",
            "/healthz",
            &[("origin", "https://evil.example")],
            None,
        )
        .await;
    assert!(headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn readiness_reports_the_database_the_chain_and_the_bundler() {
    let h = harness();
    let (status, body) = h.call("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["chain"], "ok");
    assert_eq!(body["bundler"], "ok");
}

#[tokio::test]
async fn readiness_is_503_with_retry_after_when_the_chain_and_bundler_do_not_answer() {
    // Nothing listens on port 1 of loopback: every call to the "node" is refused at once.
    let backend = sessionkeys::RpcBackend::new("http://127.0.0.1:1", "http://127.0.0.1:1").unwrap();
    let service = Arc::new(sessionkeys_service::Service::new(
        database(),
        Arc::new(backend),
    ));
    let response = tower::ServiceExt::oneshot(
        service.router(),
        axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["chain"], "unavailable");
    assert_eq!(body["bundler"], "unavailable");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn a_failing_node_is_reported_without_its_url() {
    // Hosted node URLs carry API keys: a 502 must not quote them.
    let backend = sessionkeys::RpcBackend::new(
        "http://127.0.0.1:1/v2/secret-provider-key",
        "http://127.0.0.1:1/bundler-secret",
    )
    .unwrap();
    let service = Arc::new(sessionkeys_service::Service::new(
        database(),
        Arc::new(backend),
    ));
    let request = axum::http::Request::post("/v1/owner/challenge")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            r#"{"address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}"#,
        ))
        .unwrap();
    let response = tower::ServiceExt::oneshot(service.router(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("chain_unavailable"), "{text}");
    assert!(!text.contains("secret"), "the URL leaked: {text}");
}

#[tokio::test]
async fn a_forged_key_naming_an_app_spends_no_budget_of_that_app() {
    let h = harness_configured(database(), |s| s.with_rate_limit(1));
    let (app, key) = h.app("victim");
    let forged = format!("sk_app_{}_{}", app.id, "0".repeat(64));
    for _ in 0..5 {
        h.call("GET", "/v1/sessions", Some(&forged), None).await;
    }
    let (status, body) = h.call("GET", "/v1/sessions", Some(&key), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the app's own budget is untouched: {body}"
    );
}

#[tokio::test]
async fn a_malformed_query_string_is_a_400_in_the_error_shape() {
    let h = harness();
    let (_, key) = h.app("shop");
    for path in ["/v1/sessions?limit=abc", "/v1/activity?unknown=1"] {
        let (status, body) = h.call("GET", path, Some(&key), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
    }
}

#[tokio::test]
async fn webhooks_go_only_to_public_https_urls_and_at_most_ten() {
    let h = harness();
    let (_, key) = h.app("shop");
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
    ] {
        let (status, body) = h
            .call(
                "POST",
                "/v1/webhooks",
                Some(&key),
                Some(serde_json::json!({ "url": url })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    }
    for n in 0..10 {
        let url = format!("https://hooks{n}.example.com/x");
        let (status, body) = h
            .call(
                "POST",
                "/v1/webhooks",
                Some(&key),
                Some(serde_json::json!({ "url": url })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = h
        .call(
            "POST",
            "/v1/webhooks",
            Some(&key),
            Some(serde_json::json!({ "url": "https://one-more.example.com/" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}
