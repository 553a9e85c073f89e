//! Producing signatures: for tests, and for anyone sending `generic` deliveries.
//!
//! A `generic` sender needs only HMAC-SHA256 and hex. With `t` the current unix time
//! in seconds and `body` the exact bytes it is about to POST:
//!
//! ```text
//! signature = hex(HMAC-SHA256(key = secret string bytes, message = "{t}.{body}"))
//! header    = "Payledger-Signature: t={t},v1={signature}"
//! ```
//!
//! During a secret rotation a sender may append one `,v1=` per secret. The body is a
//! Stripe-shaped event (see [`crate::parse()`]). In Rust:
//!
//! ```
//! use payledger_gateways::{signing, verify, Provider, WebhookSecret};
//!
//! let body = br#"{"id":"evt_42","type":"payment_intent.succeeded","data":{"object":{}}}"#;
//! let header = signing::sign_generic_header("whsec_shared", 1_700_000_000, body);
//! let secrets = [WebhookSecret::new(Provider::Generic, "whsec_shared").unwrap()];
//! let headers = [("Payledger-Signature", header.as_str())];
//! assert!(verify(Provider::Generic, &headers, body, &secrets, 1_700_000_010, 300).is_ok());
//! ```

use base64::Engine as _;
use serde_json::Value;

use crate::adyen_hmac::adyen_signing_string;
use crate::{mac, Provider, SecretError, WebhookSecret};

/// Why an Adyen payload could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    InvalidKey(#[from] SecretError),
    #[error("body is not JSON")]
    NotJson,
    #[error("cannot sign: {0}")]
    Malformed(&'static str),
}

/// Hex `v1` signature of the Stripe scheme: HMAC-SHA256 over `"{t}.{body}"`, keyed
/// with the secret string's bytes.
pub fn stripe_v1_signature(secret: &str, t_unix: i64, body: &[u8]) -> String {
    let t = t_unix.to_string();
    hex::encode(mac::sign(secret.as_bytes(), &[t.as_bytes(), b".", body]))
}

/// A complete `Stripe-Signature` header value: `t=<t_unix>,v1=<hex>`.
pub fn sign_stripe_header(secret: &str, t_unix: i64, body: &[u8]) -> String {
    format!("t={t_unix},v1={}", stripe_v1_signature(secret, t_unix, body))
}

/// A complete `Payledger-Signature` header value (same scheme as Stripe's).
pub fn sign_generic_header(secret: &str, t_unix: i64, body: &[u8]) -> String {
    sign_stripe_header(secret, t_unix, body)
}

/// The `hmacSignature` for one Adyen `NotificationRequestItem` (the inner object).
pub fn sign_adyen_item(hex_key: &str, item: &Value) -> Result<String, SigningError> {
    let secret = WebhookSecret::new(Provider::Adyen, hex_key)?;
    sign_item_with(&secret, item)
}

/// Sets `additionalData.hmacSignature` on every item of an Adyen delivery and returns
/// the re-serialised body (field order may change; Adyen's signature does not cover it).
pub fn sign_adyen_body(hex_key: &str, body: &[u8]) -> Result<Vec<u8>, SigningError> {
    let secret = WebhookSecret::new(Provider::Adyen, hex_key)?;
    let mut root: Value = serde_json::from_slice(body).map_err(|_| SigningError::NotJson)?;
    let entries = root
        .get_mut("notificationItems")
        .and_then(Value::as_array_mut)
        .ok_or(SigningError::Malformed("notificationItems is missing"))?;
    for entry in entries {
        let item = entry
            .get_mut("NotificationRequestItem")
            .and_then(Value::as_object_mut)
            .ok_or(SigningError::Malformed("an entry has no NotificationRequestItem"))?;
        let signature = sign_item_with(&secret, &Value::Object(item.clone()))?;
        let additional = item.entry("additionalData").or_insert_with(|| Value::Object(Default::default()));
        if additional.is_null() {
            *additional = Value::Object(Default::default());
        }
        additional
            .as_object_mut()
            .ok_or(SigningError::Malformed("additionalData is not an object"))?
            .insert("hmacSignature".to_owned(), Value::String(signature));
    }
    serde_json::to_vec(&root).map_err(|_| SigningError::NotJson)
}

fn sign_item_with(secret: &WebhookSecret, item: &Value) -> Result<String, SigningError> {
    let signing_string = adyen_signing_string(item)
        .ok_or(SigningError::Malformed("item is not an object or a signed field is not a scalar"))?;
    let mac = mac::sign(secret.key(), &[signing_string.as_bytes()]);
    Ok(base64::engine::general_purpose::STANDARD.encode(mac))
}
