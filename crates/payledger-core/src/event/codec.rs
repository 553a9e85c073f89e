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

/// Upcasts `payload` from `schema_version` to `current` with `upcast_step`
/// (one version at a time), then parses it as an `E`.
pub(crate) fn decode_family<E: DeserializeOwned>(
    known_types: &[&str],
    current: i32,
    event_type: &str,
    schema_version: i32,
    payload: &Value,
    upcast_step: impl Fn(&str, i32, Value) -> Result<Value, DecodeError>,
) -> Result<E, DecodeError> {
    if !known_types.contains(&event_type) {
        return Err(DecodeError::UnknownEventType { event_type: event_type.to_owned() });
    }
    if !(1..=current).contains(&schema_version) {
        return Err(DecodeError::UnsupportedSchemaVersion {
            event_type: event_type.to_owned(),
            schema_version,
            current,
        });
    }
    let mut body = payload.clone();
    for from_version in schema_version..current {
        body = upcast_step(event_type, from_version, body)?;
    }
    let mut tagged = Map::new();
    tagged.insert("event_type".into(), Value::String(event_type.to_owned()));
    tagged.insert("payload".into(), body);
    serde_json::from_value(Value::Object(tagged)).map_err(|source| DecodeError::InvalidPayload {
        event_type: event_type.to_owned(),
        message: source.to_string(),
    })
}
