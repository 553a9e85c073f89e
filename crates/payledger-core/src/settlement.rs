//! Settlement reports: what a gateway says it settled, kept fees on and paid out.
//!
//! A report (a CSV file from the gateway) is recorded raw: one `SettlementReportReceived`
//! and one `SettlementLineReported` per data line, in the stream `settlement-<report id>`,
//! appended in one transaction. Postings (fees, payouts, adjustments) and the
//! reconciliation against the ledger are computed from these events.
//!
//! Signs are the gateway balance's: a positive amount is money the gateway owes the
//! merchant more of (a charge), a negative one less (a refund, a chargeback, a payout).
//! `net_minor = gross_minor - fee_minor` when gross and net share a currency.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::event::codec::{self, Upcast};
use crate::event::DecodeError;
use crate::ids::SettlementReportId;
use crate::money::Currency;
use crate::payment::Provider;

/// What a report line records, mapped from the gateway's own category or type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A captured payment settled (Stripe `charge`/`payment`, Adyen `Settled`).
    Charge,
    /// A refund settled (Stripe `refund`, Adyen `Refunded`).
    Refund,
    /// A chargeback taken (Stripe `dispute`, Adyen `Chargeback`).
    Dispute,
    /// A chargeback given back (Stripe `dispute_reversal`, Adyen `ChargebackReversed`).
    DisputeReversal,
    /// A fee on its own line (Stripe `fee`, Adyen `Fee`, `MiscCosts`).
    Fee,
    /// Money paid out to the merchant's bank (Stripe `payout`, Adyen `MerchantPayout`).
    Payout,
    /// A correction by the gateway (Stripe `adjustment`, Adyen `DepositCorrection`, ...).
    Adjustment,
}

impl LineKind {
    pub const ALL: [LineKind; 7] = [
        LineKind::Charge,
        LineKind::Refund,
        LineKind::Dispute,
        LineKind::DisputeReversal,
        LineKind::Fee,
        LineKind::Payout,
        LineKind::Adjustment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Charge => "charge",
            LineKind::Refund => "refund",
            LineKind::Dispute => "dispute",
            LineKind::DisputeReversal => "dispute_reversal",
            LineKind::Fee => "fee",
            LineKind::Payout => "payout",
            LineKind::Adjustment => "adjustment",
        }
    }
}

/// The gateway's identifiers on a line; which are set depends on the format and the kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRefs {
    /// Stripe `balance_transaction_id` (`txn_…`); generic `line_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_transaction_id: Option<String>,
    /// Stripe `source_id` (`ch_…`, `re_…`, `du_…`, `po_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Stripe `charge_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    /// Stripe `payment_intent_id`; generic `payment_reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    /// Stripe `automatic_payout_id` (the payout this line was paid out in); Adyen `Batch Number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    /// Adyen `Psp Reference` (of the payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_reference: Option<String>,
    /// Adyen `Modification Reference` (of the refund, chargeback, ...); generic `refund_reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification_reference: Option<String>,
    /// Adyen `Merchant Reference`; generic `merchant_reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference: Option<String>,
}

/// One parsed data line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementLine {
    /// The line's number in the file (the header is line 1).
    pub line_number: u32,
    pub kind: LineKind,
    /// The gateway's own category or type, as written (`charge`, `Settled`, ...).
    pub category: String,
    /// The currency of `gross_minor`.
    pub gross_currency: Currency,
    /// Signed minor units of `gross_currency`.
    pub gross_minor: i64,
    /// The currency of `fee_minor` and `net_minor` (what the gateway's balance moves in).
    pub currency: Currency,
    /// What the gateway kept, signed minor units of `currency` (positive: a fee charged).
    pub fee_minor: i64,
    /// What the line moves the gateway balance by, signed minor units of `currency`.
    pub net_minor: i64,
    /// When the line was created at the gateway (Stripe `created_utc`, Adyen `Creation Date`
    /// read in its `TimeZone`), in UTC.
    pub created_at: DateTime<Utc>,
    /// Stripe `available_on_utc`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_on: Option<NaiveDate>,
    pub refs: GatewayRefs,
    /// What makes this line the same fact as a line of another file of the same gateway:
    /// Stripe the balance transaction id; Adyen psp reference, modification reference and
    /// type; generic the line id.
    pub dedupe_key: String,
    /// The line as it was in the file, without its line terminator.
    pub raw: String,
}

/// A line of an earlier report (or earlier in the same report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRef {
    pub report_id: SettlementReportId,
    pub line_number: u32,
}

