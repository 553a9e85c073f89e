use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CaptureMethod, Provider};
use crate::event::codec::{self, Upcast};
use crate::event::DecodeError;
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
    /// The uncaptured rest of a partially captured authorization released (a void of the
    /// remainder, as Stripe's cancel of a partially captured PaymentIntent): capture closes,
    /// what was captured stays. Moves no money and posts nothing.
    PaymentAuthorizationReleased {
        amount_released_minor: AmountMinor,
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
    /// Posts DR refunds / CR gateway_receivable for `amount_minor` minus `from_total_minor`.
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
        /// The part of this refund already counted from the gateway's running total
        /// (`RefundTotalReported`), so counted once: the unattributed amount shrinks by it.
        #[serde(default, skip_serializing_if = "no_units")]
        from_total_minor: MinorUnits,
        /// Settled because the gateway's running total covered it, not by a report of this
        /// refund: the gateway's report of it, when it comes, matches this refund first.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_total: bool,
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
        /// When the gateway says the refund failed (reported failures only): a running total
        /// from before then may still count this refund (see `GatewayReport`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed_at: Option<DateTime<Utc>>,
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
    /// A gateway `Refunded` report with a reference no refund had was matched
    /// by amount to a refund requested without one that had already
    /// succeeded: the same money, now known by the gateway's reference so
    /// that no other gateway refund can match it. Moves no money and posts
    /// nothing. (A pending refund learns its reference from `RefundSucceeded`.)
    RefundReferenceLearned { refund_id: RefundId, provider_reference: String, report_key: String },
    /// The gateway's running total of refunds on its charge (Stripe `charge.refunded` without
    /// its refund list) exceeds what is known by `amount_minor`: money refunded but not yet
    /// attributed to a refund. Each later `RefundSucceeded` claims from it first. Posts DR
    /// refunds / CR gateway_receivable.
    RefundTotalReported { amount_minor: AmountMinor, currency: Currency, charge_reference: String, report_key: String },
    /// A refund the gateway reports while a running total has counted money no refund
    /// explained: recorded as succeeded, its first `from_total_minor` claimed from that
    /// unattributed money. Posts DR refunds / CR gateway_receivable for the rest, if any.
    RefundAttributed {
        refund_id: RefundId,
        amount_minor: AmountMinor,
        from_total_minor: MinorUnits,
        currency: Currency,
        provider_reference: String,
        refunded_at: DateTime<Utc>,
        report_key: String,
    },
    /// The gateway reported failed a refund whose money was counted as refunded here: the
    /// money came back, and `amount_refunded` falls by `amount_minor`. Either the refund had
    /// succeeded (Adyen `REFUND_FAILED` after `REFUND`; Stripe `refund.failed` of a refund a
    /// running total settled): it becomes failed, for its whole amount. Or, `from_total`, it
    /// was pending here (its `RefundFailed` comes first) while a running total counted its
    /// money as unattributed: that money shrinks by `amount_minor`. `provider_reference` is
    /// learnt if the refund had none. Posts DR gateway_receivable / CR refunds.
    RefundReversed {
        refund_id: RefundId,
        amount_minor: AmountMinor,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        from_total: bool,
        currency: Currency,
        #[serde(default)]
        provider_reference: Option<String>,
        failed_at: DateTime<Utc>,
        report_key: String,
    },
    /// A gateway report that changed nothing: duplicate, stale, or impossible.
    /// `reason` starts with a stable snake_case code, then a colon.
    WebhookIgnored { report_key: String, reason: String },
}

/// Absent from the payload when zero, so events without it keep their shape.
fn no_units(units: &MinorUnits) -> bool {
    units.is_zero()
}

