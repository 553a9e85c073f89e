//! Money at its edges through the HTTP API: the largest amount, and closing capture after a
//! partial capture so the order can be settled.

use crate::support as common;

use common::*;
use payledger_core::AmountMinor;
use serde_json::json;

async fn wait_order_status(app: &TestApp, order_id: &str, position: i64) -> serde_json::Value {
    let (status, order) = app.get_as("auditor", &format!("/v1/orders/{order_id}?min_position={position}")).await;
    assert_eq!(status, 200, "{order}");
    order
}

#[tokio::test]
async fn the_largest_amount_is_accepted_end_to_end_and_one_more_is_refused() {
    let app = spawn_app().await;
    let projector = start_projector(&app);
    // Some money already on the books, as in the report that found the overflow.
    app.captured_payment(7_500).await;
    let payment = app.captured_payment(AmountMinor::MAX).await;
    assert_eq!(payment["status"], "captured", "{payment}");
    assert_eq!(payment["amount_captured"], AmountMinor::MAX);
    let position = payment["position"].as_i64().expect("a command answers with its position");
    let order = wait_order_status(&app, payment["order_id"].as_str().unwrap(), position).await;
    assert_eq!(order["amount_captured"], AmountMinor::MAX, "{order}");
    let (status, accounts) =
        app.get_as("finance", &format!("/v1/ledger/accounts?currency=USD&min_position={position}")).await;
    assert_eq!(status, 200, "{accounts}");
    let receivable =
        accounts["data"].as_array().unwrap().iter().find(|a| a["account"] == "gateway_receivable").cloned();
    let receivable = receivable.unwrap_or_else(|| panic!("no gateway_receivable in {accounts}"));
    assert_eq!(receivable["balance"], AmountMinor::MAX + 7_500, "{receivable}");

    for too_large in [AmountMinor::MAX + 1, i64::MAX] {
        let (status, body) =
            app.post("/v1/orders", json!({"amount": too_large, "currency": "USD", "reference": "big"})).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["param"], "amount", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("at most"), "{body}");
    }
    projector.abort();
}

#[tokio::test]
async fn void_after_a_partial_capture_releases_the_rest_and_the_order_can_be_settled() {
    let app = spawn_app().await;
    let payment = app.create_payment(10_000).await;
    let id = payment["id"].as_str().unwrap();
    let order_id = payment["order_id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/v1/payments/{id}/authorize"), json!({})).await.0, 200);
    let (status, partial) = app.post(&format!("/v1/payments/{id}/capture"), json!({"amount": 4_000})).await;
    assert_eq!((status, partial["status"].as_str()), (200, Some("partially_captured")), "{partial}");
    // Before: the order could never be cancelled while the capture stayed open.
    let (status, refused) = app.post(&format!("/v1/orders/{order_id}/cancel"), json!({})).await;
    assert_eq!(status, 422, "{refused}");

    let (status, released) = app.post(&format!("/v1/payments/{id}/void"), json!({})).await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["status"], "captured", "{released}");
    assert_eq!((released["amount_captured"].as_i64(), released["amount_capturable"].as_i64()), (Some(4_000), Some(0)));
    let (status, body) = app.post(&format!("/v1/payments/{id}/capture"), json!({"amount": 1})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("payment_not_capturable")), "{body}");

    // All of the captured money back: the payment is refunded and the order can be cancelled.
    let (status, refund) = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 4_000})).await;
    assert_eq!(status, 201, "{refund}");
    let refund_id = refund["id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/v1/refunds/{refund_id}/succeed"), json!({})).await.0, 200);
    let (status, cancelled) = app.post(&format!("/v1/orders/{order_id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    // Money facts win over the cancellation in the order's status (see `OrderReadStatus`).
    assert_eq!(cancelled["status"], "refunded", "{cancelled}");
}
