//! Provider-neutral notifications to gateway reports on a payment (pure, no I/O).
//!
//! | notification | report |
//! |---|---|
//! | `Authorized` (Stripe `payment_intent.amount_capturable_updated`, Adyen `AUTHORISATION`) | `Authorized` |
//! | `Captured` (Stripe `payment_intent.succeeded`, cumulative; Adyen `CAPTURE`) | `Captured` |
//! | `Failed` (Stripe `payment_intent.payment_failed`, Adyen refused `AUTHORISATION`) | `Failed` |
//! | `Canceled` (Stripe `payment_intent.canceled`, Adyen `CANCELLATION`) | `Canceled` |
//! | `Refunded` (Stripe `refund.*`, `charge.refunded`; Adyen `REFUND`) | `Refunded` |
//! | `RefundFailed` (Stripe `refund.updated` failed, Adyen `REFUND_FAILED`) | `RefundFailed` |
//! | `DisputeOpened` / `DisputeClosed` (Stripe `charge.dispute.*`, Adyen `CHARGEBACK*`) | the same |
//!
//! A cumulative refund (Stripe `charge.refunded` without a refund list: "refunded so far
//! is N") becomes a refund of what is missing (N minus the succeeded refunds), named
//! `{charge}:{N}`; if nothing is missing it is stale. An endpoint should therefore receive
//! either `charge.refunded` or `refund.*` events for a payment, not both: the two name the
//! same refund differently and cannot be matched.

use chrono::{DateTime, Utc};
use payledger_core::payment::{GatewayReport, Payment, ReportKind};
use payledger_core::{AmountMinor, Currency};
use payledger_gateways::{Notification, NotificationKind};

/// Failure codes and messages are bounded before they enter an immutable event.
const CODE_MAX_CHARS: usize = 255;
const MESSAGE_MAX_CHARS: usize = 2000;
const DEFAULT_FAILURE_CODE: &str = "gateway_failed";
const DEFAULT_FAILURE_MESSAGE: &str = "the gateway reported the payment as failed";

/// Why a notification concerns no payment; recorded in the inbox stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxIgnore {
    pub reason: String,
}

/// The payment reference to apply the notification to, or why it applies to none.
pub fn payment_reference(notification: &Notification) -> Result<&str, InboxIgnore> {
    if notification.kind == NotificationKind::Unknown {
        return Err(InboxIgnore {
            reason: format!("unknown_event_type: {} is not mapped to a payment fact", notification.provider_event_type),
        });
    }
    notification.payment_reference.as_deref().ok_or_else(|| InboxIgnore {
        reason: format!("no_payment_reference: {} names no payment", notification.provider_event_type),
    })
}

/// What to do with a notification on its payment.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Apply(GatewayReport),
    /// Recorded on the payment stream as `WebhookIgnored` with this reason.
    Ignore(String),
}

/// The report for `payment`; `received_at` dates it when the provider does not.
pub fn decide(notification: &Notification, payment: &Payment, received_at: DateTime<Utc>) -> Decision {
    match report(notification, payment, received_at) {
        Ok(report) => Decision::Apply(report),
        Err(reason) => Decision::Ignore(reason),
    }
}

fn report(notification: &Notification, payment: &Payment, received_at: DateTime<Utc>) -> Result<GatewayReport, String> {
    let occurred_at =
        notification.occurred_at_unix_s.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)).unwrap_or(received_at);
    let (kind, currency) = match &notification.kind {
        NotificationKind::Authorized { amount_minor, currency } => {
            (ReportKind::Authorized { amount_minor: amount(*amount_minor)? }, Some(currency))
        }
        NotificationKind::Captured { amount_minor, currency, cumulative } => {
            (ReportKind::Captured { amount_minor: amount(*amount_minor)?, cumulative: *cumulative }, Some(currency))
        }
        NotificationKind::Failed { code, message } => {
            let code = bounded(code.as_deref(), DEFAULT_FAILURE_CODE, CODE_MAX_CHARS);
            let message = bounded(message.as_deref(), DEFAULT_FAILURE_MESSAGE, MESSAGE_MAX_CHARS);
            (ReportKind::Failed { code, message }, None)
        }
        NotificationKind::Canceled => (ReportKind::Canceled, None),
        NotificationKind::Refunded { refund_reference, amount_minor, currency, cumulative } => {
            let amount_minor =
                if *cumulative { missing_refund(payment, *amount_minor)? } else { amount(*amount_minor)? };
            (ReportKind::Refunded { provider_refund_reference: refund_reference.clone(), amount_minor }, Some(currency))
        }
        NotificationKind::RefundFailed { refund_reference } => {
            (ReportKind::RefundFailed { provider_refund_reference: refund_reference.clone() }, None)
        }
        NotificationKind::DisputeOpened { dispute_reference, amount_minor, currency } => (
            ReportKind::DisputeOpened {
                provider_dispute_reference: dispute_reference.clone(),
                amount_minor: amount(*amount_minor)?,
            },
            Some(currency),
        ),
        NotificationKind::DisputeClosed { dispute_reference, won } => {
            (ReportKind::DisputeClosed { provider_dispute_reference: dispute_reference.clone(), won: *won }, None)
        }
        NotificationKind::Unknown => {
            return Err(format!("unknown_event_type: {} is not mapped", notification.provider_event_type))
        }
    };
    let report = GatewayReport::new(notification.dedupe_key.clone(), kind, occurred_at);
    match currency {
        Some(code) => {
            let currency = Currency::parse(code).map_err(|e| format!("currency_invalid: {code:?}: {e}"))?;
            Ok(report.with_currency(currency))
        }
        None => Ok(report),
    }
}

