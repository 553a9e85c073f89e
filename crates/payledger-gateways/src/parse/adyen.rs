//! Adyen standard notifications: one notification per `NotificationRequestItem`.

use serde_json::Value;

use super::fields::{currency, minor_units, optional_reference, optional_str, reference, required_object, text};
use super::ParseError;
use crate::adyen_hmac::notification_items;
use crate::{Notification, NotificationKind};

pub(super) fn parse(body: &[u8]) -> Result<Vec<Notification>, ParseError> {
    let root: Value = super::json(body)?;
    notification_items(&root).map_err(|e| ParseError::Malformed(e.reason()))?.into_iter().map(parse_item).collect()
}

fn parse_item(item: &Value) -> Result<Notification, ParseError> {
    let psp_reference = reference(item, "pspReference")?;
    let event_code = reference(item, "eventCode")?;
    let success = success_flag(item)?;
    let original_reference = optional_reference(item, "originalReference")?;
    let kind = kind(&event_code, success, &psp_reference, item)?;
    let payment_reference = match event_code.as_str() {
        // The authorisation's own pspReference is the payment's.
        "AUTHORISATION" => Some(psp_reference.clone()),
        // Modifications and disputes point at the payment through originalReference;
        // for other events it is the best guess, else the item's own reference.
        _ => original_reference.or_else(|| Some(psp_reference.clone())),
    };
    Ok(Notification {
        dedupe_key: format!("{psp_reference}:{event_code}:{success}"),
        provider_event_type: event_code,
        payment_reference,
        kind,
        occurred_at_unix_s: event_date(item)?,
    })
}

/// Money comes only from signed fields (amount, references, eventCode, success).
/// `reason` and `eventDate` are not covered by Adyen's HMAC, so they serve only as a
/// failure message and an informative timestamp.
fn kind(event_code: &str, success: bool, psp_reference: &str, item: &Value) -> Result<NotificationKind, ParseError> {
    Ok(match (event_code, success) {
        ("AUTHORISATION", true) => {
            let (amount_minor, currency) = amount(item)?;
            NotificationKind::Authorized { amount_minor, currency }
        }
        ("AUTHORISATION", false) => NotificationKind::Failed { code: None, message: text(item, "reason")? },
        ("CAPTURE", true) => {
            let (amount_minor, currency) = amount(item)?;
            NotificationKind::Captured { amount_minor, currency, cumulative: false }
        }
        ("CANCELLATION", true) => NotificationKind::Canceled,
        ("REFUND", true) => {
            let (amount_minor, currency) = amount(item)?;
            NotificationKind::Refunded {
                refund_reference: psp_reference.to_owned(),
                amount_minor,
                currency,
                cumulative: false,
            }
        }
        ("REFUND", false) | ("REFUND_FAILED", _) => {
            NotificationKind::RefundFailed { refund_reference: psp_reference.to_owned() }
        }
        // All events of one dispute share its pspReference.
        ("CHARGEBACK", _) => {
            let (amount_minor, currency) = amount(item)?;
            NotificationKind::DisputeOpened { dispute_reference: psp_reference.to_owned(), amount_minor, currency }
        }
        ("CHARGEBACK_REVERSED", _) => {
            NotificationKind::DisputeClosed { dispute_reference: psp_reference.to_owned(), won: true }
        }
        // A failed capture or cancellation changes nothing; NOTIFICATION_OF_CHARGEBACK
        // moves no money (CHARGEBACK does); other codes are not mapped.
        _ => NotificationKind::Unknown,
    })
}

/// `success` is the string `"true"` or `"false"` in JSON notifications.
fn success_flag(item: &Value) -> Result<bool, ParseError> {
    match item.get("success") {
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        None | Some(Value::Null) => Err(ParseError::MissingField("success")),
        Some(_) => Err(ParseError::InvalidField("success")),
    }
}

fn amount(item: &Value) -> Result<(i64, String), ParseError> {
    let amount = required_object(item, "amount")?;
    Ok((minor_units(amount, "value")?, currency(amount, "currency")?))
}

/// `eventDate` is ISO 8601 with an offset; it is informative, so an unreadable one is
/// dropped rather than failing the delivery.
fn event_date(item: &Value) -> Result<Option<i64>, ParseError> {
    Ok(optional_str(item, "eventDate")?
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(item: Value) -> Result<Notification, ParseError> {
        let body = json!({ "live": "false", "notificationItems": [{ "NotificationRequestItem": item }] });
        parse(&serde_json::to_vec(&body).unwrap()).map(|mut v| v.remove(0))
    }

    #[test]
    fn failed_capture_and_cancellation_change_nothing() {
        for code in ["CAPTURE", "CANCELLATION"] {
            let n = one(json!({ "pspReference": "M1", "originalReference": "P1", "eventCode": code,
                "success": "false", "amount": { "value": 5, "currency": "EUR" } }))
            .unwrap();
            assert_eq!(n.kind, NotificationKind::Unknown, "{code}");
            assert_eq!(n.payment_reference.as_deref(), Some("P1"));
            assert_eq!(n.dedupe_key, format!("M1:{code}:false"));
        }
    }

    #[test]
    fn success_must_be_a_boolean_string() {
        let err = one(json!({ "pspReference": "P", "eventCode": "CAPTURE", "success": "yes" }));
        assert_eq!(err, Err(ParseError::InvalidField("success")));
        let err = one(json!({ "pspReference": "P", "eventCode": "CAPTURE" }));
        assert_eq!(err, Err(ParseError::MissingField("success")));
    }

    #[test]
    fn batch_limits_apply() {
        let item = json!({ "NotificationRequestItem": { "pspReference": "P", "eventCode": "X", "success": "true" } });
        let too_many = json!({ "notificationItems": vec![item; crate::MAX_ADYEN_ITEMS + 1] });
        assert!(matches!(parse(&serde_json::to_vec(&too_many).unwrap()), Err(ParseError::Malformed(_))));
        let empty = json!({ "notificationItems": [] });
        assert!(matches!(parse(&serde_json::to_vec(&empty).unwrap()), Err(ParseError::Malformed(_))));
    }

    #[test]
    fn unreadable_event_date_is_dropped() {
        let n = one(json!({ "pspReference": "P", "eventCode": "AUTHORISATION", "success": "true",
            "eventDate": "yesterday", "amount": { "value": 1, "currency": "eur" } }))
        .unwrap();
        assert_eq!(n.occurred_at_unix_s, None);
        assert_eq!(n.kind, NotificationKind::Authorized { amount_minor: 1, currency: "EUR".into() });
    }
}
