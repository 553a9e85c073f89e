//! Events to state. `evolve` never refuses: a stored event already happened.
//! Amounts use saturating arithmetic so a corrupt stream cannot panic a
//! release build; debug builds assert the invariants after every event.

use chrono::{DateTime, Utc};

use super::{Dispute, DisputeStatus, Payment, PaymentEvent, PaymentState, PaymentStatus, Refund, RefundStatus};
use crate::ids::{DisputeId, RefundId};
use crate::money::{AmountMinor, MinorUnits};

pub fn evolve(state: PaymentState, event: &PaymentEvent) -> PaymentState {
    match (state, event) {
        (
            None,
            PaymentEvent::PaymentInitiated {
                payment_id,
                order_id,
                amount_minor,
                currency,
                capture_method,
                provider,
                provider_reference,
                initiated_at,
            },
        ) => Some(Payment {
            id: *payment_id,
            order_id: *order_id,
            status: PaymentStatus::Initiated,
            amount_minor: *amount_minor,
            currency: *currency,
            capture_method: *capture_method,
            provider: *provider,
            provider_reference: provider_reference.clone(),
            amount_authorized: MinorUnits::ZERO,
            authorization_inferred: false,
            amount_captured: MinorUnits::ZERO,
            amount_capture_unconfirmed: MinorUnits::ZERO,
            capture_final: false,
            amount_refunded: MinorUnits::ZERO,
            amount_refunded_unattributed: MinorUnits::ZERO,
            amount_refund_pending: MinorUnits::ZERO,
            amount_disputed: MinorUnits::ZERO,
            failure_code: None,
            failure_message: None,
            refunds: Vec::new(),
            disputes: Vec::new(),
            created_at: *initiated_at,
            applied_report_keys: Default::default(),
        }),
        (Some(mut payment), event) => {
            apply(&mut payment, event);
            Some(payment)
        }
        (None, event) => {
            debug_assert!(false, "{} before PaymentInitiated", event.event_type());
            None
        }
    }
}

/// Replays a payment stream from nothing.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a PaymentEvent>) -> PaymentState {
    events.into_iter().fold(None, evolve)
}

