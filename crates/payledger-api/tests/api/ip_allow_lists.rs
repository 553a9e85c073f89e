//! IP allow-lists per key: a request from outside the list is 403 `ip_not_allowed` and
//! appends nothing; `X-Forwarded-For` counts only from a trusted proxy.

use payledger_api::ApiConfig;
use payledger_service::tenants::{self as keys, KeyMode, Role};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp};

/// A writer key that may be used only from `networks`.
async fn writer_from(app: &TestApp, networks: &[&str]) -> String {
    let key = keys::create_key(
        &app.pool,
        &payledger_service::admin_log::Actor::system("test"),
        app.tenant_id,
        Role::Writer,
        KeyMode::Live,
        None,
    )
    .await
    .unwrap();
    let texts: Vec<String> = networks.iter().map(|n| n.to_string()).collect();
    let nets = keys::parse_allowed_ips(&texts).unwrap();
    keys::set_allowed_ips(
        &app.pool,
        &payledger_service::admin_log::Actor::system("test"),
        key.info.id,
        None,
        Some(&nets),
    )
    .await
    .unwrap()
    .unwrap();
    key.key
}

/// Status and error code of an order created with `key`, optionally with an X-Forwarded-For.
async fn order(app: &TestApp, key: &str, forwarded_for: Option<&str>) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/v1/orders", app.base_url))
        .bearer_auth(key)
        .json(&json!({"amount": 1, "currency": "USD", "reference": "ip"}));
    if let Some(xff) = forwarded_for {
        request = request.header("X-Forwarded-For", xff);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].clone())
}

#[tokio::test]
async fn a_key_is_refused_outside_its_allow_list_and_the_header_of_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    let elsewhere = writer_from(&app, &["203.0.113.0/24", "2001:db8::/32"]).await;
    let before = app.count_events().await;
    assert_eq!(order(&app, &elsewhere, None).await, (403, json!("ip_not_allowed")));
    // The test client is 127.0.0.1, not a trusted proxy: its X-Forwarded-For proves nothing.
    assert_eq!(order(&app, &elsewhere, Some("203.0.113.7")).await, (403, json!("ip_not_allowed")));
    assert_eq!(app.count_events().await, before, "nothing appended");

    let loopback = writer_from(&app, &["127.0.0.0/8"]).await;
    assert_eq!(order(&app, &loopback, None).await.0, 201);
    let single = writer_from(&app, &["127.0.0.1"]).await;
    assert_eq!(order(&app, &single, Some("203.0.113.7")).await.0, 201, "the peer counts, not the header");
    // A key without a list works from anywhere.
    assert_eq!(app.post("/v1/orders", json!({"amount": 1, "currency": "USD", "reference": "ip"})).await.0, 201);
    let r = app.request(Method::GET, "/v1/admin/keys", Some(app.key("admin")), None, None).await;
    let list: Value = r.json().await.unwrap();
    let lists: Vec<Value> = list["data"].as_array().unwrap().iter().map(|k| k["allowed_ips"].clone()).collect();
    assert!(lists.contains(&json!(["203.0.113.0/24", "2001:db8::/32"])), "{lists:?}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let config = ApiConfig { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..ApiConfig::default() };
    let app = spawn_app_with(config).await;
    let key = writer_from(&app, &["203.0.113.0/24", "2001:db8::/32"]).await;
    assert_eq!(order(&app, &key, Some("203.0.113.7")).await.0, 201);
    assert_eq!(order(&app, &key, Some("2001:db8::5")).await.0, 201, "IPv6");
    // The client's own (leftmost) entry is not believed: the proxy's is the one that counts.
    assert_eq!(order(&app, &key, Some("203.0.113.7, 198.51.100.1")).await, (403, json!("ip_not_allowed")));
    assert_eq!(order(&app, &key, None).await, (403, json!("ip_not_allowed")), "the proxy itself is not listed");
    assert_eq!(order(&app, &key, Some("garbage")).await, (403, json!("ip_not_allowed")));
}