/// The facts of a settlement report's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum SettlementEvent {
    /// The file arrived. Its bytes are kept in `settlement_files` under `sha256`.
    SettlementReportReceived {
        report_id: SettlementReportId,
        provider: Provider,
        /// Hex SHA-256 of the file's bytes.
        sha256: String,
        size_bytes: u64,
        line_count: u32,
        /// Lines already reported by an earlier line (recorded, counted once).
        duplicate_lines: u32,
        /// The earliest and latest `created_at` of its lines (none for a file without lines).
        #[serde(default)]
        period_from: Option<DateTime<Utc>>,
        #[serde(default)]
        period_to: Option<DateTime<Utc>>,
        received_at: DateTime<Utc>,
    },
    /// One line of the file, parsed. `duplicate_of` names the first line that reported the
    /// same fact; a duplicate posts nothing and is reconciled as `duplicate_in_report`.
    SettlementLineReported {
        report_id: SettlementReportId,
        line: Box<SettlementLine>,
        #[serde(default)]
        duplicate_of: Option<LineRef>,
    },
}

impl SettlementEvent {
    /// Both types are at their first shape.
    pub const CURRENT_SCHEMA_VERSION: i32 = 1;
    pub const EVENT_TYPES: &'static [&'static str] = &["SettlementReportReceived", "SettlementLineReported"];

    pub fn event_type(&self) -> &'static str {
        match self {
            SettlementEvent::SettlementReportReceived { .. } => "SettlementReportReceived",
            SettlementEvent::SettlementLineReported { .. } => "SettlementLineReported",
        }
    }

    pub fn schema_version(&self) -> i32 {
        Self::CURRENT_SCHEMA_VERSION
    }

    pub fn report_id(&self) -> SettlementReportId {
        match self {
            SettlementEvent::SettlementReportReceived { report_id, .. }
            | SettlementEvent::SettlementLineReported { report_id, .. } => *report_id,
        }
    }

    /// The event body without its type tag.
    pub fn to_payload(&self) -> serde_json::Value {
        codec::payload_of(self)
    }

    pub fn decode(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<SettlementEvent, DecodeError> {
        if !Self::EVENT_TYPES.contains(&event_type) {
            return Err(DecodeError::UnknownEventType { event_type: event_type.to_owned() });
        }
        codec::decode_family(event_type, schema_version, payload, |version, body| {
            if version == Self::CURRENT_SCHEMA_VERSION {
                Ok(Upcast::Current(body))
            } else {
                Err(DecodeError::UnsupportedSchemaVersion {
                    event_type: event_type.to_owned(),
                    schema_version: version,
                    current: Self::CURRENT_SCHEMA_VERSION,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> SettlementLine {
        SettlementLine {
            line_number: 2,
            kind: LineKind::Charge,
            category: "charge".into(),
            gross_currency: Currency::parse("USD").unwrap(),
            gross_minor: 10_000,
            currency: Currency::parse("USD").unwrap(),
            fee_minor: 320,
            net_minor: 9_680,
            created_at: DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc),
            available_on: None,
            refs: GatewayRefs { balance_transaction_id: Some("txn_1".into()), ..GatewayRefs::default() },
            dedupe_key: "txn_1".into(),
            raw: "txn_1,...".into(),
        }
    }

    #[test]
    fn events_round_trip_through_their_payload() {
        let report_id = SettlementReportId::new();
        let events = [
            SettlementEvent::SettlementLineReported { report_id, line: Box::new(line()), duplicate_of: None },
            SettlementEvent::SettlementReportReceived {
                report_id,
                provider: Provider::Stripe,
                sha256: "ab".repeat(32),
                size_bytes: 10,
                line_count: 1,
                duplicate_lines: 0,
                period_from: None,
                period_to: None,
                received_at: Utc::now(),
            },
        ];
        for event in events {
            let decoded =
                SettlementEvent::decode(event.event_type(), event.schema_version(), &event.to_payload()).unwrap();
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn an_unknown_version_or_field_is_refused() {
        let event = SettlementEvent::SettlementLineReported {
            report_id: SettlementReportId::new(),
            line: Box::new(line()),
            duplicate_of: None,
        };
        let err = SettlementEvent::decode(event.event_type(), 2, &event.to_payload()).unwrap_err();
        assert!(matches!(err, DecodeError::UnsupportedSchemaVersion { .. }), "{err:?}");
        let mut payload = event.to_payload();
        payload["line"]["surprise"] = serde_json::json!(1);
        let err = SettlementEvent::decode(event.event_type(), 1, &payload).unwrap_err();
        assert!(matches!(err, DecodeError::InvalidPayload { .. }), "{err:?}");
    }
}
