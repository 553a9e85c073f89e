//! The event codec: how events are stored and read back.
//!
//! A stored event is a row `(event_type, schema_version, payload)`. `payload`
//! is the event body without its type tag (snake_case fields, amounts as JSON
//! integers of minor units, currencies as ISO codes, timestamps RFC 3339).
//! Old shapes are never rewritten: `decode` upcasts a payload written under an
//! older `schema_version` step by step to the current shape, then parses it.

pub(crate) mod codec;

use crate::job::JobEvent;
use crate::order::OrderEvent;
use crate::payment::PaymentEvent;
use crate::settlement::SettlementEvent;

/// Why a stored event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {event_type:?}")]
    UnknownEventType { event_type: String },
    #[error("{event_type} has schema version {schema_version}, this build reads 1 to {current}")]
    UnsupportedSchemaVersion { event_type: String, schema_version: i32, current: i32 },
    #[error("{event_type} payload is invalid: {message}")]
    InvalidPayload { event_type: String, message: String },
}

/// Any event of any aggregate (and of settlement reports, which are not aggregates), so
/// that a reader of the raw events table can decode every row without knowing its stream
/// first.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    Order(OrderEvent),
    Payment(PaymentEvent),
    Settlement(SettlementEvent),
    Job(JobEvent),
}

impl DomainEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::Order(event) => event.event_type(),
            DomainEvent::Payment(event) => event.event_type(),
            DomainEvent::Settlement(event) => event.event_type(),
            DomainEvent::Job(event) => event.event_type(),
        }
    }

    /// The schema version this build writes for this event.
    pub fn schema_version(&self) -> i32 {
        match self {
            DomainEvent::Order(event) => event.schema_version(),
            DomainEvent::Payment(event) => event.schema_version(),
            DomainEvent::Settlement(event) => event.schema_version(),
            DomainEvent::Job(event) => event.schema_version(),
        }
    }

    pub fn to_payload(&self) -> serde_json::Value {
        match self {
            DomainEvent::Order(event) => event.to_payload(),
            DomainEvent::Payment(event) => event.to_payload(),
            DomainEvent::Settlement(event) => event.to_payload(),
            DomainEvent::Job(event) => event.to_payload(),
        }
    }

    pub fn decode(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<DomainEvent, DecodeError> {
        if OrderEvent::EVENT_TYPES.contains(&event_type) {
            OrderEvent::decode(event_type, schema_version, payload).map(DomainEvent::Order)
        } else if PaymentEvent::EVENT_TYPES.contains(&event_type) {
            PaymentEvent::decode(event_type, schema_version, payload).map(DomainEvent::Payment)
        } else if SettlementEvent::EVENT_TYPES.contains(&event_type) {
            SettlementEvent::decode(event_type, schema_version, payload).map(DomainEvent::Settlement)
        } else if JobEvent::EVENT_TYPES.contains(&event_type) {
            JobEvent::decode(event_type, schema_version, payload).map(DomainEvent::Job)
        } else {
            Err(DecodeError::UnknownEventType { event_type: event_type.to_owned() })
        }
    }
}

impl From<OrderEvent> for DomainEvent {
    fn from(event: OrderEvent) -> Self {
        DomainEvent::Order(event)
    }
}

impl From<PaymentEvent> for DomainEvent {
    fn from(event: PaymentEvent) -> Self {
        DomainEvent::Payment(event)
    }
}

impl From<SettlementEvent> for DomainEvent {
    fn from(event: SettlementEvent) -> Self {
        DomainEvent::Settlement(event)
    }
}

impl From<JobEvent> for DomainEvent {
    fn from(event: JobEvent) -> Self {
        DomainEvent::Job(event)
    }
}
