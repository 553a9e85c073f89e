//! A webhook endpoint's rate limit: deliveries past it are 429 with `Retry-After` (gateways
//! retry those), nothing of them is recorded, and other endpoints are not held back.

use payledger_api::ApiConfig;

use super::support::*;
use crate::support::spawn_app_with;

#[tokio::test]
async fn deliveries_past_an_endpoints_limit_are_429_and_not_recorded() {
    let app =
        spawn_app_with(ApiConfig { webhook_rate_limit_per_s: 1, webhook_rate_limit_burst: 2, ..ApiConfig::default() })
            .await;
    let busy = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let quiet = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let mut statuses = Vec::new();
    for n in 0..4 {
        let body = stripe_event("payment_intent.created", &fresh_reference("pi_"), &format!("rl{n}"));
        let (status, answer) = deliver(&app, "stripe", &busy, &stripe_headers(STRIPE_SECRET, &body), &body).await;
        if status == 429 {
            assert_eq!(error_code(&answer), "rate_limited", "{answer}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..3], [200, 200, 429], "{statuses:?}");
    let recorded = statuses.iter().filter(|&&s| s == 200).count() as i64;
    assert_eq!(count_events_of_type(&app, "WebhookReceived").await, recorded, "the refused were not recorded");

    let body = stripe_event("payment_intent.created", &fresh_reference("pi_"), "rl-other");
    let (status, _) = deliver(&app, "stripe", &quiet, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "another endpoint has its own bucket");

    let body = stripe_event("payment_intent.created", &fresh_reference("pi_"), "rl-late");
    let response = app
        .http
        .post(format!("{}/v1/webhooks/stripe/{busy}", app.base_url))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", stripe_headers(STRIPE_SECRET, &body)[0].1.clone())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"), "{:?}", response.headers());
}
