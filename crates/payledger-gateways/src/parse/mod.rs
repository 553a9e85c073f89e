//! Delivery bodies to provider-neutral notifications.

mod adyen;
mod fields;
mod stripe;

use serde_json::Value;

use crate::{Notification, Provider};

/// Why a (verified) body could not be interpreted. Unknown event types are not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not JSON")]
    NotJson,
    #[error("body does not have the provider's shape: {0}")]
    Malformed(&'static str),
    #[error("required field `{0}` is missing")]
    MissingField(&'static str),
    #[error("field `{0}` has the wrong type or an unusable value")]
    InvalidField(&'static str),
    /// Money is integer minor units; `10.5` or `1e3` is refused, never rounded.
    #[error("amount `{0}` is not an integer")]
    AmountNotInteger(&'static str),
    #[error("amount `{0}` is negative or too large")]
    AmountOutOfRange(&'static str),
    #[error("field `{0}` is longer than the reference limit")]
    ReferenceTooLong(&'static str),
    /// PostgreSQL text and jsonb cannot hold U+0000, so nothing derived from such a body
    /// could be stored.
    #[error("body contains a NUL character (\\u0000) in a string")]
    ContainsNul,
}

/// Interprets a delivery body: stripe and generic carry one event per body, Adyen one
/// notification per item (at most [`crate::MAX_ADYEN_ITEMS`]).
///
/// Generic deliveries use Stripe's event envelope and event type names:
/// `{"id": "...", "type": "payment_intent.succeeded", "created": <unix>, "data": {"object": {...}}}`.
pub fn parse(provider: Provider, body: &[u8]) -> Result<Vec<Notification>, ParseError> {
    match provider {
        Provider::Stripe | Provider::Generic => stripe::parse(body).map(|n| vec![n]),
        Provider::Adyen => adyen::parse(body),
    }
}

/// The body as JSON, refused if any string or key holds a NUL.
fn json(body: &[u8]) -> Result<Value, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|_| ParseError::NotJson)?;
    let mut pending = vec![&root];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(s) if s.contains('\0') => return Err(ParseError::ContainsNul),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.keys().any(|k| k.contains('\0')) {
                    return Err(ParseError::ContainsNul);
                }
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_any_string_or_key_is_refused() {
        for body in [
            r#"{"id":"evt_\u0000","type":"payment_intent.succeeded","data":{"object":{}}}"#,
            r#"{"id":"evt_1","type":"x","data":{"object":{"metadata":{"note":["a\u0000"]}}}}"#,
            r#"{"id":"evt_1","type":"x","data":{"object":{"k\u0000":1}}}"#,
        ] {
            assert_eq!(parse(Provider::Stripe, body.as_bytes()), Err(ParseError::ContainsNul), "{body}");
            assert_eq!(parse(Provider::Adyen, body.as_bytes()), Err(ParseError::ContainsNul), "{body}");
        }
        // An escaped backslash followed by `u0000` is six ordinary characters, not a NUL.
        let body = r#"{"id":"evt_\\u0000","type":"customer.created","data":{"object":{}}}"#;
        assert_eq!(parse(Provider::Stripe, body.as_bytes()).unwrap()[0].dedupe_key, "evt_\\u0000");
    }
}
