//! The books as of a moment: balances and a payment read as of a time before a refund
//! differ from now by exactly that refund; the trial balance of the day ties out.

use crate::support as common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::{spawn_app, start_projector, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_as("finance", path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn at(moment: chrono::DateTime<Utc>) -> String {
    // `+` would be a space in a query string; UTC's `Z` needs no escaping.
    moment.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// (account, balance) of the USD accounts, as of `query`.
async fn balances(app: &TestApp, query: &str) -> BTreeMap<String, i64> {
    let body = get(app, &format!("/v1/ledger/accounts?currency=USD&limit=100{query}")).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["account"].as_str().unwrap().to_owned(), a["balance"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn balances_and_a_payment_before_a_refund_differ_from_now_by_that_refund() {
    let app = spawn_app().await;
    let _projector = start_projector(&app);
    let before_payment = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let payment = app.captured_payment(10_000).await;
    let id = payment["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before_refund = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (s, refund) = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 3_000})).await;
    assert_eq!(s, 201, "{refund}");
    let (s, done) = app.post(&format!("/v1/refunds/{}/succeed", refund["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{done}");
    let position = done["position"].as_i64().unwrap();

    let now = balances(&app, &format!("&min_position={position}")).await;
    let then = balances(&app, &format!("&as_of={}", at(before_refund))).await;
    assert_eq!(now["refunds"], 3_000);
    assert!(!then.contains_key("refunds"), "no refund had been booked then: {then:?}");
    assert_eq!(then["gateway_receivable"] - now["gateway_receivable"], 3_000);
    assert_eq!(then["sales_revenue"], now["sales_revenue"]);
    assert!(balances(&app, &format!("&as_of={}", at(before_payment))).await.is_empty());

    let payment_now = get(&app, &format!("/v1/payments/{id}?min_position={position}")).await;
    let payment_then = get(&app, &format!("/v1/payments/{id}?as_of={}", at(before_refund))).await;
    assert_eq!(
        (payment_now["amount_refunded"].as_i64(), payment_then["amount_refunded"].as_i64()),
        (Some(3_000), Some(0))
    );
    assert_eq!(payment_now["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(payment_then["refunds"], json!([]));
    assert_eq!(payment_then["amount_captured"], payment_now["amount_captured"]);
    assert_eq!(payment_then["status"], "captured");
    // Apart from the refund, the fold of the past is the read-model of now.
    let mut now_without_refund = payment_now.clone();
    now_without_refund["amount_refunded"] = json!(0);
    now_without_refund["amount_refundable"] = payment_then["amount_refundable"].clone();
    now_without_refund["refunds"] = json!([]);
    now_without_refund["status"] = payment_then["status"].clone();
    assert_eq!(payment_then, now_without_refund);

    let (status, _) = app.get_as("finance", &format!("/v1/payments/{id}?as_of={}", at(before_payment))).await;
    assert_eq!(status, 404, "the payment did not exist yet");
    let other = app.other_tenant("globex").await;
    let r = app
        .request(
            Method::GET,
            &format!("/v1/payments/{id}?as_of={}", at(Utc::now())),
            Some(&other["auditor"]),
            None,
            None,
        )
        .await;
    assert_eq!(r.status().as_u16(), 404, "another tenant's payment, as of any time");
}

#[tokio::test]
async fn the_trial_balance_of_a_day_opens_moves_and_closes_per_account() {
    let app = spawn_app().await;
    let _projector = start_projector(&app);
    let payment = app.captured_payment(10_000).await;
    let id = payment["id"].as_str().unwrap();
    let (_, refund) = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 2_500})).await;
    let (_, done) = app.post(&format!("/v1/refunds/{}/succeed", refund["id"].as_str().unwrap()), json!({})).await;
    let position = done["position"].as_i64().unwrap();
    let today = Utc::now().date_naive();

    let body = get(&app, &format!("/v1/ledger/trial-balance?date={today}&min_position={position}")).await;
    let rows: BTreeMap<&str, &Value> =
        body["data"].as_array().unwrap().iter().map(|r| (r["account"].as_str().unwrap(), r)).collect();
    let line = |account: &str| {
        let r = rows[account];
        [&r["opening_minor"], &r["debit_minor"], &r["credit_minor"], &r["closing_minor"]].map(|v| v.as_i64().unwrap())
    };
    assert_eq!(line("gateway_receivable"), [0, 10_000, 2_500, 7_500]);
    assert_eq!(line("sales_revenue"), [0, 0, 10_000, 10_000]);
    assert_eq!(line("refunds"), [0, 2_500, 0, 2_500]);
    assert_eq!(body["totals"], json!([{"currency": "USD", "debit_minor": 12_500, "credit_minor": 12_500}]));
    assert_eq!(body["time_zone"], "UTC");

    // The next day opens where this one closed and moves nothing.
    let tomorrow = today.succ_opt().unwrap();
    let body = get(&app, &format!("/v1/ledger/trial-balance?date={tomorrow}")).await;
    let gr = body["data"].as_array().unwrap().iter().find(|r| r["account"] == "gateway_receivable").unwrap().clone();
    assert_eq!(
        [&gr["opening_minor"], &gr["debit_minor"], &gr["credit_minor"], &gr["closing_minor"]],
        [&json!(7_500), &json!(0), &json!(0), &json!(7_500)]
    );
    // And the day before has no entries at all.
    let body = get(&app, &format!("/v1/ledger/trial-balance?date={}", today.pred_opt().unwrap())).await;
    assert_eq!(body["data"], json!([]));

    let (status, body) = app.get_as("finance", "/v1/ledger/trial-balance?date=2026-02-30").await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("date")), "{body}");
    let (status, body) = app.get_as("finance", "/v1/ledger/trial-balance").await;
    assert_eq!(status, 400, "{body}");
}
