use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::codec::{self, Upcast};
use crate::event::DecodeError;
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

    /// The schema version this build writes for this event's type.
    pub fn schema_version(&self) -> i32 {
        match self {
            OrderEvent::OrderCreated { .. } | OrderEvent::OrderCancelled { .. } => 1,
        }
    }

    /// The event body without its type tag: snake_case fields, amounts as
    /// JSON integers, timestamps RFC 3339.
    pub fn to_payload(&self) -> serde_json::Value {
        codec::payload_of(self)
    }

    /// Reads a stored event. Every (type, version) pair is spelled out; any
    /// other version (zero, negative, or newer than this build) is
    /// `UnsupportedSchemaVersion`, never a pass-through.
    pub fn decode(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<OrderEvent, DecodeError> {
        let unsupported = |schema_version| DecodeError::UnsupportedSchemaVersion {
            event_type: event_type.to_owned(),
            schema_version,
            current: Self::CURRENT_SCHEMA_VERSION,
        };
        let upcast: fn(i32, serde_json::Value) -> Result<Upcast, i32> = match event_type {
            "OrderCreated" => |version, body| match version {
                1 => Ok(Upcast::Current(body)),
                i32::MIN..=0 | 2..=i32::MAX => Err(version),
            },
            "OrderCancelled" => |version, body| match version {
                1 => Ok(Upcast::Current(body)),
                i32::MIN..=0 | 2..=i32::MAX => Err(version),
            },
            unknown => return Err(DecodeError::UnknownEventType { event_type: unknown.to_owned() }),
        };
        codec::decode_family(event_type, schema_version, payload, |version, body| {
            upcast(version, body).map_err(unsupported)
        })
    }
}
