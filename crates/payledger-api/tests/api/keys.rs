//! Key lifecycle: expiry, roll with an overlap, revocation, each with its own 401 code, and
//! usage written at most once per interval.

use std::time::Duration;

use payledger_api::ApiConfig;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp};

const ORDER: fn() -> Value = || json!({"amount": 1, "currency": "USD", "reference": "x"});

/// Status and error code of creating an order with `key`.
async fn order_with(app: &TestApp, key: &str) -> (u16, Value) {
    let r = app.request(Method::POST, "/v1/orders", Some(key), Some(&ORDER()), None).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].clone())
}

async fn admin_post(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.unwrap_or_else(|| json!({}));
    let r = app.request(Method::POST, path, Some(app.key("admin")), Some(&body), None).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn new_writer_key(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({"role": "writer", "label": "rolling"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, created) = admin_post(app, "/v1/admin/keys", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

#[tokio::test]
async fn a_rolled_key_works_beside_its_successor_until_the_overlap_ends() {
    let app = spawn_app().await;
    let old = new_writer_key(&app, json!({})).await;
    let old_key = old["key"].as_str().unwrap();
    let roll = format!("/v1/admin/keys/{}/roll", old["id"].as_str().unwrap());
    let (status, rolled) = admin_post(&app, &roll, Some(json!({"expire_old_in_s": 2}))).await;
    assert_eq!(status, 201, "{rolled}");
    let new_key = rolled["key"].as_str().unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!((rolled["role"].clone(), rolled["label"].clone()), (json!("writer"), json!("rolling")));
    assert_eq!(rolled["rolled"]["rolled_to"], rolled["id"]);
    assert!(rolled["rolled"]["expires_at"].is_string());

    assert_eq!(order_with(&app, old_key).await.0, 201, "the old key works during the overlap");
    assert_eq!(order_with(&app, new_key).await.0, 201);
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(order_with(&app, old_key).await, (401, json!("api_key_expired")));
    assert_eq!(order_with(&app, new_key).await.0, 201, "the new key goes on");

    // The rolled key cannot be rolled again; its successor can.
    let (status, err) = admin_post(&app, &roll, None).await;
    assert_eq!((status, err["error"]["code"].clone()), (409, json!("key_not_active")), "{err}");
    let roll_new = format!("/v1/admin/keys/{}/roll", rolled["id"].as_str().unwrap());
    let (status, again) = admin_post(&app, &roll_new, Some(json!({"expire_old_in_s": 0}))).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(order_with(&app, new_key).await, (401, json!("api_key_expired")), "0 s: it stops at once");
    assert_eq!(order_with(&app, again["key"].as_str().unwrap()).await.0, 201);
}

#[tokio::test]
async fn a_roll_without_expire_old_in_s_keeps_the_old_key_for_a_day() {
    let app = spawn_app().await;
    let old = new_writer_key(&app, json!({})).await;
    let (status, rolled) =
        admin_post(&app, &format!("/v1/admin/keys/{}/roll", old["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 201, "{rolled}");
    let expires: chrono::DateTime<chrono::Utc> = rolled["rolled"]["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(left > chrono::Duration::hours(23) && left <= chrono::Duration::hours(24), "{left}");
    assert_eq!(order_with(&app, old["key"].as_str().unwrap()).await.0, 201);
}

#[tokio::test]
async fn unknown_revoked_and_expired_keys_each_have_their_code() {
    let app = spawn_app().await;
    assert_eq!(order_with(&app, "pl_test_doesnotexist").await, (401, json!("invalid_api_key")));

    let revoked = new_writer_key(&app, json!({})).await;
    let (status, _) =
        admin_post(&app, &format!("/v1/admin/keys/{}/revoke", revoked["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 200);
    assert_eq!(order_with(&app, revoked["key"].as_str().unwrap()).await, (401, json!("api_key_revoked")));
    let (status, err) =
        admin_post(&app, &format!("/v1/admin/keys/{}/roll", revoked["id"].as_str().unwrap()), None).await;
    assert_eq!((status, err["error"]["code"].clone()), (409, json!("key_not_active")));

    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1_500)).to_rfc3339();
    let expiring = new_writer_key(&app, json!({"expires_at": soon})).await;
    assert_eq!(expiring["expires_at"].as_str().map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().is_ok()), Some(true));
    let key = expiring["key"].as_str().unwrap();
    assert_eq!(order_with(&app, key).await.0, 201);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert_eq!(order_with(&app, key).await, (401, json!("api_key_expired")));
    let events = app.count_events().await;
    assert_eq!(order_with(&app, key).await.0, 401);
    assert_eq!(app.count_events().await, events, "an expired key appends nothing");
}

#[tokio::test]
async fn bad_expiries_and_other_tenants_keys_are_refused() {
    let app = spawn_app().await;
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let far = (chrono::Utc::now() + chrono::Duration::days(3_661)).to_rfc3339();
    for expires_at in [json!(past), json!(far)] {
        let (status, err) =
            admin_post(&app, "/v1/admin/keys", Some(json!({"role": "writer", "expires_at": expires_at}))).await;
        assert_eq!((status, err["error"]["code"].clone()), (400, json!("expiry_invalid")), "{expires_at}");
        assert_eq!(err["error"]["param"], "expires_at");
    }
    let (status, err) =
        admin_post(&app, "/v1/admin/keys", Some(json!({"role": "writer", "expires_at": "tomorrow"}))).await;
    assert_eq!(status, 400, "{err}");

    let key = new_writer_key(&app, json!({})).await;
    let roll = format!("/v1/admin/keys/{}/roll", key["id"].as_str().unwrap());
    for bad in [json!(-1), json!(30 * 86_400 + 1), json!(i64::MAX), json!(1.5), json!("60")] {
        let (status, err) = admin_post(&app, &roll, Some(json!({"expire_old_in_s": bad}))).await;
        assert_eq!(status, 400, "{bad}: {err}");
    }
    let (status, err) = admin_post(&app, &roll, Some(json!({"expire_old_in_s": 60, "extra": 1}))).await;
    assert_eq!((status, err["error"]["code"].clone()), (400, json!("unknown_field")));
    assert_eq!(order_with(&app, key["key"].as_str().unwrap()).await.0, 201, "no refused roll touched the key");

    // Another tenant's admin cannot roll our key: 404, as if it did not exist.
    let other = app.other_tenant("globex").await;
    let client = app.pool.get().await.unwrap();
    let other_tenant: uuid::Uuid =
        client.query_one("SELECT tenant_id FROM tenants WHERE name = 'globex' AND livemode", &[]).await.unwrap().get(0);
    let other_admin = payledger_service::tenants::create_key(
        &app.pool,
        &payledger_service::admin_log::Actor::system("test"),
        other_tenant,
        payledger_service::tenants::Role::Admin,
        payledger_service::tenants::KeyMode::Live,
        None,
    )
    .await
    .unwrap()
    .key;
    drop(other);
    let r = app.request(Method::POST, &roll, Some(&other_admin), Some(&json!({})), None).await;
    assert_eq!(r.status(), 404);
    let r = app.request(Method::POST, &roll, Some(app.key("writer")), Some(&json!({})), None).await;
    assert_eq!(r.status(), 403, "only admins roll keys");
    let (_, list) = app.get_as("admin", "/v1/admin/keys").await;
    let ours = list["data"].as_array().unwrap().iter().find(|k| k["id"] == key["id"]).unwrap().clone();
    assert_eq!(ours["rolled_to"], Value::Null, "{ours}");
}

/// `last_used_at` and `use_count` are written on a key's first use, then at most once per
/// interval with the uses gathered meanwhile, never per request.
#[tokio::test]
async fn usage_is_written_at_most_once_per_interval() {
    let app = spawn_app_with(ApiConfig { key_usage_flush_ms: 1_000, ..ApiConfig::default() }).await;
    let key = new_writer_key(&app, json!({})).await;
    let usage = |app: &TestApp, id: Value| {
        let pool = app.pool.clone();
        async move {
            let client = pool.get().await.unwrap();
            let id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
            let row = client
                .query_one("SELECT use_count, last_used_at IS NOT NULL FROM api_keys WHERE key_id = $1", &[&id])
                .await
                .unwrap();
            (row.get::<_, i64>(0), row.get::<_, bool>(1))
        }
    };
    assert_eq!(usage(&app, key["id"].clone()).await, (0, false));
    let secret = key["key"].as_str().unwrap();
    for _ in 0..5 {
        assert_eq!(order_with(&app, secret).await.0, 201);
    }
    payledger_testkit::eventually(Duration::from_secs(5), "the first use written", || async {
        (usage(&app, key["id"].clone()).await == (1, true)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(usage(&app, key["id"].clone()).await, (1, true), "not written per request");

    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(order_with(&app, secret).await.0, 201);
    payledger_testkit::eventually(Duration::from_secs(5), "the gathered uses written", || async {
        (usage(&app, key["id"].clone()).await == (6, true)).then_some(())
    })
    .await;
    let (_, list) = app.get_as("admin", "/v1/admin/keys").await;
    let listed = list["data"].as_array().unwrap().iter().find(|k| k["id"] == key["id"]).unwrap().clone();
    assert_eq!(listed["use_count"], 6);
    assert!(listed["last_used_at"].is_string());
    assert!(listed.get("key").is_none(), "never the secret");
}

/// Every admin action over HTTP is in the history, in the stream of what it changed, with
/// the admin key as its actor, never with a secret, and the hash chains stay intact.
#[tokio::test]
async fn admin_actions_are_events_with_their_actor_and_no_secret() {
    let app = spawn_app().await;
    let key =
        new_writer_key(&app, json!({"expires_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()}))
            .await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    let (status, rolled) = admin_post(&app, &format!("/v1/admin/keys/{key_id}/roll"), None).await;
    assert_eq!(status, 201);
    let successor = rolled["id"].as_str().unwrap().to_owned();
    let (status, _) = admin_post(&app, &format!("/v1/admin/keys/{successor}/revoke"), None).await;
    assert_eq!(status, 200);
    let (status, _) = admin_post(&app, &format!("/v1/admin/keys/{successor}/revoke"), None).await;
    assert_eq!(status, 200, "revoking again changes nothing");
    let (status, endpoint) =
        admin_post(&app, "/v1/admin/webhook-endpoints", Some(json!({"provider": "generic", "label": "audit"}))).await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let (status, added) = admin_post(&app, &format!("/v1/admin/webhook-endpoints/{endpoint_id}/secrets"), None).await;
    assert_eq!(status, 201, "{added}");
    let first_secret = endpoint["secrets"][0]["id"].as_str().unwrap();
    let retire = format!("/v1/admin/webhook-endpoints/{endpoint_id}/secrets/{first_secret}/retire");
    assert_eq!(admin_post(&app, &retire, None).await.0, 200);

    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT stream_id, event_type, payload, metadata FROM events WHERE tenant_id = $1 ORDER BY global_position",
            &[&app.tenant_id],
        )
        .await
        .unwrap();
    let seen: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let key_stream = format!("api-key-{key_id}");
    let successor_stream = format!("api-key-{successor}");
    let endpoint_stream = format!("webhook-endpoint-{endpoint_id}");
    assert_eq!(
        seen,
        [
            (key_stream.clone(), "ApiKeyCreated".to_owned()),
            (successor_stream.clone(), "ApiKeyCreated".to_owned()),
            (key_stream, "ApiKeyRolled".to_owned()),
            (successor_stream, "ApiKeyRevoked".to_owned()),
            (endpoint_stream.clone(), "WebhookEndpointCreated".to_owned()),
            (endpoint_stream.clone(), "WebhookSecretAdded".to_owned()),
            (endpoint_stream.clone(), "WebhookSecretAdded".to_owned()),
            (endpoint_stream, "WebhookSecretRetired".to_owned()),
        ]
    );
    let admin_id: String = client
        .query_one("SELECT key_id::text FROM api_keys WHERE tenant_id = $1 AND role = 'admin'", &[&app.tenant_id])
        .await
        .unwrap()
        .get(0);
    let secrets = [
        key["key"].as_str().unwrap(),
        rolled["key"].as_str().unwrap(),
        endpoint["secret"].as_str().unwrap(),
        added["secret"].as_str().unwrap(),
    ];
    for row in &rows {
        let metadata: Value = row.get(3);
        assert_eq!(metadata["actor"], json!(format!("api_key:{admin_id}")), "{metadata}");
        assert!(metadata["request_id"].as_str().is_some_and(|id| id.starts_with("req_")), "{metadata}");
        let payload: Value = row.get(2);
        for secret in secrets {
            assert!(!payload.to_string().contains(secret), "a secret in {payload}");
        }
    }
    let report = payledger_store::verify_chains(&**client, Some(app.tenant_id)).await.unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert_eq!(report.events_checked, 8);
}
