//! The steps of the payment lifecycle, shared by commands and gateway
//! reports. Every step asks the transition table first, then checks amounts,
//! then returns the facts; nothing here mutates.

use chrono::{DateTime, Utc};

use super::evolve::apply;
use super::table::{transition, Next};
use super::{CaptureMethod, CommandKind, DisputeOutcome, DisputeStatus, Payment, PaymentEvent, Refund, RefundStatus};
use crate::error::DomainError;
use crate::ids::{DisputeId, RefundId};
use crate::money::{AmountMinor, MinorUnits};

/// Who asks for a step; decides which flags and report key its events carry.
#[derive(Debug, Clone, Copy)]
pub(super) enum Source<'a> {
    /// A command through the API.
    Api,
    /// The gateway reported this step, in the report with this key.
    Gateway(&'a str),
    /// Assumed as a prerequisite of the gateway report with this key.
    Inferred(&'a str),
}

impl Source<'_> {
    fn report_key(self) -> Option<String> {
        match self {
            Source::Api => None,
            Source::Gateway(key) | Source::Inferred(key) => Some(key.to_owned()),
        }
    }
}

pub(super) struct NewRefund {
    pub refund_id: RefundId,
    pub amount_minor: AmountMinor,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub at: DateTime<Utc>,
}

pub(super) struct NewDispute {
    pub dispute_id: DisputeId,
    pub amount_minor: AmountMinor,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// Authorizes `amount_minor` (default: the whole payment). With automatic
/// capture, an authorization from the API or the gateway also captures it
/// all; an inferred one does not (the step that needed it captures).
pub(super) fn authorize(
    payment: &Payment,
    amount_minor: Option<AmountMinor>,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::Authorize)?;
    let amount = amount_minor.unwrap_or(payment.amount_minor);
    if amount > payment.amount_minor {
        return Err(DomainError::AmountExceedsAuthorizable {
            requested: amount,
            available: payment.amount_minor.into(),
            currency: payment.currency,
        });
    }
    let mut events = vec![PaymentEvent::PaymentAuthorized {
        amount_minor: amount,
        currency: payment.currency,
        inferred: matches!(source, Source::Inferred(_)),
        report_key: source.report_key(),
    }];
    let auto_capture_source = match (payment.capture_method, source) {
        (CaptureMethod::Automatic, Source::Api) => Some(Source::Api),
        // The gateway reported the authorization; the capture is assumed.
        (CaptureMethod::Automatic, Source::Gateway(key)) => Some(Source::Inferred(key)),
        (CaptureMethod::Automatic, Source::Inferred(_))
        | (CaptureMethod::Manual, Source::Api | Source::Gateway(_) | Source::Inferred(_)) => None,
    };
    if let Some(capture_source) = auto_capture_source {
        let authorized = after(payment, &events);
        events.extend(capture(&authorized, None, true, capture_source)?);
    }
    Ok(landed(payment, next, events))
}

/// Captures `amount_minor` (default: all that is capturable).
pub(super) fn capture(
    payment: &Payment,
    amount_minor: Option<AmountMinor>,
    final_capture: bool,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::Capture)?;
    let capturable = payment.amount_capturable();
    let Some(amount) = amount_minor.or(capturable.to_amount()) else {
        return Err(DomainError::PaymentNotCapturable { status: payment.status });
    };
    if !capturable.covers(amount) {
        return Err(DomainError::AmountExceedsCapturable {
            requested: amount,
            available: capturable,
            currency: payment.currency,
        });
    }
    let events = vec![PaymentEvent::PaymentCaptured {
        amount_minor: amount,
        currency: payment.currency,
        // Taking all that is left is final whether or not it was asked.
        final_capture: final_capture || capturable == amount.into(),
        confirmed_by_gateway: matches!(source, Source::Gateway(_)),
        report_key: source.report_key(),
    }];
    Ok(landed(payment, next, events))
}

