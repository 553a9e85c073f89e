//! Reconciles a gateway report with a payment; the rules are on
//! [`GatewayReport`](super::GatewayReport).

use chrono::{DateTime, Utc};

use super::steps::{self, after, NewDispute, NewRefund, Reversal, Source};
use super::{
    CaptureMethod, Dispute, DisputeOutcome, GatewayReport, Payment, PaymentEvent, PaymentStatus, Refund, RefundStatus,
    ReportKind,
};
use crate::error::DomainError;
use crate::ids::{DisputeId, RefundId};
use crate::money::{AmountMinor, MinorUnits};

/// Why a report changes nothing: a stable code and a human detail.
struct Ignore {
    code: &'static str,
    detail: String,
}

impl From<DomainError> for Ignore {
    fn from(error: DomainError) -> Self {
        Ignore { code: error.code(), detail: error.to_string() }
    }
}

fn ignore(code: &'static str, detail: impl Into<String>) -> Ignore {
    Ignore { code, detail: detail.into() }
}

/// The events a report produces on an existing payment.
pub(super) fn apply(payment: &Payment, report: GatewayReport) -> Vec<PaymentEvent> {
    let mut plan = Plan { payment: payment.clone(), events: Vec::new() };
    match plan.follow(&report) {
        Ok(()) => {
            debug_assert!(!plan.events.is_empty(), "an applied report emits events");
            plan.events
        }
        Err(Ignore { code, detail }) => {
            vec![PaymentEvent::WebhookIgnored { report_key: report.report_key, reason: format!("{code}: {detail}") }]
        }
    }
}

/// The events so far and the payment they lead to.
struct Plan {
    payment: Payment,
    events: Vec<PaymentEvent>,
}

impl Plan {
    fn push(&mut self, events: Vec<PaymentEvent>) {
        self.payment = after(&self.payment, &events);
        self.events.extend(events);
    }

    fn follow(&mut self, report: &GatewayReport) -> Result<(), Ignore> {
        let key = report.report_key.as_str();
        if self.payment.applied_report_keys.contains(key) {
            return Err(ignore("duplicate", format!("report {key} was already applied")));
        }
        if let Some(currency) = report.currency {
            if currency != self.payment.currency {
                return Err(DomainError::CurrencyMismatch { expected: self.payment.currency, actual: currency }.into());
            }
        }
        match &report.kind {
            ReportKind::Authorized { amount_minor } => self.authorized(*amount_minor, key),
            ReportKind::Captured { amount_minor, cumulative } => self.captured(*amount_minor, *cumulative, key),
            ReportKind::Failed { code, message } => {
                let events = steps::fail(&self.payment, code.clone(), message.clone(), Source::Gateway(key))?;
                self.push(events);
                Ok(())
            }
            ReportKind::Canceled => {
                let events = steps::void(&self.payment, Source::Gateway(key))?;
                self.push(events);
                Ok(())
            }
            ReportKind::Refunded { provider_refund_reference, amount_minor } => {
                self.refunded(provider_refund_reference, *amount_minor, report.occurred_at, key)
            }
            ReportKind::RefundedInTotal { charge_reference, total_refunded_minor } => {
                self.refunded_in_total(charge_reference, *total_refunded_minor, report.occurred_at, key)
            }
            ReportKind::RefundFailed { provider_refund_reference } => {
                self.refund_failed(provider_refund_reference, report.occurred_at, key)
            }
            ReportKind::DisputeOpened { provider_dispute_reference, amount_minor } => {
                self.dispute_opened(provider_dispute_reference, *amount_minor, report.occurred_at, key)
            }
            ReportKind::DisputeClosed { provider_dispute_reference, won } => {
                self.dispute_closed(provider_dispute_reference, *won, key)
            }
        }
    }

