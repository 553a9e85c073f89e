//! Stripe (and generic) events: one event per body, `{id, type, created, data.object}`.

use serde_json::Value;

use super::fields::{
    currency, minor_units, optional_i64, optional_object, optional_reference, reference, required_object, required_str,
    text,
};
use super::ParseError;
use crate::{Notification, NotificationKind};

pub(super) fn parse(body: &[u8]) -> Result<Notification, ParseError> {
    let event: Value = super::json(body)?;
    if !event.is_object() {
        return Err(ParseError::Malformed("event is not a JSON object"));
    }
    let dedupe_key = reference(&event, "id")?;
    let event_type = reference(&event, "type")?;
    let occurred_at_unix_s = optional_i64(&event, "created")?;
    let object = required_object(required_object(&event, "data")?, "object")?;
    Ok(Notification {
        dedupe_key,
        payment_reference: payment_reference(&event_type, object)?,
        kind: kind(&event_type, object)?,
        provider_event_type: event_type,
        occurred_at_unix_s,
    })
}

/// The PaymentIntent id: the object itself for `payment_intent.*`, otherwise the
/// object's `payment_intent` (charges, refunds, disputes), which may be expanded.
fn payment_reference(event_type: &str, object: &Value) -> Result<Option<String>, ParseError> {
    let is_payment_intent = event_type.starts_with("payment_intent.")
        || object.get("object").and_then(Value::as_str) == Some("payment_intent");
    if is_payment_intent {
        return optional_reference(object, "id");
    }
    match object.get("payment_intent") {
        Some(expanded @ Value::Object(_)) => optional_reference(expanded, "id"),
        _ => optional_reference(object, "payment_intent"),
    }
}

fn kind(event_type: &str, object: &Value) -> Result<NotificationKind, ParseError> {
    Ok(match event_type {
        "payment_intent.amount_capturable_updated" => NotificationKind::Authorized {
            amount_minor: minor_units(object, "amount_capturable")?,
            currency: currency(object, "currency")?,
        },
        "payment_intent.succeeded" => NotificationKind::Captured {
            amount_minor: minor_units(object, "amount_received")?,
            currency: currency(object, "currency")?,
            cumulative: true,
        },
        "payment_intent.payment_failed" => match optional_object(object, "last_payment_error")? {
            Some(error) => NotificationKind::Failed { code: text(error, "code")?, message: text(error, "message")? },
            None => NotificationKind::Failed { code: None, message: None },
        },
        "payment_intent.canceled" => NotificationKind::Canceled,
        "charge.refunded" => charge_refunded(object)?,
        "refund.created" | "refund.updated" => refund(object)?,
        "charge.dispute.created" => NotificationKind::DisputeOpened {
            dispute_reference: reference(object, "id")?,
            amount_minor: minor_units(object, "amount")?,
            currency: currency(object, "currency")?,
        },
        "charge.dispute.closed" => NotificationKind::DisputeClosed {
            dispute_reference: reference(object, "id")?,
            won: required_str(object, "status")? == "won",
        },
        _ => NotificationKind::Unknown,
    })
}

/// A Refund object by its status: only `succeeded` moves money; `failed`/`canceled`
/// undo it; `pending`/`requires_action` are not final yet (a later `refund.updated`
/// will say), so they map to `Unknown`.
fn refund(refund: &Value) -> Result<NotificationKind, ParseError> {
    Ok(match required_str(refund, "status")? {
        "succeeded" => NotificationKind::Refunded {
            refund_reference: reference(refund, "id")?,
            amount_minor: minor_units(refund, "amount")?,
            currency: currency(refund, "currency")?,
            cumulative: false,
        },
        "failed" | "canceled" => NotificationKind::RefundFailed { refund_reference: reference(refund, "id")? },
        _ => NotificationKind::Unknown,
    })
}

