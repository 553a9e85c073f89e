//! A payment from order to dispute over HTTP, and what lands in its stream.

use crate::support as common;

use serde_json::json;

#[tokio::test]
async fn order_payment_authorize_two_captures_refund_dispute() {
    let app = common::spawn_app().await;
    let order = app.create_order(7500, "USD").await;
    assert_eq!(order["status"], "open");
    assert_eq!(order["amount"], 7500);
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["reference"], "ORD-1");

    let (status, payment) = app
        .post(
            "/v1/payments",
            json!({"order_id": order["id"], "amount": 7500, "currency": "USD", "capture_method": "manual",
                   "provider": "stripe", "provider_reference": "pi_3MtwBwLkdIwHu7ix28a3tqPa"}),
        )
        .await;
    assert_eq!(status, 201, "{payment}");
    assert_eq!(payment["status"], "initiated");
    assert_eq!(payment["order_id"], order["id"]);
    let id = payment["id"].as_str().unwrap();

    let (status, p) = app.post(&format!("/v1/payments/{id}/authorize"), json!({})).await;
    assert_eq!((status, &p["status"], &p["amount_authorized"]), (200, &json!("authorized"), &json!(7500)), "{p}");

    let (status, p) = app.post(&format!("/v1/payments/{id}/capture"), json!({"amount": 5000})).await;
    assert_eq!((status, &p["status"], &p["amount_captured"]), (200, &json!("partially_captured"), &json!(5000)), "{p}");
    let (status, p) = app.post(&format!("/v1/payments/{id}/capture"), json!({"amount": 2500})).await;
    assert_eq!((status, &p["status"], &p["amount_captured"]), (200, &json!("captured"), &json!(7500)), "{p}");

    let (status, refund) =
        app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 1000, "reason": "damaged"})).await;
    assert_eq!(status, 201, "{refund}");
    assert_eq!(
        (&refund["status"], &refund["amount"], &refund["payment_id"]),
        (&json!("pending"), &json!(1000), &json!(id))
    );
    let (status, refund) =
        app.post(&format!("/v1/refunds/{}/succeed", refund["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((status, &refund["status"]), (200, &json!("succeeded")), "{refund}");

    let (status, dispute) =
        app.post(&format!("/v1/payments/{id}/disputes"), json!({"amount": 2000, "reason": "fraudulent"})).await;
    assert_eq!((status, &dispute["status"]), (201, &json!("open")), "{dispute}");
    let (status, dispute) = app
        .post(&format!("/v1/disputes/{}/resolve", dispute["id"].as_str().unwrap()), json!({"outcome": "lost"}))
        .await;
    assert_eq!((status, &dispute["status"]), (200, &json!("lost")), "{dispute}");
    assert!(dispute["position"].as_i64().unwrap() > 0);

    // The stream holds every fact, in order.
    app.settle().await;
    let (status, events) = app.get_as("auditor", &format!("/v1/streams/payment-{id}/events")).await;
    assert_eq!(status, 200, "{events}");
    let types: Vec<&str> =
        events["data"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "PaymentInitiated",
            "PaymentAuthorized",
            "PaymentCaptured",
            "PaymentCaptured",
            "RefundRequested",
            "RefundSucceeded",
            "DisputeOpened",
            "DisputeLost"
        ]
    );
    let versions: Vec<i64> =
        events["data"].as_array().unwrap().iter().map(|e| e["stream_version"].as_i64().unwrap()).collect();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    assert_eq!(events["data"][2]["payload"]["amount_minor"], 5000);
    assert_eq!(events["data"][0]["metadata"]["source"], "api");
}

#[tokio::test]
async fn automatic_capture_captures_on_authorization() {
    let app = common::spawn_app().await;
    let order = app.create_order(1200, "JPY").await;
    let (_, payment) = app
        .post(
            "/v1/payments",
            json!({"order_id": order["id"], "amount": 1200, "currency": "JPY", "capture_method": "automatic", "provider": "adyen"}),
        )
        .await;
    let (status, p) = app.post(&format!("/v1/payments/{}/authorize", payment["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((status, &p["status"], &p["amount_captured"]), (200, &json!("captured"), &json!(1200)), "{p}");
}

#[tokio::test]
async fn rule_violations_are_422_with_their_code_and_append_nothing() {
    let app = common::spawn_app().await;
    let payment = app.create_payment(1000).await;
    let id = payment["id"].as_str().unwrap();
    let before = app.count_events().await;
    let (status, err) = app.post(&format!("/v1/payments/{id}/capture"), json!({"amount": 100})).await;
    assert_eq!((status, &err["error"]["code"]), (422, &json!("payment_not_capturable")), "{err}");
    assert_eq!(err["error"]["type"], "rule_violation_error");
    assert!(err["error"]["request_id"].as_str().unwrap().starts_with("req_"));

    let order = app.create_order(500, "EUR").await;
    let (status, err) = app
        .post("/v1/payments", json!({"order_id": order["id"], "amount": 500, "currency": "USD", "capture_method": "manual", "provider": "stripe"}))
        .await;
    assert_eq!(
        (status, &err["error"]["code"], &err["error"]["param"]),
        (422, &json!("currency_mismatch"), &json!("currency")),
        "{err}"
    );
    assert_eq!(app.count_events().await, before + 1, "only the second order was appended");

    let (status, err) = app.post(&format!("/v1/payments/{}/authorize", uuid::Uuid::now_v7()), json!({})).await;
    assert_eq!((status, &err["error"]["code"]), (404, &json!("payment_not_found")), "{err}");
}
