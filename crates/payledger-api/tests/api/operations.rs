//! Liveness, readiness, metrics and the request id.

use crate::support as common;

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

/// Every command route, each with its own `X-Request-Id`: every event it appended carries
/// that id as `request_id` and `correlation_id`.
#[tokio::test]
async fn every_command_records_the_request_id_in_its_events() {
    let app = common::spawn_app().await;
    let mut sent = Vec::new();
    let mut command = |path: String, body: Value| {
        let request_id = format!("req-test-{}", sent.len());
        sent.push(request_id.clone());
        let app = &app;
        async move {
            let r = app
                .http
                .post(format!("{}{path}", app.base_url))
                .bearer_auth(app.key("writer"))
                .header("x-request-id", &request_id)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            assert!(status == 200 || status == 201, "{path}: {status} {body}");
            body
        }
    };
    let manual = |order: &Value| json!({"order_id": order["id"], "amount": 1000, "currency": "USD", "capture_method": "manual", "provider": "stripe"});
    let order = command("/v1/orders".into(), json!({"amount": 3000, "currency": "USD", "reference": "r"})).await;
    let payment = command("/v1/payments".into(), manual(&order)).await;
    let p = payment["id"].as_str().unwrap().to_owned();
    command(format!("/v1/payments/{p}/authorize"), json!({})).await;
    command(format!("/v1/payments/{p}/capture"), json!({})).await;
    let refund = command(format!("/v1/payments/{p}/refunds"), json!({"amount": 100})).await;
    command(format!("/v1/refunds/{}/succeed", refund["id"].as_str().unwrap()), json!({})).await;
    let refund = command(format!("/v1/payments/{p}/refunds"), json!({"amount": 100})).await;
    command(format!("/v1/refunds/{}/fail", refund["id"].as_str().unwrap()), json!({})).await;
    let dispute = command(format!("/v1/payments/{p}/disputes"), json!({"amount": 50})).await;
    command(format!("/v1/disputes/{}/resolve", dispute["id"].as_str().unwrap()), json!({"outcome": "won"})).await;
    let voided = command("/v1/payments".into(), manual(&order)).await;
    command(format!("/v1/payments/{}/void", voided["id"].as_str().unwrap()), json!({})).await;
    let failed = command("/v1/payments".into(), manual(&order)).await;
    command(format!("/v1/payments/{}/fail", failed["id"].as_str().unwrap()), json!({"code": "c", "message": "m"}))
        .await;
    let other = command("/v1/orders".into(), json!({"amount": 10, "currency": "USD", "reference": "o"})).await;
    command(format!("/v1/orders/{}/cancel", other["id"].as_str().unwrap()), json!({})).await;

    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT metadata->>'request_id', metadata->>'correlation_id', count(*) FROM events
             GROUP BY 1, 2 ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut recorded: Vec<String> = Vec::new();
    for row in &rows {
        let (request_id, correlation_id): (Option<String>, Option<String>) = (row.get(0), row.get(1));
        assert_eq!(request_id, correlation_id);
        let request_id = request_id.unwrap_or_else(|| panic!("{} events without a request id", row.get::<_, i64>(2)));
        recorded.push(request_id);
    }
    sent.sort();
    assert_eq!(recorded, sent, "each request's id, on its events and no others");
}

/// A tenant may be named like another tenant's id: looking up that text finds the tenant
/// with the id (and never fails on two rows).
#[tokio::test]
async fn a_tenant_named_like_another_tenants_id_does_not_shadow_it() {
    let app = common::spawn_app().await;
    let client = app.pool.get().await.unwrap();
    let id = app.tenant_id.to_string();
    let namesake =
        payledger_service::tenants::create_tenant(&app.pool, &payledger_service::admin_log::Actor::system("test"), &id)
            .await
            .unwrap();
    let found = payledger_service::tenants::find_tenant(&**client, &id).await.unwrap().unwrap();
    assert_eq!(found.id, app.tenant_id);
    assert_ne!(found.id, namesake.id);
    let by_name = payledger_service::tenants::find_tenant(&**client, "acme").await.unwrap().unwrap();
    assert_eq!(by_name.id, app.tenant_id);
}
