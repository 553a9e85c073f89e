//! Test mode isolates (DESIGN §12): a tenant's `pl_test_` keys read and write its test
//! scope, its `pl_live_` keys its live data, and neither sees the other's resources. One
//! table over every keyed route of the router; the routes `/openapi.json` documents are
//! checked against it, so a new route must join the table.

use std::collections::{BTreeSet, HashMap};

use payledger_service::admin_log::Actor;
use payledger_service::oauth::{create_client, ClientSpec};
use payledger_service::tenants::{self as keys, KeyMode, Role};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::settlements::{generic_csv, import, send};
use crate::support::{start_projector, TestApp};

const STRIPE_SECRET: &str = "whsec_test_mode_5f0c2b7e9a41d3c8";

/// Routes no key reaches: they belong to no scope (the webhook receiver's scope is its endpoint's).
const UNKEYED: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/oauth/token"];

/// The tenant's test keys, one per role.
async fn test_keys(app: &TestApp) -> HashMap<&'static str, String> {
    let mut made = HashMap::new();
    for (label, role) in
        [("writer", Role::Writer), ("finance", Role::Finance), ("auditor", Role::Auditor), ("admin", Role::Admin)]
    {
        let actor = Actor::system("test");
        let key = keys::create_key(&app.pool, &actor, app.tenant_id, role, KeyMode::Test, None);
        made.insert(label, key.await.unwrap().key);
    }
    made
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// Live resources of every kind, made with the app's live keys.
struct Live {
    order: String,
    payment: String,
    refund: String,
    dispute: String,
    endpoint: String,
    secret: String,
    report: String,
    job: String,
    key: String,
}

impl Live {
    fn ids(&self) -> [&str; 9] {
        [
            &self.order,
            &self.payment,
            &self.refund,
            &self.dispute,
            &self.endpoint,
            &self.secret,
            &self.report,
            &self.job,
            &self.key,
        ]
    }
}

