//! Bad input: each its status and code, and nothing appended.

use crate::support as common;

use reqwest::Method;
use serde_json::{json, Value};

async fn raw(app: &common::TestApp, body: &str, content_type: Option<&str>) -> (u16, Value) {
    let mut req =
        app.http.post(format!("{}/v1/orders", app.base_url)).bearer_auth(app.key("writer")).body(body.to_owned());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_bad_input_has_its_status_and_code_and_appends_nothing() {
    let app = common::spawn_app().await;
    let json_ct = Some("application/json");
    // (name, body, content type, status, code, param)
    type Case<'a> = (&'a str, String, Option<&'a str>, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("malformed json", "{\"amount\": 10,".into(), json_ct, 400, "malformed_json", None),
        ("not an object", "[1,2]".into(), json_ct, 400, "malformed_json", None),
        (
            "unknown field",
            json!({"amount": 10, "currency": "USD", "reference": "r", "colour": "red"}).to_string(),
            json_ct,
            400,
            "unknown_field",
            Some("colour"),
        ),
        (
            "missing field",
            json!({"amount": 10, "currency": "USD"}).to_string(),
            json_ct,
            400,
            "missing_field",
            Some("reference"),
        ),
        (
            "negative amount",
            json!({"amount": -5, "currency": "USD", "reference": "r"}).to_string(),
            json_ct,
            400,
            "amount_invalid",
            Some("amount"),
        ),
        (
            "zero amount",
            json!({"amount": 0, "currency": "USD", "reference": "r"}).to_string(),
            json_ct,
            400,
            "amount_invalid",
            Some("amount"),
        ),
        (
            "float amount",
            r#"{"amount": 10.5, "currency": "USD", "reference": "r"}"#.into(),
            json_ct,
            400,
            "amount_invalid",
            Some("amount"),
        ),
        (
            "string amount",
            json!({"amount": "10", "currency": "USD", "reference": "r"}).to_string(),
            json_ct,
            400,
            "amount_invalid",
            Some("amount"),
        ),
        (
            "huge amount",
            r#"{"amount": 99999999999999999999, "currency": "USD", "reference": "r"}"#.into(),
            json_ct,
            400,
            "amount_invalid",
            Some("amount"),
        ),
        (
            "unknown currency",
            json!({"amount": 10, "currency": "XXY", "reference": "r"}).to_string(),
            json_ct,
            400,
            "currency_invalid",
            Some("currency"),
        ),
        (
            "lowercase currency",
            json!({"amount": 10, "currency": "usd", "reference": "r"}).to_string(),
            json_ct,
            400,
            "currency_invalid",
            Some("currency"),
        ),
        (
            "wrong content type",
            json!({"amount": 10, "currency": "USD", "reference": "r"}).to_string(),
            Some("text/plain"),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "no content type",
            json!({"amount": 10, "currency": "USD", "reference": "r"}).to_string(),
            None,
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "oversize body",
            format!("{{\"amount\": 10, \"currency\": \"USD\", \"reference\": \"{}\"}}", "x".repeat(100_000)),
            json_ct,
            413,
            "body_too_large",
            None,
        ),
    ];
    for (name, body, ct, status, code, param) in cases {
        let (got, err) = raw(&app, &body, ct).await;
        assert_eq!(got, status, "{name}: {err}");
        assert_eq!(err["error"]["code"], code, "{name}: {err}");
        if let Some(param) = param {
            assert_eq!(err["error"]["param"], param, "{name}: {err}");
        }
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.contains("postgres") && !m.contains("panicked")));
    }
    assert_eq!(app.count_events().await, 0, "nothing was appended");
}

#[tokio::test]
async fn unknown_routes_and_ids_are_json_404s() {
    let app = common::spawn_app().await;
    let r = app.request(Method::GET, "/v1/nope", Some(app.key("writer")), None, None).await;
    assert_eq!(r.status(), 404);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "route_not_found");
    let (status, err) = app.post("/v1/payments/not-a-uuid/capture", json!({})).await;
    assert_eq!(status, 404, "{err}");
}

#[tokio::test]
async fn bad_query_strings_are_json_400s() {
    let app = common::spawn_app().await;
    for (query, code) in [
        ("limit=abc", "invalid_parameter"),
        ("colour=red", "unknown_parameter"),
        ("recorded_from=yesterday", "invalid_parameter"),
    ] {
        let (status, err) = app.get_as("auditor", &format!("/v1/events?{query}")).await;
        assert_eq!(status, 400, "{query}: {err}");
        assert_eq!(err["error"]["code"], code, "{query}: {err}");
    }
}

#[tokio::test]
async fn query_errors_name_the_parameter_in_plain_words() {
    let app = common::spawn_app().await;
    for (role, path, code, param, words) in [
        ("auditor", "/v1/events?limit=abc", "invalid_parameter", "limit", "limit must be a whole number"),
        ("writer", "/v1/orders?limit=abc", "invalid_parameter", "limit", "limit must be a whole number"),
        (
            "writer",
            "/v1/orders?created_gte=yesterday",
            "invalid_parameter",
            "created_gte",
            "created_gte must be an RFC 3339",
        ),
        ("writer", "/v1/payments?order_id=7", "invalid_parameter", "order_id", "order_id must be a formatted UUID"),
        ("writer", "/v1/orders?colour=red", "unknown_parameter", "colour", "colour is not a parameter"),
        ("auditor", "/v1/events?limit=1&limit=2", "duplicate_parameter", "limit", "limit is given more than once"),
        ("admin", "/v1/admin/webhook-endpoints?limit=x", "invalid_parameter", "limit", "limit must be a whole number"),
    ] {
        let (status, err) = app.get_as(role, path).await;
        assert_eq!(status, 400, "{path}: {err}");
        assert_eq!(err["error"]["code"], code, "{path}: {err}");
        assert_eq!(err["error"]["param"], param, "{path}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(words), "{path}: {message}");
    }
}
