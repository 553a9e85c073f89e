//! Shared mechanics of the event families' codecs. Each family is a serde
//! adjacently tagged enum (`{"event_type": ..., "payload": {...}}`); storage
//! keeps the two halves in separate columns.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::DecodeError;

/// The untagged body of an event.
pub(crate) fn payload_of<E: Serialize>(event: &E) -> Value {
    // Serialising these plain enums into a `Value` cannot fail (no maps with
    // non-string keys, no fallible `Serialize` impls); the Null fallback would
    // be caught by the round-trip tests.
    let tagged = serde_json::to_value(event);
    debug_assert!(matches!(tagged, Ok(Value::Object(_))));
    match tagged {
        Ok(Value::Object(mut tagged)) => tagged.remove("payload").unwrap_or(Value::Null),
        Ok(_) | Err(_) => Value::Null,
    }
}

/// What a family's upcaster says about a payload stored as one (event type,
/// schema version) pair. A pair the family does not know is an error
/// (`DecodeError::UnsupportedSchemaVersion`), never a pass-through.
pub(crate) enum Upcast {
    /// The pair is the type's current shape: parse the payload as is.
    Current(Value),
    /// The pair is an older shape: here it is upgraded to the next version.
    Upgraded(Value),
}

/// Upcasts `payload` from `schema_version` one version at a time with
/// `upcast` until it is in its type's current shape, then parses it as an `E`.
/// `event_type` must be one of the family's types (the caller checks).
pub(crate) fn decode_family<E: DeserializeOwned>(
    event_type: &str,
    schema_version: i32,
    payload: &Value,
    upcast: impl Fn(i32, Value) -> Result<Upcast, DecodeError>,
) -> Result<E, DecodeError> {
    let mut version = schema_version;
    let mut body = payload.clone();
    let current = loop {
        match upcast(version, body)? {
            Upcast::Current(current) => break current,
            Upcast::Upgraded(next) => {
                body = next;
                // Every family's table ends in a current version, so this
                // terminates long before overflowing; the check keeps it total.
                version = version.checked_add(1).ok_or_else(|| DecodeError::InvalidPayload {
                    event_type: event_type.to_owned(),
                    message: "schema version overflowed while upcasting".into(),
                })?;
            }
        }
    };
    let mut tagged = Map::new();
    tagged.insert("event_type".into(), Value::String(event_type.to_owned()));
    tagged.insert("payload".into(), current);
    serde_json::from_value(Value::Object(tagged)).map_err(|source| DecodeError::InvalidPayload {
        event_type: event_type.to_owned(),
        message: source.to_string(),
    })
}