async fn call(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>) -> (u16, String) {
    let body = body.or_else(|| (method == Method::POST).then(|| json!({})));
    let r = app.request(method, path, Some(key), body.as_ref(), None).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn make_live(app: &TestApp) -> Live {
    let order = id(&app.create_order(1000, "USD").await);
    let payment = id(&app.captured_payment(1000).await);
    let (s, refund) = app.post(&format!("/v1/payments/{payment}/refunds"), json!({"amount": 100})).await;
    assert_eq!(s, 201, "{refund}");
    let body = json!({"amount": 200, "reason": "fraud"});
    let (s, dispute) = app.post(&format!("/v1/payments/{payment}/disputes"), body).await;
    assert_eq!(s, 201, "{dispute}");
    let admin = app.key("admin");
    let body = json!({"provider": "stripe", "secret": STRIPE_SECRET});
    let r = app.request(Method::POST, "/v1/admin/webhook-endpoints", Some(admin), Some(&body), None).await;
    assert_eq!(r.status(), 201);
    let endpoint: Value = r.json().await.unwrap();
    let (s, report) = import(app, &generic_csv(&["iso1"])).await;
    assert_eq!(s, 201, "{report}");
    let (s, job) = app_json(call(app, Method::POST, "/v1/projections/verify", app.key("finance"), None).await);
    assert_eq!(s, 202, "{job}");
    let body = Some(json!({"role": "auditor"}));
    let (s, key) = app_json(call(app, Method::POST, "/v1/admin/keys", admin, body).await);
    assert_eq!(s, 201, "{key}");
    // Seen by the live keys once projected: the test keys' 404s below are then about scope.
    let path = format!("/v1/refunds/{}?min_position={}", id(&refund), dispute["position"]);
    assert_eq!(app.get_as("auditor", &path).await.0, 200);
    Live {
        order,
        payment,
        refund: id(&refund),
        dispute: id(&dispute),
        secret: endpoint["secrets"][0]["id"].as_str().unwrap().to_owned(),
        endpoint: id(&endpoint),
        report: id(&report),
        job: id(&job),
        key: id(&key),
    }
}

fn app_json((status, text): (u16, String)) -> (u16, Value) {
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// (method, template, path, role, body) of every keyed route, aimed at the live resources.
fn routes_on(live: &Live) -> Vec<(Method, &'static str, String, &'static str, Option<Value>)> {
    let Live { order, payment, refund, dispute, endpoint, secret, report, job, key } = live;
    let get = |template: &'static str, path: String, role: &'static str| (Method::GET, template, path, role, None);
    let post = |template: &'static str, path: String, role: &'static str, body: Value| {
        (Method::POST, template, path, role, Some(body))
    };
    vec![
        get("/v1/orders/{id}", format!("/v1/orders/{order}"), "auditor"),
        get("/v1/payments/{id}", format!("/v1/payments/{payment}"), "auditor"),
        get("/v1/refunds/{id}", format!("/v1/refunds/{refund}"), "auditor"),
        get("/v1/settlement-reports/{id}", format!("/v1/settlement-reports/{report}"), "auditor"),
        get("/v1/settlement-reports/{id}/lines", format!("/v1/settlement-reports/{report}/lines"), "finance"),
        get("/v1/settlement-reports/{id}/file", format!("/v1/settlement-reports/{report}/file"), "finance"),
        get("/v1/jobs/{id}", format!("/v1/jobs/{job}"), "auditor"),
        get("/v1/streams/{stream_id}/events", format!("/v1/streams/payment-{payment}/events"), "auditor"),
        post("/v1/orders/{id}/cancel", format!("/v1/orders/{order}/cancel"), "writer", json!({"reason": "x"})),
        post("/v1/payments/{id}/authorize", format!("/v1/payments/{payment}/authorize"), "writer", json!({})),
        post("/v1/payments/{id}/capture", format!("/v1/payments/{payment}/capture"), "writer", json!({})),
        post("/v1/payments/{id}/void", format!("/v1/payments/{payment}/void"), "writer", json!({})),
        post(
            "/v1/payments/{id}/fail",
            format!("/v1/payments/{payment}/fail"),
            "writer",
            json!({"code": "card_declined", "message": "x"}),
        ),
        post("/v1/payments/{id}/refunds", format!("/v1/payments/{payment}/refunds"), "writer", json!({"amount": 1})),
        post(
            "/v1/payments/{id}/disputes",
            format!("/v1/payments/{payment}/disputes"),
            "writer",
            json!({"amount": 1, "reason": "fraud"}),
        ),
        post("/v1/refunds/{id}/succeed", format!("/v1/refunds/{refund}/succeed"), "writer", json!({})),
        post("/v1/refunds/{id}/fail", format!("/v1/refunds/{refund}/fail"), "writer", json!({"code": "expired"})),
        post(
            "/v1/disputes/{id}/resolve",
            format!("/v1/disputes/{dispute}/resolve"),
            "writer",
            json!({"outcome": "won"}),
        ),
        post(
            "/v1/payments",
            "/v1/payments".into(),
            "writer",
            json!({"order_id": order, "amount": 1, "currency": "USD", "capture_method": "manual",
                "provider": "stripe", "provider_reference": "pi_test_mode"}),
        ),
        post("/v1/jobs/{id}/cancel", format!("/v1/jobs/{job}/cancel"), "admin", json!({})),
        post(
            "/v1/admin/webhook-endpoints/{id}/secrets",
            format!("/v1/admin/webhook-endpoints/{endpoint}/secrets"),
            "admin",
            json!({"secret": "whsec_test_mode_rotated_0a1b2c3d4e5f"}),
        ),
        post(
            "/v1/admin/webhook-endpoints/{id}/secrets/{secret_id}/retire",
            format!("/v1/admin/webhook-endpoints/{endpoint}/secrets/{secret}/retire"),
            "admin",
            json!({}),
        ),
        post(
            "/v1/admin/webhook-endpoints/{id}/reprocess",
            format!("/v1/admin/webhook-endpoints/{endpoint}/reprocess"),
            "admin",
            json!({}),
        ),
        post("/v1/admin/keys/{id}/revoke", format!("/v1/admin/keys/{key}/revoke"), "admin", json!({})),
        post("/v1/admin/keys/{id}/roll", format!("/v1/admin/keys/{key}/roll"), "admin", json!({})),
        post(
            "/v1/admin/keys/{id}/rate-limit",
            format!("/v1/admin/keys/{key}/rate-limit"),
            "admin",
            json!({"rate_limit_per_s": 5}),
        ),
        post(
            "/v1/admin/keys/{id}/allowed-ips",
            format!("/v1/admin/keys/{key}/allowed-ips"),
            "admin",
            json!({"allowed_ips": ["10.0.0.0/8"]}),
        ),
    ]
}

/// (template, path, role) of every list a scope reads, including the event feed and exports.
fn lists_of(live: &Live) -> Vec<(&'static str, String, &'static str)> {
    let today = chrono::Utc::now().date_naive();
    vec![
        ("/v1/orders", "/v1/orders".into(), "auditor"),
        ("/v1/payments", format!("/v1/payments?order_id={}", live.order), "auditor"),
        ("/v1/payments", "/v1/payments".into(), "auditor"),
        ("/v1/refunds", "/v1/refunds".into(), "auditor"),
        ("/v1/ledger/accounts", "/v1/ledger/accounts".into(), "finance"),
        ("/v1/ledger/entries", format!("/v1/ledger/entries?payment_id={}", live.payment), "finance"),
        ("/v1/ledger/entries", "/v1/ledger/entries".into(), "finance"),
        ("/v1/ledger/trial-balance", format!("/v1/ledger/trial-balance?date={today}"), "finance"),
        ("/v1/reconciliation/days", "/v1/reconciliation/days".into(), "finance"),
        ("/v1/reconciliation/items", "/v1/reconciliation/items?date=2026-11-30".into(), "finance"),
        ("/v1/settlement-reports", "/v1/settlement-reports".into(), "auditor"),
        ("/v1/jobs", "/v1/jobs".into(), "auditor"),
        ("/v1/events", "/v1/events".into(), "auditor"),
        ("/v1/seals", "/v1/seals".into(), "auditor"),
        ("/v1/projections", "/v1/projections".into(), "finance"),
        ("/v1/admin/webhook-endpoints", "/v1/admin/webhook-endpoints".into(), "admin"),
        ("/v1/admin/keys", "/v1/admin/keys".into(), "admin"),
    ]
}

/// Every list a test key reads is empty of live data: 200, no live id, no rows.
async fn assert_lists_hold_nothing_live(app: &TestApp, test: &HashMap<&str, String>, live: &Live) -> Vec<String> {
    let mut visited = Vec::new();
    for (template, path, role) in lists_of(live) {
        let (status, text) = call(app, Method::GET, &path, &test[role], None).await;
        assert_eq!(status, 200, "GET {path}: {text}");
        for live_id in live.ids() {
            assert!(!text.contains(live_id), "GET {path} shows live {live_id}: {text}");
        }
        let body: Value = serde_json::from_str(&text).unwrap();
        let rows = body["data"].as_array().or_else(|| body["accounts"].as_array());
        // The admin's own test keys are listed and the projector's status is the server's;
        // nothing else of the scope exists yet.
        if !["/v1/admin/keys", "/v1/projections"].contains(&template) {
            assert_eq!(rows.map(Vec::len), Some(0), "GET {path}: {text}");
        }
        visited.push(format!("GET {template}"));
    }
    for accept in ["text/csv", "application/x-ndjson"] {
        let url = format!("{}/v1/events", app.base_url);
        let r = app.http.get(url).bearer_auth(&test["auditor"]).header("accept", accept).send().await.unwrap();
        assert_eq!(r.status(), 200, "export as {accept}");
        let text = r.text().await.unwrap();
        assert!(live.ids().iter().all(|live_id| !text.contains(live_id)), "export as {accept}: {text}");
        let live_export = app
            .http
            .get(format!("{}/v1/events", app.base_url))
            .bearer_auth(app.key("auditor"))
            .header("accept", accept);
        let live_text = live_export.send().await.unwrap().text().await.unwrap();
        assert_export_mode(&live_text, accept, true);
    }
    visited
}

#[tokio::test]
async fn a_test_key_never_reaches_live_data_on_any_route() {
    let app = crate::support::spawn_app().await;
    let _projector = start_projector(&app);
    let live = make_live(&app).await;
    let test = test_keys(&app).await;
    let mut visited: BTreeSet<String> = BTreeSet::new();
    let events_before = app.count_events().await;

    for (method, template, path, role, body) in routes_on(&live) {
        let (status, text) = call(&app, method.clone(), &path, &test[role], body).await;
        assert_eq!(status, 404, "{method} {path} with a test key: {text}");
        assert!(text.contains("\"not_found_error\""), "{method} {path}: {text}");
        visited.insert(format!("{method} {template}"));
    }
    assert_eq!(app.count_events().await, events_before, "no refused call appended anything");
    visited.extend(assert_lists_hold_nothing_live(&app, &test, &live).await);
    visited.extend(test_scope_writes_stay_apart(&app, &test, &live).await);

    let spec: Value = app.request(Method::GET, "/openapi.json", None, None, None).await.json().await.unwrap();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        if UNKEYED.contains(&path.as_str()) || path.starts_with("/v1/webhooks/") {
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            let route = format!("{} {path}", method.to_uppercase());
            assert!(visited.contains(&route), "{route} is not in the test-mode table");
        }
    }
}

/// What test keys write lives in the test scope: the live keys do not see it, the same
/// idempotency key means two commands, the same file two reports, and a test endpoint's
/// webhook lands in the test feed.
async fn test_scope_writes_stay_apart(app: &TestApp, test: &HashMap<&str, String>, live: &Live) -> Vec<String> {
    let body = json!({"amount": 500, "currency": "USD", "reference": "ORD-test"});
    let r = app.request(Method::POST, "/v1/orders", Some(&test["writer"]), Some(&body), Some("same-key")).await;
    assert_eq!(r.status(), 201);
    let ours: Value = r.json().await.unwrap();
    let other = json!({"amount": 900, "currency": "EUR", "reference": "ORD-live"});
    let r = app.request(Method::POST, "/v1/orders", Some(app.key("writer")), Some(&other), Some("same-key")).await;
    assert_eq!(r.status(), 201, "the test scope's idempotency key is not the live scope's");
    let theirs: Value = r.json().await.unwrap();
    assert_ne!(id(&ours), id(&theirs));
    assert_eq!((&ours["livemode"], &theirs["livemode"]), (&json!(false), &json!(true)), "each says its mode");
    let seen = format!("/v1/orders/{}?min_position={}", id(&ours), ours["position"]);
    let (s, shown) = app_json(call(app, Method::GET, &seen, &test["auditor"], None).await);
    assert_eq!((s, &shown["livemode"]), (200, &json!(false)), "{shown}");
    let live_order = format!("/v1/orders/{}", live.order);
    assert_eq!(app.get_as("auditor", &live_order).await.1["livemode"], json!(true));
    let from_live = format!("/v1/orders/{}?min_position={}", id(&ours), theirs["position"]);
    assert_eq!(app.get_as("auditor", &from_live).await.0, 404, "a live key never sees a test order");

    let (s, report) =
        send(app, &test["finance"], "?provider=generic", "text/csv", generic_csv(&["iso1"]).into_bytes()).await;
    assert_eq!(s, 201, "the live scope's file is new to the test scope: {report}");
    assert_ne!(id(&report), live.report);
    // A rebuild rebuilds every tenant's live read-models: not for a test credential.
    let (s, refused) = call(app, Method::POST, "/v1/projections/rebuild", &test["admin"], None).await;
    assert!(s == 403 && refused.contains("live_credential_required"), "{refused}");
    let repair = Some(json!({"repair": true}));
    let (s, refused) = call(app, Method::POST, "/v1/projections/verify", &test["finance"], repair).await;
    assert!(s == 403 && refused.contains("live_credential_required"), "{refused}");
    let (s, job) = app_json(call(app, Method::POST, "/v1/projections/verify", &test["finance"], None).await);
    assert_eq!(s, 202, "{job}");
    let frame = first_frame(app, &format!("/v1/jobs/{}", id(&job)), &test["auditor"]).await;
    assert_eq!(frame["livemode"], json!(false), "a job's stream says its mode: {frame}");
    let frame = first_frame(app, "/v1/events", &test["auditor"]).await;
    assert_eq!(frame["livemode"], json!(false), "the live feed's events say their mode: {frame}");
    let (s, live_jobs) = app.get_as("auditor", "/v1/jobs").await;
    assert!(s == 200 && !live_jobs.to_string().contains(&id(&job)), "{live_jobs}");

    let body = Some(json!({"role": "writer"}));
    let (s, key) = app_json(call(app, Method::POST, "/v1/admin/keys", &test["admin"], body).await);
    assert_eq!((s, key["key"].as_str().map(|k| k.starts_with("pl_test_"))), (201, Some(true)), "{key}");
    let body = Some(json!({"role": "writer", "mode": "live"}));
    let (s, refused) = call(app, Method::POST, "/v1/admin/keys", &test["admin"], body).await;
    assert_eq!(s, 403, "a test admin makes no live key: {refused}");
    let (_, live_keys) = app.get_as("admin", "/v1/admin/keys").await;
    assert!(!live_keys.to_string().contains(&id(&key)), "{live_keys}");

    let event_id = test_endpoint_delivery(app, test).await;
    let (_, feed) = app_json(call(app, Method::GET, "/v1/events", &test["auditor"], None).await);
    assert!(feed.to_string().contains(&event_id), "the test endpoint's delivery is test data: {feed}");
    let modes: BTreeSet<String> = feed["data"].as_array().unwrap().iter().map(|e| e["livemode"].to_string()).collect();
    assert_eq!(modes, BTreeSet::from(["false".to_owned()]), "{feed}");
    for accept in ["text/csv", "application/x-ndjson"] {
        let export =
            app.http.get(format!("{}/v1/events", app.base_url)).bearer_auth(&test["auditor"]).header("accept", accept);
        assert_export_mode(&export.send().await.unwrap().text().await.unwrap(), accept, false);
    }
    let (_, live_feed) = app.get_as("auditor", "/v1/events").await;
    assert!(!live_feed.to_string().contains(&event_id), "{live_feed}");
    assert!(!live_feed.to_string().contains(&id(&ours)), "{live_feed}");

    let token = test_token(app).await;
    let (s, _) = call(app, Method::GET, &format!("/v1/orders/{}", live.order), &token, None).await;
    assert_eq!(s, 404, "a test client's token is a test credential");

    ["POST /v1/orders", "POST /v1/settlement-reports", "POST /v1/projections/rebuild"]
        .into_iter()
        .chain(["POST /v1/projections/verify", "POST /v1/admin/keys", "POST /v1/admin/webhook-endpoints"])
        .map(str::to_owned)
        .collect()
}

/// The data of the first frame of a Server-Sent Events answer at `path`.
async fn first_frame(app: &TestApp, path: &str, key: &str) -> Value {
    type Body = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;
    let url = format!("{}{path}", app.base_url);
    let r = app.http.get(url).bearer_auth(key).header("accept", "text/event-stream").send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let mut frames = payledger_testkit::sse::SseReader::new(Box::pin(r.bytes_stream()) as Body);
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), frames.next());
        let frame = next.await.expect("a frame comes").expect("the stream stays open");
        if frame.comment.is_none() {
            return serde_json::from_str(&frame.data).unwrap();
        }
    }
}