/// `charge.refunded` carries the Charge. If it lists refunds (API versions before
/// 2022-11-15 embed `refunds.data`), the newest refund is mapped like a `refund.*`
/// event, so it dedupes with them by refund id. Otherwise only the running total is
/// known: `refund_reference = "{charge id}:{amount_refunded}"` with
/// `amount_minor = amount_refunded` and `cumulative = true` ("at least this much is
/// refunded"), which never double-counts a refund also seen through `refund.*`.
fn charge_refunded(charge: &Value) -> Result<NotificationKind, ParseError> {
    if let Some(newest) = newest_listed_refund(charge)? {
        return refund(newest);
    }
    let charge_id = reference(charge, "id")?;
    let amount_refunded = minor_units(charge, "amount_refunded")?;
    Ok(NotificationKind::Refunded {
        refund_reference: format!("{charge_id}:{amount_refunded}"),
        amount_minor: amount_refunded,
        currency: currency(charge, "currency")?,
        cumulative: true,
    })
}

/// The refund with the greatest `created`; on a tie the earlier in the list, since
/// Stripe lists newest first.
fn newest_listed_refund(charge: &Value) -> Result<Option<&Value>, ParseError> {
    let Some(refunds) = optional_object(charge, "refunds")? else {
        return Ok(None);
    };
    let Some(list) = refunds.get("data").and_then(Value::as_array) else {
        return Ok(None);
    };
    let mut newest: Option<(i64, &Value)> = None;
    for item in list {
        let created = optional_i64(item, "created")?.unwrap_or(i64::MIN);
        let is_newer = match newest {
            None => true,
            Some((best, _)) => created > best,
        };
        if is_newer {
            newest = Some((created, item));
        }
    }
    Ok(newest.map(|(_, item)| item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_of(event: Value) -> NotificationKind {
        parse(&serde_json::to_vec(&event).unwrap()).unwrap().kind
    }

    #[test]
    fn pending_and_unrecognised_refund_statuses_are_unknown() {
        for status in ["pending", "requires_action", "something_new"] {
            let event = json!({ "id": "evt_1", "type": "refund.updated", "data": { "object": {
                "id": "re_1", "object": "refund", "amount": 100, "currency": "usd",
                "payment_intent": "pi_1", "status": status } } });
            assert_eq!(kind_of(event), NotificationKind::Unknown, "{status}");
        }
    }

    #[test]
    fn newest_listed_refund_wins_regardless_of_order() {
        let event = json!({ "id": "evt_1", "type": "charge.refunded", "data": { "object": {
            "id": "ch_1", "object": "charge", "amount_refunded": 800, "currency": "usd",
            "payment_intent": "pi_1",
            "refunds": { "object": "list", "data": [
                { "id": "re_old", "amount": 500, "currency": "usd", "created": 10, "status": "succeeded" },
                { "id": "re_new", "amount": 300, "currency": "usd", "created": 20, "status": "succeeded" }
            ] } } } });
        assert_eq!(
            kind_of(event),
            NotificationKind::Refunded {
                refund_reference: "re_new".into(),
                amount_minor: 300,
                currency: "USD".into(),
                cumulative: false
            }
        );
    }

    #[test]
    fn empty_refund_list_falls_back_to_the_running_total() {
        let event = json!({ "id": "evt_1", "type": "charge.refunded", "data": { "object": {
            "id": "ch_1", "amount_refunded": 250, "currency": "eur", "payment_intent": "pi_1",
            "refunds": { "object": "list", "data": [] } } } });
        assert_eq!(
            kind_of(event),
            NotificationKind::Refunded {
                refund_reference: "ch_1:250".into(),
                amount_minor: 250,
                currency: "EUR".into(),
                cumulative: true
            }
        );
    }

    #[test]
    fn expanded_payment_intent_is_followed() {
        let event = json!({ "id": "evt_1", "type": "charge.dispute.created", "data": { "object": {
            "id": "du_1", "amount": 10, "currency": "usd", "payment_intent": { "id": "pi_9" } } } });
        let n = parse(&serde_json::to_vec(&event).unwrap()).unwrap();
        assert_eq!(n.payment_reference.as_deref(), Some("pi_9"));
    }

    #[test]
    fn envelope_errors_are_reported() {
        assert_eq!(parse(b"not json"), Err(ParseError::NotJson));
        assert_eq!(parse(b"[]"), Err(ParseError::Malformed("event is not a JSON object")));
        assert_eq!(parse(br#"{"type":"x","data":{"object":{}}}"#), Err(ParseError::MissingField("id")));
        assert_eq!(parse(br#"{"id":"evt_1","type":"x","data":{}}"#), Err(ParseError::MissingField("object")));
    }
}