impl PaymentEvent {
    /// The newest schema version of any payment event type. Each type has its
    /// own version ([`PaymentEvent::schema_version`]): version 2 changed
    /// `PaymentInitiated` (`amount` became `amount_minor`, `capture_method`
    /// appeared, its absence meaning automatic) and was written for every
    /// payment event type that existed then, their shapes unchanged; types
    /// added later start at 1.
    pub const CURRENT_SCHEMA_VERSION: i32 = 2;
    pub const EVENT_TYPES: &'static [&'static str] = &EventType::NAMES;

    pub fn event_type(&self) -> &'static str {
        match self {
            PaymentEvent::PaymentInitiated { .. } => "PaymentInitiated",
            PaymentEvent::PaymentAuthorized { .. } => "PaymentAuthorized",
            PaymentEvent::PaymentAuthorizationConfirmed { .. } => "PaymentAuthorizationConfirmed",
            PaymentEvent::PaymentCaptured { .. } => "PaymentCaptured",
            PaymentEvent::PaymentCaptureConfirmed { .. } => "PaymentCaptureConfirmed",
            PaymentEvent::PaymentVoided { .. } => "PaymentVoided",
            PaymentEvent::PaymentAuthorizationReleased { .. } => "PaymentAuthorizationReleased",
            PaymentEvent::PaymentFailed { .. } => "PaymentFailed",
            PaymentEvent::RefundRequested { .. } => "RefundRequested",
            PaymentEvent::RefundSucceeded { .. } => "RefundSucceeded",
            PaymentEvent::RefundFailed { .. } => "RefundFailed",
            PaymentEvent::DisputeOpened { .. } => "DisputeOpened",
            PaymentEvent::DisputeWon { .. } => "DisputeWon",
            PaymentEvent::DisputeLost { .. } => "DisputeLost",
            PaymentEvent::RefundReferenceLearned { .. } => "RefundReferenceLearned",
            PaymentEvent::RefundTotalReported { .. } => "RefundTotalReported",
            PaymentEvent::RefundAttributed { .. } => "RefundAttributed",
            PaymentEvent::RefundReversed { .. } => "RefundReversed",
            PaymentEvent::WebhookIgnored { .. } => "WebhookIgnored",
        }
    }

    /// The schema version this build writes for this event's type.
    pub fn schema_version(&self) -> i32 {
        EventType::of(self).current_version()
    }

    /// The schema version this build writes for `event_type`; `None` for a
    /// type that is not a payment event.
    pub fn current_schema_version(event_type: &str) -> Option<i32> {
        EventType::parse(event_type).map(EventType::current_version)
    }

    /// The gateway report that caused this event, if one did.
    pub fn report_key(&self) -> Option<&str> {
        match self {
            PaymentEvent::PaymentInitiated { .. } => None,
            PaymentEvent::PaymentAuthorizationConfirmed { report_key, .. }
            | PaymentEvent::PaymentCaptureConfirmed { report_key, .. }
            | PaymentEvent::RefundReferenceLearned { report_key, .. }
            | PaymentEvent::RefundTotalReported { report_key, .. }
            | PaymentEvent::RefundAttributed { report_key, .. }
            | PaymentEvent::RefundReversed { report_key, .. }
            | PaymentEvent::WebhookIgnored { report_key, .. } => Some(report_key),
            PaymentEvent::PaymentAuthorized { report_key, .. }
            | PaymentEvent::PaymentCaptured { report_key, .. }
            | PaymentEvent::PaymentVoided { report_key, .. }
            | PaymentEvent::PaymentAuthorizationReleased { report_key, .. }
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

    /// Reads a stored event, upcasting an older shape of its type to the
    /// current one. A (type, version) pair this build does not know, such as
    /// a version newer than it writes, is `UnsupportedSchemaVersion`.
    pub fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<PaymentEvent, DecodeError> {
        let Some(known) = EventType::parse(event_type) else {
            return Err(DecodeError::UnknownEventType { event_type: event_type.to_owned() });
        };
        codec::decode_family(event_type, schema_version, payload, |version, body| upcast(known, version, body))
    }
}

/// The payment event types, without their data: what the codec matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventType {
    PaymentInitiated,
    PaymentAuthorized,
    PaymentAuthorizationConfirmed,
    PaymentCaptured,
    PaymentCaptureConfirmed,
    PaymentVoided,
    PaymentFailed,
    RefundRequested,
    RefundSucceeded,
    RefundFailed,
    DisputeOpened,
    DisputeWon,
    DisputeLost,
    RefundReferenceLearned,
    WebhookIgnored,
    PaymentAuthorizationReleased,
    RefundTotalReported,
    RefundAttributed,
    RefundReversed,
}

