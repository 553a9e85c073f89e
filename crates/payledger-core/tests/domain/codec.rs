//! Event codec: every event round-trips through (event_type, schema_version,
//! payload); payload shapes are stable; old shapes are upcast.

use std::collections::BTreeSet;

use payledger_core::money::MinorUnits;
use payledger_core::order::OrderEvent;
use payledger_core::payment::{CaptureMethod, PaymentEvent, Provider};
use payledger_core::testing::*;
use payledger_core::{Currency, DecodeError, DomainEvent, OrderId};
use serde_json::json;

fn order_events() -> Vec<OrderEvent> {
    vec![
        OrderEvent::OrderCreated {
            order_id: OrderId::from(uuid::Uuid::from_u128(0xCD)),
            amount_minor: minor(7_500),
            currency: Currency::USD,
            reference: "ORD-7890".into(),
            metadata: json!({"channel": "web"}),
            created_at: at(0),
        },
        OrderEvent::OrderCancelled { reason: Some("changed mind".into()), cancelled_at: at(1) },
        OrderEvent::OrderCancelled { reason: None, cancelled_at: at(2) },
    ]
}

fn payment_events() -> Vec<PaymentEvent> {
    let usd = Currency::USD;
    let key = || Some("evt_1".to_owned());
    vec![
        PaymentEvent::PaymentInitiated {
            payment_id: payment_id(),
            order_id: open_order(1).order_id,
            amount_minor: minor(7_500),
            currency: usd,
            capture_method: CaptureMethod::Manual,
            provider: Provider::Adyen,
            provider_reference: Some("psp_1".into()),
            initiated_at: at(0),
        },
        PaymentEvent::PaymentAuthorized {
            amount_minor: minor(7_500),
            currency: usd,
            inferred: true,
            report_key: key(),
        },
        PaymentEvent::PaymentAuthorizationConfirmed {
            amount_minor: minor(7_000),
            currency: usd,
            report_key: "k".into(),
        },
        PaymentEvent::PaymentCaptured {
            amount_minor: minor(7_000),
            currency: usd,
            final_capture: true,
            confirmed_by_gateway: false,
            report_key: None,
        },
        PaymentEvent::PaymentCaptureConfirmed { amount_minor: minor(7_000), currency: usd, report_key: "k".into() },
        PaymentEvent::PaymentVoided { amount_released_minor: MinorUnits::ZERO, currency: usd, report_key: None },
        PaymentEvent::PaymentFailed { code: "card_declined".into(), message: "Declined".into(), report_key: key() },
        PaymentEvent::RefundRequested {
            refund_id: refund_id(1),
            amount_minor: minor(100),
            currency: usd,
            reason: None,
            provider_reference: Some("re_1".into()),
            requested_at: at(3),
            report_key: None,
        },
        PaymentEvent::RefundSucceeded {
            refund_id: refund_id(1),
            amount_minor: minor(100),
            currency: usd,
            provider_reference: None,
            report_key: key(),
            from_total_minor: MinorUnits::ZERO,
            by_total: false,
        },
        PaymentEvent::RefundFailed {
            refund_id: refund_id(1),
            amount_minor: minor(100),
            currency: usd,
            code: Some("expired_card".into()),
            message: None,
            report_key: None,
            failed_at: None,
        },
        PaymentEvent::RefundFailed {
            refund_id: refund_id(4),
            amount_minor: minor(200),
            currency: usd,
            code: None,
            message: None,
            report_key: key(),
            failed_at: Some(at(6)),
        },
        PaymentEvent::DisputeOpened {
            dispute_id: dispute_id(1),
            amount_minor: minor(50),
            currency: Currency::JPY,
            reason: Some("fraudulent".into()),
            provider_reference: Some("dp_1".into()),
            opened_at: at(4),
            report_key: key(),
        },
        PaymentEvent::DisputeWon {
            dispute_id: dispute_id(1),
            amount_minor: minor(50),
            currency: usd,
            report_key: None,
        },
        PaymentEvent::DisputeLost {
            dispute_id: dispute_id(1),
            amount_minor: minor(50),
            currency: usd,
            report_key: key(),
        },
        PaymentEvent::RefundReferenceLearned {
            refund_id: refund_id(1),
            provider_reference: "re_A".into(),
            report_key: "evt_3".into(),
        },
        PaymentEvent::RefundAttributed {
            refund_id: refund_id(3),
            amount_minor: minor(400),
            from_total_minor: MinorUnits::new(100).unwrap(),
            currency: usd,
            provider_reference: "re_3".into(),
            refunded_at: at(5),
            report_key: "evt_5".into(),
        },
        PaymentEvent::RefundTotalReported {
            amount_minor: minor(300),
            currency: usd,
            charge_reference: "ch_1".into(),
            report_key: "evt_4".into(),
        },
        PaymentEvent::RefundSucceeded {
            refund_id: refund_id(2),
            amount_minor: minor(500),
            currency: usd,
            provider_reference: Some("re_2".into()),
            report_key: key(),
            from_total_minor: MinorUnits::new(300).unwrap(),
            by_total: true,
        },
        PaymentEvent::RefundReversed {
            refund_id: refund_id(2),
            amount_minor: minor(500),
            from_total: false,
            currency: usd,
            provider_reference: Some("re_2".into()),
            failed_at: at(7),
            report_key: "evt_6".into(),
        },
        PaymentEvent::WebhookIgnored { report_key: "evt_2".into(), reason: "duplicate: report evt_2".into() },
        PaymentEvent::PaymentAuthorizationReleased {
            amount_released_minor: minor(500),
            currency: usd,
            report_key: key(),
        },
    ]
}

