//! Liveness, readiness, metrics and the request id.

mod common;

use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = common::spawn_app().await;
    let r = app.request(Method::GET, "/healthz", None, None, None).await;
    assert_eq!(r.status(), 200);

    let r = app.request(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(r.status(), 200);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["migration_version"], json!(payledger_store::latest_migration_version()));

    // One command and one refusal, then both are counted by route and status.
    let (s, _) = app.post("/v1/orders", json!({"amount": 100, "currency": "USD", "reference": "m"})).await;
    assert_eq!(s, 201);
    let (s, _) = app.post("/v1/orders", json!({"amount": -1, "currency": "USD", "reference": "m"})).await;
    assert_eq!(s, 400);
    let r = app.request(Method::GET, "/metrics", None, None, None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for needle in [
        "payledger_http_requests_total",
        "route=\"/v1/orders\"",
        "status=\"201\"",
        "status=\"400\"",
        "payledger_http_request_duration_seconds_bucket",
        "payledger_events_appended_total",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
}

#[tokio::test]
async fn readiness_fails_when_migrations_are_missing() {
    let app = common::spawn_app().await;
    let client = app.pool.get().await.unwrap();
    let latest = payledger_store::latest_migration_version() as i32;
    client.execute("DELETE FROM refinery_schema_history WHERE version = $1", &[&latest]).await.unwrap();
    let r = app.request(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "migrations_pending");
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_a_missing_one_is_made() {
    let app = common::spawn_app().await;
    let r = app.http.get(format!("{}/healthz", app.base_url)).header("x-request-id", "trace-42").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    let r = app
        .http
        .get(format!("{}/healthz", app.base_url))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
}