/// Records `amount_minor` the gateway captured (or a later fact of it implies): within the
/// authorization not yet captured, while capture is open and also after it closed (a final
/// capture or a void of the remainder: capture stays closed). A client's capture after close
/// is refused by `capture`; a report is a fact.
pub(super) fn record_capture(
    payment: &Payment,
    amount_minor: AmountMinor,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::RecordCapture)?;
    let room = payment.amount_authorized.saturating_sub(payment.amount_captured);
    if !room.covers(amount_minor) {
        return Err(DomainError::AmountExceedsCapturable {
            requested: amount_minor,
            available: room,
            currency: payment.currency,
        });
    }
    let events = vec![PaymentEvent::PaymentCaptured {
        amount_minor,
        currency: payment.currency,
        // While open, taking all that is left closes capture, as a command's capture does.
        final_capture: !payment.capture_complete() && room == amount_minor.into(),
        confirmed_by_gateway: matches!(source, Source::Gateway(_)),
        report_key: source.report_key(),
    }];
    Ok(landed(payment, next, events))
}

/// A capture reported beyond what is authorized: the authorization was larger than known
/// (an incremental authorization, or a lower amount confirmed earlier). Assumes the whole
/// payment amount, as an authorization inferred from a fact reported first does.
pub(super) fn extend_authorization(payment: &Payment, report_key: &str) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::RecordCapture)?;
    let events = vec![PaymentEvent::PaymentAuthorized {
        amount_minor: payment.amount_minor,
        currency: payment.currency,
        inferred: true,
        report_key: Some(report_key.to_owned()),
    }];
    Ok(landed(payment, next, events))
}

/// Voids the payment; once part of it is captured, voids only the uncaptured rest of the
/// authorization: capture closes and the captured money stays (see the table).
pub(super) fn void(payment: &Payment, source: Source) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::Void)?;
    let released = payment.amount_authorized.saturating_sub(payment.amount_captured);
    let event = match (payment.amount_captured.is_zero(), released.to_amount()) {
        (true, _) => PaymentEvent::PaymentVoided {
            amount_released_minor: released,
            currency: payment.currency,
            report_key: source.report_key(),
        },
        (false, Some(amount_released_minor)) => PaymentEvent::PaymentAuthorizationReleased {
            amount_released_minor,
            currency: payment.currency,
            report_key: source.report_key(),
        },
        // Partially captured always has authorization left; the table allows nothing else.
        (false, None) => return Err(DomainError::PaymentNotVoidable { status: payment.status }),
    };
    Ok(landed(payment, next, vec![event]))
}

pub(super) fn fail(
    payment: &Payment,
    code: String,
    message: String,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::Fail)?;
    let events = vec![PaymentEvent::PaymentFailed { code, message, report_key: source.report_key() }];
    Ok(landed(payment, next, events))
}

pub(super) fn request_refund(
    payment: &Payment,
    request: NewRefund,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::RequestRefund)?;
    if payment.refund(request.refund_id).is_some() {
        return Err(DomainError::RefundAlreadyExists { refund_id: request.refund_id });
    }
    let refundable = payment.amount_refundable();
    if !refundable.covers(request.amount_minor) {
        return Err(DomainError::AmountExceedsRefundable {
            requested: request.amount_minor,
            available: refundable,
            currency: payment.currency,
        });
    }
    let events = vec![PaymentEvent::RefundRequested {
        refund_id: request.refund_id,
        amount_minor: request.amount_minor,
        currency: payment.currency,
        reason: request.reason,
        provider_reference: request.provider_reference,
        requested_at: request.at,
        report_key: source.report_key(),
    }];
    Ok(landed(payment, next, events))
}

/// `provider_reference`: the gateway's refund reference, if learnt now.
pub(super) fn succeed_refund(
    payment: &Payment,
    refund_id: RefundId,
    provider_reference: Option<String>,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::SucceedRefund)?;
    let refund = pending_refund(payment, refund_id)?;
    let events = vec![PaymentEvent::RefundSucceeded {
        refund_id,
        amount_minor: refund.amount_minor,
        currency: payment.currency,
        provider_reference: provider_reference.or_else(|| refund.provider_reference.clone()),
        report_key: source.report_key(),
        // Money the gateway's running total already counted is this refund's first.
        from_total_minor: MinorUnits::from(refund.amount_minor).min(payment.amount_refunded_unattributed),
        by_total: false,
    }];
    Ok(landed(payment, next, events))
}

