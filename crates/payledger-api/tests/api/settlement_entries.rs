//! A settlement report line's postings belong to no payment: `/v1/ledger/entries` lists them
//! with `payment_id` and `order_id` null, beside the payments' entries, within their tenant.

use crate::support::{spawn_app, start_projector, TestApp};

use std::time::Duration;

use payledger_core::payment::Provider;
use payledger_core::settlement::{GatewayRefs, LineKind, SettlementEvent, SettlementLine};
use payledger_core::{Currency, DomainEvent, SettlementReportId};
use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
use payledger_testkit::eventually;
use serde_json::{json, Value};
use uuid::Uuid;

/// A one-line report (a fee of `fee_minor` USD) as the import appends it.
async fn append_fee_report(app: &TestApp, tenant: Uuid, fee_minor: i64) {
    let report_id = SettlementReportId::new();
    let at = chrono::Utc::now();
    let line = SettlementLine {
        line_number: 2,
        kind: LineKind::Fee,
        category: "fee".into(),
        gross_currency: Currency::USD,
        gross_minor: -fee_minor,
        currency: Currency::USD,
        fee_minor: 0,
        net_minor: -fee_minor,
        created_at: at,
        available_on: None,
        refs: GatewayRefs { balance_transaction_id: Some("txn_fee".into()), ..GatewayRefs::default() },
        dedupe_key: "stripe:txn_fee".into(),
        raw: "txn_fee".into(),
    };
    let events = [
        SettlementEvent::SettlementReportReceived {
            report_id,
            provider: Provider::Stripe,
            sha256: "cd".repeat(32),
            size_bytes: 100,
            line_count: 1,
            duplicate_lines: 0,
            period_from: Some(at),
            period_to: Some(at),
            received_at: at,
        },
        SettlementEvent::SettlementLineReported { report_id, line: Box::new(line), duplicate_of: None },
    ];
    let events: Vec<NewEvent> = events
        .into_iter()
        .map(DomainEvent::Settlement)
        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.to_payload()))
        .collect();
    let stream = StreamKey::new(tenant, report_id.stream_id());
    append(&app.pool, &stream, ExpectedVersion::NoStream, events).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn report_postings_are_listed_without_a_payment_and_within_their_tenant() {
    let app = spawn_app().await;
    let projector = start_projector(&app);
    let payment = app.captured_payment(5_000).await;
    append_fee_report(&app, app.tenant_id, 125).await;
    app.other_tenant("globex").await;
    let client = app.pool.get().await.unwrap();
    let other: Uuid =
        client.query_one("SELECT tenant_id FROM tenants WHERE name = 'globex' AND livemode", &[]).await.unwrap().get(0);
    drop(client);
    append_fee_report(&app, other, 999).await;

    let entries: Vec<Value> = eventually(Duration::from_secs(20), "the report's postings to be listed", || async {
        let (status, body) = app.get_as("finance", "/v1/ledger/entries?limit=100").await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap().clone();
        data.iter().any(|e| e["kind"] == json!("fee")).then_some(data)
    })
    .await;
    let fees: Vec<_> = entries.iter().filter(|e| e["kind"] == json!("fee")).collect();
    assert_eq!(fees.len(), 2, "{entries:#?}");
    for e in &fees {
        assert_eq!((&e["payment_id"], &e["order_id"], &e["amount"]), (&Value::Null, &Value::Null, &json!(125)));
    }
    let accounts: Vec<_> = fees.iter().map(|e| (e["account"].as_str().unwrap(), e["side"].as_str().unwrap())).collect();
    assert_eq!(accounts, [("processing_fees", "debit"), ("gateway_receivable", "credit")]);
    let captured = entries.iter().find(|e| e["kind"] == json!("capture")).unwrap();
    assert_eq!(captured["payment_id"], payment["id"]);
    assert!(!entries.iter().any(|e| e["amount"] == json!(999)), "another tenant's posting is listed");
    projector.abort();
}
