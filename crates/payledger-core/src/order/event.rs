use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{codec, DecodeError};
use crate::ids::OrderId;
use crate::money::{AmountMinor, Currency};

/// Facts of an order's stream. Serde shape: see [`OrderEvent::to_payload`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum OrderEvent {
    OrderCreated {
        order_id: OrderId,
        amount_minor: AmountMinor,
        currency: Currency,
        reference: String,
        metadata: serde_json::Value,
        created_at: DateTime<Utc>,
    },
    OrderCancelled {
        #[serde(default)]
        reason: Option<String>,
        cancelled_at: DateTime<Utc>,
    },
}

impl OrderEvent {
    /// Version of the payload shapes this build writes.
    pub const CURRENT_SCHEMA_VERSION: i32 = 1;
    pub const EVENT_TYPES: &'static [&'static str] = &["OrderCreated", "OrderCancelled"];

    pub fn event_type(&self) -> &'static str {
        match self {
            OrderEvent::OrderCreated { .. } => "OrderCreated",
            OrderEvent::OrderCancelled { .. } => "OrderCancelled",
        }
    }

    pub fn schema_version(&self) -> i32 {
        Self::CURRENT_SCHEMA_VERSION
    }

    /// The event body without its type tag: snake_case fields, amounts as
    /// JSON integers, timestamps RFC 3339.
    pub fn to_payload(&self) -> serde_json::Value {
        codec::payload_of(self)
    }

    pub fn decode(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<OrderEvent, DecodeError> {
        codec::decode_family(
            Self::EVENT_TYPES,
            Self::CURRENT_SCHEMA_VERSION,
            event_type,
            schema_version,
            payload,
            // No older order shapes exist yet: nothing to upcast.
            |_event_type, _from_version, payload| Ok(payload),
        )
    }
}