    fn authorized(&mut self, amount: AmountMinor, key: &str) -> Result<(), Ignore> {
        self.within_payment_amount(amount)?;
        if !self.payment.authorization_inferred {
            // First authorization or retry; anything later is stale (the table says so).
            let events = steps::authorize(&self.payment, Some(amount), Source::Gateway(key))?;
            self.push(events);
            return Ok(());
        }
        // The authorization was assumed from a later fact: the gateway's
        // amount replaces the assumed one, if it still covers what is captured.
        if MinorUnits::from(amount) < self.payment.amount_captured {
            return Err(ignore(
                "authorization_below_captured",
                format!("authorized {amount} is below the {} already captured", self.payment.amount_captured),
            ));
        }
        self.push(vec![PaymentEvent::PaymentAuthorizationConfirmed {
            amount_minor: amount,
            currency: self.payment.currency,
            report_key: key.to_owned(),
        }]);
        let automatic_capture_left = match self.payment.capture_method {
            CaptureMethod::Automatic => !self.payment.capture_complete(),
            CaptureMethod::Manual => false,
        };
        if automatic_capture_left {
            let events = steps::capture(&self.payment, None, true, Source::Inferred(key))?;
            self.push(events);
        }
        Ok(())
    }

    fn captured(&mut self, amount: AmountMinor, cumulative: bool, key: &str) -> Result<(), Ignore> {
        self.within_payment_amount(amount)?;
        let unconfirmed = self.payment.amount_capture_unconfirmed;
        let confirmed = self.payment.amount_captured.saturating_sub(unconfirmed);
        let delta = if cumulative {
            MinorUnits::from(amount).saturating_sub(confirmed).to_amount().ok_or_else(|| {
                ignore(
                    "stale_capture",
                    format!("gateway reports {amount} captured in total; {confirmed} is already confirmed"),
                )
            })?
        } else {
            amount
        };
        let confirming = MinorUnits::from(delta).min(unconfirmed);
        if let Some(confirming) = confirming.to_amount() {
            self.push(vec![PaymentEvent::PaymentCaptureConfirmed {
                amount_minor: confirming,
                currency: self.payment.currency,
                report_key: key.to_owned(),
            }]);
        }
        if let Some(new_money) = delta.excess_over(confirming) {
            self.capture_new_money(new_money, Source::Gateway(key), key)?;
        }
        Ok(())
    }

    /// Records money captured at the gateway (reported, or implied by another fact), open
    /// capture or not: authorizes first if nothing is, and extends the authorization to the
    /// payment amount if the money needs more than is authorized.
    fn capture_new_money(&mut self, amount: AmountMinor, source: Source, key: &str) -> Result<(), Ignore> {
        self.infer_authorization(key)?;
        let needed = self.payment.amount_captured.saturating_add(amount.into());
        if needed > self.payment.amount_authorized && needed <= MinorUnits::from(self.payment.amount_minor) {
            let events = steps::extend_authorization(&self.payment, key)?;
            self.push(events);
        }
        let events = steps::record_capture(&self.payment, amount, source)?;
        self.push(events);
        Ok(())
    }

    fn refunded(&mut self, reference: &str, amount: AmountMinor, at: DateTime<Utc>, key: &str) -> Result<(), Ignore> {
        self.within_payment_amount(amount)?;
        match refund_for_report(&self.payment, reference, amount) {
            Some(RefundMatch::ByReference(refund)) => {
                if refund.amount_minor != amount {
                    return Err(ignore(
                        "refund_amount_mismatch",
                        format!("refund {} is for {}, the gateway reports {amount}", refund.id, refund.amount_minor),
                    ));
                }
                let refund_id = refund.id;
                match refund.status {
                    RefundStatus::Pending => {
                        let events = steps::succeed_refund(&self.payment, refund_id, None, Source::Gateway(key))?;
                        self.push(events);
                        Ok(())
                    }
                    // The same gateway refund again (under another report key).
                    status @ (RefundStatus::Succeeded | RefundStatus::Failed) => {
                        Err(DomainError::RefundNotPending { refund_id, status }.into())
                    }
                }
            }
            Some(RefundMatch::PendingByAmount(refund_id)) => {
                // Succeeding records the reference on the refund.
                let events =
                    steps::succeed_refund(&self.payment, refund_id, Some(reference.to_owned()), Source::Gateway(key))?;
                self.push(events);
                Ok(())
            }
            Some(RefundMatch::SucceededByAmount(refund_id)) => {
                // The same money, already counted: only the reference is
                // new. Recording it takes this refund out of matching by
                // amount, so a later gateway refund of the same amount is
                // counted as the new money it is.
                self.push(vec![PaymentEvent::RefundReferenceLearned {
                    refund_id,
                    provider_reference: reference.to_owned(),
                    report_key: key.to_owned(),
                }]);
                Ok(())
            }
            None => self.record_gateway_refund(reference, amount, at, key),
        }
    }

