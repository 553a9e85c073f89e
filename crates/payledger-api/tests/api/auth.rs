//! Keys, roles and tenant isolation.

use crate::support as common;

use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_401() {
    let app = common::spawn_app().await;
    let body = json!({"amount": 1, "currency": "USD", "reference": "x"});
    for key in [None, Some("nope"), Some("pl_test_doesnotexist")] {
        let r = app.request(Method::POST, "/v1/orders", key, Some(&body), None).await;
        assert_eq!(r.status(), 401, "{key:?}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["type"], "authentication_error");
    }
}

#[tokio::test]
async fn roles_are_enforced_per_route() {
    let app = common::spawn_app().await;
    let body = json!({"amount": 1, "currency": "USD", "reference": "x"});
    for role in ["auditor", "finance", "admin"] {
        let r = app.request(Method::POST, "/v1/orders", Some(app.key(role)), Some(&body), None).await;
        assert_eq!(r.status(), 403, "{role} must not write");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], "insufficient_role");
    }
    let (status, _) = app.get_as("writer", "/v1/events").await;
    assert_eq!(status, 403, "a writer does not read the raw history");
    let (status, _) = app.get_as("auditor", "/v1/events").await;
    assert_eq!(status, 200);
    let (status, _) = app.get_as("writer", "/v1/admin/keys").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn another_tenant_sees_nothing_of_ours() {
    let app = common::spawn_app().await;
    let payment = app.captured_payment(100).await;
    let id = payment["id"].as_str().unwrap();
    let other = app.other_tenant("globex").await;

    let r = app
        .request(
            Method::POST,
            &format!("/v1/payments/{id}/refunds"),
            Some(&other["writer"]),
            Some(&json!({"amount": 1})),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .request(Method::GET, &format!("/v1/streams/payment-{id}/events"), Some(&other["auditor"]), None, None)
        .await;
    assert_eq!(r.status(), 404);
    // Our auditor sees our events; theirs sees none of them.
    app.settle().await;
    let (_, ours) = app.get_as("auditor", "/v1/events").await;
    assert!(ours["data"].as_array().unwrap().len() >= 4, "{ours}");
    let r = app.request(Method::GET, "/v1/events", Some(&other["auditor"]), None, None).await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 0, "{page}");
}

#[tokio::test]
async fn a_revoked_key_is_401_and_admins_manage_keys() {
    let app = common::spawn_app().await;
    let r = app
        .request(
            Method::POST,
            "/v1/admin/keys",
            Some(app.key("admin")),
            Some(&json!({"role": "writer", "label": "ci"})),
            None,
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("pl_live_"), "a key of the admin key's own mode: {key}");

    let body = json!({"amount": 1, "currency": "USD", "reference": "x"});
    let r = app.request(Method::POST, "/v1/orders", Some(&key), Some(&body), None).await;
    assert_eq!(r.status(), 201);

    let revoke = format!("/v1/admin/keys/{}/revoke", created["id"].as_str().unwrap());
    let r = app.request(Method::POST, &revoke, Some(app.key("admin")), None, None).await;
    assert_eq!(r.status(), 200);
    let r = app.request(Method::POST, "/v1/orders", Some(&key), Some(&body), None).await;
    assert_eq!(r.status(), 401);

    let (status, list) = app.get_as("admin", "/v1/admin/keys").await;
    assert_eq!(status, 200);
    assert!(list.to_string().find(&key).is_none(), "plain keys are never listed");
}

/// The role is checked before the path, query or body is looked at: a key without the role
/// learns nothing from how its input would have been judged, and no body is parsed for it.
#[tokio::test]
async fn the_role_is_checked_before_the_request_is_read() {
    let app = common::spawn_app().await;
    let bad_json = "{\"amount\": 1,";
    for (role, method, path, body) in [
        ("auditor", Method::POST, "/v1/orders", Some(bad_json)),
        ("finance", Method::POST, "/v1/orders", Some("{\"amount\":1,\"amount\":2}")),
        ("auditor", Method::POST, "/v1/payments/not-a-uuid/capture", Some(bad_json)),
        ("writer", Method::GET, "/v1/events?limit=abc", None),
        ("writer", Method::GET, "/v1/streams/%FF/events", None),
        ("writer", Method::POST, "/v1/admin/keys", Some(bad_json)),
        ("writer", Method::POST, "/v1/projections/verify", Some(bad_json)),
    ] {
        let mut req = app.http.request(method, format!("{}{path}", app.base_url)).bearer_auth(app.key(role));
        if let Some(body) = body {
            req = req.header("content-type", "text/plain").body(body);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{role} {path}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], "insufficient_role", "{role} {path}");
    }
    let r = app.http.post(format!("{}/v1/orders", app.base_url)).body(bad_json).send().await.unwrap();
    assert_eq!(r.status(), 401, "no key: 401 before the body too");
}