/// Counts `unknown` more refunded money that the gateway's running total of refunds on
/// `charge` reports and no known refund accounts for. Refundable money bounds it, as a refund.
pub(super) fn report_refund_total(
    payment: &Payment,
    charge: &str,
    unknown: AmountMinor,
    report_key: &str,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::RequestRefund)?;
    let refundable = payment.amount_refundable();
    if !refundable.covers(unknown) {
        return Err(DomainError::AmountExceedsRefundable {
            requested: unknown,
            available: refundable,
            currency: payment.currency,
        });
    }
    let events = vec![PaymentEvent::RefundTotalReported {
        amount_minor: unknown,
        currency: payment.currency,
        charge_reference: charge.to_owned(),
        report_key: report_key.to_owned(),
    }];
    Ok(landed(payment, next, events))
}

/// Records the gateway's refund `request` as succeeded, claiming first what a running total
/// counted and no refund explained yet (`Payment::amount_refunded_unattributed`).
pub(super) fn attribute_refund(
    payment: &Payment,
    request: NewRefund,
    report_key: &str,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::RecordRefund)?;
    if payment.refund(request.refund_id).is_some() {
        return Err(DomainError::RefundAlreadyExists { refund_id: request.refund_id });
    }
    let from_total_minor = MinorUnits::from(request.amount_minor).min(payment.amount_refunded_unattributed);
    if let Some(new_money) = request.amount_minor.excess_over(from_total_minor) {
        let refundable = payment.amount_refundable();
        if !refundable.covers(new_money) {
            return Err(DomainError::AmountExceedsRefundable {
                requested: new_money,
                available: refundable,
                currency: payment.currency,
            });
        }
    }
    let events = vec![PaymentEvent::RefundAttributed {
        refund_id: request.refund_id,
        amount_minor: request.amount_minor,
        from_total_minor,
        currency: payment.currency,
        provider_reference: request.provider_reference.unwrap_or_default(),
        refunded_at: request.at,
        report_key: report_key.to_owned(),
    }];
    Ok(landed(payment, next, events))
}

/// `failed_at`: when the gateway says the refund failed, for a failure it reports.
pub(super) fn fail_refund(
    payment: &Payment,
    refund_id: RefundId,
    code: Option<String>,
    message: Option<String>,
    failed_at: Option<DateTime<Utc>>,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::FailRefund)?;
    let refund = pending_refund(payment, refund_id)?;
    let events = vec![PaymentEvent::RefundFailed {
        refund_id,
        amount_minor: refund.amount_minor,
        currency: payment.currency,
        code,
        message,
        report_key: source.report_key(),
        failed_at,
    }];
    Ok(landed(payment, next, events))
}

/// What a refund the gateway reports failed gives back of the money counted as refunded.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reversal {
    /// The refund had succeeded: all of it.
    Succeeded,
    /// The refund was pending and has just failed; this much of the unattributed money a
    /// running total counted was its money.
    FromTotal(AmountMinor),
}

/// The gateway reports failed a refund whose money is counted here: it comes back.
/// `provider_reference`: the gateway's reference, if the refund learns it now.
pub(super) fn reverse_refund(
    payment: &Payment,
    refund_id: RefundId,
    reversal: Reversal,
    provider_reference: Option<String>,
    failed_at: DateTime<Utc>,
    report_key: &str,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::ReverseRefund)?;
    let refund = payment.refund(refund_id).ok_or(DomainError::RefundNotFound { refund_id })?;
    let (amount_minor, from_total) = match (reversal, refund.status) {
        (Reversal::Succeeded, RefundStatus::Succeeded) => (refund.amount_minor, false),
        (Reversal::FromTotal(amount), RefundStatus::Failed)
            if payment.amount_refunded_unattributed.covers(amount) && amount <= refund.amount_minor =>
        {
            (amount, true)
        }
        (Reversal::Succeeded | Reversal::FromTotal(_), status) => {
            return Err(DomainError::RefundNotPending { refund_id, status })
        }
    };
    let events = vec![PaymentEvent::RefundReversed {
        refund_id,
        amount_minor,
        from_total,
        currency: payment.currency,
        provider_reference: provider_reference.or_else(|| refund.provider_reference.clone()),
        failed_at,
        report_key: report_key.to_owned(),
    }];
    Ok(landed(payment, next, events))
}