impl EventType {
    const ALL: [EventType; 19] = [
        EventType::PaymentInitiated,
        EventType::PaymentAuthorized,
        EventType::PaymentAuthorizationConfirmed,
        EventType::PaymentCaptured,
        EventType::PaymentCaptureConfirmed,
        EventType::PaymentVoided,
        EventType::PaymentFailed,
        EventType::RefundRequested,
        EventType::RefundSucceeded,
        EventType::RefundFailed,
        EventType::DisputeOpened,
        EventType::DisputeWon,
        EventType::DisputeLost,
        EventType::RefundReferenceLearned,
        EventType::WebhookIgnored,
        EventType::PaymentAuthorizationReleased,
        EventType::RefundTotalReported,
        EventType::RefundAttributed,
        EventType::RefundReversed,
    ];

    const NAMES: [&'static str; 19] = {
        let mut names = [""; 19];
        let mut i = 0;
        while i < names.len() {
            names[i] = EventType::ALL[i].name();
            i += 1;
        }
        names
    };

    const fn name(self) -> &'static str {
        match self {
            EventType::PaymentInitiated => "PaymentInitiated",
            EventType::PaymentAuthorized => "PaymentAuthorized",
            EventType::PaymentAuthorizationConfirmed => "PaymentAuthorizationConfirmed",
            EventType::PaymentCaptured => "PaymentCaptured",
            EventType::PaymentCaptureConfirmed => "PaymentCaptureConfirmed",
            EventType::PaymentVoided => "PaymentVoided",
            EventType::PaymentFailed => "PaymentFailed",
            EventType::RefundRequested => "RefundRequested",
            EventType::RefundSucceeded => "RefundSucceeded",
            EventType::RefundFailed => "RefundFailed",
            EventType::DisputeOpened => "DisputeOpened",
            EventType::DisputeWon => "DisputeWon",
            EventType::DisputeLost => "DisputeLost",
            EventType::RefundReferenceLearned => "RefundReferenceLearned",
            EventType::WebhookIgnored => "WebhookIgnored",
            EventType::PaymentAuthorizationReleased => "PaymentAuthorizationReleased",
            EventType::RefundTotalReported => "RefundTotalReported",
            EventType::RefundAttributed => "RefundAttributed",
            EventType::RefundReversed => "RefundReversed",
        }
    }

    fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|event_type| event_type.name() == name)
    }

    fn of(event: &PaymentEvent) -> EventType {
        match event {
            PaymentEvent::PaymentInitiated { .. } => EventType::PaymentInitiated,
            PaymentEvent::PaymentAuthorized { .. } => EventType::PaymentAuthorized,
            PaymentEvent::PaymentAuthorizationConfirmed { .. } => EventType::PaymentAuthorizationConfirmed,
            PaymentEvent::PaymentCaptured { .. } => EventType::PaymentCaptured,
            PaymentEvent::PaymentCaptureConfirmed { .. } => EventType::PaymentCaptureConfirmed,
            PaymentEvent::PaymentVoided { .. } => EventType::PaymentVoided,
            PaymentEvent::PaymentFailed { .. } => EventType::PaymentFailed,
            PaymentEvent::RefundRequested { .. } => EventType::RefundRequested,
            PaymentEvent::RefundSucceeded { .. } => EventType::RefundSucceeded,
            PaymentEvent::RefundFailed { .. } => EventType::RefundFailed,
            PaymentEvent::DisputeOpened { .. } => EventType::DisputeOpened,
            PaymentEvent::DisputeWon { .. } => EventType::DisputeWon,
            PaymentEvent::DisputeLost { .. } => EventType::DisputeLost,
            PaymentEvent::RefundReferenceLearned { .. } => EventType::RefundReferenceLearned,
            PaymentEvent::WebhookIgnored { .. } => EventType::WebhookIgnored,
            PaymentEvent::PaymentAuthorizationReleased { .. } => EventType::PaymentAuthorizationReleased,
            PaymentEvent::RefundTotalReported { .. } => EventType::RefundTotalReported,
            PaymentEvent::RefundAttributed { .. } => EventType::RefundAttributed,
            PaymentEvent::RefundReversed { .. } => EventType::RefundReversed,
        }
    }

    /// The version this build writes. Must agree with [`upcast`]'s table
    /// (the unit tests check it for every type).
    fn current_version(self) -> i32 {
        match self {
            EventType::PaymentInitiated
            | EventType::PaymentAuthorized
            | EventType::PaymentAuthorizationConfirmed
            | EventType::PaymentCaptured
            | EventType::PaymentCaptureConfirmed
            | EventType::PaymentVoided
            | EventType::PaymentFailed
            | EventType::RefundRequested
            | EventType::RefundSucceeded
            | EventType::RefundFailed
            | EventType::DisputeOpened
            | EventType::DisputeWon
            | EventType::DisputeLost
            | EventType::WebhookIgnored => 2,
            EventType::RefundReferenceLearned
            | EventType::PaymentAuthorizationReleased
            | EventType::RefundTotalReported
            | EventType::RefundAttributed
            | EventType::RefundReversed => 1,
        }
    }

    fn unsupported(self, schema_version: i32) -> DecodeError {
        DecodeError::UnsupportedSchemaVersion {
            event_type: self.name().to_owned(),
            schema_version,
            current: self.current_version(),
        }
    }
}

