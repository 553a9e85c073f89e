//! The inbox of an endpoint and the shapes of the events in it.
//!
//! Each delivery has a stream of its own, `webhook-inbox-{endpoint_id}-{delivery_id}`
//! (created with `ExpectedVersion::NoStream`; `delivery_id` is its first `WebhookReceived`'s
//! event id), so deliveries to one endpoint share no version chain and no lock. Deliveries
//! recorded before that are in the endpoint's single stream `webhook-inbox-{endpoint_id}`;
//! both are read alike (a delivery is found by its event id, and its `WebhookIgnored` goes
//! to the stream its `WebhookReceived` is in). An endpoint's whole inbox is the streams
//! starting with `webhook-inbox-{endpoint_id}`; across deliveries, order is the log's.
//!
//! An inbox stream holds:
//!
//! - `WebhookReceived` (schema 1): one per provider event, i.e. one per stripe/generic
//!   delivery and one per Adyen notification item, with dedupe key
//!   `{provider}:{provider event id}` (Adyen: `adyen:{pspReference}:{eventCode}:{success}`),
//!   so a redelivery is recognised by the store's unique dedupe index. The exact body is
//!   kept once per delivery, byte for byte: as `body` (a JSON string) when it is UTF-8
//!   without a NUL byte, otherwise as `body_base64`, which holds any bytes. JSON escapes
//!   in it, `\u0000` included, are kept as the characters they are written with, so the
//!   stored body is the signed one. The further items of an Adyen batch point at the event
//!   holding it (`body_event_id`).
//! - `WebhookIgnored` (the payment event's shape: `report_key`, `reason` starting with a
//!   snake_case code, plus `received_event_id`): a delivery that could not be applied to any
//!   payment (unknown event type, unknown payment, unparseable). Ignores decided by the
//!   payment itself (stale, duplicate) are recorded on the payment stream instead.

use std::collections::BTreeMap;

use base64::Engine as _;
use payledger_core::payment::PaymentEvent;
use payledger_gateways::Provider;
use payledger_store::NewEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const WEBHOOK_RECEIVED: &str = "WebhookReceived";
pub const RECEIVED_SCHEMA_VERSION: i32 = 1;
/// The store's limit on a dedupe key, in characters; longer ids are hashed.
const DEDUPE_KEY_MAX_CHARS: usize = 300;
/// Longest header value kept with a delivery.
const HEADER_VALUE_MAX_BYTES: usize = 4096;

/// The endpoint's single inbox stream of the earlier layout (still read, no longer written).
pub fn inbox_stream_id(endpoint_id: Uuid) -> String {
    format!("webhook-inbox-{endpoint_id}")
}

/// The stream of one delivery.
pub fn delivery_stream_id(endpoint_id: Uuid, delivery_id: Uuid) -> String {
    format!("webhook-inbox-{endpoint_id}-{delivery_id}")
}

