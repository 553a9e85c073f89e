//! Rate limits per API key: a burst past the key's limit is 429 with `Retry-After` and the
//! `RateLimit-*` headers, appends nothing, and leaves other keys alone; the default lets 50
//! requests at once through.

use payledger_service::tenants::{self as keys, KeyMode, KeyRateLimit, Role};
use reqwest::Method;
use serde_json::json;

use crate::support::{spawn_app, TestApp};

async fn limited_writer(app: &TestApp, per_s: i32, burst: i32) -> String {
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
    let limit = KeyRateLimit { rate_limit_per_s: Some(per_s), rate_limit_burst: Some(burst) };
    keys::set_rate_limit(&app.pool, &payledger_service::admin_log::Actor::system("test"), key.info.id, None, limit)
        .await
        .unwrap()
        .unwrap();
    key.key
}

#[tokio::test]
async fn a_burst_past_the_keys_limit_is_429_and_appends_nothing() {
    let app = spawn_app().await;
    let key = limited_writer(&app, 1, 3).await;
    let before = app.count_events().await;
    let order = json!({"amount": 1, "currency": "USD", "reference": "burst"});
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        let r = app.request(Method::POST, "/v1/orders", Some(&key), Some(&order), None).await;
        statuses.push(r.status().as_u16());
        if r.status() == 201 {
            assert!(r.headers().contains_key("ratelimit-remaining"), "{:?}", r.headers());
        } else if refused.is_none() {
            refused = Some((r.headers().clone(), r.json::<serde_json::Value>().await.unwrap()));
        }
    }
    // A burst of 3, then 1 a second (a slow machine may let one more through later).
    assert_eq!(statuses[..4], [201, 201, 201, 429], "{statuses:?}");
    let (headers, body) = refused.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-limit"], "3");
    assert_eq!(headers["ratelimit-remaining"], "0");
    let created = statuses.iter().filter(|&&s| s == 201).count() as i64;
    assert_eq!(app.count_events().await, before + created, "the refused requests appended nothing");

    // Another key of the same tenant is not held back by this one's bucket.
    let (status, _) = app.post("/v1/orders", order.clone()).await;
    assert_eq!(status, 201);
    // Once the bucket has refilled, the key works again.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let r = app.request(Method::POST, "/v1/orders", Some(&key), Some(&order), None).await;
    assert_eq!(r.status(), 201);
    let metrics = app.http.get(format!("{}/metrics", app.base_url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("payledger_rate_limited_total")), "{metrics}");
}

/// Ordinary concurrent use is never refused by the default limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_requests_at_once_on_one_key_pass_the_default_limit() {
    let app = spawn_app().await;
    let requests = (0..50).map(|_| app.request(Method::GET, "/v1/orders", Some(app.key("writer")), None, None));
    let statuses: Vec<u16> = futures::future::join_all(requests).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
}

/// Changing a key's limit takes effect on its next request (a new bucket).
#[tokio::test]
async fn a_changed_limit_applies_at_once() {
    let app = spawn_app().await;
    let key = keys::create_key(
        &app.pool,
        &payledger_service::admin_log::Actor::system("test"),
        app.tenant_id,
        Role::Auditor,
        KeyMode::Live,
        None,
    )
    .await
    .unwrap();
    let get = || app.request(Method::GET, "/v1/events", Some(&key.key), None, None);
    assert_eq!(get().await.status(), 200);
    let one = KeyRateLimit { rate_limit_per_s: Some(1), rate_limit_burst: Some(1) };
    keys::set_rate_limit(&app.pool, &payledger_service::admin_log::Actor::system("test"), key.info.id, None, one)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(get().await.status(), 200, "a new, full bucket of 1");
    assert_eq!(get().await.status(), 429);
    keys::set_rate_limit(
        &app.pool,
        &payledger_service::admin_log::Actor::system("test"),
        key.info.id,
        None,
        KeyRateLimit::default(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(get().await.status(), 200, "back to the default");
    let bad = KeyRateLimit { rate_limit_per_s: Some(0), rate_limit_burst: None };
    assert!(keys::set_rate_limit(
        &app.pool,
        &payledger_service::admin_log::Actor::system("test"),
        key.info.id,
        None,
        bad
    )
    .await
    .is_err());
}

/// Many requests at once on one key: exactly the burst passes (the bucket is one atomic
/// state, not a check-then-take race), and only those append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_lets_exactly_the_burst_through() {
    let app = spawn_app().await;
    let key = limited_writer(&app, 1, 5).await;
    let before = app.count_events().await;
    let order = json!({"amount": 1, "currency": "USD", "reference": "concurrent"});
    let started = std::time::Instant::now();
    let requests = (0..40).map(|_| app.request(Method::POST, "/v1/orders", Some(&key), Some(&order), None));
    let statuses: Vec<u16> = futures::future::join_all(requests).await.iter().map(|r| r.status().as_u16()).collect();
    let refills = started.elapsed().as_secs() as usize + 1;
    let passed = statuses.iter().filter(|&&s| s == 201).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    // The burst of 5, and one more per second the 40 took to answer (on a slow machine).
    assert!(passed >= 5 && passed <= 5 + refills && passed + refused == 40, "{statuses:?}");
    assert_eq!(app.count_events().await, before + passed as i64);
}