/// Every (event type, schema version) pair this build reads, spelled out:
/// the current shape is parsed as is, an older one is upgraded one version,
/// any other version (zero, negative, or newer than this build) is refused.
/// A new version of one type adds its own rows; no other type is affected.
fn upcast(event_type: EventType, version: i32, payload: Value) -> Result<Upcast, DecodeError> {
    use EventType as T;
    match event_type {
        T::PaymentInitiated => match version {
            1 => payment_initiated_v1_to_v2(payload).map(Upcast::Upgraded),
            2 => Ok(Upcast::Current(payload)),
            i32::MIN..=0 | 3..=i32::MAX => Err(event_type.unsupported(version)),
        },
        // Version 2 was written for these too, with their version 1 shape.
        T::PaymentAuthorized
        | T::PaymentAuthorizationConfirmed
        | T::PaymentCaptured
        | T::PaymentCaptureConfirmed
        | T::PaymentVoided
        | T::PaymentFailed
        | T::RefundRequested
        | T::RefundSucceeded
        | T::RefundFailed
        | T::DisputeOpened
        | T::DisputeWon
        | T::DisputeLost
        | T::WebhookIgnored => match version {
            1 => Ok(Upcast::Upgraded(payload)),
            2 => Ok(Upcast::Current(payload)),
            i32::MIN..=0 | 3..=i32::MAX => Err(event_type.unsupported(version)),
        },
        T::RefundReferenceLearned
        | T::PaymentAuthorizationReleased
        | T::RefundTotalReported
        | T::RefundAttributed
        | T::RefundReversed => match version {
            1 => Ok(Upcast::Current(payload)),
            i32::MIN..=0 | 2..=i32::MAX => Err(event_type.unsupported(version)),
        },
    }
}

/// `amount` became `amount_minor`; `capture_method` appeared (absent meant
/// automatic).
fn payment_initiated_v1_to_v2(payload: Value) -> Result<Value, DecodeError> {
    let Value::Object(mut body) = payload else {
        return Err(DecodeError::InvalidPayload {
            event_type: EventType::PaymentInitiated.name().to_owned(),
            message: "payload is not a JSON object".into(),
        });
    };
    if let Some(amount) = body.remove("amount") {
        body.insert("amount_minor".into(), amount);
    }
    body.entry("capture_method").or_insert_with(|| Value::String("automatic".into()));
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_match_the_event_enum() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.name()), Some(event_type));
        }
        assert_eq!(PaymentEvent::EVENT_TYPES.len(), EventType::ALL.len());
        assert_eq!(EventType::parse("OrderCreated"), None);
    }

    /// The table and `current_version` agree: every type reads 1 to its
    /// current version, reaching the current shape exactly there, and
    /// refuses anything else.
    #[test]
    fn the_upcast_table_ends_at_each_types_current_version() {
        let body = || serde_json::json!({});
        for event_type in EventType::ALL {
            let current = event_type.current_version();
            for version in 1..current {
                assert!(matches!(upcast(event_type, version, body()), Ok(Upcast::Upgraded(_))), "{event_type:?}");
            }
            assert!(matches!(upcast(event_type, current, body()), Ok(Upcast::Current(_))), "{event_type:?}");
            for version in [i32::MIN, -1, 0, current + 1, current + 10, i32::MAX] {
                assert_eq!(
                    upcast(event_type, version, body()).err(),
                    Some(event_type.unsupported(version)),
                    "{event_type:?} v{version}"
                );
            }
        }
    }
}