#[test]
fn every_event_type_is_covered_by_the_samples() {
    let sampled: BTreeSet<_> = payment_events().iter().map(|e| e.event_type()).collect();
    assert_eq!(sampled, PaymentEvent::EVENT_TYPES.iter().copied().collect());
    let sampled: BTreeSet<_> = order_events().iter().map(|e| e.event_type()).collect();
    assert_eq!(sampled, OrderEvent::EVENT_TYPES.iter().copied().collect());
}

#[test]
fn every_event_round_trips_through_its_payload() {
    let all =
        order_events().into_iter().map(DomainEvent::from).chain(payment_events().into_iter().map(DomainEvent::from));
    for event in all {
        let payload = event.to_payload();
        assert!(payload.is_object(), "{payload}");
        assert!(payload.get("event_type").is_none(), "the payload carries no type tag");
        // Stored as text and read back, as the store does.
        let stored: serde_json::Value = serde_json::from_str(&payload.to_string()).unwrap();
        let decoded = DomainEvent::decode(event.event_type(), event.schema_version(), &stored).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn payment_captured_payload_shape_is_stable() {
    let event = PaymentEvent::PaymentCaptured {
        amount_minor: minor(7_500),
        currency: Currency::USD,
        final_capture: false,
        confirmed_by_gateway: true,
        report_key: Some("evt_3Mt".into()),
    };
    assert_eq!(event.event_type(), "PaymentCaptured");
    assert_eq!(event.schema_version(), 2);
    assert_eq!(
        event.to_payload(),
        json!({
            "amount_minor": 7500,
            "currency": "USD",
            "final_capture": false,
            "confirmed_by_gateway": true,
            "report_key": "evt_3Mt"
        })
    );
}

#[test]
fn order_created_and_refund_requested_payload_shapes_are_stable() {
    assert_eq!(
        order_events()[0].to_payload(),
        json!({
            "order_id": "00000000-0000-0000-0000-0000000000cd",
            "amount_minor": 7500,
            "currency": "USD",
            "reference": "ORD-7890",
            "metadata": {"channel": "web"},
            "created_at": "2025-03-01T12:00:00Z"
        })
    );
    assert_eq!(
        payment_events()[7].to_payload(),
        json!({
            "refund_id": "00000000-0000-0000-0000-000000001001",
            "amount_minor": 100,
            "currency": "USD",
            "reason": null,
            "provider_reference": "re_1",
            "requested_at": "2025-03-01T12:00:03Z",
            "report_key": null
        })
    );
}

#[test]
fn version_1_payment_initiated_is_upcast() {
    let v1 = json!({
        "payment_id": "00000000-0000-0000-0000-0000000000ab",
        "order_id": "00000000-0000-0000-0000-0000000000cd",
        "amount": 7500,
        "currency": "EUR",
        "provider": "stripe",
        "provider_reference": "pi_1",
        "initiated_at": "2024-01-01T00:00:00Z"
    });
    let event = PaymentEvent::decode("PaymentInitiated", 1, &v1).unwrap();
    let PaymentEvent::PaymentInitiated { amount_minor, capture_method, currency, .. } = event else {
        panic!("decoded {event:?}");
    };
    assert_eq!((amount_minor.get(), capture_method, currency), (7500, CaptureMethod::Automatic, Currency::EUR));
    // Upcast on read, and the same row decodes identically through DomainEvent.
    assert!(matches!(DomainEvent::decode("PaymentInitiated", 1, &v1), Ok(DomainEvent::Payment(_))));
    // Other version 1 payment events kept their shape.
    let captured = payment_events()[3].clone();
    assert_eq!(PaymentEvent::decode("PaymentCaptured", 1, &captured.to_payload()), Ok(captured));
}

#[test]
fn decode_refusals_are_typed() {
    let payload = payment_events()[3].to_payload();
    assert!(matches!(DomainEvent::decode("Nope", 1, &payload), Err(DecodeError::UnknownEventType { .. })));
    for version in [0, 3] {
        assert!(matches!(
            PaymentEvent::decode("PaymentCaptured", version, &payload),
            Err(DecodeError::UnsupportedSchemaVersion { .. })
        ));
    }
    let mut float_amount = payload.clone();
    float_amount["amount_minor"] = json!(75.5);
    let error = PaymentEvent::decode("PaymentCaptured", 2, &float_amount).unwrap_err();
    assert!(matches!(error, DecodeError::InvalidPayload { .. }), "{error}");
    let mut negative = payload;
    negative["amount_minor"] = json!(-1);
    assert!(PaymentEvent::decode("PaymentCaptured", 2, &negative).is_err());
    assert!(matches!(
        PaymentEvent::decode("PaymentInitiated", 1, &json!([1])),
        Err(DecodeError::InvalidPayload { .. })
    ));
}

#[test]
fn optional_fields_may_be_absent_in_stored_payloads() {
    let minimal = json!({"refund_id": "00000000-0000-0000-0000-000000001001", "amount_minor": 5, "currency": "KWD"});
    let event = PaymentEvent::decode("RefundSucceeded", 2, &minimal).unwrap();
    assert_eq!(event.report_key(), None);
}

#[test]
fn refund_reference_learned_payload_shape_is_stable() {
    let event = payment_events().into_iter().find(|e| e.event_type() == "RefundReferenceLearned").unwrap();
    assert_eq!(event.schema_version(), 1);
    assert_eq!(event.report_key(), Some("evt_3"));
    assert_eq!(
        event.to_payload(),
        json!({
            "refund_id": "00000000-0000-0000-0000-000000001001",
            "provider_reference": "re_A",
            "report_key": "evt_3"
        })
    );
}

#[test]
fn each_event_type_has_its_own_schema_version() {
    for event in payment_events() {
        let added_later = [
            "RefundReferenceLearned",
            "PaymentAuthorizationReleased",
            "RefundTotalReported",
            "RefundAttributed",
            "RefundReversed",
        ];
        let expected = if added_later.contains(&event.event_type()) { 1 } else { 2 };
        assert_eq!(event.schema_version(), expected, "{}", event.event_type());
        assert_eq!(PaymentEvent::current_schema_version(event.event_type()), Some(expected));
        assert!(event.schema_version() <= PaymentEvent::CURRENT_SCHEMA_VERSION);
    }
    assert_eq!(PaymentEvent::current_schema_version("OrderCreated"), None);
    for event in order_events() {
        assert_eq!(event.schema_version(), OrderEvent::CURRENT_SCHEMA_VERSION);
    }
}

/// A row written by a newer build (a version this build does not know) is
/// refused with a typed error, for every type: never parsed as if it had
/// the shape this build knows.
#[test]
fn a_future_schema_version_is_a_typed_error() {
    let all =
        order_events().into_iter().map(DomainEvent::from).chain(payment_events().into_iter().map(DomainEvent::from));
    for event in all {
        let (event_type, current) = (event.event_type(), event.schema_version());
        for future in [current + 1, current + 7, i32::MAX] {
            assert_eq!(
                DomainEvent::decode(event_type, future, &event.to_payload()),
                Err(DecodeError::UnsupportedSchemaVersion {
                    event_type: event_type.to_owned(),
                    schema_version: future,
                    current
                }),
                "{event_type} v{future}"
            );
        }
    }
    // Per type, not per family: version 2 exists for PaymentCaptured but not
    // for RefundReferenceLearned.
    let learned = payment_events().into_iter().find(|e| e.event_type() == "RefundReferenceLearned").unwrap();
    let error = PaymentEvent::decode("RefundReferenceLearned", 2, &learned.to_payload()).unwrap_err();
    assert_eq!(error.to_string(), "RefundReferenceLearned has schema version 2, this build reads 1 to 1");
    let error = PaymentEvent::decode("PaymentInitiated", 3, &payment_events()[0].to_payload()).unwrap_err();
    assert_eq!(error.to_string(), "PaymentInitiated has schema version 3, this build reads 1 to 2");
}
