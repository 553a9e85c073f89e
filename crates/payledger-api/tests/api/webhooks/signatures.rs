//! Signed deliveries of each provider are recorded and applied; anything else is refused
//! with a distinct code and records nothing.

use payledger_gateways::signing::sign_stripe_header;
use serde_json::{json, Value};

use super::support::*;
use crate::support::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_stripe_delivery_is_recorded_exactly_and_applied_with_its_cause() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await;
    let endpoint_id = id_of(&endpoint);
    assert_eq!(endpoint["url"], format!("/v1/webhooks/stripe/{endpoint_id}"));
    let payment = app.create_payment(2000).await;
    let pi = payment["provider_reference"].as_str().unwrap();
    let body = stripe_event("payment_intent.amount_capturable_updated", pi, "a");

    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["duplicate"], false);
    wait_interpreted(&app).await;

    let client = app.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT event_id, stream_id, dedupe_key, payload, metadata FROM events WHERE event_type = 'WebhookReceived'",
            &[],
        )
        .await
        .unwrap();
    let received_id: uuid::Uuid = row.get(0);
    assert_eq!(row.get::<_, String>(1), format!("webhook-inbox-{endpoint_id}-{received_id}"), "its own stream");
    assert_eq!(row.get::<_, String>(2), "stripe:evt_a_3MtwBwLkdIwHu7ix0VtVtzq3");
    let payload: Value = row.get(3);
    assert_eq!(payload["body"].as_str().unwrap().as_bytes(), body.as_slice(), "the exact body is kept");
    assert_eq!(payload["provider_event_type"], "payment_intent.amount_capturable_updated");
    assert_eq!(payload["payment_reference"], pi);
    assert!(payload["headers"]["stripe-signature"].as_str().unwrap().starts_with("t="));
    assert_eq!(payload["secret_id"], endpoint["secrets"][0]["id"]);
    assert_eq!(row.get::<_, Value>(4)["source"], "webhook");

    let stream = payment_stream(&app, &id_of(&payment)).await;
    let (event_type, event, metadata) = stream.last().unwrap();
    assert_eq!(event_type, "PaymentAuthorized");
    assert_eq!(event["amount_minor"], 2000);
    assert_eq!(metadata["source"], "webhook");
    assert_eq!(metadata["actor"], "stripe");
    assert_eq!(metadata["causation_id"], json!(received_id));
    assert_eq!(deliveries(&app).await, vec![("applied".to_owned(), None)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_generic_delivery_is_applied_with_a_generated_secret() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "generic", None).await;
    let secret = endpoint["secret"].as_str().expect("a generated secret is shown once").to_owned();
    assert!(secret.starts_with("whsec_"));
    let reference = fresh_reference("pay_");
    let payment = create_payment_with(&app, 2000, "USD", "generic", &reference).await;
    let body = fixture("generic/payment_intent.succeeded.json").replace("pay_ref_0042", &reference).into_bytes();

    let (status, answer) = deliver(&app, "generic", &id_of(&endpoint), &generic_headers(&secret, &body), &body).await;
    assert_eq!(status, 200, "{answer}");
    wait_interpreted(&app).await;
    let folded = fold_payment(&app, &id_of(&payment)).await;
    assert_eq!(folded.payment.amount_captured.get(), 2000);
    assert_eq!(folded.balances["sales_revenue"], 2000);
    // The listing never shows the secret again.
    let (_, list) = app.get_as("admin", "/v1/admin/webhook-endpoints").await;
    assert!(!list.to_string().contains(&secret), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_adyen_delivery_is_accepted_and_every_item_recorded() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "adyen", Some(ADYEN_KEY)).await);
    let psp = fresh_reference("PSP");
    let payment = create_payment_with(&app, 2500, "EUR", "adyen", &psp).await;
    let body = adyen_delivery("AUTHORISATION", &psp, "x", ADYEN_KEY);

    let (status, answer) = deliver(&app, "adyen", &endpoint_id, &[], &body).await;
    assert_eq!((status, answer.as_str()), (200, "[accepted]"));
    wait_interpreted(&app).await;
    assert_eq!(fold_payment(&app, &id_of(&payment)).await.payment.amount_authorized.get(), 2500);

    // A batch of two items: two events, the body kept once, each item interpreted.
    let batch = sign_adyen_body_of("batch.json");
    let (status, answer) = deliver(&app, "adyen", &endpoint_id, &[], &batch).await;
    assert_eq!((status, answer.as_str()), (200, "[accepted]"));
    wait_interpreted(&app).await;
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT event_id, dedupe_key, payload FROM events WHERE event_type = 'WebhookReceived'
             AND payload->>'item_count' = '2' ORDER BY stream_version",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(1), "adyen:NC6HT9CRT65ZGN82:AUTHORISATION:true");
    let (first, second): (Value, Value) = (rows[0].get(2), rows[1].get(2));
    assert_eq!(first["body"].as_str().unwrap().as_bytes(), batch.as_slice());
    assert!(second.get("body").is_none());
    assert_eq!(second["body_event_id"], json!(rows[0].get::<_, uuid::Uuid>(0)));
    let reasons: Vec<_> = deliveries(&app).await.into_iter().skip(1).collect();
    assert!(reasons[0].1.as_deref().unwrap().starts_with("unknown_payment:"), "{reasons:?}");
    assert!(reasons[1].1.as_deref().unwrap().starts_with("unknown_event_type:"), "{reasons:?}");
}

