//! The formats of exported events: JSON (the API's event shape), and the audit export's lines
//! (NDJSON or CSV, docs/AUDIT.md §5) carrying every field a verifier recomputes. The API's
//! `GET /v1/events` and the CLI's `payledger audit export` write the same bytes.

use bytes::Bytes;
use payledger_store::seal::{Seal, TenantSeal};
use payledger_store::{CanonicalEvent, RecordedEvent};
use serde_json::{json, Value};

/// The JSON shape of one event (the API's pages).
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

/// One line of an audit export: an event, or a seal with the tenant's part of it.
pub enum ExportLine {
    Event(CanonicalEvent),
    Seal(TenantSeal),
}

fn micros_text(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An event line: the API's shape plus what the hash covers, and whether its tenant's
/// scope is live data (`livemode`, absent when the export is not of one scope).
pub fn export_event_json(c: &CanonicalEvent, livemode: Option<bool>) -> Value {
    let e = &c.event;
    let mut value = event_json(e);
    if let Value::Object(map) = &mut value {
        let extra = [
            ("object", json!("event")),
            ("tenant_id", json!(e.tenant_id)),
            ("tx_id", json!(e.tx_id.to_string())),
            // Always six digits, as the canonical form's microseconds.
            ("recorded_at", json!(micros_text(&e.recorded_at))),
            ("recorded_at_unix_micros", json!(e.recorded_at.timestamp_micros())),
            ("payload_text", json!(c.payload_text)),
            ("metadata_text", json!(c.metadata_text)),
        ];
        map.extend(extra.map(|(k, v)| (k.to_owned(), v)));
        if let Some(livemode) = livemode {
            map.insert("livemode".to_owned(), Value::Bool(livemode));
        }
    }
    value
}

/// A seal as the API and the CLI show it.
pub fn seal_json(s: &Seal) -> Value {
    json!({
        "object": "seal",
        "seal_number": s.seal_number,
        "prev_hash": hex::encode(&s.prev_hash),
        "hash": hex::encode(&s.hash),
        "to_tx_id": s.to.tx_id.to_string(),
        "to_position": s.to.position,
        "event_count": s.event_count,
        "tenant_count": s.tenant_count,
        "merkle_root": hex::encode(&s.merkle_root),
        "sealed_at": micros_text(&s.sealed_at),
    })
}

/// A seal with a tenant's part (`null` when it has no event in the seal): an export's line.
pub fn export_seal_json(t: &TenantSeal) -> Value {
    let mut value = seal_json(&t.seal);
    let part = t.part.as_ref().map(|p| {
        json!({
            "tenant_id": p.tenant_id,
            "event_count": p.event_count,
            "digest": hex::encode(&p.digest),
            "leaf_index": p.leaf_index,
            "audit_path": p.audit_path.iter().map(hex::encode).collect::<Vec<_>>(),
        })
    });
    if let Value::Object(map) = &mut value {
        map.insert("tenant".into(), part.unwrap_or(Value::Null));
    }
    value
}

const CSV_HEADER: [&str; 28] = [
    "object",
    "position",
    "tx_id",
    "tenant_id",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "recorded_at",
    "recorded_at_unix_micros",
    "dedupe_key",
    "payload",
    "metadata",
    "payload_text",
    "metadata_text",
    "prev_hash",
    "hash",
    "seal_number",
    "event_count",
    "tenant_count",
    "merkle_root",
    "sealed_at",
    "tenant_event_count",
    "tenant_digest",
    "leaf_index",
    "audit_path",
    "livemode",
];

fn csv_event(c: &CanonicalEvent, livemode: Option<bool>) -> [String; 28] {
    let e = &c.event;
    let mut row: [String; 28] = Default::default();
    let fields = [
        "event".to_owned(),
        e.global_position.to_string(),
        e.tx_id.to_string(),
        e.tenant_id.to_string(),
        e.event_id.to_string(),
        e.stream_id.clone(),
        e.stream_version.to_string(),
        e.event_type.clone(),
        e.schema_version.to_string(),
        micros_text(&e.recorded_at),
        e.recorded_at.timestamp_micros().to_string(),
        e.dedupe_key.clone().unwrap_or_default(),
        e.payload.to_string(),
        e.metadata.to_string(),
        c.payload_text.clone(),
        c.metadata_text.clone(),
        hex::encode(&e.prev_hash),
        hex::encode(&e.hash),
    ];
    for (slot, value) in row.iter_mut().zip(fields) {
        *slot = value;
    }
    row[27] = livemode.map(|live| live.to_string()).unwrap_or_default();
    row
}

fn csv_seal(t: &TenantSeal) -> [String; 28] {
    let s = &t.seal;
    let mut row: [String; 28] = Default::default();
    row[0] = "seal".into();
    row[1] = s.to.position.to_string();
    row[2] = s.to.tx_id.to_string();
    row[16] = hex::encode(&s.prev_hash);
    row[17] = hex::encode(&s.hash);
    row[18] = s.seal_number.to_string();
    row[19] = s.event_count.to_string();
    row[20] = s.tenant_count.to_string();
    row[21] = hex::encode(&s.merkle_root);
    row[22] = micros_text(&s.sealed_at);
    if let Some(p) = &t.part {
        row[3] = p.tenant_id.to_string();
        row[23] = p.event_count.to_string();
        row[24] = hex::encode(&p.digest);
        row[25] = p.leaf_index.to_string();
        row[26] = p.audit_path.iter().map(hex::encode).collect::<Vec<_>>().join(" ");
    }
    row
}

/// Lines as CSV (RFC 4180, CRLF), with the header row first when `with_header`; `livemode`
/// is the scope's (see [`export_event_json`]).
pub fn csv_lines(lines: &[ExportLine], with_header: bool, livemode: Option<bool>) -> Result<Bytes, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if with_header {
        writer.write_record(CSV_HEADER)?;
    }
    for line in lines {
        match line {
            ExportLine::Event(e) => writer.write_record(csv_event(e, livemode))?,
            ExportLine::Seal(s) => writer.write_record(csv_seal(s))?,
        }
    }
    writer.into_inner().map(Bytes::from).map_err(|e| e.into_error().into())
}

/// Lines as NDJSON; `livemode` is the scope's (see [`export_event_json`]).
pub fn ndjson_lines(lines: &[ExportLine], livemode: Option<bool>) -> Bytes {
    let mut out = Vec::with_capacity(lines.len() * 768);
    for line in lines {
        let value = match line {
            ExportLine::Event(e) => export_event_json(e, livemode),
            ExportLine::Seal(s) => export_seal_json(s),
        };
        out.extend_from_slice(value.to_string().as_bytes());
        out.push(b'\n');
    }
    Bytes::from(out)
}
