//! Idempotency-Key: replay, mismatch, in flight.

use crate::support as common;

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn same_key_same_body_replays_the_identical_response_and_appends_nothing() {
    let app = common::spawn_app().await;
    let body = json!({"amount": 500, "currency": "USD", "reference": "ORD-9"});
    let first = app.request(Method::POST, "/v1/orders", Some(app.key("writer")), Some(&body), Some("key-1")).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_position = first.headers()["payledger-position"].to_str().unwrap().to_owned();
    let first_body: Value = first.json().await.unwrap();
    let events = app.count_events().await;

    // The same request with its keys in another order and other whitespace is the same request.
    let reordered = json!({"reference": "ORD-9", "currency": "USD", "amount": 500});
    let again = app.request(Method::POST, "/v1/orders", Some(app.key("writer")), Some(&reordered), Some("key-1")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["payledger-position"].to_str().unwrap(), first_position);
    let again_body: Value = again.json().await.unwrap();
    assert_eq!(again_body, first_body);
    assert_eq!(app.count_events().await, events, "a replay appends nothing");
}

#[tokio::test]
async fn same_key_other_body_is_422_and_other_route_too() {
    let app = common::spawn_app().await;
    let body = json!({"amount": 500, "currency": "USD", "reference": "ORD-9"});
    let first = app.request(Method::POST, "/v1/orders", Some(app.key("writer")), Some(&body), Some("key-2")).await;
    assert_eq!(first.status(), 201);
    let other = json!({"amount": 501, "currency": "USD", "reference": "ORD-9"});
    let r = app.request(Method::POST, "/v1/orders", Some(app.key("writer")), Some(&other), Some("key-2")).await;
    assert_eq!(r.status(), 422);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "idempotency_key_reused");

    // The same key and body on another route is another request too.
    let payment = app.create_payment(100).await;
    let other_route = format!("/v1/payments/{}/authorize", payment["id"].as_str().unwrap());
    let r = app.request(Method::POST, &other_route, Some(app.key("writer")), Some(&json!({})), Some("key-2")).await;
    assert_eq!(r.status(), 422);
    let first_route =
        app.request(Method::POST, &other_route, Some(app.key("writer")), Some(&json!({})), Some("key-3")).await;
    assert_eq!(first_route.status(), 200);
    let order = json!({"amount": 500, "currency": "USD", "reference": "ORD-9"});
    let r = app.request(Method::POST, "/v1/orders", Some(app.key("writer")), Some(&order), Some("key-3")).await;
    assert_eq!(r.status(), 422, "an order with key-3 is not the authorize request that used it");
}

#[tokio::test]
async fn a_refused_command_is_not_recorded_so_a_retry_runs_again() {
    let app = common::spawn_app().await;
    let payment = app.create_payment(100).await;
    let path = format!("/v1/payments/{}/capture", payment["id"].as_str().unwrap());
    let body = json!({"amount": 50});
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&body), Some("cap-1")).await;
    assert_eq!(r.status(), 422, "not authorized yet");
    let (s, _) = app.post(&format!("/v1/payments/{}/authorize", payment["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200);
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&body), Some("cap-1")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_append_once() {
    let app = Arc::new(common::spawn_app().await);
    let payment = app.captured_payment(1000).await;
    let path = format!("/v1/payments/{}/refunds", payment["id"].as_str().unwrap());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, path) = (app.clone(), path.clone());
            tokio::spawn(async move {
                let r = app
                    .request(
                        Method::POST,
                        &path,
                        Some(app.key("writer")),
                        Some(&json!({"amount": 10})),
                        Some("refund-once"),
                    )
                    .await;
                let status = r.status().as_u16();
                let replayed = r.headers().get("idempotent-replayed").is_some();
                let body: Value = r.json().await.unwrap();
                (status, replayed, body)
            })
        })
        .collect();
    let mut fresh = 0;
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, replayed, body) = t.await.unwrap();
        match status {
            201 => {
                if !replayed {
                    fresh += 1;
                }
                ids.insert(body["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(body["error"]["code"], "idempotency_key_in_use", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(fresh, 1, "exactly one request did the work");
    assert_eq!(ids.len(), 1, "every 201 names the same refund");
    let client = app.pool.get().await.unwrap();
    let refunds: i64 =
        client.query_one("SELECT count(*) FROM events WHERE event_type = 'RefundRequested'", &[]).await.unwrap().get(0);
    assert_eq!(refunds, 1);
}