    /// "`total` is refunded so far, as of `at`": records only the part not yet succeeded,
    /// nor taken by a refund that failed at the gateway since (see `failed_since`).
    fn refunded_in_total(
        &mut self,
        charge: &str,
        total: AmountMinor,
        at: DateTime<Utc>,
        key: &str,
    ) -> Result<(), Ignore> {
        self.within_payment_amount(total)?;
        let failed = failed_since(&self.payment, at);
        let refunded = self.payment.amount_refunded.saturating_add(failed);
        let missing = total.excess_over(refunded).ok_or_else(|| {
            ignore(
                "stale_refund",
                format!("gateway reports {total} refunded in total; {refunded} already is or failed since"),
            )
        })?;
        // Pending refunds are what the gateway most likely completed: settle them, oldest
        // first, while they fit in what is missing.
        let mut rest = MinorUnits::from(missing);
        let settling: Vec<RefundId> = self
            .payment
            .refunds
            .iter()
            .filter(|refund| refund.status == RefundStatus::Pending)
            .filter(|refund| match rest.checked_sub(refund.amount_minor) {
                Some(left) => {
                    rest = left;
                    true
                }
                None => false,
            })
            .map(|refund| refund.id)
            .collect();
        for refund_id in settling {
            let mut events = steps::succeed_refund(&self.payment, refund_id, None, Source::Gateway(key))?;
            for event in &mut events {
                if let PaymentEvent::RefundSucceeded { by_total, .. } = event {
                    *by_total = true;
                }
            }
            self.push(events);
        }
        // Settling claims what earlier totals counted: what is still missing is counted now.
        let Some(unknown) = total.excess_over(self.payment.amount_refunded.saturating_add(failed)) else {
            return Ok(());
        };
        self.infer_capture_covering(unknown, self.refund_pool_taken(), key);
        let events = steps::report_refund_total(&self.payment, charge, unknown, key)?;
        self.push(events);
        Ok(())
    }

    /// A refund first learnt from the gateway: requested and succeeded at once, or, while a
    /// running total counted money no refund explains, recorded claiming that money first.
    fn record_gateway_refund(
        &mut self,
        reference: &str,
        amount: AmountMinor,
        at: DateTime<Utc>,
        key: &str,
    ) -> Result<(), Ignore> {
        let refund_id = RefundId::for_gateway_refund(self.payment.id, reference);
        // Money the running total counted is this refund's, not more money to cover.
        let taken = self.refund_pool_taken().saturating_sub(self.payment.amount_refunded_unattributed);
        self.infer_capture_covering(amount, taken, key);
        let request = NewRefund {
            refund_id,
            amount_minor: amount,
            reason: None,
            provider_reference: Some(reference.to_owned()),
            at,
        };
        if !self.payment.amount_refunded_unattributed.is_zero() {
            let events = steps::attribute_refund(&self.payment, request, key)?;
            self.push(events);
            return Ok(());
        }
        let events = steps::request_refund(&self.payment, request, Source::Gateway(key))?;
        self.push(events);
        let events = steps::succeed_refund(&self.payment, refund_id, None, Source::Gateway(key))?;
        self.push(events);
        Ok(())
    }

    /// What refunds and disputes already take of the captured money (their shared pool,
    /// `Payment::amount_refundable`).
    fn refund_pool_taken(&self) -> MinorUnits {
        self.payment
            .amount_refunded
            .saturating_add(self.payment.amount_refund_pending)
            .saturating_add(self.payment.amount_disputed)
    }

