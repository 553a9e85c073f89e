//! The per-stream hash chain.
//!
//! `hash = SHA-256(prev_hash || canonical_bytes(event))`, with `prev_hash` of a stream's
//! first event being 32 zero bytes. The canonical bytes are the UTF-8 of one JSON array,
//! written compactly (no whitespace between its elements; docs/AUDIT.md §1 is the contract):
//!
//! ```text
//! [tenant_id, stream_id, stream_version, event_id, event_type, schema_version,
//!  recorded_at_unix_micros, dedupe_key_or_null, payload, metadata]
//! ```
//!
//! ids are lowercase hyphenated UUID strings; strings are JSON-escaped as serde_json writes
//! them. `payload` and `metadata` are inserted verbatim as PostgreSQL's own text output of
//! the stored `jsonb` (`SELECT payload::text, metadata::text`): jsonb normalises what it
//! stores (key order, whitespace, duplicate keys, `-0`, number spelling), so the only form
//! that an auditor can recompute from the stored row alone, in any language, is the one the
//! database prints. The appender obtains that text from PostgreSQL before it inserts, and
//! inserts that very text, so the hash at write time and at verify time cover the same bytes.
//! `recorded_at` is stored with microsecond precision.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The fields that the chain covers.
pub struct HashInput<'a> {
    pub tenant_id: Uuid,
    pub stream_id: &'a str,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub recorded_at_unix_micros: i64,
    pub dedupe_key: Option<&'a str>,
    /// `payload::text` as PostgreSQL prints the stored jsonb.
    pub payload_text: &'a str,
    /// `metadata::text` as PostgreSQL prints the stored jsonb.
    pub metadata_text: &'a str,
}

/// The canonical bytes of one event.
pub fn canonical_bytes(input: &HashInput<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push('[');
    write_str(&mut out, &input.tenant_id.hyphenated().to_string());
    out.push(',');
    write_str(&mut out, input.stream_id);
    out.push(',');
    out.push_str(&input.stream_version.to_string());
    out.push(',');
    write_str(&mut out, &input.event_id.hyphenated().to_string());
    out.push(',');
    write_str(&mut out, input.event_type);
    out.push(',');
    out.push_str(&input.schema_version.to_string());
    out.push(',');
    out.push_str(&input.recorded_at_unix_micros.to_string());
    out.push(',');
    match input.dedupe_key {
        Some(key) => write_str(&mut out, key),
        None => out.push_str("null"),
    }
    out.push(',');
    out.push_str(input.payload_text);
    out.push(',');
    out.push_str(input.metadata_text);
    out.push(']');
    out.into_bytes()
}

/// The chain hash of one event given its predecessor's hash.
pub fn chain_hash(prev_hash: &[u8], input: &HashInput<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical_bytes(input));
    hasher.finalize().into()
}

/// Compact JSON with object keys sorted by bytes, independent of serde_json's map order
/// (used for request fingerprints, not for the chain).
pub fn write_canonical_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_canonical_json(out, item);
            }
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    // serde_json's string escaping is stable and total for any &str.
    out.push_str(&Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input<'a>(payload: &'a str, metadata: &'a str) -> HashInput<'a> {
        HashInput {
            tenant_id: Uuid::nil(),
            stream_id: "payment-1",
            stream_version: 1,
            event_id: Uuid::nil(),
            event_type: "PaymentCaptured",
            schema_version: 1,
            recorded_at_unix_micros: 1_700_000_000_000_000,
            dedupe_key: None,
            payload_text: payload,
            metadata_text: metadata,
        }
    }

    #[test]
    fn canonical_form_embeds_the_stored_json_text_verbatim() {
        let bytes = canonical_bytes(&input(r#"{"b": 1, "a": {"y": null}}"#, "{}"));
        let expected = r#"["00000000-0000-0000-0000-000000000000","payment-1",1,"00000000-0000-0000-0000-000000000000","PaymentCaptured",1,1700000000000000,null,{"b": 1, "a": {"y": null}},{}]"#;
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn fingerprint_json_sorts_keys_and_has_no_whitespace() {
        let mut out = String::new();
        write_canonical_json(&mut out, &json!({"b": 1, "a": {"z": [1, "x"], "y": null}}));
        assert_eq!(out, r#"{"a":{"y":null,"z":[1,"x"]},"b":1}"#);
    }

    #[test]
    fn any_change_changes_the_hash() {
        let a = chain_hash(&GENESIS_HASH, &input(r#"{"amount_minor": 100}"#, "{}"));
        let b = chain_hash(&GENESIS_HASH, &input(r#"{"amount_minor": 101}"#, "{}"));
        let c = chain_hash(&[1; 32], &input(r#"{"amount_minor": 100}"#, "{}"));
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