fn amount(minor: i64) -> Result<AmountMinor, String> {
    AmountMinor::new(minor).map_err(|e| format!("amount_invalid: {minor}: {e}"))
}

/// "At least `total` is refunded": the part not yet refunded, if any.
fn missing_refund(payment: &Payment, total: i64) -> Result<AmountMinor, String> {
    let refunded = payment.amount_refunded.get();
    let missing = total.saturating_sub(refunded);
    if missing <= 0 {
        return Err(format!("stale_refund: gateway reports {total} refunded in total; {refunded} already is"));
    }
    amount(missing)
}

fn bounded(text: Option<&str>, default: &str, max_chars: usize) -> String {
    let text = text.map(str::trim).filter(|t| !t.is_empty()).unwrap_or(default);
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_core::payment::{evolve, CaptureMethod, PaymentEvent, Provider};
    use payledger_core::{MinorUnits, OrderId, PaymentId};

    fn payment(refunded: i64) -> Payment {
        let usd = Currency::parse("USD").unwrap();
        let mut p = evolve(
            None,
            &PaymentEvent::PaymentInitiated {
                payment_id: PaymentId::new(),
                order_id: OrderId::new(),
                amount_minor: AmountMinor::new(2000).unwrap(),
                currency: usd,
                capture_method: CaptureMethod::Manual,
                provider: Provider::Stripe,
                provider_reference: Some("pi_1".into()),
                initiated_at: Utc::now(),
            },
        )
        .unwrap();
        p.amount_refunded = MinorUnits::new(refunded).unwrap();
        p
    }

    fn notification(kind: NotificationKind) -> Notification {
        Notification {
            dedupe_key: "evt_1".into(),
            provider_event_type: "charge.refunded".into(),
            payment_reference: Some("pi_1".into()),
            kind,
            occurred_at_unix_s: Some(1_700_000_000),
        }
    }

    #[test]
    fn cumulative_refunds_apply_what_is_missing() {
        let n = notification(NotificationKind::Refunded {
            refund_reference: "ch_1:800".into(),
            amount_minor: 800,
            currency: "USD".into(),
            cumulative: true,
        });
        let Decision::Apply(report) = decide(&n, &payment(500), Utc::now()) else { panic!("applies") };
        assert_eq!(
            report.kind,
            ReportKind::Refunded {
                provider_refund_reference: "ch_1:800".into(),
                amount_minor: AmountMinor::new(300).unwrap()
            }
        );
        assert_eq!(report.occurred_at.timestamp(), 1_700_000_000);
        let Decision::Ignore(reason) = decide(&n, &payment(800), Utc::now()) else { panic!("stale") };
        assert!(reason.starts_with("stale_refund:"), "{reason}");
    }

    #[test]
    fn unusable_amounts_and_currencies_are_ignored_with_a_reason() {
        let zero = notification(NotificationKind::Authorized { amount_minor: 0, currency: "USD".into() });
        assert!(
            matches!(decide(&zero, &payment(0), Utc::now()), Decision::Ignore(r) if r.starts_with("amount_invalid"))
        );
        let odd = notification(NotificationKind::Authorized { amount_minor: 5, currency: "XXQ".into() });
        assert!(
            matches!(decide(&odd, &payment(0), Utc::now()), Decision::Ignore(r) if r.starts_with("currency_invalid"))
        );
    }

    #[test]
    fn failures_get_a_code_and_a_message() {
        let n = notification(NotificationKind::Failed { code: None, message: Some("  ".into()) });
        let Decision::Apply(report) = decide(&n, &payment(0), Utc::now()) else { panic!("applies") };
        assert_eq!(
            report.kind,
            ReportKind::Failed { code: DEFAULT_FAILURE_CODE.into(), message: DEFAULT_FAILURE_MESSAGE.into() }
        );
    }

    #[test]
    fn unknown_events_and_missing_references_concern_no_payment() {
        let unknown = notification(NotificationKind::Unknown);
        assert!(payment_reference(&unknown).unwrap_err().reason.starts_with("unknown_event_type:"));
        let mut orphan = notification(NotificationKind::Canceled);
        orphan.payment_reference = None;
        assert!(payment_reference(&orphan).unwrap_err().reason.starts_with("no_payment_reference:"));
        assert_eq!(payment_reference(&notification(NotificationKind::Canceled)), Ok("pi_1"));
    }
}
