//! Adyen's HMAC signature for standard (payment) notification items.

use serde_json::Value;

use crate::limits::MAX_ADYEN_ITEMS;

/// The body Adyen expects in the 2xx reply to a notification delivery.
pub const ADYEN_ACCEPTED_REPLY: &str = "[accepted]";

/// Item fields in signing order; `amount.value` and `amount.currency` sit between
/// `merchantReference` and `eventCode`.
const LEADING_FIELDS: [&str; 4] = ["pspReference", "originalReference", "merchantAccountCode", "merchantReference"];
const TRAILING_FIELDS: [&str; 2] = ["eventCode", "success"];

/// The string Adyen signs for one `NotificationRequestItem`:
/// `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`,
/// a missing or `null` field as the empty string, no escaping (unlike the HPP scheme).
///
/// `None` when `item` is not an object or a signed field is an object or array.
pub fn adyen_signing_string(item: &Value) -> Option<String> {
    let item = item.as_object()?;
    let (value, currency) = match item.get("amount") {
        None | Some(Value::Null) => (String::new(), String::new()),
        Some(Value::Object(amount)) => (scalar_text(amount.get("value"))?, scalar_text(amount.get("currency"))?),
        Some(_) => return None,
    };
    let mut parts = Vec::with_capacity(8);
    for field in LEADING_FIELDS {
        parts.push(scalar_text(item.get(field))?);
    }
    parts.push(value);
    parts.push(currency);
    for field in TRAILING_FIELDS {
        parts.push(scalar_text(item.get(field))?);
    }
    Some(parts.join(":"))
}

/// A JSON scalar as Adyen renders it into the signing string.
fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Array(_) | Value::Object(_)) => None,
    }
}

/// Why the envelope `{"live": ..., "notificationItems": [{"NotificationRequestItem": {...}}]}`
/// could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvelopeError {
    NoItemList,
    Empty,
    TooMany,
    NotAnItem,
}

impl EnvelopeError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            EnvelopeError::NoItemList => "notificationItems is missing or not an array",
            EnvelopeError::Empty => "notificationItems is empty",
            EnvelopeError::TooMany => "more notification items than the limit",
            EnvelopeError::NotAnItem => "an entry has no NotificationRequestItem object",
        }
    }
}

/// The `NotificationRequestItem` objects of a delivery: at least one, at most
/// [`MAX_ADYEN_ITEMS`].
pub(crate) fn notification_items(root: &Value) -> Result<Vec<&Value>, EnvelopeError> {
    let entries = root.get("notificationItems").and_then(Value::as_array).ok_or(EnvelopeError::NoItemList)?;
    if entries.is_empty() {
        return Err(EnvelopeError::Empty);
    }
    if entries.len() > MAX_ADYEN_ITEMS {
        return Err(EnvelopeError::TooMany);
    }
    entries
        .iter()
        .map(|entry| match entry.get("NotificationRequestItem") {
            Some(item @ Value::Object(_)) => Ok(item),
            _ => Err(EnvelopeError::NotAnItem),
        })
        .collect()
}

/// `additionalData.hmacSignature` of an item: `Ok(None)` when absent,
/// `Err(())` when `additionalData` or the signature has the wrong JSON type.
pub(crate) fn item_signature(item: &Value) -> Result<Option<&str>, ()> {
    match item.get("additionalData") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(data)) => match data.get("hmacSignature") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(()),
        },
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_the_documented_signing_string() {
        // Field values from Adyen's "Verify HMAC signatures" documentation example.
        let item = json!({
            "pspReference": "7914073381342284",
            "merchantAccountCode": "TestMerchant",
            "merchantReference": "TestPayment-1407325143704",
            "amount": { "value": 1130, "currency": "EUR" },
            "eventCode": "AUTHORISATION",
            "success": "true",
            "paymentMethod": "visa"
        });
        assert_eq!(
            adyen_signing_string(&item).as_deref(),
            Some("7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true")
        );
    }

    #[test]
    fn missing_amount_gives_empty_value_and_currency() {
        let item = json!({ "pspReference": "P", "eventCode": "REPORT_AVAILABLE", "success": "true" });
        assert_eq!(adyen_signing_string(&item).as_deref(), Some("P::::::REPORT_AVAILABLE:true"));
    }

    #[test]
    fn structured_fields_cannot_be_signed() {
        assert_eq!(adyen_signing_string(&json!([])), None);
        assert_eq!(adyen_signing_string(&json!({ "pspReference": {} })), None);
        assert_eq!(adyen_signing_string(&json!({ "amount": 5 })), None);
    }
}
