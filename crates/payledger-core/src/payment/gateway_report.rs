//! What a gateway reports about a payment (built by the webhook mapping of
//! each provider, applied with `PaymentCommand::ApplyGatewayReport`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::{AmountMinor, Currency};

/// One fact from a gateway about one payment.
///
/// Reports come from webhooks that arrive late, twice, and out of order.
///
/// Applying a report never fails (except on a missing payment). It either
/// emits the events that bring the payment in line with the fact, or one
/// `WebhookIgnored` saying why not. The rules that make any delivery order
/// converge on the same amounts:
///
/// - A report whose key was applied before is a duplicate.
/// - A fact implies its prerequisites: money captured was authorized; money
///   refunded or disputed was captured. Missing prerequisites are emitted
///   first, marked inferred, and confirmed (not repeated) when their own
///   report arrives.
/// - A capture report first confirms captured money not yet confirmed
///   (commanded or inferred), and only the rest is new money. Cumulative
///   reports (Stripe `amount_received`) count from what is confirmed; a total
///   at or below it is stale.
/// - Captured money is a fact also after capture closed (a final capture, or a
///   void of the remainder by the client or the gateway): the new money is
///   recorded (`PaymentCaptured`, `confirmed_by_gateway`) and posted; capture
///   stays closed (status captured, nothing capturable; a refunded payment is
///   captured again) and the money is refundable. Money beyond the authorization
///   extends it to the whole payment amount (`PaymentAuthorized`, inferred, as
///   for a fact reported first); beyond the payment amount, ignored. A client's
///   capture after close stays refused. A capture after a void of a payment
///   that had captured nothing stays ignored (voided is terminal).
/// - A report of a state the payment has passed, or that contradicts it, is
///   ignored with the table's refusal as the reason.
/// - Every step still goes through the transition table and the amount
///   checks; if any step is refused, the whole report is ignored.
/// - An amount above the payment amount can never fit: ignored.
///
/// Matching: a `Refunded` report settles the refund with the same provider
/// reference; else the oldest refund without a reference and of the same
/// amount (requested through the API before the gateway assigned one, or
/// recorded from a running total), pending first, which then learns the
/// reference (a pending one with its `RefundSucceeded`, a succeeded one with
/// `RefundReferenceLearned`), so it is never matched by amount again; else
/// the part of a larger refund recorded from a running total
/// (`RefundAttributed`); else it records a new refund (requested and
/// succeeded) whose id derives from the reference.
///
/// Running totals: a `RefundedInTotal` report counts only what is missing
/// (the total minus what has succeeded). The missing part first settles
/// pending refunds, oldest first, while they fit in it (marked `by_total`, so
/// the gateway's own report of such a refund matches it before any pending
/// one); the rest is recorded as unattributed refunded money
/// (`RefundTotalReported`), which the next succeeded refunds claim first
/// (`from_total_minor`). So a Stripe endpoint that receives both
/// `charge.refunded` and `refund.*` counts each refund once, in any order.
/// A total at or below what has succeeded is stale.
///
/// Failures: a `RefundFailed` report fails a pending refund, and reverses a
/// succeeded one (`RefundReversed`: Stripe counts a pending refund in its running
/// total, so a total may have settled it; Adyen sends `REFUND_FAILED` after
/// `REFUND`): the refund is failed and its money comes back. A pending refund that
/// fails while a total counted money no refund explains takes its amount back
/// from that money (a total counted it while pending). A total as of a time before
/// a refund failed at the gateway is taken to count that refund (`failed_since`
/// in `reconcile.rs`): so a total delivered after the failure is not counted
/// again, and a later total is. When in doubt money is uncounted, never kept:
/// a refund's own report counts it again. It matches by provider reference, else
/// the only refund without a reference a total settled (while no refund without
/// a reference is pending); otherwise ignored (the report names no amount). Open:
/// a failure of a refund only a total counted (no refund here) changes nothing.
/// Disputes match by provider reference only. A `DisputeClosed` for a
/// dispute never opened is ignored (gateways report openings first).
///
/// Chargebacks: a `DisputeOpened` report is recorded up to what is captured
/// and not held or lost by other disputes, even on money refunded or
/// reserved by a pending refund (the bank takes it regardless). A dispute
/// opened through the API is bounded more strictly; see
/// `Payment::amount_disputable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayReport {
    /// The gateway's unique id for this fact (e.g. a Stripe event id, an Adyen
    /// pspReference with its eventCode). A key seen before is a duplicate.
    pub report_key: String,
    pub kind: ReportKind,
    /// When the gateway says it happened (or when it was received, if the
    /// gateway does not say). Dates refunds and disputes first learnt here.
    pub occurred_at: DateTime<Utc>,
    /// The currency the gateway states, if any; another currency than the
    /// payment's makes the report ignored.
    #[serde(default)]
    pub currency: Option<Currency>,
}

impl GatewayReport {
    pub fn new(report_key: impl Into<String>, kind: ReportKind, occurred_at: DateTime<Utc>) -> GatewayReport {
        GatewayReport { report_key: report_key.into(), kind, occurred_at, currency: None }
    }

    pub fn with_currency(self, currency: Currency) -> GatewayReport {
        GatewayReport { currency: Some(currency), ..self }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReportKind {
    /// Funds held for `amount_minor` in total.
    Authorized {
        amount_minor: AmountMinor,
    },
    /// Captured `amount_minor`: in total so far when `cumulative` (Stripe
    /// `amount_received`), else this capture alone (Adyen CAPTURE).
    Captured {
        amount_minor: AmountMinor,
        cumulative: bool,
    },
    /// The authorization was declined.
    Failed {
        code: String,
        message: String,
    },
    /// The gateway canceled the payment before capture.
    Canceled,
    Refunded {
        provider_refund_reference: String,
        amount_minor: AmountMinor,
    },
    /// "Refunded so far on this charge: `total_refunded_minor`" (Stripe `charge.refunded`
    /// without its refund list), naming no refund. `charge_reference` seeds the id of a
    /// refund recorded for the part not yet known.
    RefundedInTotal {
        charge_reference: String,
        total_refunded_minor: AmountMinor,
    },
    RefundFailed {
        provider_refund_reference: String,
    },
    DisputeOpened {
        provider_dispute_reference: String,
        amount_minor: AmountMinor,
    },
    DisputeClosed {
        provider_dispute_reference: String,
        won: bool,
    },
}