fn pending_refund(payment: &Payment, refund_id: RefundId) -> Result<&Refund, DomainError> {
    let refund = payment.refund(refund_id).ok_or(DomainError::RefundNotFound { refund_id })?;
    match refund.status {
        RefundStatus::Pending => Ok(refund),
        RefundStatus::Succeeded | RefundStatus::Failed => {
            Err(DomainError::RefundNotPending { refund_id, status: refund.status })
        }
    }
}

pub(super) fn open_dispute(
    payment: &Payment,
    request: NewDispute,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    // An API dispute is a request, bounded by what no refund or dispute has
    // taken; a gateway dispute is a chargeback that already happened, bounded
    // only by what no other dispute has taken (see `Payment::amount_disputable`
    // and `Payment::amount_disputable_by_gateway`).
    let (kind, disputable) = match source {
        Source::Api => (CommandKind::OpenDispute, payment.amount_disputable()),
        Source::Gateway(_) | Source::Inferred(_) => {
            (CommandKind::RecordDispute, payment.amount_disputable_by_gateway())
        }
    };
    let next = transition(Some(payment.status), kind)?;
    if payment.dispute(request.dispute_id).is_some() {
        return Err(DomainError::DisputeAlreadyExists { dispute_id: request.dispute_id });
    }
    if !disputable.covers(request.amount_minor) {
        return Err(DomainError::AmountExceedsDisputable {
            requested: request.amount_minor,
            available: disputable,
            currency: payment.currency,
        });
    }
    let events = vec![PaymentEvent::DisputeOpened {
        dispute_id: request.dispute_id,
        amount_minor: request.amount_minor,
        currency: payment.currency,
        reason: request.reason,
        provider_reference: request.provider_reference,
        opened_at: request.at,
        report_key: source.report_key(),
    }];
    Ok(landed(payment, next, events))
}

pub(super) fn resolve_dispute(
    payment: &Payment,
    dispute_id: DisputeId,
    outcome: DisputeOutcome,
    source: Source,
) -> Result<Vec<PaymentEvent>, DomainError> {
    let next = transition(Some(payment.status), CommandKind::ResolveDispute)?;
    let dispute = payment.dispute(dispute_id).ok_or(DomainError::DisputeNotFound { dispute_id })?;
    match dispute.status {
        DisputeStatus::Open => {}
        DisputeStatus::Won | DisputeStatus::Lost => {
            return Err(DomainError::DisputeNotOpen { dispute_id, status: dispute.status })
        }
    }
    let (amount_minor, currency, report_key) = (dispute.amount_minor, payment.currency, source.report_key());
    let event = match outcome {
        DisputeOutcome::Won => PaymentEvent::DisputeWon { dispute_id, amount_minor, currency, report_key },
        DisputeOutcome::Lost => PaymentEvent::DisputeLost { dispute_id, amount_minor, currency, report_key },
    };
    Ok(landed(payment, next, vec![event]))
}

/// The payment after `events`.
pub(super) fn after(payment: &Payment, events: &[PaymentEvent]) -> Payment {
    let mut next = payment.clone();
    for event in events {
        apply(&mut next, event);
    }
    next
}

/// Asserts (debug builds) that the step lands where the table says.
fn landed(payment: &Payment, next: Next, events: Vec<PaymentEvent>) -> Vec<PaymentEvent> {
    if cfg!(debug_assertions) {
        let landed = after(payment, &events).status;
        match next {
            Next::Status(status) => debug_assert_eq!(landed, status),
            Next::FromAmounts => debug_assert_eq!(landed, after(payment, &events).status_from_amounts()),
        }
    }
    events
}
