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
//! is N") becomes `RefundedInTotal`: the core records only what is missing and lets the
//! gateway's own `refund.*` report of each refund claim it, so an endpoint may receive both
//! kinds of event for a payment, in any order, and each refund counts once (see
//! `payledger_core::payment::GatewayReport`).

use chrono::{DateTime, Utc};
use payledger_core::payment::{GatewayReport, ReportKind};
use payledger_core::{AmountMinor, Currency, LONG_TEXT_MAX_CHARS, SHORT_TEXT_MAX_CHARS};

use crate::{Notification, NotificationKind};

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

/// The report to apply to the payment; `received_at` dates it when the provider does not.
pub fn decide(notification: &Notification, received_at: DateTime<Utc>) -> Decision {
    match report(notification, received_at) {
        Ok(report) => Decision::Apply(report),
        Err(reason) => Decision::Ignore(reason),
    }
}

fn report(notification: &Notification, received_at: DateTime<Utc>) -> Result<GatewayReport, String> {
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
            // Bounded by the core's limits before they enter an immutable event.
            let code = bounded(code.as_deref(), DEFAULT_FAILURE_CODE, SHORT_TEXT_MAX_CHARS);
            let message = bounded(message.as_deref(), DEFAULT_FAILURE_MESSAGE, LONG_TEXT_MAX_CHARS);
            (ReportKind::Failed { code, message }, None)
        }
        NotificationKind::Canceled => (ReportKind::Canceled, None),
        NotificationKind::Refunded { refund_reference, amount_minor, currency, cumulative: true } => {
            let kind = ReportKind::RefundedInTotal {
                charge_reference: charge_of_total(refund_reference).to_owned(),
                total_refunded_minor: amount(*amount_minor)?,
            };
            (kind, Some(currency))
        }
        NotificationKind::Refunded { refund_reference, amount_minor, currency, cumulative: false } => {
            let kind = ReportKind::Refunded {
                provider_refund_reference: refund_reference.clone(),
                amount_minor: amount(*amount_minor)?,
            };
            (kind, Some(currency))
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

/// The charge a running total names (`{charge}:{total}`, see the Stripe parser).
fn charge_of_total(reference: &str) -> &str {
    reference.rsplit_once(':').map_or(reference, |(charge, _)| charge)
}

fn bounded(text: Option<&str>, default: &str, max_chars: usize) -> String {
    let text = text.map(str::trim).filter(|t| !t.is_empty()).unwrap_or(default);
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn cumulative_refunds_are_totals_of_their_charge() {
        let n = notification(NotificationKind::Refunded {
            refund_reference: "ch_1:800".into(),
            amount_minor: 800,
            currency: "USD".into(),
            cumulative: true,
        });
        let Decision::Apply(report) = decide(&n, Utc::now()) else { panic!("applies") };
        assert_eq!(
            report.kind,
            ReportKind::RefundedInTotal {
                charge_reference: "ch_1".into(),
                total_refunded_minor: AmountMinor::new(800).unwrap()
            }
        );
        assert_eq!(report.occurred_at.timestamp(), 1_700_000_000);
    }

    #[test]
    fn unusable_amounts_and_currencies_are_ignored_with_a_reason() {
        let zero = notification(NotificationKind::Authorized { amount_minor: 0, currency: "USD".into() });
        assert!(matches!(decide(&zero, Utc::now()), Decision::Ignore(r) if r.starts_with("amount_invalid")));
        let odd = notification(NotificationKind::Authorized { amount_minor: 5, currency: "XXQ".into() });
        assert!(matches!(decide(&odd, Utc::now()), Decision::Ignore(r) if r.starts_with("currency_invalid")));
    }

    #[test]
    fn failures_get_a_code_and_a_message() {
        let n = notification(NotificationKind::Failed { code: None, message: Some("  ".into()) });
        let Decision::Apply(report) = decide(&n, Utc::now()) else { panic!("applies") };
        assert_eq!(
            report.kind,
            ReportKind::Failed { code: DEFAULT_FAILURE_CODE.into(), message: DEFAULT_FAILURE_MESSAGE.into() }
        );
    }

    #[test]
    fn failure_text_is_cut_to_the_cores_limits() {
        let failed = |chars: usize| {
            let n = notification(NotificationKind::Failed {
                code: Some("c".repeat(chars.min(SHORT_TEXT_MAX_CHARS + 1))),
                message: Some("m".repeat(chars)),
            });
            match decide(&n, Utc::now()) {
                Decision::Apply(GatewayReport { kind: ReportKind::Failed { code, message }, .. }) => {
                    (code.chars().count(), message.chars().count())
                }
                other => panic!("a failure applies: {other:?}"),
            }
        };
        assert_eq!(failed(SHORT_TEXT_MAX_CHARS), (SHORT_TEXT_MAX_CHARS, SHORT_TEXT_MAX_CHARS));
        assert_eq!(failed(LONG_TEXT_MAX_CHARS), (SHORT_TEXT_MAX_CHARS, LONG_TEXT_MAX_CHARS));
        assert_eq!(failed(LONG_TEXT_MAX_CHARS + 1), (SHORT_TEXT_MAX_CHARS, LONG_TEXT_MAX_CHARS));
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