#[test]
fn allow_lists_are_parsed_strictly() {
    let parse = |texts: &[&str]| keys::parse_allowed_ips(&texts.iter().map(|t| t.to_string()).collect::<Vec<_>>());
    let nets = parse(&["10.1.2.3/8", "::1", " 192.0.2.1 "]).unwrap();
    let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["10.0.0.0/8", "::1/128", "192.0.2.1/32"], "canonical, host bits cleared");
    for bad in [&[][..], &["10.0.0.0/33"], &["example.com"], &["1.2.3.4/"], &["1.2.3.4\0"]] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    let too_many: Vec<String> = (0..=keys::ALLOWED_IPS_MAX).map(|n| format!("10.0.{}.0/24", n % 256)).collect();
    assert!(keys::parse_allowed_ips(&too_many).is_err());
}

/// A tenant's admin sets its keys' allow-lists and rate limits over HTTP; bad values are
/// 400 with their code and param, another tenant's key is 404, a writer may not.
#[tokio::test]
async fn admins_set_allow_lists_and_rate_limits_over_http() {
    let app = spawn_app().await;
    let (_, list) = {
        let r = app.request(Method::GET, "/v1/admin/keys", Some(app.key("admin")), None, None).await;
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let writer_id = list["data"].as_array().unwrap().iter().find(|k| k["role"] == "writer").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |path: String, key: String, body: Value| {
        let app = &app;
        async move {
            let r = app.request(Method::POST, &path, Some(&key), Some(&body), None).await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let admin = app.key("admin").to_owned();
    let ips = format!("/v1/admin/keys/{writer_id}/allowed-ips");
    let (status, key) = post(ips.clone(), admin.clone(), json!({"allowed_ips": ["203.0.113.9/24"]})).await;
    assert_eq!((status, key["allowed_ips"].clone()), (200, json!(["203.0.113.0/24"])), "{key}");
    assert_eq!(order(&app, app.key("writer"), None).await, (403, json!("ip_not_allowed")));
    let (status, key) = post(ips.clone(), admin.clone(), json!({"allowed_ips": null})).await;
    assert_eq!((status, key["allowed_ips"].clone()), (200, Value::Null));
    assert_eq!(order(&app, app.key("writer"), None).await.0, 201);
    for bad in [json!({"allowed_ips": []}), json!({"allowed_ips": ["300.0.0.1"]}), json!({"allowed_ips": ["::/129"]})] {
        let (status, err) = post(ips.clone(), admin.clone(), bad.clone()).await;
        assert_eq!((status, err["error"]["code"].clone()), (400, json!("allowed_ips_invalid")), "{bad}: {err}");
        assert_eq!(err["error"]["param"], "allowed_ips");
    }

    let limit = format!("/v1/admin/keys/{writer_id}/rate-limit");
    let (status, key) = post(limit.clone(), admin.clone(), json!({"rate_limit_per_s": 1, "rate_limit_burst": 1})).await;
    assert_eq!((status, key["rate_limit_burst"].clone()), (200, json!(1)), "{key}");
    assert_eq!(order(&app, app.key("writer"), None).await.0, 201);
    assert_eq!(order(&app, app.key("writer"), None).await, (429, json!("rate_limited")));
    for bad in
        [json!({"rate_limit_per_s": 0}), json!({"rate_limit_burst": 1_000_001}), json!({"rate_limit_per_s": "5"})]
    {
        let (status, err) = post(limit.clone(), admin.clone(), bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {err}");
    }
    let (status, err) = post(limit.clone(), admin.clone(), json!({"rate_limit_per_s": -1})).await;
    assert_eq!((status, err["error"]["code"].clone()), (400, json!("rate_limit_invalid")), "{err}");
    let (status, key) = post(limit.clone(), admin.clone(), json!({})).await;
    assert_eq!((status, key["rate_limit_per_s"].clone()), (200, Value::Null), "back to the default");

    let (status, _) = post(limit.clone(), app.key("writer").to_owned(), json!({})).await;
    assert_eq!(status, 403, "a writer may not");
    let other = app.other_tenant("globex").await;
    drop(other);
    let client = app.pool.get().await.unwrap();
    let globex: uuid::Uuid =
        client.query_one("SELECT tenant_id FROM tenants WHERE name = 'globex' AND livemode", &[]).await.unwrap().get(0);
    let actor = payledger_service::admin_log::Actor::system("test");
    let other_admin = keys::create_key(&app.pool, &actor, globex, Role::Admin, KeyMode::Live, None).await.unwrap().key;
    let (status, _) = post(ips, other_admin, json!({"allowed_ips": null})).await;
    assert_eq!(status, 404, "another tenant's key does not exist for them");
}
