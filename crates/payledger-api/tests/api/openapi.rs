//! `/openapi.json` matches the router both ways: every documented route is served, and
//! every route the router declares (read from its source) is documented.

use crate::support as common;

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// The `.route("path", get(..).post(..))` lines of the router's source.
fn declared() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/lib.rs");
    let mut routes = BTreeSet::new();
    // A `.route(` may follow other calls on its line (rustfmt joins short chains).
    for line in source.lines().filter_map(|l| l.find(".route(\"").map(|at| &l[at..])) {
        let path = line.split('"').nth(1).unwrap().to_owned();
        let handlers = &line[line.find("\",").unwrap() + 2..];
        for method in ["get", "post", "put", "patch", "delete"] {
            let called =
                handlers.trim_start().starts_with(&format!("{method}(")) || handlers.contains(&format!(".{method}("));
            if called {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let app = common::spawn_app().await;
    let r = app.request(Method::GET, "/openapi.json", None, None, None).await;
    assert_eq!(r.status(), 200);
    let spec: Value = r.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));

    let documented = documented(&spec);
    let declared = declared();
    assert!(declared.len() >= 30, "the router source was not read: {declared:?}");
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unserved_in_source: Vec<_> = documented.difference(&declared).collect();
    assert!(undocumented.is_empty(), "routes missing from /openapi.json: {undocumented:?}");
    assert!(unserved_in_source.is_empty(), "documented but not routed: {unserved_in_source:?}");

    // And the running server answers each documented route (anything but "no such route").
    let id = uuid::Uuid::now_v7().to_string();
    for (method, path) in &documented {
        let concrete = path.replace("{provider}", "stripe").replace("{stream_id}", "payment-x").replace(['{', '}'], "");
        let concrete = concrete
            .split('/')
            .map(|seg| if ["id", "secret_id", "endpoint_id"].contains(&seg) { id.as_str() } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app.request(method.clone(), &concrete, Some(app.key("admin")), None, None).await;
        assert_ne!(r.status(), 405, "{method} {concrete}");
        if r.status() == 404 {
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert_ne!(body["error"]["code"], "route_not_found", "{method} {concrete}");
        }
    }
}

/// The contract details a client generator relies on, which the fuzzer cannot see for itself.
#[test]
fn the_document_states_limits_formats_and_optional_bodies() {
    let spec = serde_json::to_value(payledger_api::openapi::document()).unwrap();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["Amount"]["minimum"], 1);
    assert_eq!(schemas["Amount"]["maximum"], payledger_core::AmountMinor::MAX);
    assert_eq!(schemas["CurrencyCode"]["pattern"], "^[A-Z]{3}$");
    // The documented providers are the core's, no more and no less.
    let providers: Vec<&str> = payledger_core::payment::Provider::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(schemas["Provider"]["enum"], serde_json::json!(providers), "{}", schemas["Provider"]);
    for request in ["CreateOrder", "CreatePayment", "Capture", "CreateRefund", "CreateApiKey"] {
        assert_eq!(schemas[request]["additionalProperties"], false, "{request}");
    }
    assert_eq!(schemas["CreatePayment"]["properties"]["order_id"]["format"], "uuid");
    assert!(schemas["Payment"]["required"].as_array().unwrap().contains(&"amount_refundable".into()));

    let op = |method: &str, path: &str| spec["paths"][path][method].clone();
    // A body is required only where an empty one is refused.
    assert_eq!(op("post", "/v1/orders")["requestBody"]["required"], true);
    assert!(op("post", "/v1/payments/{id}/void")["requestBody"]["required"] != true);
    assert!(op("post", "/v1/payments/{id}/capture")["requestBody"]["required"] != true);
    // JSON is the events' default, the exports are declared too.
    let events = &op("get", "/v1/events")["responses"]["200"]["content"];
    for media in ["application/json", "text/csv", "application/x-ndjson"] {
        assert!(events.get(media).is_some(), "{media}");
    }
    let limit =
        op("get", "/v1/orders")["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "limit").cloned();
    let limit = limit.unwrap();
    assert_eq!((limit["schema"]["minimum"].clone(), limit["schema"]["maximum"].clone()), (1.into(), 100.into()));
    let webhook_headers: Vec<_> = op("post", "/v1/webhooks/{provider}/{endpoint_id}")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(webhook_headers, ["Stripe-Signature", "Payledger-Signature"]);
    let webhook = op("post", "/v1/webhooks/{provider}/{endpoint_id}");
    assert!(webhook["responses"].get("403").is_none(), "signature-authenticated: no role");
    assert!(op("get", "/healthz")["responses"].get("401").is_none());
    // Every authenticated operation declares 401 and 403 in the error shape.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let public = operation["security"].as_array().is_some_and(|s| s.is_empty());
            if path == "/v1/oauth/token" {
                // RFC 6749 §5.2's shape, not the API's.
                let schema = &operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/OAuthTokenError");
                continue;
            }
            for status in ["400", "401", "403"].iter().filter(|s| !public || **s == "400") {
                let schema = &operation["responses"][*status]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
            }
        }
    }
}
