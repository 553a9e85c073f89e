//! Many tasks, one payment stream: the stream version is the only guard, and it holds.

use crate::support as common;

use std::sync::Arc;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_refunds_of_ten_on_one_hundred_captured_exactly_ten_pass() {
    let app = Arc::new(common::spawn_app().await);
    let payment = app.captured_payment(100).await;
    let id = payment["id"].as_str().unwrap().to_owned();

    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move { app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 10})).await })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => created += 1,
            422 => {
                assert_eq!(body["error"]["code"], "amount_exceeds_refundable", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (10, 30));

    let client = app.pool.get().await.unwrap();
    let requested: i64 =
        client.query_one("SELECT count(*) FROM events WHERE event_type = 'RefundRequested'", &[]).await.unwrap().get(0);
    assert_eq!(requested, 10, "one event per accepted refund, none for refused ones");
    // A further refund, even of 1, is refused: captured − refunded − pending is 0.
    let (status, body) = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 1})).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_captures_never_exceed_the_authorization() {
    let app = Arc::new(common::spawn_app().await);
    let payment = app.create_payment(100).await;
    let id = payment["id"].as_str().unwrap().to_owned();
    let (s, _) = app.post(&format!("/v1/payments/{id}/authorize"), json!({})).await;
    assert_eq!(s, 200);

    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move { app.post(&format!("/v1/payments/{id}/capture"), json!({"amount": 10})).await })
        })
        .collect();
    let mut captured = 0;
    let mut last_total = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => {
                captured += 1;
                last_total = last_total.max(body["amount_captured"].as_i64().unwrap());
            }
            422 => assert!(
                ["amount_exceeds_capturable", "payment_not_capturable"]
                    .contains(&body["error"]["code"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(captured, 10);
    assert_eq!(last_total, 100);
}
