//! Signed bodies holding NUL (which PostgreSQL text and jsonb cannot hold) are recorded
//! exactly and ignored with the reason, answered 2xx so the gateway stops redelivering.

use base64::Engine as _;
use serde_json::Value;

use super::support::*;
use crate::support::spawn_app;

/// The stored body of every `WebhookReceived`, decoded to bytes, oldest first, with its
/// provider event id.
async fn stored_bodies(app: &crate::support::TestApp) -> Vec<(String, Vec<u8>)> {
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query("SELECT payload FROM events WHERE event_type = 'WebhookReceived' ORDER BY global_position", &[])
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let payload: Value = row.get(0);
            let body = match (payload["body"].as_str(), payload["body_base64"].as_str()) {
                (Some(text), _) => text.as_bytes().to_vec(),
                (None, Some(encoded)) => base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(),
                (None, None) => panic!("no body in {payload}"),
            };
            (payload["provider_event_id"].as_str().unwrap().to_owned(), body)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_bodies_with_nul_are_kept_exactly_and_ignored_with_the_reason() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let payment = app.create_payment(2000).await;
    let pi = payment["provider_reference"].as_str().unwrap();
    let succeeded = String::from_utf8(stripe_event("payment_intent.succeeded", pi, "n")).unwrap();
    let bodies: Vec<Vec<u8>> = vec![
        // A JSON-escaped NUL in the event id, and in a string the mapping does not even read.
        succeeded.replacen("\"evt_n_", "\"evt_n_\\u0000", 1).into_bytes(),
        succeeded
            .replacen("\"evt_n_", "\"evt_m_", 1)
            .replacen("\"object\":", "\"note\":\"a\\u0000b\",\"object\":", 1)
            .into_bytes(),
        // A raw NUL byte: not JSON at all, and not text PostgreSQL can hold.
        b"{\"id\":\"evt_raw\0\"}".to_vec(),
    ];
    assert!(String::from_utf8_lossy(&bodies[1]).contains("\\u0000b"));
    for body in &bodies {
        let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, body), body).await;
        assert_eq!(status, 200, "{answer}");
        // The gateway's retry is a duplicate: it stops here.
        let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, body), body).await;
        assert_eq!((status, serde_json::from_str::<Value>(&answer).unwrap()["duplicate"].clone()), (200, true.into()));
    }
    wait_interpreted(&app).await;

    let stored = stored_bodies(&app).await;
    assert_eq!(stored.iter().map(|(_, body)| body).collect::<Vec<_>>(), bodies.iter().collect::<Vec<_>>());
    assert!(stored.iter().all(|(id, _)| id.starts_with("sha256:")), "{stored:?}");
    let reasons: Vec<String> = deliveries(&app).await.into_iter().map(|(s, r)| format!("{s} {}", r.unwrap())).collect();
    assert!(reasons[0].starts_with("ignored unparseable: body contains a NUL"), "{reasons:?}");
    assert!(reasons[1].starts_with("ignored unparseable: body contains a NUL"), "{reasons:?}");
    assert!(reasons[2].starts_with("ignored unparseable: body is not JSON"), "{reasons:?}");
    assert_eq!(count_events_of_type(&app, "WebhookIgnored").await, 3);
    let folded = fold_payment(&app, &id_of(&payment)).await;
    assert_eq!(folded.payment.amount_captured.get(), 0, "nothing applied from them");
}