fn sign_adyen_body_of(file: &str) -> Vec<u8> {
    payledger_gateways::signing::sign_adyen_body(ADYEN_KEY, fixture(&format!("adyen/{file}")).as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_are_refused_with_distinct_codes_and_record_nothing() {
    let app = spawn_app().await;
    let stripe = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let adyen = id_of(&create_endpoint(&app, "adyen", Some(ADYEN_KEY)).await);
    let payment = app.create_payment(2000).await;
    let body =
        stripe_event("payment_intent.amount_capturable_updated", payment["provider_reference"].as_str().unwrap(), "b");
    let events_before = app.count_events().await;

    let mut changed = body.clone();
    let at = changed.iter().position(|&b| b == b'2').unwrap();
    changed[at] = b'9';
    let stale = vec![("Stripe-Signature", sign_stripe_header(STRIPE_SECRET, now_s() - 301, &body))];
    let adyen_body = adyen_delivery("CAPTURE", FIXTURE_PSP, "", ADYEN_KEY);
    let adyen_unsigned = adyen_body_without_signature(&adyen_body);
    let adyen_tampered = String::from_utf8(adyen_body.clone()).unwrap().replace("2500", "25000").into_bytes();

    let cases: Vec<RefusedCase> = vec![
        ("wrong secret", "stripe", stripe_headers("whsec_wrong", &body), body.clone(), 401, "signature_mismatch"),
        ("changed byte", "stripe", stripe_headers(STRIPE_SECRET, &body), changed, 401, "signature_mismatch"),
        ("stale timestamp", "stripe", stale, body.clone(), 401, "signature_timestamp_stale"),
        ("missing header", "stripe", vec![], body.clone(), 400, "signature_header_missing"),
        (
            "garbled header",
            "stripe",
            vec![("Stripe-Signature", "v1=zz".into())],
            body.clone(),
            400,
            "signature_header_malformed",
        ),
        ("adyen unsigned item", "adyen", vec![], adyen_unsigned, 400, "signature_header_missing"),
        ("adyen changed amount", "adyen", vec![], adyen_tampered, 401, "signature_mismatch"),
        ("adyen not json", "adyen", vec![], b"[accepted".to_vec(), 400, "payload_malformed"),
    ];
    for (case, provider, headers, body, status, code) in cases {
        let endpoint = if provider == "stripe" { &stripe } else { &adyen };
        let (got_status, answer) = deliver(&app, provider, endpoint, &headers, &body).await;
        assert_eq!((got_status, error_code(&answer).as_str()), (status, code), "{case}: {answer}");
    }
    assert_eq!(app.count_events().await, events_before, "nothing recorded");
    assert!(deliveries(&app).await.is_empty());

    let metrics = app.http.get(format!("{}/metrics", app.base_url)).send().await.unwrap().text().await.unwrap();
    for outcome in ["bad_signature", "stale"] {
        assert!(
            metrics.lines().any(|l| l.starts_with("payledger_webhook_deliveries_total")
                && l.contains(&format!("outcome=\"{outcome}\""))),
            "{outcome} is counted"
        );
    }
}

/// What is sent, and the status and code expected back:
/// `(case, provider, headers, body, status, code)`.
type RefusedCase = (&'static str, &'static str, Vec<(&'static str, String)>, Vec<u8>, u16, &'static str);

fn adyen_body_without_signature(body: &[u8]) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(body).unwrap();
    value["notificationItems"][0]["NotificationRequestItem"]["additionalData"]
        .as_object_mut()
        .unwrap()
        .remove("hmacSignature");
    serde_json::to_vec(&value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_endpoints_and_wrong_providers_are_the_same_404() {
    let app = spawn_app().await;
    let stripe = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let body = br#"{"id":"evt_1"}"#;
    let headers = stripe_headers(STRIPE_SECRET, body);
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut answers = Vec::new();
    for (provider, endpoint) in
        [("stripe", unknown.as_str()), ("generic", stripe.as_str()), ("paypal", stripe.as_str()), ("stripe", "nope")]
    {
        let (status, answer) = deliver(&app, provider, endpoint, &headers, body).await;
        let answer: Value = serde_json::from_str(&answer).unwrap();
        answers.push((status, answer["error"]["code"].clone(), answer["error"]["message"].clone()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_is_acknowledged_and_records_nothing() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let payment = app.create_payment(2000).await;
    let body =
        stripe_event("payment_intent.amount_capturable_updated", payment["provider_reference"].as_str().unwrap(), "r");
    let (status, _) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200);
    wait_interpreted(&app).await;
    let events = app.count_events().await;

    // Stripe re-signs each attempt: a new timestamp, the same event.
    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["duplicate"], true);
    assert_eq!(app.count_events().await, events);
    assert_eq!(deliveries(&app).await.len(), 1);
}