/// A Stripe endpoint made by the test admin receives a signed delivery; returns its event id.
async fn test_endpoint_delivery(app: &TestApp, test: &HashMap<&str, String>) -> String {
    let body = Some(json!({"provider": "stripe", "secret": STRIPE_SECRET}));
    let (s, endpoint) = app_json(call(app, Method::POST, "/v1/admin/webhook-endpoints", &test["admin"], body).await);
    assert_eq!(s, 201, "{endpoint}");
    let (_, live_endpoints) = app.get_as("admin", "/v1/admin/webhook-endpoints").await;
    assert!(!live_endpoints.to_string().contains(&id(&endpoint)), "{live_endpoints}");
    let event_id = format!("evt_{}", Uuid::now_v7().simple());
    let event = json!({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
        "created": 1_680_804_104, "data": {"object": {"id": "pi_nowhere", "object": "payment_intent",
        "amount": 100, "amount_received": 100, "currency": "usd", "status": "succeeded"}}});
    let raw = serde_json::to_vec(&event).unwrap();
    let signature =
        payledger_gateways::signing::sign_stripe_header(STRIPE_SECRET, chrono::Utc::now().timestamp(), &raw);
    let r = app
        .http
        .post(format!("{}/v1/webhooks/stripe/{}", app.base_url, id(&endpoint)))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signature)
        .body(raw)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    event_id
}