/// Applies one event to an existing payment.
pub(super) fn apply(payment: &mut Payment, event: &PaymentEvent) {
    if let Some(key) = event.report_key() {
        payment.applied_report_keys.insert(key.to_owned());
    }
    match event {
        PaymentEvent::PaymentInitiated { .. } => {
            debug_assert!(false, "PaymentInitiated on an existing payment");
        }
        PaymentEvent::PaymentAuthorized { amount_minor, inferred, .. } => {
            payment.amount_authorized = (*amount_minor).into();
            payment.authorization_inferred = *inferred;
            payment.failure_code = None;
            payment.failure_message = None;
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::PaymentAuthorizationConfirmed { amount_minor, .. } => {
            payment.amount_authorized = (*amount_minor).into();
            payment.authorization_inferred = false;
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::PaymentCaptured { amount_minor, final_capture, confirmed_by_gateway, .. } => {
            payment.amount_captured = add(payment.amount_captured, *amount_minor);
            if !confirmed_by_gateway {
                payment.amount_capture_unconfirmed = add(payment.amount_capture_unconfirmed, *amount_minor);
            }
            payment.capture_final |= final_capture;
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::PaymentCaptureConfirmed { amount_minor, .. } => {
            payment.amount_capture_unconfirmed = sub(payment.amount_capture_unconfirmed, *amount_minor);
        }
        PaymentEvent::PaymentVoided { .. } => payment.status = PaymentStatus::Voided,
        PaymentEvent::PaymentAuthorizationReleased { .. } => {
            payment.capture_final = true;
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::PaymentFailed { code, message, .. } => {
            payment.status = PaymentStatus::Failed;
            payment.failure_code = Some(code.clone());
            payment.failure_message = Some(message.clone());
        }
        PaymentEvent::RefundRequested { refund_id, amount_minor, reason, provider_reference, requested_at, .. } => {
            payment.refunds.push(Refund {
                id: *refund_id,
                amount_minor: *amount_minor,
                status: RefundStatus::Pending,
                reason: reason.clone(),
                provider_reference: provider_reference.clone(),
                requested_at: *requested_at,
                failure_code: None,
                failure_message: None,
                settled_by_total: false,
                failed_at: None,
            });
            payment.amount_refund_pending = add(payment.amount_refund_pending, *amount_minor);
        }
        PaymentEvent::RefundSucceeded {
            refund_id,
            amount_minor,
            provider_reference,
            from_total_minor,
            by_total,
            ..
        } => {
            if let Some(refund) = settle_refund(payment, *refund_id, RefundStatus::Succeeded) {
                if provider_reference.is_some() {
                    refund.provider_reference = provider_reference.clone();
                }
                refund.settled_by_total = *by_total;
            }
            debug_assert!(*from_total_minor <= payment.amount_refunded_unattributed);
            payment.amount_refund_pending = sub(payment.amount_refund_pending, *amount_minor);
            payment.amount_refunded_unattributed =
                payment.amount_refunded_unattributed.saturating_sub(*from_total_minor);
            payment.amount_refunded = add(payment.amount_refunded, *amount_minor).saturating_sub(*from_total_minor);
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::RefundAttributed {
            refund_id,
            amount_minor,
            from_total_minor,
            provider_reference,
            refunded_at,
            ..
        } => {
            payment.refunds.push(Refund {
                id: *refund_id,
                amount_minor: *amount_minor,
                status: RefundStatus::Succeeded,
                reason: None,
                provider_reference: Some(provider_reference.clone()),
                requested_at: *refunded_at,
                failure_code: None,
                failure_message: None,
                settled_by_total: false,
                failed_at: None,
            });
            debug_assert!(*from_total_minor <= payment.amount_refunded_unattributed);
            payment.amount_refunded_unattributed =
                payment.amount_refunded_unattributed.saturating_sub(*from_total_minor);
            payment.amount_refunded = add(payment.amount_refunded, *amount_minor).saturating_sub(*from_total_minor);
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::RefundTotalReported { amount_minor, .. } => {
            payment.amount_refunded_unattributed = add(payment.amount_refunded_unattributed, *amount_minor);
            payment.amount_refunded = add(payment.amount_refunded, *amount_minor);
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::RefundFailed { refund_id, amount_minor, code, message, failed_at, .. } => {
            if let Some(refund) = settle_refund(payment, *refund_id, RefundStatus::Failed) {
                refund.failure_code = code.clone();
                refund.failure_message = message.clone();
                refund.failed_at = *failed_at;
            }
            payment.amount_refund_pending = sub(payment.amount_refund_pending, *amount_minor);
        }
        PaymentEvent::RefundReversed { refund_id, amount_minor, from_total, provider_reference, failed_at, .. } => {
            reverse_refund(payment, *refund_id, *from_total, provider_reference, *failed_at);
            if *from_total {
                debug_assert!(MinorUnits::from(*amount_minor) <= payment.amount_refunded_unattributed);
                payment.amount_refunded_unattributed = sub(payment.amount_refunded_unattributed, *amount_minor);
            }
            payment.amount_refunded = sub(payment.amount_refunded, *amount_minor);
            payment.status = payment.status_from_amounts();
        }
        PaymentEvent::RefundReferenceLearned { refund_id, provider_reference, .. } => {
            let refund = payment.refunds.iter_mut().find(|refund| refund.id == *refund_id);
            debug_assert!(
                refund.as_ref().is_some_and(|refund| refund.provider_reference.is_none()),
                "refund {refund_id} learning a reference is missing or has one"
            );
            if let Some(refund) = refund {
                refund.provider_reference = Some(provider_reference.clone());
                refund.settled_by_total = false;
            }
        }
        PaymentEvent::DisputeOpened { dispute_id, amount_minor, reason, provider_reference, opened_at, .. } => {
            payment.disputes.push(Dispute {
                id: *dispute_id,
                amount_minor: *amount_minor,
                status: DisputeStatus::Open,
                reason: reason.clone(),
                provider_reference: provider_reference.clone(),
                opened_at: *opened_at,
            });
            payment.amount_disputed = add(payment.amount_disputed, *amount_minor);
        }
        PaymentEvent::DisputeWon { dispute_id, amount_minor, .. } => {
            resolve_dispute(payment, *dispute_id, DisputeStatus::Won);
            // Won: the held amount comes back and may be refunded again.
            payment.amount_disputed = sub(payment.amount_disputed, *amount_minor);
        }
        PaymentEvent::DisputeLost { dispute_id, .. } => {
            // Lost: the amount stays disputed for good.
            resolve_dispute(payment, *dispute_id, DisputeStatus::Lost);
        }
        PaymentEvent::WebhookIgnored { .. } => {}
    }
    debug_assert_eq!(payment.check_invariants(), Ok(()), "after {event:?}");
}

fn settle_refund(payment: &mut Payment, refund_id: RefundId, to: RefundStatus) -> Option<&mut Refund> {
    let refund = payment.refunds.iter_mut().find(|refund| refund.id == refund_id);
    debug_assert!(
        refund.as_ref().map(|refund| refund.status) == Some(RefundStatus::Pending),
        "settling refund {refund_id} that is not pending"
    );
    let refund = refund?;
    refund.status = to;
    Some(refund)
}

/// A reversed refund is failed: it had succeeded, or (`from_total`) it failed just before.
fn reverse_refund(
    payment: &mut Payment,
    refund_id: RefundId,
    from_total: bool,
    provider_reference: &Option<String>,
    failed_at: DateTime<Utc>,
) {
    let refund = payment.refunds.iter_mut().find(|refund| refund.id == refund_id);
    let was = if from_total { RefundStatus::Failed } else { RefundStatus::Succeeded };
    debug_assert!(refund.as_ref().map(|refund| refund.status) == Some(was), "reversing refund {refund_id}");
    if let Some(refund) = refund {
        refund.status = RefundStatus::Failed;
        refund.failed_at = Some(failed_at);
        refund.settled_by_total = false;
        if refund.provider_reference.is_none() {
            refund.provider_reference = provider_reference.clone();
        }
    }
}

fn resolve_dispute(payment: &mut Payment, dispute_id: DisputeId, to: DisputeStatus) {
    let dispute = payment.disputes.iter_mut().find(|dispute| dispute.id == dispute_id);
    debug_assert!(
        dispute.as_ref().map(|dispute| dispute.status) == Some(DisputeStatus::Open),
        "resolving dispute {dispute_id} that is not open"
    );
    if let Some(dispute) = dispute {
        dispute.status = to;
    }
}

fn add(total: MinorUnits, amount: AmountMinor) -> MinorUnits {
    total.saturating_add(amount.into())
}

fn sub(total: MinorUnits, amount: AmountMinor) -> MinorUnits {
    total.saturating_sub(amount.into())
}
