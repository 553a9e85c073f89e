//! Helpers for the webhook tests: endpoints through the admin API, signed deliveries from
//! the fixtures, and a payment's state, balances and journal read from its own stream.

use std::time::Duration;

use payledger_gateways::signing::{sign_adyen_body, sign_generic_header, sign_stripe_header};
use payledger_testkit::eventually;
use payledger_testkit::oracle::{self, FoldedPayment};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::TestApp;

/// Adyen's public sample HMAC key, which signs the fixtures (see fixtures/webhooks/README.md).
pub const ADYEN_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
pub const STRIPE_SECRET: &str = "whsec_test_5f0c2b7e9a41d3c8b6e2f1a0";
/// The payment all Stripe fixtures are about.
pub const FIXTURE_PI: &str = "pi_3MtwBwLkdIwHu7ix28a3tqPa";
/// The payment the Adyen fixtures are about, and the other references they use.
pub const FIXTURE_PSP: &str = "QFQTPCQ8HXSKGK82";
const FIXTURE_ADYEN_MODIFICATIONS: [&str; 3] = ["V4HZ4RBFJGXXGN82", "LMHT3V4ZJ6LTGN82", "TBH3VQWQDJS4GX82"];

pub fn fixture(path: &str) -> String {
    let full = format!("{}/../../fixtures/webhooks/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A Stripe fixture about the payment `pi` instead, with event ids made unique by `tag`.
pub fn stripe_event(name: &str, pi: &str, tag: &str) -> Vec<u8> {
    fixture(&format!("stripe/{name}.json"))
        .replace(FIXTURE_PI, pi)
        .replace("\"evt_", &format!("\"evt_{tag}_"))
        .into_bytes()
}

/// An Adyen fixture about the payment `psp` instead, references made unique by `tag`,
/// signed with `key`.
pub fn adyen_delivery(name: &str, psp: &str, tag: &str, key: &str) -> Vec<u8> {
    let mut text = fixture(&format!("adyen/{name}.json")).replace(FIXTURE_PSP, psp);
    for reference in FIXTURE_ADYEN_MODIFICATIONS {
        text = text.replace(reference, &format!("{reference}{tag}"));
    }
    sign_adyen_body(key, text.as_bytes()).unwrap()
}

pub fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn stripe_headers(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![("Stripe-Signature", sign_stripe_header(secret, now_s(), body))]
}

pub fn generic_headers(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![("Payledger-Signature", sign_generic_header(secret, now_s(), body))]
}

/// An endpoint created through the admin API; returns its body.
pub async fn create_endpoint(app: &TestApp, provider: &str, secret: Option<&str>) -> Value {
    let mut body = json!({ "provider": provider, "label": format!("{provider} test") });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    let response =
        app.request(Method::POST, "/v1/admin/webhook-endpoints", Some(app.key("admin")), Some(&body), None).await;
    let status = response.status().as_u16();
    let endpoint: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{endpoint}");
    endpoint
}

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

/// POSTs raw bytes to the endpoint; returns the status and the body text.
pub async fn deliver(
    app: &TestApp,
    provider: &str,
    endpoint_id: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut request = app
        .http
        .post(format!("{}/v1/webhooks/{provider}/{endpoint_id}", app.base_url))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub fn error_code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    value["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// Waits (bounded) until no delivery is pending interpretation: the inline dispatch after
/// each answer is what interprets them here (`spawn_app` starts no sweep), so this waits
/// rather than calling `sweep_once`, which would do the inline dispatch's work for it.
pub async fn wait_interpreted(app: &TestApp) {
    eventually(Duration::from_secs(60), "no webhook delivery pending interpretation", || async {
        let client = app.pool.get().await.unwrap();
        let pending: i64 = client
            .query_one("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'", &[])
            .await
            .unwrap()
            .get(0);
        (pending == 0).then_some(())
    })
    .await
}

pub async fn count_events_of_type(app: &TestApp, event_type: &str) -> i64 {
    let client = app.pool.get().await.unwrap();
    client.query_one("SELECT count(*) FROM events WHERE event_type = $1", &[&event_type]).await.unwrap().get(0)
}

/// `(status, outcome_reason)` of every delivery, oldest first.
pub async fn deliveries(app: &TestApp) -> Vec<(String, Option<String>)> {
    let client = app.pool.get().await.unwrap();
    client
        .query("SELECT status, outcome_reason FROM webhook_deliveries ORDER BY delivery_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// A payment's stream as stored: `(event_type, payload, metadata)`.
pub async fn payment_stream(app: &TestApp, payment_id: &str) -> Vec<(String, Value, Value)> {
    let client = app.pool.get().await.unwrap();
    client
        .query(
            "SELECT event_type, payload, metadata FROM events WHERE tenant_id = $1 AND stream_id = $2
             ORDER BY stream_version",
            &[&app.tenant_id, &format!("payment-{payment_id}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// A payment folded from its stream (the test kit's oracle), with the balances and journal
/// totals its events post.
pub async fn fold_payment(app: &TestApp, payment_id: &str) -> FoldedPayment {
    let client = app.pool.get().await.unwrap();
    oracle::fold_payment(&**client, app.tenant_id, payment_id).await
}

/// An order and a manual-capture payment with this provider and reference.
pub async fn create_payment_with(app: &TestApp, amount: i64, currency: &str, provider: &str, reference: &str) -> Value {
    let order = app.create_order(amount, currency).await;
    let (status, payment) = app
        .post(
            "/v1/payments",
            json!({"order_id": order["id"], "amount": amount, "currency": currency, "capture_method": "manual",
                   "provider": provider, "provider_reference": reference}),
        )
        .await;
    assert_eq!(status, 201, "{payment}");
    payment
}

pub fn fresh_reference(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::now_v7().simple())
}