/// An access token of a test-mode OAuth client of the tenant.
async fn test_token(app: &TestApp) -> String {
    let spec = ClientSpec::default();
    let actor = Actor::cli();
    let client = create_client(&app.pool, &actor, app.tenant_id, Role::Auditor, KeyMode::Test, &spec);
    let client = client.await.unwrap();
    let r = app
        .http
        .post(format!("{}/v1/oauth/token", app.base_url))
        .basic_auth(&client.info.client_id, Some(&client.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A test key made before test data was apart (V22 marks it `legacy_live`) keeps acting on
/// the live data it always did, and says so; a key filed under a test scope instead of its
/// tenant is no key at all.
#[tokio::test]
async fn a_legacy_test_key_keeps_its_live_data_and_a_key_of_a_test_scope_is_refused() {
    let app = crate::support::spawn_app().await;
    let order = app.create_order(700, "USD").await;
    let client = app.pool.get().await.unwrap();
    let insert_key = |tenant: Uuid, legacy_live: bool| {
        let key = keys::generate_key(KeyMode::Test);
        let prefix: String = key.chars().take(12).collect();
        let hash = keys::hash_key(&key).to_vec();
        let client = &client;
        async move {
            client
                .execute(
                    "INSERT INTO api_keys (key_id, tenant_id, role, mode, key_prefix, key_hash, legacy_live)
                     VALUES ($1, $2, 'auditor', 'test', $3, $4, $5)",
                    &[&Uuid::now_v7(), &tenant, &prefix, &hash, &legacy_live],
                )
                .await
                .unwrap();
            key
        }
    };
    let legacy = insert_key(app.tenant_id, true).await;
    let path = format!("/v1/orders/{}?min_position={}", id(&order), order["position"]);
    let _projector = start_projector(&app);
    let (s, shown) = app_json(call(&app, Method::GET, &path, &legacy, None).await);
    assert_eq!((s, &shown["livemode"]), (200, &json!(true)), "{shown}");
    let fresh = insert_key(app.tenant_id, false).await;
    assert_eq!(call(&app, Method::GET, &format!("/v1/orders/{}", id(&order)), &fresh, None).await.0, 404);

    let scope: Uuid = client
        .query_one("SELECT tenant_id FROM tenants WHERE live_tenant_id = $1", &[&app.tenant_id])
        .await
        .unwrap()
        .get(0);
    let misplaced = insert_key(scope, false).await;
    let (s, refused) = call(&app, Method::GET, "/v1/orders", &misplaced, None).await;
    assert!(s == 401 && refused.contains("invalid_api_key"), "{refused}");
}

/// Every event line of an export says its scope's mode (CSV: the `livemode` column).
fn assert_export_mode(text: &str, accept: &str, live: bool) {
    let modes: Vec<String> = if accept == "text/csv" {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let column = reader.headers().unwrap().iter().position(|h| h == "livemode").expect("a livemode column");
        reader.records().map(|r| r.unwrap()).filter(|r| &r[0] == "event").map(|r| r[column].to_owned()).collect()
    } else {
        let lines = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap());
        lines.filter(|l| l["object"] == "event").map(|l| l["livemode"].to_string()).collect()
    };
    assert!(!modes.is_empty(), "events exported as {accept}: {text}");
    assert!(modes.iter().all(|m| m == &live.to_string()), "{accept}: {modes:?}");
}
