//! An order and its payments over HTTP: a payment takes at most what the order's other
//! payments leave, an order with a payment in progress is not cancelled, and both hold when
//! many requests on one order race.

use crate::support as common;

use std::sync::Arc;

use common::{spawn_app, start_projector, TestApp};
use serde_json::{json, Value};

async fn pay(app: &TestApp, order_id: &str, amount: i64) -> (u16, Value) {
    app.post(
        "/v1/payments",
        json!({"order_id": order_id, "amount": amount, "currency": "USD", "capture_method": "manual",
               "provider": "generic"}),
    )
    .await
}

async fn ok(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, response) = app.post(path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {response}");
    response
}

/// A new payment of `amount` on the order that must be accepted; its id.
async fn paid(app: &TestApp, order_id: &str, amount: i64) -> String {
    let (status, body) = pay(app, order_id, amount).await;
    assert_eq!(status, 201, "{body}");
    id(&body)
}

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

#[tokio::test]
async fn a_payment_takes_at_most_what_the_other_payments_leave() {
    let app = spawn_app().await;
    let order = id(&app.create_order(10_000, "USD").await);
    let first = paid(&app, &order, 6_000).await;

    let (status, body) = pay(&app, &order, 4_001).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "amount_exceeds_order");
    assert_eq!(body["error"]["param"], "amount");
    assert!(body["error"]["message"].as_str().unwrap().contains("4000 of 10000"), "{body}");
    let second = paid(&app, &order, 4_000).await;
    assert_eq!(pay(&app, &order, 1).await.0, 422, "the order is fully held");

    // A declined payment keeps its share (it may be retried); voiding it frees it.
    ok(&app, &format!("/v1/payments/{second}/fail"), json!({"code": "card_declined", "message": "declined"})).await;
    assert_eq!(pay(&app, &order, 1).await.0, 422, "a failed payment may be retried, so it still holds");
    ok(&app, &format!("/v1/payments/{second}/void"), json!({})).await;
    ok(&app, &format!("/v1/payments/{first}/authorize"), json!({})).await;
    ok(&app, &format!("/v1/payments/{first}/capture"), json!({"amount": 5_000, "final": true})).await;
    // 5 000 captured and closed: 5 000 are left for another payment, not one more.
    assert_eq!(pay(&app, &order, 5_001).await.0, 422);
    assert_eq!(pay(&app, &order, 5_000).await.0, 201);
}

#[tokio::test]
async fn an_order_with_a_payment_in_progress_is_not_cancelled() {
    let app = spawn_app().await;
    let order = id(&app.create_order(10_000, "USD").await);
    let payment = paid(&app, &order, 10_000).await;
    ok(&app, &format!("/v1/payments/{payment}/authorize"), json!({})).await;
    let events_before = app.count_events().await;

    let (status, body) = app.post(&format!("/v1/orders/{order}/cancel"), json!({"reason": "changed mind"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "order_has_payments_in_progress");
    assert_eq!(app.count_events().await, events_before, "a refused cancel records nothing");

    ok(&app, &format!("/v1/payments/{payment}/void"), json!({})).await;
    let cancelled = ok(&app, &format!("/v1/orders/{order}/cancel"), json!({"reason": "changed mind"})).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "changed mind");
    assert_eq!(pay(&app, &order, 1).await.1["error"]["code"], "order_not_open");
}

/// The order in a command's answer is the order `GET /v1/orders/{id}` shows once projected:
/// same status, same sums of its payments.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cancel_answer_shows_the_orders_money_as_the_read_model_does() {
    let app = spawn_app().await;
    let _projector = start_projector(&app);
    let order = id(&app.create_order(10_000, "USD").await);
    let payment = paid(&app, &order, 10_000).await;
    ok(&app, &format!("/v1/payments/{payment}/authorize"), json!({})).await;
    ok(&app, &format!("/v1/payments/{payment}/capture"), json!({"amount": 7_000, "final": true})).await;
    let refund = id(&ok(&app, &format!("/v1/payments/{payment}/refunds"), json!({"amount": 7_000})).await);
    ok(&app, &format!("/v1/refunds/{refund}/succeed"), json!({})).await;

    let answer = ok(&app, &format!("/v1/orders/{order}/cancel"), json!({})).await;
    assert_eq!((answer["amount_captured"].as_i64(), answer["amount_refunded"].as_i64()), (Some(7_000), Some(7_000)));
    assert_eq!(answer["status"], "refunded", "money facts win over the cancellation, as in the read-model");

    let position = answer["position"].as_i64().unwrap();
    let (status, read) = app.get_as("finance", &format!("/v1/orders/{order}?min_position={position}")).await;
    assert_eq!(status, 200, "{read}");
    for field in [
        "id",
        "status",
        "amount",
        "currency",
        "reference",
        "metadata",
        "amount_captured",
        "amount_refunded",
        "created_at",
        "cancelled_at",
        "cancel_reason",
    ] {
        assert_eq!(answer[field], read[field], "{field}: answer {answer} read {read}");
    }
}

