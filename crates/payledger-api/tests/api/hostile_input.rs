//! Hostile input: NUL characters, repeated keys, inexact metadata numbers, odd bytes in the
//! path, over-long URIs and headers. Each is refused in the error shape, naming what is wrong,
//! and appends nothing; what the client's metadata was is what comes back.

use crate::support as common;

use std::io::{Read, Write};

use common::{start_projector, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn send(app: &TestApp, method: Method, path: &str, role: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = app.http.request(method, format!("{}{path}", app.base_url)).bearer_auth(app.key(role));
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body.to_owned());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn assert_refused(what: &str, got: (u16, Value), status: u16, code: &str, param: Option<&str>) {
    let (s, body) = got;
    assert_eq!(s, status, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert_eq!(body["error"]["param"].as_str(), param, "{what}: {body}");
    assert!(body["error"]["request_id"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn nul_in_any_text_that_would_reach_postgres_is_a_400_naming_it() {
    let app = common::spawn_app().await;
    let projector = start_projector(&app);
    let payment = app.captured_payment(100).await;
    let id = payment["id"].as_str().unwrap();
    let before = app.count_events().await;
    let reads: [(&str, String, &str); 8] = [
        ("auditor", format!("/v1/streams/payment-{id}%00/events"), "stream_id"),
        ("auditor", "/v1/events?stream_id=%00".into(), "stream_id"),
        ("auditor", "/v1/events?event_type=%00".into(), "event_type"),
        ("auditor", "/v1/events?event_type=a%00&format=csv".into(), "event_type"),
        ("auditor", "/v1/events?event_type=a%00&format=ndjson".into(), "event_type"),
        ("finance", "/v1/ledger/entries?account=%00".into(), "account"),
        ("finance", "/v1/ledger/accounts?currency=%00".into(), "currency"),
        ("finance", "/v1/ledger/accounts?account=x%00y".into(), "account"),
    ];
    for (role, path, param) in reads {
        let got = send(&app, Method::GET, &path, role, None).await;
        assert_refused(&path, got, 400, "invalid_characters", Some(param));
    }
    let order = app.create_order(100, "USD").await;
    let order_id = order["id"].as_str().unwrap();
    let bodies: [(&str, &str, &str); 6] = [
        ("/v1/orders", r#"{"amount":1,"currency":"USD","reference":"a\u0000b"}"#, "reference"),
        (
            "/v1/orders",
            r#"{"amount":1,"currency":"USD","reference":"r","metadata":{"note":"\u0000"}}"#,
            "metadata.note",
        ),
        (
            "/v1/orders",
            r#"{"amount":1,"currency":"USD","reference":"r","metadata":{"a":["x","\u0000"]}}"#,
            "metadata.a[1]",
        ),
        (
            "/v1/orders",
            r#"{"amount":1,"currency":"USD","reference":"r","metadata":{"k\u0000":1}}"#,
            r"metadata.k\u0000",
        ),
        ("/v1/orders", r#"{"amount":1,"currency\u0000":"USD","reference":"r"}"#, r"currency\u0000"),
        ("cancel", r#"{"reason":"\u0000"}"#, "reason"),
    ];
    let after_order = app.count_events().await;
    for (path, body, param) in bodies {
        let path = if path == "cancel" { format!("/v1/orders/{order_id}/cancel") } else { path.to_owned() };
        let got = send(&app, Method::POST, &path, "writer", Some(body)).await;
        assert_refused(body, got, 400, "invalid_characters", Some(param));
    }
    assert_eq!(app.count_events().await, after_order, "nothing was appended");
    assert_eq!(after_order, before + 1, "only the order made here");
    projector.abort();
}

#[tokio::test]
async fn a_key_given_twice_is_refused_wherever_it_is() {
    let app = common::spawn_app().await;
    let payment = app.create_payment(5000).await;
    let id = payment["id"].as_str().unwrap();
    let (s, _) = app.post(&format!("/v1/payments/{id}/authorize"), json!({})).await;
    assert_eq!(s, 200);
    let before = app.count_events().await;
    let capture = format!("/v1/payments/{id}/capture");
    for (path, body, param) in [
        ("/v1/orders", r#"{"amount":100,"amount":250000,"currency":"USD","reference":"r"}"#, "amount"),
        (
            "/v1/orders",
            r#"{"amount":100,"currency":"USD","reference":"r","metadata":{"a":{"b":1,"b":2}}}"#,
            "metadata.a.b",
        ),
        ("/v1/orders", r#"{"amount":100,"currency":"USD","reference":"r","refer\u0065nce":"s"}"#, "reference"),
        (capture.as_str(), r#"{"amount":1,"amount":4000}"#, "amount"),
    ] {
        let got = send(&app, Method::POST, path, "writer", Some(body)).await;
        assert_refused(body, got, 400, "duplicate_field", Some(param));
    }
    assert_eq!(app.count_events().await, before, "nothing was appended");
    let (_, payment) = app.get_as("writer", &format!("/v1/payments/{id}")).await;
    assert_ne!(payment["amount_captured"], 4000, "{payment}");
}

#[tokio::test]
async fn metadata_comes_back_exactly_as_sent_or_is_refused() {
    let app = common::spawn_app().await;
    let projector = start_projector(&app);
    for (number, param) in [
        ("123456789012345678901234567890", "metadata.n"),
        ("18446744073709551616", "metadata.n"),
        ("-9223372036854775809", "metadata.n"),
        ("1e2", "metadata.n"),
        ("1.50", "metadata.n"),
        ("-0", "metadata.n"),
        ("0.0", "metadata.n"),
        ("[1, {\"x\": 2.5}]", "metadata.n[1].x"),
    ] {
        let body = format!(r#"{{"amount":1,"currency":"USD","reference":"r","metadata":{{"n":{number}}}}}"#);
        let got = send(&app, Method::POST, "/v1/orders", "writer", Some(&body)).await;
        assert_refused(&body, got, 400, "metadata_number_inexact", Some(param));
    }
    assert_eq!(app.count_events().await, 0);

    let metadata_text = r#"{"max":18446744073709551615,"min":-9223372036854775808,"zero":0,"neg":-7,"as_text":"1e2","nested":{"list":[1,"two",null,true,{"deep":[]}]},"unicode":"é✓ \" \\ \n"}"#;
    let body = format!(r#"{{"amount":1,"currency":"USD","reference":"r","metadata":{metadata_text}}}"#);
    let r = app
        .http
        .post(format!("{}/v1/orders", app.base_url))
        .bearer_auth(app.key("writer"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(text.contains("18446744073709551615") && text.contains("-9223372036854775808"), "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let sent: Value = serde_json::from_str(metadata_text).unwrap();
    assert_eq!(created["metadata"], sent, "the command's answer");

    let (id, position) = (created["id"].as_str().unwrap(), created["position"].as_i64().unwrap());
    let r = app
        .request(Method::GET, &format!("/v1/orders/{id}?min_position={position}"), Some(app.key("writer")), None, None)
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("18446744073709551615") && text.contains("-9223372036854775808"), "{text}");
    let read: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(read["metadata"], sent, "the read-model");
    let (_, events) = app.get_as("auditor", "/v1/events").await;
    assert_eq!(events["data"][0]["payload"]["metadata"], sent, "the event");

    let client = app.pool.get().await.unwrap();
    let report = payledger_store::verify_chains(&**client, None).await.unwrap();
    assert!(report.is_intact() && report.events_checked == 1, "{report:?}");
    projector.abort();
}

#[tokio::test]
async fn errors_outside_handlers_are_in_the_error_shape() {
    let app = common::spawn_app().await;
    let cases: [(Method, String, &str, u16, &str); 5] = [
        (Method::GET, "/v1/streams/%FF/events".into(), "auditor", 400, "invalid_characters"),
        (Method::GET, "/v1/streams/%C3%28/events".into(), "auditor", 400, "invalid_characters"),
        (Method::DELETE, "/v1/orders".into(), "writer", 405, "method_not_allowed"),
        (Method::GET, "/v1/nothing/here".into(), "writer", 404, "route_not_found"),
        (Method::GET, format!("/v1/orders?status={}", "x".repeat(10_000)), "writer", 414, "uri_too_long"),
    ];
    for (method, path, role, status, code) in cases {
        let (s, body) = send(&app, method, &path, role, None).await;
        assert_eq!((s, body["error"]["code"].as_str()), (status, Some(code)), "{path}: {body}");
        assert!(body["error"]["request_id"].is_string(), "{body}");
    }
    let r = app
        .http
        .get(format!("{}/v1/orders", app.base_url))
        .bearer_auth(app.key("writer"))
        .header("x-padding", "p".repeat(40_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");
}

/// What hyper answers itself, before any of our code runs: a status line and no body. These
/// cannot be shaped (hyper 1 writes them in `proto::h1::role::Server::on_error`, with no hook),
/// so this test pins exactly which they are.
#[tokio::test]
async fn requests_hyper_refuses_itself_get_a_bare_status() {
    let app = common::spawn_app().await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let long_uri = format!("/v1/orders?status={}", "x".repeat(70_000));
    for (request, status) in [
        ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n".to_owned(), "400"),
        ("GET /health z HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), "400"),
        (format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n"), "414"),
    ] {
        let answer = tokio::task::spawn_blocking({
            let addr = addr.clone();
            move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
                stream.write_all(request.as_bytes()).unwrap();
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                answer
            }
        })
        .await
        .unwrap();
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
        assert!(answer.to_lowercase().contains("content-length: 0"), "{answer}");
    }
}

/// tokio-postgres displays a server error as "db error"; the log must carry PostgreSQL's words.
#[tokio::test]
async fn a_database_error_is_described_in_the_databases_own_words() {
    let app = common::spawn_app().await;
    let client = app.pool.get().await.unwrap();
    let err = client.query("SELECT 1 / 0", &[]).await.unwrap_err();
    assert_eq!(err.to_string(), "db error", "what the log said before");
    let store_error = payledger_store::StoreError::Db(err);
    let described = payledger_api::error::describe_store_error(&store_error);
    assert!(described.contains("22012") && described.contains("division by zero"), "{described}");
}