    /// A pending refund fails; a succeeded one is reversed (the gateway gave the money back:
    /// a refund a running total counted while pending, or one that failed after succeeding).
    fn refund_failed(&mut self, reference: &str, at: DateTime<Utc>, key: &str) -> Result<(), Ignore> {
        let refund = refund_for_failure(&self.payment, reference)
            .ok_or_else(|| ignore("unknown_refund", format!("no refund with provider reference {reference:?}")))?;
        let (refund_id, amount) = (refund.id, refund.amount_minor);
        match refund.status {
            RefundStatus::Succeeded => {
                let learnt = refund.provider_reference.is_none().then(|| reference.to_owned());
                let events = steps::reverse_refund(&self.payment, refund_id, Reversal::Succeeded, learnt, at, key)?;
                self.push(events);
            }
            RefundStatus::Pending | RefundStatus::Failed => {
                let events = steps::fail_refund(&self.payment, refund_id, None, None, Some(at), Source::Gateway(key))?;
                self.push(events);
                // A total counted it while pending, as money no refund explained (it did not fit,
                // or came first): that money goes back too.
                let counted = MinorUnits::from(amount).min(self.payment.amount_refunded_unattributed);
                if let Some(counted) = counted.to_amount() {
                    let reversal = Reversal::FromTotal(counted);
                    let events = steps::reverse_refund(&self.payment, refund_id, reversal, None, at, key)?;
                    self.push(events);
                }
            }
        }
        Ok(())
    }

    fn dispute_opened(
        &mut self,
        reference: &str,
        amount: AmountMinor,
        at: DateTime<Utc>,
        key: &str,
    ) -> Result<(), Ignore> {
        self.within_payment_amount(amount)?;
        if let Some(dispute) = self.dispute_by_reference(reference) {
            return Err(DomainError::DisputeAlreadyExists { dispute_id: dispute.id }.into());
        }
        // A chargeback is bounded by what other disputes took, not by
        // refunds (see `Payment::amount_disputable_by_gateway`).
        self.infer_capture_covering(amount, self.payment.amount_disputed, key);
        let request = NewDispute {
            dispute_id: DisputeId::for_gateway_dispute(self.payment.id, reference),
            amount_minor: amount,
            reason: None,
            provider_reference: Some(reference.to_owned()),
            at,
        };
        let events = steps::open_dispute(&self.payment, request, Source::Gateway(key))?;
        self.push(events);
        Ok(())
    }

    fn dispute_closed(&mut self, reference: &str, won: bool, key: &str) -> Result<(), Ignore> {
        let dispute_id = self
            .dispute_by_reference(reference)
            .map(|dispute| dispute.id)
            .ok_or_else(|| ignore("unknown_dispute", format!("no dispute with provider reference {reference:?}")))?;
        let outcome = if won { DisputeOutcome::Won } else { DisputeOutcome::Lost };
        let events = steps::resolve_dispute(&self.payment, dispute_id, outcome, Source::Gateway(key))?;
        self.push(events);
        Ok(())
    }

    fn dispute_by_reference(&self, reference: &str) -> Option<&Dispute> {
        self.payment.disputes.iter().find(|dispute| dispute.provider_reference.as_deref() == Some(reference))
    }

    /// No gateway moves more than the payment amount: such a report can never fit.
    fn within_payment_amount(&self, amount: AmountMinor) -> Result<(), Ignore> {
        if amount > self.payment.amount_minor {
            return Err(ignore(
                "exceeds_payment_amount",
                format!("reported {amount} exceeds the payment amount {}", self.payment.amount_minor),
            ));
        }
        Ok(())
    }

    /// Money moved without a known authorization: assume the whole payment
    /// amount was authorized (corrected if the gateway reports it later).
    fn infer_authorization(&mut self, key: &str) -> Result<(), Ignore> {
        match self.payment.status {
            PaymentStatus::Initiated | PaymentStatus::Failed => {
                let events = steps::authorize(&self.payment, None, Source::Inferred(key))?;
                self.push(events);
                Ok(())
            }
            PaymentStatus::Authorized
            | PaymentStatus::PartiallyCaptured
            | PaymentStatus::Captured
            | PaymentStatus::Refunded
            | PaymentStatus::Voided => Ok(()),
        }
    }

