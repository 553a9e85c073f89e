use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CaptureMethod, Provider};
use crate::event::{codec, DecodeError};
use crate::ids::{DisputeId, OrderId, PaymentId, RefundId};
use crate::money::{AmountMinor, Currency, MinorUnits};

/// Facts of a payment's stream (refunds and disputes included).
///
/// Every money event carries its amount and currency, so one event read alone
/// is understood. `report_key` is set on events caused by a gateway report
/// (the gateway's dedupe key), so a replayed report is recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum PaymentEvent {
    PaymentInitiated {
        payment_id: PaymentId,
        order_id: OrderId,
        amount_minor: AmountMinor,
        currency: Currency,
        capture_method: CaptureMethod,
        provider: Provider,
        #[serde(default)]
        provider_reference: Option<String>,
        initiated_at: DateTime<Utc>,
    },
    /// Funds held. `amount_minor` is the total authorized.
    PaymentAuthorized {
        amount_minor: AmountMinor,
        currency: Currency,
        /// Assumed because a later fact (capture, refund, dispute) was
        /// reported first; a gateway never moves money it did not authorize.
        #[serde(default)]
        inferred: bool,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// The gateway reported the authorization that had been inferred; its
    /// amount replaces the inferred one.
    PaymentAuthorizationConfirmed { amount_minor: AmountMinor, currency: Currency, report_key: String },
    /// Money captured. Posts DR gateway_receivable / CR sales_revenue.
    PaymentCaptured {
        amount_minor: AmountMinor,
        currency: Currency,
        /// No more capture follows; the rest of the authorization is released.
        #[serde(default)]
        final_capture: bool,
        /// Reported by the gateway itself, rather than commanded or inferred.
        #[serde(default)]
        confirmed_by_gateway: bool,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// A gateway capture report confirmed money already counted as captured
    /// (commanded or inferred). Moves no money.
    PaymentCaptureConfirmed { amount_minor: AmountMinor, currency: Currency, report_key: String },
    PaymentVoided {
        /// The authorization released (0 if nothing was authorized).
        amount_released_minor: MinorUnits,
        currency: Currency,
        #[serde(default)]
        report_key: Option<String>,
    },
    PaymentFailed {
        code: String,
        message: String,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// Reserves `amount_minor` of the refundable amount until it succeeds or fails.
    RefundRequested {
        refund_id: RefundId,
        amount_minor: AmountMinor,
        currency: Currency,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        provider_reference: Option<String>,
        requested_at: DateTime<Utc>,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// Posts DR refunds / CR gateway_receivable.
    RefundSucceeded {
        refund_id: RefundId,
        amount_minor: AmountMinor,
        currency: Currency,
        /// The gateway's refund reference, when known (learnt here if it was
        /// not given at request time).
        #[serde(default)]
        provider_reference: Option<String>,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// Releases the reservation.
    RefundFailed {
        refund_id: RefundId,
        amount_minor: AmountMinor,
        currency: Currency,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// Posts DR disputes_held / CR gateway_receivable.
    DisputeOpened {
        dispute_id: DisputeId,
        amount_minor: AmountMinor,
        currency: Currency,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        provider_reference: Option<String>,
        opened_at: DateTime<Utc>,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// Posts DR gateway_receivable / CR disputes_held.
    DisputeWon {
        dispute_id: DisputeId,
        amount_minor: AmountMinor,
        currency: Currency,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// Posts DR chargeback_losses / CR disputes_held.
    DisputeLost {
        dispute_id: DisputeId,
        amount_minor: AmountMinor,
        currency: Currency,
        #[serde(default)]
        report_key: Option<String>,
    },
    /// A gateway report that changed nothing: duplicate, stale, or impossible.
    /// `reason` starts with a stable snake_case code, then a colon.
    WebhookIgnored { report_key: String, reason: String },
}

impl PaymentEvent {
    /// Version 2: `PaymentInitiated` has `amount_minor` (was `amount`) and
    /// `capture_method` (absent in version 1, which meant automatic). Every
    /// other payment event kept its version 1 shape.
    pub const CURRENT_SCHEMA_VERSION: i32 = 2;
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "PaymentInitiated",
        "PaymentAuthorized",
        "PaymentAuthorizationConfirmed",
        "PaymentCaptured",
        "PaymentCaptureConfirmed",
        "PaymentVoided",
        "PaymentFailed",
        "RefundRequested",
        "RefundSucceeded",
        "RefundFailed",
        "DisputeOpened",
        "DisputeWon",
        "DisputeLost",
        "WebhookIgnored",
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            PaymentEvent::PaymentInitiated { .. } => "PaymentInitiated",
            PaymentEvent::PaymentAuthorized { .. } => "PaymentAuthorized",
            PaymentEvent::PaymentAuthorizationConfirmed { .. } => "PaymentAuthorizationConfirmed",
            PaymentEvent::PaymentCaptured { .. } => "PaymentCaptured",
            PaymentEvent::PaymentCaptureConfirmed { .. } => "PaymentCaptureConfirmed",
            PaymentEvent::PaymentVoided { .. } => "PaymentVoided",
            PaymentEvent::PaymentFailed { .. } => "PaymentFailed",
            PaymentEvent::RefundRequested { .. } => "RefundRequested",
            PaymentEvent::RefundSucceeded { .. } => "RefundSucceeded",
            PaymentEvent::RefundFailed { .. } => "RefundFailed",
            PaymentEvent::DisputeOpened { .. } => "DisputeOpened",
            PaymentEvent::DisputeWon { .. } => "DisputeWon",
            PaymentEvent::DisputeLost { .. } => "DisputeLost",
            PaymentEvent::WebhookIgnored { .. } => "WebhookIgnored",
        }
    }

    pub fn schema_version(&self) -> i32 {
        Self::CURRENT_SCHEMA_VERSION
    }

    /// The gateway report that caused this event, if one did.
    pub fn report_key(&self) -> Option<&str> {
        match self {
            PaymentEvent::PaymentInitiated { .. } => None,
            PaymentEvent::PaymentAuthorizationConfirmed { report_key, .. }
            | PaymentEvent::PaymentCaptureConfirmed { report_key, .. }
            | PaymentEvent::WebhookIgnored { report_key, .. } => Some(report_key),
            PaymentEvent::PaymentAuthorized { report_key, .. }
            | PaymentEvent::PaymentCaptured { report_key, .. }
            | PaymentEvent::PaymentVoided { report_key, .. }
            | PaymentEvent::PaymentFailed { report_key, .. }
            | PaymentEvent::RefundRequested { report_key, .. }
            | PaymentEvent::RefundSucceeded { report_key, .. }
            | PaymentEvent::RefundFailed { report_key, .. }
            | PaymentEvent::DisputeOpened { report_key, .. }
            | PaymentEvent::DisputeWon { report_key, .. }
            | PaymentEvent::DisputeLost { report_key, .. } => report_key.as_deref(),
        }
    }

    /// The event body without its type tag: snake_case fields, amounts as
    /// JSON integers of minor units, timestamps RFC 3339.
    pub fn to_payload(&self) -> Value {
        codec::payload_of(self)
    }

    pub fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<PaymentEvent, DecodeError> {
        codec::decode_family(
            Self::EVENT_TYPES,
            Self::CURRENT_SCHEMA_VERSION,
            event_type,
            schema_version,
            payload,
            upcast_step,
        )
    }
}

/// Upgrades a payload written under `from_version` to `from_version + 1`.
fn upcast_step(event_type: &str, from_version: i32, payload: Value) -> Result<Value, DecodeError> {
    match (event_type, from_version) {
        ("PaymentInitiated", 1) => {
            let Value::Object(mut body) = payload else {
                return Err(DecodeError::InvalidPayload {
                    event_type: event_type.to_owned(),
                    message: "payload is not a JSON object".into(),
                });
            };
            if let Some(amount) = body.remove("amount") {
                body.insert("amount_minor".into(), amount);
            }
            body.entry("capture_method").or_insert_with(|| Value::String("automatic".into()));
            Ok(Value::Object(body))
        }
        // Unchanged shapes.
        (_, _) => Ok(payload),
    }
}
