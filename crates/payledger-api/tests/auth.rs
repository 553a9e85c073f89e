//! Keys, roles and tenant isolation.

mod common;

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
    assert!(key.starts_with("pl_test_"));

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
