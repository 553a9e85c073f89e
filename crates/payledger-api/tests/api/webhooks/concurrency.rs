//! The same delivery five times at once: one `WebhookReceived`, one effect on the payment.

use std::sync::Arc;

use super::support::*;
use crate::support::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_concurrent_copies_record_one_delivery_and_one_effect() {
    let app = Arc::new(spawn_app().await);
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let payment = app.create_payment(2000).await;
    let payment_id = id_of(&payment);
    let body = stripe_event("payment_intent.succeeded", payment["provider_reference"].as_str().unwrap(), "c");
    let events_before = payment_stream(&app, &payment_id).await.len();

    let copies: Vec<_> = (0..5)
        .map(|_| {
            let (app, endpoint_id, body) = (app.clone(), endpoint_id.clone(), body.clone());
            tokio::spawn(async move {
                deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await
            })
        })
        .collect();
    let mut duplicates = 0;
    for copy in copies {
        let (status, answer) = copy.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        if answer.contains("\"duplicate\":true") {
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, 4);
    wait_interpreted(&app).await;

    assert_eq!(count_events_of_type(&app, "WebhookReceived").await, 1);
    assert_eq!(deliveries(&app).await, vec![("applied".to_owned(), None)]);
    let stream = payment_stream(&app, &payment_id).await;
    let effect: Vec<&str> = stream[events_before..].iter().map(|(t, _, _)| t.as_str()).collect();
    // One report: the authorization it implies and the capture, nothing ignored, nothing twice.
    assert_eq!(effect, ["PaymentAuthorized", "PaymentCaptured"]);
    let folded = fold_payment(&app, &payment_id).await;
    assert_eq!(folded.payment.amount_captured.get(), 2000);
    assert_eq!(folded.balances["gateway_receivable"], 2000);
}
