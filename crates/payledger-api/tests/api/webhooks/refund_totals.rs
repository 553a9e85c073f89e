//! A Stripe endpoint that receives both `charge.refunded` (the charge without its refund
//! list: only the running total) and `refund.created` for the same refund counts it once,
//! in either order and with redeliveries.

use super::support::*;
use crate::support::spawn_app;

#[tokio::test]
async fn charge_refunded_and_refund_created_count_one_refund_in_either_order() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await;
    let endpoint_id = id_of(&endpoint);
    let orders: [&[&str]; 4] = [
        &["charge.refunded", "refund.created"],
        &["refund.created", "charge.refunded"],
        &["charge.refunded", "refund.created", "charge.refunded", "refund.created"],
        &["refund.created", "charge.refunded", "refund.created", "charge.refunded"],
    ];
    for (n, order) in orders.iter().enumerate() {
        let pi = fresh_reference("pi_");
        let payment = create_payment_with(&app, 2_000, "USD", "stripe", &pi).await;
        let tag = format!("t{n}");
        for name in ["payment_intent.succeeded"].iter().chain(order.iter()) {
            let body = stripe_event(name, &pi, &tag);
            let (status, answer) =
                deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
            assert_eq!(status, 200, "{name}: {answer}");
            wait_interpreted(&app).await;
        }
        let folded = fold_payment(&app, &id_of(&payment)).await;
        let p = &folded.payment;
        assert_eq!(p.amount_captured.get(), 2_000, "{order:?}");
        assert_eq!(p.amount_refunded.get(), 500, "{order:?}: {:?}", folded.event_types);
        assert_eq!(p.refunds.len(), 1, "{order:?}: {:?}", p.refunds);
        assert_eq!(p.refunds[0].amount_minor.get(), 500);
        assert_eq!(p.refunds[0].provider_reference.as_deref(), Some("re_3MtwBwLkdIwHu7ix0YtQhKqK"));
        assert_eq!(folded.balances["refunds"], 500, "{order:?}");
        assert_eq!(folded.balances["gateway_receivable"], 1_500, "{order:?}");
    }
}
