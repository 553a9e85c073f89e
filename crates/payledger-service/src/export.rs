//! The formats of exported events: JSON (the API's event shape), CSV (RFC 4180) and NDJSON.
//! The API's `GET /v1/events` and the CLI's `payledger audit export` write the same bytes.

use bytes::Bytes;
use payledger_store::RecordedEvent;
use serde_json::{json, Value};

/// The JSON shape of one event.
pub fn event_json(e: &RecordedEvent) -> Value {
    json!({
        "event_id": e.event_id,
        "position": e.global_position,
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "payload": e.payload,
        "metadata": e.metadata,
        "recorded_at": e.recorded_at,
        "dedupe_key": e.dedupe_key,
        "prev_hash": hex::encode(&e.prev_hash),
        "hash": hex::encode(&e.hash),
    })
}

const CSV_HEADER: [&str; 11] = [
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "recorded_at",
    "dedupe_key",
    "payload",
    "metadata",
    "hash",
];

/// Events as CSV (RFC 4180, CRLF), with the header row first when `with_header`.
pub fn csv_rows(events: &[RecordedEvent], with_header: bool) -> Result<Bytes, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if with_header {
        writer.write_record(CSV_HEADER)?;
    }
    for e in events {
        writer.write_record([
            e.global_position.to_string(),
            e.event_id.to_string(),
            e.stream_id.clone(),
            e.stream_version.to_string(),
            e.event_type.clone(),
            e.schema_version.to_string(),
            e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.dedupe_key.clone().unwrap_or_default(),
            e.payload.to_string(),
            e.metadata.to_string(),
            hex::encode(&e.hash),
        ])?;
    }
    writer.into_inner().map(Bytes::from).map_err(|e| e.into_error().into())
}

/// Events as NDJSON, one [`event_json`] per line.
pub fn ndjson_rows(events: &[RecordedEvent]) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * 512);
    for e in events {
        out.extend_from_slice(event_json(e).to_string().as_bytes());
        out.push(b'\n');
    }
    Bytes::from(out)
}
