//! A payment's deliveries (authorized, captured, refunded) in every order converge on the
//! same payment state, amounts, balances and journal totals.

use std::collections::BTreeMap;

use super::support::*;
use crate::support::{spawn_app, TestApp};

/// Every order of `[0, 1, 2]`.
const PERMUTATIONS: [[usize; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

/// What must not depend on the delivery order.
#[derive(Debug, PartialEq, Eq)]
struct Final {
    status: String,
    authorized: i64,
    authorization_inferred: bool,
    captured: i64,
    capture_unconfirmed: i64,
    refunded: i64,
    refund_pending: i64,
    /// Amount and status of each refund (their gateway references differ per payment).
    refunds: Vec<(i64, String)>,
    balances: BTreeMap<&'static str, i128>,
    journal_totals: BTreeMap<&'static str, i64>,
}

async fn final_state(app: &TestApp, payment_id: &str) -> Final {
    let folded = fold_payment(app, payment_id).await;
    let p = folded.payment;
    assert!(p.check_invariants().is_ok(), "{p:?}");
    assert!(!folded.event_types.iter().any(|t| t == "WebhookIgnored"), "nothing ignored: {:?}", folded.event_types);
    assert!(p.refunds.iter().all(|r| r.provider_reference.is_some()), "refunds carry the gateway's reference");
    Final {
        status: p.status.as_str().to_owned(),
        authorized: p.amount_authorized.get(),
        authorization_inferred: p.authorization_inferred,
        captured: p.amount_captured.get(),
        capture_unconfirmed: p.amount_capture_unconfirmed.get(),
        refunded: p.amount_refunded.get(),
        refund_pending: p.amount_refund_pending.get(),
        refunds: p.refunds.iter().map(|r| (r.amount_minor.get(), r.status.as_str().to_owned())).collect(),
        balances: folded.balances,
        journal_totals: folded.journal_totals,
    }
}

/// Delivers each order on its own payment (`cases[n]`: the payment id and its three
/// deliveries), one delivery interpreted before the next.
async fn converge(app: &TestApp, provider: &str, endpoint_id: &str, cases: Vec<(String, [Vec<u8>; 3])>) -> Vec<Final> {
    let mut finals = Vec::new();
    for (order, (payment_id, deliveries)) in PERMUTATIONS.iter().zip(cases) {
        for &which in order {
            let body = &deliveries[which];
            let headers = if provider == "stripe" { stripe_headers(STRIPE_SECRET, body) } else { Vec::new() };
            let (status, answer) = deliver(app, provider, endpoint_id, &headers, body).await;
            assert_eq!(status, 200, "{answer}");
            wait_interpreted(app).await;
        }
        finals.push(final_state(app, &payment_id).await);
    }
    finals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_deliveries_in_every_order_give_the_same_payment_and_ledger() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let mut cases = Vec::new();
    for n in 0..PERMUTATIONS.len() {
        let payment = app.create_payment(2000).await;
        let pi = payment["provider_reference"].as_str().unwrap().to_owned();
        let tag = format!("p{n}");
        let deliveries = [
            stripe_event("payment_intent.amount_capturable_updated", &pi, &tag),
            stripe_event("payment_intent.succeeded", &pi, &tag),
            // No refund list: "500 refunded so far" (cumulative).
            stripe_event("charge.refunded", &pi, &tag),
        ];
        cases.push((id_of(&payment), deliveries));
    }
    let finals = converge(&app, "stripe", &endpoint_id, cases).await;

    let expected = &finals[0];
    assert_eq!(
        (expected.status.as_str(), expected.authorized, expected.captured, expected.refunded),
        ("captured", 2000, 2000, 500)
    );
    assert!(!expected.authorization_inferred && expected.capture_unconfirmed == 0 && expected.refund_pending == 0);
    assert_eq!(expected.balances["sales_revenue"], 2000);
    assert_eq!(expected.balances["refunds"], 500);
    assert_eq!(expected.balances["gateway_receivable"], 1500);
    for (order, got) in PERMUTATIONS.iter().zip(&finals) {
        assert_eq!(got, expected, "order {order:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adyen_deliveries_in_every_order_give_the_same_payment_and_ledger() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "adyen", Some(ADYEN_KEY)).await);
    let mut cases = Vec::new();
    for n in 0..PERMUTATIONS.len() {
        let psp = fresh_reference("PSP");
        let payment = create_payment_with(&app, 2500, "EUR", "adyen", &psp).await;
        let tag = format!("P{n}");
        let deliveries = [
            adyen_delivery("AUTHORISATION", &psp, &tag, ADYEN_KEY),
            adyen_delivery("CAPTURE", &psp, &tag, ADYEN_KEY),
            adyen_delivery("REFUND", &psp, &tag, ADYEN_KEY),
        ];
        cases.push((id_of(&payment), deliveries));
    }
    let finals = converge(&app, "adyen", &endpoint_id, cases).await;

    let expected = &finals[0];
    assert_eq!(
        (expected.status.as_str(), expected.authorized, expected.captured, expected.refunded),
        ("captured", 2500, 2500, 1000)
    );
    assert_eq!(expected.balances["gateway_receivable"], 1500);
    for (order, got) in PERMUTATIONS.iter().zip(&finals) {
        assert_eq!(got, expected, "order {order:?}");
    }
}