    /// A refund or dispute of `amount` needs captured money for it on top of
    /// `taken` (what its pool already counts against captured): capture (and
    /// authorize) what is missing, marked inferred. Best effort: if it cannot
    /// be inferred, the refund or dispute step itself refuses.
    fn infer_capture_covering(&mut self, amount: AmountMinor, taken: MinorUnits, key: &str) {
        // Not `amount - available`: after a chargeback on refunded money,
        // `taken` may exceed captured, and the whole shortfall is missing.
        let needed = taken.saturating_add(amount.into());
        let Some(missing) = needed.saturating_sub(self.payment.amount_captured).to_amount() else {
            return;
        };
        let mut attempt = Plan { payment: self.payment.clone(), events: Vec::new() };
        if attempt.capture_new_money(missing, Source::Inferred(key), key).is_ok() {
            self.push(attempt.events);
        }
    }
}

/// What refunds that failed at the gateway at or after `at` had reserved or refunded: a
/// running total as of `at` may have counted them while they were pending (Stripe counts a
/// pending refund in `amount_refunded`). Assumed counted: if it was not, the refund that total
/// did count is still counted by its own report.
fn failed_since(payment: &Payment, at: DateTime<Utc>) -> MinorUnits {
    payment
        .refunds
        .iter()
        .filter(|refund| refund.status == RefundStatus::Failed && refund.failed_at.is_some_and(|failed| failed >= at))
        .fold(MinorUnits::ZERO, |total, refund| total.saturating_add(refund.amount_minor.into()))
}

/// The refund a `RefundFailed` report is about: the one with its provider reference; else,
/// when a running total settled exactly one refund that has no reference (an API refund
/// requested without one), and no other refund without a reference is pending, that one.
/// Anything else is ambiguous: the report names no amount.
fn refund_for_failure<'a>(payment: &'a Payment, reference: &str) -> Option<&'a Refund> {
    if let Some(refund) = payment.refunds.iter().find(|refund| refund.provider_reference.as_deref() == Some(reference))
    {
        return Some(refund);
    }
    let mut unreferenced = payment.refunds.iter().filter(|refund| refund.provider_reference.is_none());
    let mut candidates = unreferenced.clone().filter(|refund| refund.settled_by_total);
    let pending = unreferenced.any(|refund| refund.status == RefundStatus::Pending);
    match (candidates.next(), candidates.next(), pending) {
        (Some(only), None, false) => Some(only),
        _ => None,
    }
}

/// How a `Refunded` report found its refund.
enum RefundMatch<'a> {
    /// The refund with the report's provider reference.
    ByReference(&'a Refund),
    /// A pending refund without a reference, of the reported amount.
    PendingByAmount(RefundId),
    /// A succeeded refund without a reference, of the reported amount.
    SucceededByAmount(RefundId),
}

/// The refund a `Refunded` report is about: the one with its provider
/// reference; else the oldest refund without a reference, of the same amount,
/// pending first (requested through the API before the gateway assigned a
/// reference). A refund matched by amount learns the reference (when it
/// succeeds, or with `RefundReferenceLearned` if it already had), so it is
/// matched by amount at most once.
fn refund_for_report<'a>(payment: &'a Payment, reference: &str, amount: AmountMinor) -> Option<RefundMatch<'a>> {
    let unreferenced = |status: RefundStatus| {
        payment
            .refunds
            .iter()
            .find(move |refund| {
                refund.provider_reference.is_none() && refund.amount_minor == amount && refund.status == status
            })
            .map(|refund| refund.id)
    };
    if let Some(refund) = payment.refunds.iter().find(|refund| refund.provider_reference.as_deref() == Some(reference))
    {
        return Some(RefundMatch::ByReference(refund));
    }
    // A refund a running total settled is the gateway's refund that total counted: match it
    // before any pending one, or the same money would settle a second refund.
    let settled_by_total = payment
        .refunds
        .iter()
        .find(|refund| refund.settled_by_total && refund.provider_reference.is_none() && refund.amount_minor == amount);
    if let Some(refund) = settled_by_total {
        return Some(RefundMatch::SucceededByAmount(refund.id));
    }
    unreferenced(RefundStatus::Pending)
        .map(RefundMatch::PendingByAmount)
        .or_else(|| unreferenced(RefundStatus::Succeeded).map(RefundMatch::SucceededByAmount))
}
