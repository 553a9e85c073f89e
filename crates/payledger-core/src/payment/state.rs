use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{CaptureMethod, DisputeStatus, PaymentStatus, Provider, RefundStatus};
use crate::ids::{DisputeId, OrderId, PaymentId, RefundId};
use crate::money::{AmountMinor, Currency, MinorUnits};

/// `None` until `PaymentInitiated`.
pub type PaymentState = Option<Payment>;

/// A payment, folded from its stream. Only `evolve` changes it; the amounts
/// obey [`Payment::check_invariants`] after every event.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub status: PaymentStatus,
    pub amount_minor: AmountMinor,
    pub currency: Currency,
    pub capture_method: CaptureMethod,
    pub provider: Provider,
    pub provider_reference: Option<String>,
    pub amount_authorized: MinorUnits,
    /// The authorization was assumed from a later fact (a capture, refund or
    /// dispute reported first) and not yet reported by the gateway itself.
    pub authorization_inferred: bool,
    pub amount_captured: MinorUnits,
    /// Captured by command or inferred, and not yet confirmed by a gateway
    /// capture report. A capture report confirms this first, so the same
    /// money is never counted twice.
    pub amount_capture_unconfirmed: MinorUnits,
    /// A final capture released the rest of the authorization.
    pub capture_final: bool,
    /// Refunds succeeded, plus `amount_refunded_unattributed`.
    pub amount_refunded: MinorUnits,
    /// Refunded per the gateway's running total but not yet attributed to a refund
    /// (`RefundTotalReported`); the next succeeded refunds claim it first.
    pub amount_refunded_unattributed: MinorUnits,
    /// Reserved by pending refunds.
    pub amount_refund_pending: MinorUnits,
    /// Held by open disputes plus lost to lost ones.
    pub amount_disputed: MinorUnits,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub refunds: Vec<Refund>,
    pub disputes: Vec<Dispute>,
    pub created_at: DateTime<Utc>,
    /// Keys of the gateway reports already applied (idempotency).
    pub applied_report_keys: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    pub id: RefundId,
    pub amount_minor: AmountMinor,
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Succeeded because a running total covered it (`RefundSucceeded::by_total`), and not
    /// yet matched to the gateway's report of it.
    pub settled_by_total: bool,
    /// When the gateway said this refund failed (a failure or a reversal it reported).
    pub failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dispute {
    pub id: DisputeId,
    pub amount_minor: AmountMinor,
    pub status: DisputeStatus,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub opened_at: DateTime<Utc>,
}

impl Payment {
    /// Whether this payment may still take money, or keeps money that is neither refunded
    /// nor lost to a dispute, or waits on a pending refund or an open dispute. A failed
    /// payment counts: a declined authorization may be retried on it (see the table), so a
    /// void ends it. Such a payment keeps its order from being cancelled.
    pub fn is_in_progress_for_order(&self) -> bool {
        match self.status {
            PaymentStatus::Initiated
            | PaymentStatus::Authorized
            | PaymentStatus::PartiallyCaptured
            | PaymentStatus::Failed => true,
            PaymentStatus::Captured => {
                !self.amount_refundable().is_zero()
                    || !self.amount_refund_pending.is_zero()
                    || self.disputes.iter().any(|d| d.status == DisputeStatus::Open)
            }
            PaymentStatus::Refunded | PaymentStatus::Voided => false,
        }
    }

    /// What this payment holds of its order's amount: its whole amount while it may still
    /// capture (failed included, see above), what it captured once capture closed, nothing
    /// once voided or once all its captured money went back. Partial refunds free nothing:
    /// the order is not offered again for money it already took once.
    pub fn amount_committed_to_order(&self) -> MinorUnits {
        match self.status {
            PaymentStatus::Initiated
            | PaymentStatus::Authorized
            | PaymentStatus::PartiallyCaptured
            | PaymentStatus::Failed => MinorUnits::from(self.amount_minor).max(self.amount_captured),
            PaymentStatus::Captured => self.amount_captured,
            PaymentStatus::Refunded | PaymentStatus::Voided => MinorUnits::ZERO,
        }
    }

    /// What a capture may still take: the authorization not yet captured,
    /// while capture is open (status authorized or partially captured).
    pub fn amount_capturable(&self) -> MinorUnits {
        match self.status {
            PaymentStatus::Authorized | PaymentStatus::PartiallyCaptured => {
                self.amount_authorized.saturating_sub(self.amount_captured)
            }
            PaymentStatus::Initiated
            | PaymentStatus::Captured
            | PaymentStatus::Refunded
            | PaymentStatus::Voided
            | PaymentStatus::Failed => MinorUnits::ZERO,
        }
    }

    /// Captured money not yet refunded, reserved by a pending refund, or
    /// disputed (open or lost).
    pub fn amount_refundable(&self) -> MinorUnits {
        self.amount_captured_unencumbered()
    }

    /// What a dispute opened through the API may take: the same pool as
    /// refunds, so a unit of captured money is returned at most once by our
    /// own commands (a refund or a recorded chargeback). An API dispute is an
    /// assertion by a client, which may be mistaken or may duplicate a refund;
    /// refusing it (`amount_exceeds_disputable`) lets the client fix it.
    pub fn amount_disputable(&self) -> MinorUnits {
        self.amount_captured_unencumbered()
    }