/// Many tasks, one order: 30 payments of 3 000 race for an order of 10 000; exactly three get
/// in, and the log holds exactly their three PaymentInitiated events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_payments_on_one_order_never_exceed_its_amount() {
    let app = Arc::new(spawn_app().await);
    let order = id(&app.create_order(10_000, "USD").await);
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (app, order) = (app.clone(), order.clone());
            tokio::spawn(async move { pay(&app, &order, 3_000).await })
        })
        .collect();
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => created += 1,
            422 => {
                assert_eq!(body["error"]["code"], "amount_exceeds_order", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (3, 27));
    let client = app.pool.get().await.unwrap();
    let initiated: i64 = client
        .query_one("SELECT count(*) FROM events WHERE event_type = 'PaymentInitiated'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(initiated, 3);
}

/// Cancels racing payments on the same orders: an order ends either cancelled with no
/// payment, or open with its payment — never cancelled with a payment in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_racing_a_payment_lets_exactly_one_of_them_in() {
    let app = Arc::new(spawn_app().await);
    for _ in 0..20 {
        let order = id(&app.create_order(1_000, "USD").await);
        let payment = {
            let (app, order) = (app.clone(), order.clone());
            tokio::spawn(async move { pay(&app, &order, 1_000).await })
        };
        let cancel = {
            let (app, order) = (app.clone(), order.clone());
            tokio::spawn(async move { app.post(&format!("/v1/orders/{order}/cancel"), json!({})).await })
        };
        let (paid, body_paid) = payment.await.unwrap();
        let (cancelled, body_cancelled) = cancel.await.unwrap();
        match (paid, cancelled) {
            (201, 422) => assert_eq!(body_cancelled["error"]["code"], "order_has_payments_in_progress"),
            (422, 200) => assert_eq!(body_paid["error"]["code"], "order_not_open"),
            other => panic!("both or neither went in: {other:?} {body_paid} {body_cancelled}"),
        }
    }
}

/// At most 100 payments per order: the 101st is refused, and an order at the limit can still
/// be cancelled once its payments are voided.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_takes_at_most_a_hundred_payments_and_can_still_be_cancelled() {
    let app = Arc::new(spawn_app().await);
    let order = id(&app.create_order(10_000, "USD").await);
    let mut payments = Vec::new();
    for _ in 0..100 {
        payments.push(paid(&app, &order, 1).await);
    }
    let (status, body) = pay(&app, &order, 1).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("order_payment_limit_reached")), "{body}");
    for payment in &payments {
        ok(&app, &format!("/v1/payments/{payment}/void"), json!({})).await;
    }
    let cancelled = ok(&app, &format!("/v1/orders/{order}/cancel"), json!({})).await;
    assert_eq!(cancelled["status"], "cancelled");
}
