//! One tenant's unprojectable stream must not stop the read-models of another (issue #12):
//! the i64::MAX order sequence, and a directly appended undecodable payment stream.

use crate::support as common;

use common::*;
use payledger_service::tenants as keys;
use payledger_service::tenants::{KeyMode, Role};
use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let r = app.request(Method::GET, path, Some(key), None, None).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenant_reads_its_writes_after_a_stream_that_cannot_be_projected() {
    let app = spawn_app().await;
    let projector = start_projector(&app);
    app.captured_payment(5_000).await;

    // The sequence of the report now stops at its first step: the amount is over the
    // documented maximum (`AmountMinor::MAX`), so nothing can overflow downstream.
    let big = i64::MAX;
    let (status, order) = app.post("/v1/orders", json!({"amount": big, "currency": "USD", "reference": "big"})).await;
    assert_eq!((status, order["error"]["param"].as_str()), (400, Some("amount")), "{order}");

    // And a payment stream no build can decode, appended straight to the log.
    let bad = StreamKey::new(app.tenant_id, format!("payment-{}", Uuid::now_v7()));
    let event = NewEvent::new("PaymentInitiated", 1, json!({"amount_minor": "not a number"}));
    append(&app.pool, &bad, ExpectedVersion::NoStream, vec![event]).await.unwrap();

    // Another tenant's read-your-writes read answers.
    let globex = app.other_tenant("globex").await;
    let r = app
        .request(
            Method::POST,
            "/v1/orders",
            Some(&globex["writer"]),
            Some(&json!({"amount": 1_200, "currency": "EUR", "reference": "g-1"})),
            None,
        )
        .await;
    let status = r.status().as_u16();
    let created: Value = r.json().await.unwrap();
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let position = created["position"].as_i64().unwrap_or_else(|| panic!("no position in {created}"));
    let (status, read) = get(&app, &globex["auditor"], &format!("/v1/orders/{id}?min_position={position}")).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["amount"], 1_200);

    // The bad tenant sees its parked stream; the other sees none.
    let (status, own) = app.get_as("finance", "/v1/projections").await;
    assert_eq!(status, 200, "{own}");
    let own = &own["data"][0];
    assert_eq!(own["state"], "degraded", "{own}");
    let streams: Vec<&str> =
        own["parked_streams"].as_array().unwrap().iter().map(|p| p["stream_id"].as_str().unwrap()).collect();
    assert!(streams.contains(&bad.stream_id.as_str()), "{own}");
    let globex_finance = {
        let client = app.pool.get().await.unwrap();
        let tenant: Uuid = client
            .query_one("SELECT tenant_id FROM tenants WHERE name = 'globex' AND livemode", &[])
            .await
            .unwrap()
            .get(0);
        keys::create_key(
            &app.pool,
            &payledger_service::admin_log::Actor::system("test"),
            tenant,
            Role::Finance,
            KeyMode::Live,
            None,
        )
        .await
        .unwrap()
        .key
    };
    let (status, theirs) = get(&app, &globex_finance, "/v1/projections").await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["data"][0]["state"], "live", "{theirs}");
    assert_eq!(theirs["data"][0]["parked_streams_count"], 0, "{theirs}");
    assert_eq!(theirs["data"][0]["parked_streams"], json!([]), "{theirs}");
    assert!(!theirs.to_string().contains(&bad.stream_id));

    // The acme ledger accounts answer (a balance past i64 is shown, never a 500).
    let (status, accounts) = app.get_as("finance", "/v1/ledger/accounts").await;
    assert_eq!(status, 200, "{accounts}");
    projector.abort();
}
