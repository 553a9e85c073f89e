//! The read-model routes over HTTP, with a real projector: read-your-writes, lists with
//! filters and cursors, tenant scoping, the ledger, projection status, verify and rebuild
//! (also while commands keep arriving).

use crate::support as common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{spawn_app, spawn_app_with, start_job_runner, start_projector, TestApp};
use payledger_api::ApiConfig;
use payledger_testkit::eventually;
use reqwest::Method;
use serde_json::{json, Value};

fn position(body: &Value) -> i64 {
    body["position"].as_i64().unwrap_or_else(|| panic!("no position in {body}"))
}

async fn post_ok(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, response) = app.post(path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {response}");
    response
}

async fn get_ok(app: &TestApp, role: &str, path: &str) -> Value {
    let (status, body) = app.get_as(role, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Every item of a list, following `starting_after`.
async fn list_all(app: &TestApp, role: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let page_path = match &cursor {
            Some(after) => format!("{path}{separator}limit=100&starting_after={after}"),
            None => format!("{path}{separator}limit=100"),
        };
        let page = get_ok(app, role, &page_path).await;
        let data = page["data"].as_array().unwrap().clone();
        cursor = data.last().map(|item| item["id"].as_str().unwrap().to_owned());
        items.extend(data);
        if page["has_more"] != json!(true) {
            return items;
        }
    }
    panic!("too many pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gets_read_their_own_writes_and_the_ledger_adds_up() {
    let app = spawn_app().await;
    let projector = start_projector(&app);
    let order = app.create_order(7500, "USD").await;
    let order_id = order["id"].as_str().unwrap();
    let payment = post_ok(
        &app,
        "/v1/payments",
        json!({"order_id": order_id, "amount": 7500, "currency": "USD", "capture_method": "manual",
               "provider": "stripe", "provider_reference": "pi_rm_1"}),
    )
    .await;
    let id = payment["id"].as_str().unwrap().to_owned();
    let read = get_ok(&app, "auditor", &format!("/v1/payments/{id}?min_position={}", position(&payment))).await;
    assert_eq!(
        (&read["status"], &read["amount"], &read["order_id"]),
        (&json!("initiated"), &json!(7500), &json!(order_id))
    );

    post_ok(&app, &format!("/v1/payments/{id}/authorize"), json!({})).await;
    let captured = post_ok(&app, &format!("/v1/payments/{id}/capture"), json!({})).await;
    // The read-model's view has the command response's fields and values.
    let mut read = get_ok(&app, "auditor", &format!("/v1/payments/{id}?min_position={}", position(&captured))).await;
    let mut decided = captured.clone();
    for view in [&mut read, &mut decided] {
        let map = view.as_object_mut().unwrap();
        map.remove("position");
        map.remove("created_at"); // the command answers with nanoseconds, PostgreSQL keeps microseconds
    }
    assert_eq!(read, decided);
    let refund = post_ok(&app, &format!("/v1/payments/{id}/refunds"), json!({"amount": 1000})).await;
    let refund_id = refund["id"].as_str().unwrap().to_owned();
    post_ok(&app, &format!("/v1/refunds/{refund_id}/succeed"), json!({})).await;
    let dispute = post_ok(&app, &format!("/v1/payments/{id}/disputes"), json!({"amount": 2000})).await;
    let last =
        post_ok(&app, &format!("/v1/disputes/{}/resolve", dispute["id"].as_str().unwrap()), json!({"outcome": "lost"}))
            .await;
    let at = position(&last);
    assert!(at > position(&captured));

    // The payment as the projector has it equals the payment as the last command decided it.
    let read = get_ok(&app, "finance", &format!("/v1/payments/{id}?min_position={at}")).await;
    for field in
        ["status", "amount_authorized", "amount_captured", "amount_refunded", "amount_disputed", "amount_refundable"]
    {
        assert!(read.get(field).is_some(), "{field} missing in {read}");
    }
    assert_eq!(
        (&read["status"], &read["amount_captured"], &read["amount_refunded"]),
        (&json!("captured"), &json!(7500), &json!(1000))
    );
    assert_eq!(read["refunds"][0]["id"], json!(refund_id));
    assert_eq!(read["refunds"][0]["status"], json!("succeeded"));
    assert_eq!(read["disputes"][0]["status"], json!("lost"));

    let order = get_ok(&app, "writer", &format!("/v1/orders/{order_id}?min_position={at}")).await;
    assert_eq!(
        (&order["status"], &order["amount_captured"], &order["amount_refunded"]),
        (&json!("paid"), &json!(7500), &json!(1000))
    );
    let refund = get_ok(&app, "auditor", &format!("/v1/refunds/{refund_id}")).await;
    assert_eq!(
        (&refund["amount"], &refund["payment_id"], &refund["object"]),
        (&json!(1000), &json!(id), &json!("refund"))
    );

    // Ledger: captured 7500, refunded 1000, lost a 2000 chargeback.
    let accounts = get_ok(&app, "finance", "/v1/ledger/accounts?currency=USD").await;
    let balances: BTreeMap<String, i64> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["account"].as_str().unwrap().to_owned(), a["balance"].as_i64().unwrap()))
        .collect();
    let expected: BTreeMap<String, i64> = [
        ("chargeback_losses", 2000),
        ("disputes_held", 0),
        ("gateway_receivable", 4500),
        ("refunds", 1000),
        ("sales_revenue", 7500),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b))
    .collect();
    assert_eq!(balances, expected);
    let entries = list_all(&app, "finance", &format!("/v1/ledger/entries?payment_id={id}")).await;
    assert_eq!(entries.len(), 8, "four transactions of two lines");
    let kinds: Vec<&str> = entries.iter().step_by(2).map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["capture", "refund", "dispute_opened", "dispute_lost"]);
    let page = get_ok(&app, "finance", "/v1/ledger/entries?limit=3").await;
    let rest = get_ok(
        &app,
        "finance",
        &format!("/v1/ledger/entries?starting_after={}", page["data"][2]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(page["has_more"], json!(true));
    assert_eq!(rest["data"][0]["id"], entries[3]["id"]);
    let page = get_ok(&app, "finance", "/v1/ledger/accounts?limit=2").await;
    let rest = get_ok(
        &app,
        "finance",
        &format!("/v1/ledger/accounts?starting_after={}", page["data"][1]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len() + rest["data"].as_array().unwrap().len(), 5);
    projector.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_page_filter_and_stay_within_their_tenant() {
    let app = spawn_app().await;
    let projector = start_projector(&app);
    let mut ids = Vec::new();
    let mut last = 0;
    for n in 0..23 {
        let order = app.create_order(1000 + n, "EUR").await;
        ids.push(order["id"].as_str().unwrap().to_owned());
        last = position(&order);
    }
    for id in &ids[..5] {
        last = position(&post_ok(&app, &format!("/v1/orders/{id}/cancel"), json!({})).await);
    }
    let first = get_ok(&app, "auditor", &format!("/v1/orders?min_position={last}")).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 10, "default page");
    assert_eq!(first["has_more"], json!(true));
    assert_eq!(first["data"][0]["id"], json!(ids[22]), "newest first");
    let all = list_all(&app, "auditor", "/v1/orders").await;
    let listed: Vec<String> = all.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);

    let cancelled = list_all(&app, "auditor", "/v1/orders?status=cancelled").await;
    assert_eq!(
        cancelled.iter().map(|o| o["id"].as_str().unwrap()).collect::<BTreeSet<_>>(),
        ids[..5].iter().map(String::as_str).collect()
    );
    let open = get_ok(&app, "auditor", "/v1/orders?status=open&limit=100").await;
    assert_eq!(open["data"].as_array().unwrap().len(), 18);

    let pivot = all.iter().find(|o| o["id"] == json!(ids[10])).unwrap()["created_at"].as_str().unwrap().to_owned();
    let pivot = urlencode(&pivot);
    let newer = list_all(&app, "auditor", &format!("/v1/orders?created_gte={pivot}")).await;
    let older = list_all(&app, "auditor", &format!("/v1/orders?created_lt={pivot}")).await;
    assert_eq!((newer.len(), older.len()), (13, 10));

    // Another tenant sees none of it.
    let other = app.other_tenant("globex").await;
    let (status, _) = get(&app, &other["auditor"], &format!("/v1/orders/{}", ids[0])).await;
    assert_eq!(status, 404);
    let (status, body) = get(&app, &other["auditor"], "/v1/orders").await;
    assert_eq!((status, body["data"].as_array().map(Vec::len)), (200, Some(0)));
    let (status, _) = get(&app, &other["auditor"], &format!("/v1/orders?starting_after={}", ids[0])).await;
    assert_eq!(status, 400);
    let (status, body) = get(&app, &other["auditor"], &format!("/v1/orders?min_position={last}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("position_unknown")));

    // Bad parameters, in the API's error format.
    for (path, code) in [
        ("/v1/orders?limit=0", "limit_invalid"),
        ("/v1/orders?limit=101", "limit_invalid"),
        ("/v1/orders?status=paid_twice", "status_invalid"),
        ("/v1/orders?colour=red", "unknown_parameter"),
        ("/v1/orders?created_gte=yesterday", "invalid_parameter"),
        ("/v1/orders?order_id=0190a3a0-0000-7000-8000-000000000000", "unknown_field"),
        ("/v1/payments?starting_after=0190a3a0-0000-7000-8000-000000000000", "cursor_invalid"),
        ("/v1/ledger/entries?starting_after=nope", "cursor_invalid"),
        ("/v1/refunds?status=lost", "status_invalid"),
    ] {
        let (status, body) = app.get_as("auditor", path).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{path}: {body}");
    }
    let (status, _) = app.get_as("auditor", "/v1/payments/not-a-uuid").await;
    assert_eq!(status, 404);
    projector.abort();
}

#[tokio::test]
async fn min_position_waits_a_bounded_time_then_answers_503() {
    let app = spawn_app_with(ApiConfig { read_your_writes_timeout_ms: 200, ..ApiConfig::default() }).await;
    let order = app.create_order(500, "JPY").await;
    let started = Instant::now();
    let response = app
        .request(
            Method::GET,
            &format!("/v1/orders/{}?min_position={}", order["id"].as_str().unwrap(), position(&order)),
            Some(app.key("auditor")),
            None,
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("read_models_behind"));

    // Without a projector ever run, lists are empty and items unknown.
    let (status, body) = app.get_as("auditor", "/v1/orders").await;
    assert_eq!((status, body["data"].as_array().map(Vec::len)), (200, Some(0)));
    let (status, _) = app.get_as("auditor", &format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projections_status_verify_and_repair_over_http() {
    let app = spawn_app().await;
    let projector = start_projector(&app);
    let payment = app.captured_payment(4200).await;
    let at = position(&payment);
    get_ok(&app, "finance", &format!("/v1/payments/{}?min_position={at}", payment["id"].as_str().unwrap())).await;

    let (status, _) = app.get_as("writer", "/v1/projections").await;
    assert_eq!(status, 403);
    let status = wait_status(&app, |p| p["lag_events"] == json!(0)).await;
    assert_eq!(status["state"], json!("live"));
    assert!(status["tables"].as_array().unwrap().contains(&json!("account_balances")));
    assert_eq!(status["checkpoint"]["position"], json!(at));
    let version = status["live_version"].as_i64().unwrap();

    let jobs = start_job_runner(&app);
    let report = verify_job(&app, "finance", json!({})).await;
    assert_eq!((&report["clean"], &report["differences_total"]), (&json!(true), &json!(0)));

    // Tamper with this tenant's payment row; verify names it; repair rebuilds.
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            &format!("UPDATE read_models_v{version}.payments SET amount_captured_minor = 1 WHERE payment_id = $1"),
            &[&payment["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    drop(client);
    let report = verify_job(&app, "finance", json!({})).await;
    assert_eq!(report["clean"], json!(false));
    let difference = &report["differences"][0];
    assert_eq!(
        (&difference["table"], &difference["field"], &difference["expected"], &difference["actual"]),
        (&json!("payments"), &json!("amount_captured_minor"), &json!(4200), &json!(1))
    );
    assert_eq!(difference["key"], json!(format!("payment_id={}", payment["id"].as_str().unwrap())));

    let report = verify_job(&app, "admin", json!({"repair": true})).await;
    let repair = app.wait_job("admin", report["repair"]["id"].as_str().unwrap()).await;
    assert_eq!(repair["kind"], json!("projection_rebuild"), "{repair}");
    assert_eq!(repair["status"], json!("succeeded"), "{repair}");
    let rebuilt = repair["result"]["version"].as_i64().unwrap();
    assert!(rebuilt > version);
    let status = wait_status(&app, |p| p["live_version"] == json!(rebuilt)).await;
    assert_eq!(status["state"], json!("live"));
    let report = verify_job(&app, "finance", json!({})).await;
    assert_eq!(report["clean"], json!(true), "{report}");
    let read = get_ok(&app, "auditor", &format!("/v1/payments/{}", payment["id"].as_str().unwrap())).await;
    assert_eq!(read["amount_captured"], json!(4200));

    let (code, body) = post_as(&app, "finance", "/v1/projections/rebuild", json!({"fast": true})).await;
    assert_eq!((code, body["error"]["code"].as_str()), (400, Some("unknown_field")));
    jobs.stop().await;
    projector.abort();
}

/// Runs a verify job to its end and returns its result (the verification).
async fn verify_job(app: &TestApp, role: &str, body: Value) -> Value {
    let job = app.run_job(role, "/v1/projections/verify", body).await;
    assert_eq!(job["status"], json!("succeeded"), "{job}");
    job["result"].clone()
}

/// Commands keep arriving over HTTP while the read-models are rebuilt and swapped: no request
/// fails, and afterwards every payment reads back as its last command left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_while_commands_keep_arriving_loses_nothing() {
    let app = Arc::new(spawn_app().await);
    let projector = start_projector(&app);
    let mut initial = Vec::new();
    for _ in 0..40 {
        initial.push(app.captured_payment(1000).await);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A reader keeps reading what existed before the rebuild: the old tables serve it until
    // the swap, the new ones after; no read fails and none sees a half-built version.
    let reader = {
        let (app, stop) = (app.clone(), stop.clone());
        let first = initial[0]["id"].as_str().unwrap().to_owned();
        let at = position(initial.last().unwrap());
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let payment = get_ok(&app, "auditor", &format!("/v1/payments/{first}")).await;
                assert_eq!((&payment["status"], &payment["amount_captured"]), (&json!("captured"), &json!(1000)));
                let listed = get_ok(&app, "auditor", &format!("/v1/payments?limit=100&min_position={at}")).await;
                assert!(listed["data"].as_array().unwrap().len() >= 40, "{listed}");
                reads += 1;
            }
            reads
        })
    };
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (app, stop, done) = (app.clone(), stop.clone(), done.clone());
        writers.push(tokio::spawn(async move {
            let mut last: BTreeMap<String, Value> = BTreeMap::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 5 {
                let payment = app.create_payment(2000 + w).await;
                let id = payment["id"].as_str().unwrap().to_owned();
                post_ok(&app, &format!("/v1/payments/{id}/authorize"), json!({})).await;
                let captured = post_ok(&app, &format!("/v1/payments/{id}/capture"), json!({"amount": 700})).await;
                last.insert(id, captured);
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                n += 1;
            }
            last
        }));
    }
    while done.load(std::sync::atomic::Ordering::Relaxed) < 3 {
        tokio::task::yield_now().await;
    }
    let (code, started) = post_as(&app, "finance", "/v1/projections/rebuild", json!({})).await;
    let before_swap = done.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(code, 202, "{started}");
    let (code, busy) = post_as(&app, "finance", "/v1/projections/rebuild", json!({})).await;
    assert_eq!((code, busy["error"]["code"].as_str()), (409, Some("rebuild_in_progress")), "{busy}");
    assert_eq!(busy["error"]["details"]["job_id"], started["id"]);
    let jobs = start_job_runner(&app);
    let rebuilt = app.wait_job("finance", started["id"].as_str().unwrap()).await;
    assert_eq!(rebuilt["status"], json!("succeeded"), "{rebuilt}");
    let version = rebuilt["result"]["version"].as_i64().unwrap();
    wait_status(&app, |p| p["live_version"] == json!(version)).await;
    jobs.stop().await;
    let after_swap = done.load(std::sync::atomic::Ordering::Relaxed);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let mut last = BTreeMap::new();
    for writer in writers {
        last.extend(writer.await.unwrap());
    }
    assert!(reader.await.unwrap() > 0, "the reader read (every read, before, during and after the swap, answered 200)");
    for (id, decided) in &last {
        let read = get_ok(&app, "auditor", &format!("/v1/payments/{id}?min_position={}", position(decided))).await;
        assert_eq!(
            (&read["status"], &read["amount_captured"]),
            (&decided["status"], &decided["amount_captured"]),
            "{id}"
        );
    }
    let listed = list_all(&app, "auditor", "/v1/payments").await;
    assert_eq!(listed.len(), last.len() + 40);
    eprintln!("{} payments captured while the rebuild ran", after_swap - before_swap);
    projector.abort();
}

/// Stripe webhooks (authorization, capture, refund, chargeback), delivered out of order and
/// twice over HTTP and interpreted onto the payments: the read-models follow, equal a fold of
/// each payment's stream, and verify is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gateway_webhooks_out_of_order_land_in_the_read_models() {
    const SECRET: &str = "whsec_test_read_models_7c1f0e9a2b";
    const FIXTURE_PI: &str = "pi_3MtwBwLkdIwHu7ix28a3tqPa";
    let app = spawn_app().await;
    let projector = start_projector(&app);
    let (status, endpoint) = post_as(
        &app,
        "admin",
        "/v1/admin/webhook-endpoints",
        json!({"provider": "stripe", "label": "read models", "secret": SECRET}),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let names = [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "charge.refunded",
        "charge.dispute.created",
    ];
    let mut payments = Vec::new();
    for n in 0..6usize {
        let payment = app.create_payment(2000).await;
        let pi = payment["provider_reference"].as_str().unwrap().to_owned();
        // Rotate the order of arrival per payment, and deliver one event twice.
        let mut order: Vec<&str> = names.iter().cycle().skip(n).take(names.len()).copied().collect();
        order.push(order[0]);
        for name in order {
            let path = format!("{}/../../fixtures/webhooks/stripe/{name}.json", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read_to_string(&path)
                .unwrap()
                .replace(FIXTURE_PI, &pi)
                .replace("\"evt_", &format!("\"evt_{n}_"))
                .into_bytes();
            let signature =
                payledger_gateways::signing::sign_stripe_header(SECRET, chrono::Utc::now().timestamp(), &body);
            let response = app
                .http
                .post(format!("{}/v1/webhooks/stripe/{endpoint_id}", app.base_url))
                .header("Content-Type", "application/json")
                .header("Stripe-Signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{name}: {}", response.status());
        }
        payments.push(payment["id"].as_str().unwrap().to_owned());
    }
    // Interpreted (right after each answer) and projected.
    crate::webhooks::support::wait_interpreted(&app).await;
    app.settle().await;
    wait_status(&app, |p| p["lag_events"] == json!(0)).await;

    let client = app.pool.get().await.unwrap();
    let mut captured_total = 0;
    for id in &payments {
        let folded = payledger_testkit::oracle::fold_payment(&**client, app.tenant_id, id).await.payment;
        let read = get_ok(&app, "auditor", &format!("/v1/payments/{id}")).await;
        assert_eq!(
            (&read["status"], &read["amount_captured"], &read["amount_refunded"], &read["amount_disputed"]),
            (
                &json!(folded.status.as_str()),
                &json!(folded.amount_captured.get()),
                &json!(folded.amount_refunded.get()),
                &json!(folded.amount_disputed.get())
            ),
            "{id}"
        );
        assert!(folded.amount_captured.get() > 0, "the webhooks captured {id}");
        captured_total += folded.amount_captured.get();
    }
    drop(client);
    let accounts = get_ok(&app, "finance", "/v1/ledger/accounts?account=sales_revenue").await;
    assert_eq!(accounts["data"][0]["balance"], json!(captured_total));
    let jobs = start_job_runner(&app);
    let report = verify_job(&app, "finance", json!({})).await;
    assert_eq!(report["clean"], json!(true), "{report}");
    jobs.stop().await;
    projector.abort();
}

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let response = app.request(Method::GET, path, Some(key), None, None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_as(app: &TestApp, role: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app.request(Method::POST, path, Some(app.key(role)), Some(&body), None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `GET /v1/projections` until `ready` holds for the read-models projection.
async fn wait_status(app: &TestApp, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(60), "the projection status to get there", || async {
        let body = get_ok(app, "finance", "/v1/projections").await;
        let projection = body["data"][0].clone();
        if ready(&projection) {
            Ok(projection)
        } else {
            Err(projection)
        }
    })
    .await
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}
