//! `payledger_webhook_deliveries_total{provider, outcome}`: every delivery and every
//! interpretation, by what became of it.

use payledger_gateways::Provider;

pub const DELIVERIES_TOTAL: &str = "payledger_webhook_deliveries_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The signature checked out.
    Verified,
    /// Missing, malformed or wrong signature, or no active secret.
    BadSignature,
    /// Authentic, but signed too long ago (or in the future).
    Stale,
    /// Every provider event of the delivery had been received before.
    Duplicate,
    /// Interpreted: recorded as ignored, with the reason.
    Ignored,
    /// Interpreted: the payment changed.
    Applied,
    /// Reprocessed with nothing new to record.
    Unchanged,
    /// Interpretation failed; retried later.
    Retrying,
    /// Interpretation failed on its last attempt; only `reprocess` retries it.
    GaveUp,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::BadSignature => "bad_signature",
            Outcome::Stale => "stale",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Retrying => "retrying",
            Outcome::GaveUp => "gave_up",
        }
    }
}

pub fn count_delivery(provider: Provider, outcome: Outcome) {
    metrics::counter!(DELIVERIES_TOTAL, "provider" => provider.as_str(), "outcome" => outcome.as_str()).increment(1);
}