/// The store dedupe key of a provider event: provider-scoped (and tenant-scoped by the
/// store), so the same event delivered to two endpoints of one tenant is recorded once.
pub fn dedupe_key(provider: Provider, provider_event_id: &str) -> String {
    let key = format!("{provider}:{provider_event_id}");
    if key.chars().count() <= DEDUPE_KEY_MAX_CHARS {
        key
    } else {
        format!("{provider}:sha256:{}", hex::encode(Sha256::digest(provider_event_id.as_bytes())))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The payload of `WebhookReceived`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedPayload {
    pub endpoint_id: Uuid,
    pub provider: Provider,
    /// The provider's id of the event (Adyen: `pspReference:eventCode:success`); for a body
    /// that could not be parsed, `sha256:{hex of the body}`.
    pub provider_event_id: String,
    #[serde(default)]
    pub provider_event_type: Option<String>,
    /// The gateway's reference of the payment, as the body states it.
    #[serde(default)]
    pub payment_reference: Option<String>,
    /// The headers that matter (signature, content type, user agent), names lowercase.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The exact body, when it is text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The exact body, base64, when it is not text (it cannot be JSON then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// For the further items of an Adyen batch: the `WebhookReceived` holding the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_event_id: Option<Uuid>,
    pub body_sha256: String,
    /// This event's notification among those of the body (0 for stripe and generic).
    #[serde(default)]
    pub item_index: usize,
    #[serde(default = "one")]
    pub item_count: usize,
    /// The signed `t=` of stripe and generic deliveries.
    #[serde(default)]
    pub signed_at_unix_s: Option<i64>,
    /// The secret that verified the delivery.
    pub secret_id: Uuid,
    /// Why the verified body could not be read as notifications, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

fn one() -> usize {
    1
}

/// How a body is kept: as text when it is UTF-8 without NUL (which `jsonb` refuses).
pub fn stored_body(body: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(body) {
        Ok(text) if !text.contains('\0') => (Some(text.to_owned()), None),
        _ => (None, Some(base64::engine::general_purpose::STANDARD.encode(body))),
    }
}

/// The headers worth keeping with a delivery, lowercased, values bounded.
pub fn kept_headers(provider: Provider, lookup: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut names = vec!["content-type", "user-agent"];
    if let Some(signature) = payledger_gateways::signature_header(provider) {
        names.push(signature);
    }
    names
        .into_iter()
        .filter_map(|name| {
            let mut value = lookup(name)?;
            if value.len() > HEADER_VALUE_MAX_BYTES {
                let mut cut = HEADER_VALUE_MAX_BYTES;
                while !value.is_char_boundary(cut) {
                    cut -= 1;
                }
                value.truncate(cut);
            }
            Some((name.to_ascii_lowercase(), value))
        })
        .collect()
}

/// Facts about a `WebhookReceived` that the events it causes refer to.
#[derive(Debug, Clone)]
pub struct Cause {
    pub received_event_id: Uuid,
    pub provider: Provider,
    pub endpoint_id: Uuid,
    pub provider_event_id: String,
    /// The request id of the delivery, carried on as the correlation id.
    pub correlation_id: Value,
}

impl Cause {
    /// Metadata of every event a delivery causes: source webhook, the provider as actor.
    pub fn metadata(&self) -> Value {
        json!({
            "source": "webhook",
            "actor": self.provider.as_str(),
            "causation_id": self.received_event_id,
            "correlation_id": self.correlation_id,
            "webhook_endpoint_id": self.endpoint_id,
            "provider_event_id": self.provider_event_id,
        })
    }
}

/// `WebhookIgnored` for the inbox stream: the payment event's shape plus the cause.
pub fn ignored_event(cause: &Cause, report_key: &str, reason: &str) -> NewEvent {
    let event = PaymentEvent::WebhookIgnored { report_key: report_key.to_owned(), reason: reason.to_owned() };
    let mut payload = event.to_payload();
    if let Value::Object(map) = &mut payload {
        map.insert("received_event_id".into(), json!(cause.received_event_id));
        map.insert("provider".into(), json!(cause.provider));
    }
    NewEvent::new(event.event_type(), event.schema_version(), payload).with_metadata(cause.metadata())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_stream_is_within_the_endpoint_inbox_prefix_and_the_store_limit() {
        let (endpoint_id, delivery_id) = (Uuid::now_v7(), Uuid::now_v7());
        let stream = delivery_stream_id(endpoint_id, delivery_id);
        assert!(stream.starts_with(&inbox_stream_id(endpoint_id)));
        assert!(stream.len() <= 200, "{stream}");
    }

    #[test]
    fn long_ids_are_hashed_into_the_dedupe_key() {
        assert_eq!(dedupe_key(Provider::Stripe, "evt_1"), "stripe:evt_1");
        let long = "x".repeat(400);
        let key = dedupe_key(Provider::Adyen, &long);
        assert!(key.starts_with("adyen:sha256:") && key.len() <= DEDUPE_KEY_MAX_CHARS);
    }

    #[test]
    fn bodies_are_kept_as_text_when_they_can_be() {
        assert_eq!(stored_body(b"{}"), (Some("{}".to_owned()), None));
        assert_eq!(stored_body(b"a\0b"), (None, Some("YQBi".to_owned())));
        assert_eq!(stored_body(&[0xff]), (None, Some("/w==".to_owned())));
    }

    #[test]
    fn ignored_events_decode_as_payment_events() {
        let cause = Cause {
            received_event_id: Uuid::now_v7(),
            provider: Provider::Stripe,
            endpoint_id: Uuid::now_v7(),
            provider_event_id: "evt_1".into(),
            correlation_id: Value::Null,
        };
        let event = ignored_event(&cause, "evt_1", "unknown_payment: none");
        let decoded = PaymentEvent::decode(&event.event_type, event.schema_version, &event.payload).unwrap();
        assert!(matches!(decoded, PaymentEvent::WebhookIgnored { .. }));
        assert_eq!(event.metadata["causation_id"], json!(cause.received_event_id));
    }

    #[test]
    fn received_payload_round_trips() {
        let payload = ReceivedPayload {
            endpoint_id: Uuid::now_v7(),
            provider: Provider::Adyen,
            provider_event_id: "P:CAPTURE:true".into(),
            provider_event_type: Some("CAPTURE".into()),
            payment_reference: Some("Q".into()),
            headers: BTreeMap::new(),
            body: None,
            body_base64: None,
            body_event_id: Some(Uuid::now_v7()),
            body_sha256: sha256_hex(b"{}"),
            item_index: 1,
            item_count: 2,
            signed_at_unix_s: None,
            secret_id: Uuid::now_v7(),
            parse_error: None,
        };
        let value = serde_json::to_value(&payload).unwrap();
        assert_eq!(serde_json::from_value::<ReceivedPayload>(value).unwrap(), payload);
    }
}