    /// What a dispute reported by the gateway may take: captured money not
    /// already held or lost by another dispute. A reported chargeback is the
    /// bank's fact, not a request: the money is gone even if it was also
    /// refunded or is reserved by a pending refund (the cardholder can be
    /// paid twice). So refunds do not reduce this, and refunded + pending +
    /// disputed may exceed captured; `gateway_receivable` then goes negative
    /// (we owe the gateway). Disputes alone never exceed captured.
    pub fn amount_disputable_by_gateway(&self) -> MinorUnits {
        self.amount_captured.saturating_sub(self.amount_disputed)
    }

    fn amount_captured_unencumbered(&self) -> MinorUnits {
        self.amount_captured
            .saturating_sub(self.amount_refunded)
            .saturating_sub(self.amount_refund_pending)
            .saturating_sub(self.amount_disputed)
    }

    /// Held by disputes still open.
    pub fn amount_dispute_open(&self) -> MinorUnits {
        self.dispute_total(DisputeStatus::Open)
    }

    /// Lost to chargebacks.
    pub fn amount_dispute_lost(&self) -> MinorUnits {
        self.dispute_total(DisputeStatus::Lost)
    }

    pub fn refund(&self, refund_id: RefundId) -> Option<&Refund> {
        self.refunds.iter().find(|refund| refund.id == refund_id)
    }

    pub fn dispute(&self, dispute_id: DisputeId) -> Option<&Dispute> {
        self.disputes.iter().find(|dispute| dispute.id == dispute_id)
    }

    /// No more capture can happen: a final capture, or all of the authorization.
    pub fn capture_complete(&self) -> bool {
        self.capture_final || self.amount_captured >= self.amount_authorized
    }

    /// The status the amounts imply, once the payment holds money (after an
    /// authorization): used by `evolve` after every money event.
    pub(crate) fn status_from_amounts(&self) -> PaymentStatus {
        if self.amount_captured.is_zero() {
            PaymentStatus::Authorized
        } else if !self.capture_complete() {
            PaymentStatus::PartiallyCaptured
        } else if self.amount_refunded == self.amount_captured {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::Captured
        }
    }

    fn refund_total(&self, status: RefundStatus) -> MinorUnits {
        self.refunds
            .iter()
            .filter(|refund| refund.status == status)
            .fold(MinorUnits::ZERO, |total, refund| total.saturating_add(refund.amount_minor.into()))
    }

    fn dispute_total(&self, status: DisputeStatus) -> MinorUnits {
        self.disputes
            .iter()
            .filter(|dispute| dispute.status == status)
            .fold(MinorUnits::ZERO, |total, dispute| total.saturating_add(dispute.amount_minor.into()))
    }

    /// The invariants every reachable state obeys. `evolve` asserts them in
    /// debug builds; the property tests check them after every step.
    ///
    /// Refunds and disputes are bounded separately: refunded + pending never
    /// exceeds captured, and neither do disputes (open + lost). Together they
    /// may, but only through a chargeback reported by the gateway (see
    /// [`Payment::amount_disputable_by_gateway`]).
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let amount = MinorUnits::from(self.amount_minor);
        let refunds = self.amount_refunded.saturating_add(self.amount_refund_pending);
        let checks = [
            (self.amount_authorized <= amount, "authorized exceeds the payment amount"),
            (self.amount_captured <= self.amount_authorized, "captured exceeds authorized"),
            (self.amount_capture_unconfirmed <= self.amount_captured, "unconfirmed exceeds captured"),
            (refunds <= self.amount_captured, "refunded + pending exceeds captured"),
            (self.amount_disputed <= self.amount_captured, "disputed exceeds captured"),
            (
                self.refund_total(RefundStatus::Succeeded).saturating_add(self.amount_refunded_unattributed)
                    == self.amount_refunded,
                "refunded differs from succeeded refunds plus unattributed",
            ),
            (
                self.refund_total(RefundStatus::Pending) == self.amount_refund_pending,
                "refund_pending differs from pending refunds",
            ),
            (
                self.amount_dispute_open().saturating_add(self.amount_dispute_lost()) == self.amount_disputed,
                "disputed differs from open + lost disputes",
            ),
            (self.status_is_consistent(), "status disagrees with the amounts"),
        ];
        match checks.iter().find(|(holds, _)| !holds) {
            Some((_, violation)) => Err(violation),
            None => Ok(()),
        }
    }

    fn status_is_consistent(&self) -> bool {
        match self.status {
            PaymentStatus::Initiated => self.amount_authorized.is_zero() && self.amount_captured.is_zero(),
            PaymentStatus::Voided | PaymentStatus::Failed => self.amount_captured.is_zero(),
            PaymentStatus::Authorized
            | PaymentStatus::PartiallyCaptured
            | PaymentStatus::Captured
            | PaymentStatus::Refunded => !self.amount_authorized.is_zero() && self.status == self.status_from_amounts(),
        }
    }
}
