use std::collections::BTreeSet;

use payledger_gateways::{parse, Notification, NotificationKind, ParseError, Provider};

use crate::support::{fixture, fixtures_dir};

const PI: &str = "pi_3MtwBwLkdIwHu7ix28a3tqPa";
const ADYEN_PAYMENT: &str = "QFQTPCQ8HXSKGK82";

fn usd(amount_minor: i64) -> (i64, String) {
    (amount_minor, "USD".to_owned())
}

fn eur(amount_minor: i64) -> (i64, String) {
    (amount_minor, "EUR".to_owned())
}

fn authorized((amount_minor, currency): (i64, String)) -> NotificationKind {
    NotificationKind::Authorized { amount_minor, currency }
}

fn captured((amount_minor, currency): (i64, String), cumulative: bool) -> NotificationKind {
    NotificationKind::Captured { amount_minor, currency, cumulative }
}

fn refunded(reference: &str, (amount_minor, currency): (i64, String), cumulative: bool) -> NotificationKind {
    NotificationKind::Refunded { refund_reference: reference.to_owned(), amount_minor, currency, cumulative }
}

fn refund_failed(reference: &str) -> NotificationKind {
    NotificationKind::RefundFailed { refund_reference: reference.to_owned() }
}

fn dispute_opened(reference: &str, (amount_minor, currency): (i64, String)) -> NotificationKind {
    NotificationKind::DisputeOpened { dispute_reference: reference.to_owned(), amount_minor, currency }
}

fn dispute_closed(reference: &str, won: bool) -> NotificationKind {
    NotificationKind::DisputeClosed { dispute_reference: reference.to_owned(), won }
}

fn notification(dedupe_key: &str, event_type: &str, payment: &str, kind: NotificationKind, at: i64) -> Notification {
    Notification {
        dedupe_key: dedupe_key.to_owned(),
        provider_event_type: event_type.to_owned(),
        payment_reference: Some(payment.to_owned()),
        kind,
        occurred_at_unix_s: Some(at),
    }
}

fn stripe_expectations() -> Vec<(&'static str, Notification)> {
    let t0 = 1_680_800_504;
    let ch = "ch_3MtwBwLkdIwHu7ix2MmEJnJ4";
    vec![
        (
            "payment_intent.created.json",
            notification("evt_3MtwBwLkdIwHu7ix0G1sXr7M", "payment_intent.created", PI, NotificationKind::Unknown, t0),
        ),
        (
            "payment_intent.payment_failed.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0rJHXl3C",
                "payment_intent.payment_failed",
                PI,
                NotificationKind::Failed {
                    code: Some("card_declined".into()),
                    message: Some("Your card was declined.".into()),
                },
                t0 + 41,
            ),
        ),
        (
            "payment_intent.amount_capturable_updated.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0VtVtzq3",
                "payment_intent.amount_capturable_updated",
                PI,
                authorized(usd(2000)),
                t0 + 95,
            ),
        ),
        (
            "payment_intent.succeeded.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0Wf1Xk0P",
                "payment_intent.succeeded",
                PI,
                captured(usd(2000), true),
                t0 + 3600,
            ),
        ),
        (
            "payment_intent.canceled.json",
            notification(
                "evt_3MtwCaLkdIwHu7ix1rU5nN1d",
                "payment_intent.canceled",
                "pi_3MtwCaLkdIwHu7ix1fxPjkbV",
                NotificationKind::Canceled,
                t0 + 7320,
            ),
        ),
        (
            "refund.created.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0nU7yQ2R",
                "refund.created",
                PI,
                refunded("re_3MtwBwLkdIwHu7ix0YtQhKqK", usd(500), false),
                t0 + 86400,
            ),
        ),
        (
            "charge.refunded.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0d3nH7Hs",
                "charge.refunded",
                PI,
                refunded(&format!("{ch}:500"), usd(500), true),
                t0 + 86400,
            ),
        ),
        (
            "charge.refunded.with_refund_list.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0kzC6tGv",
                "charge.refunded",
                PI,
                refunded("re_3MtwBwLkdIwHu7ix0Q8fXoVv", usd(300), false),
                t0 + 172800,
            ),
        ),
        (
            "refund.updated.json",
            notification(
                "evt_3MtwBwLkdIwHu7ix0hJ5cRz8",
                "refund.updated",
                PI,
                refund_failed("re_3MtwBwLkdIwHu7ix0Q8fXoVv"),
                t0 + 432000,
            ),
        ),
        (
            "charge.dispute.created.json",
            notification(
                "evt_1N2kYRLkdIwHu7ixbA1ZpT8s",
                "charge.dispute.created",
                PI,
                dispute_opened("du_1N2kYQLkdIwHu7ixLp1wQXrc", usd(1500)),
                t0 + 604800,
            ),
        ),
        (
            "charge.dispute.closed.json",
            notification(
                "evt_1N8hLkLkdIwHu7ixM3tW9cJe",
                "charge.dispute.closed",
                PI,
                dispute_closed("du_1N2kYQLkdIwHu7ixLp1wQXrc", true),
                t0 + 2592000,
            ),
        ),
    ]
}

fn adyen_expectations() -> Vec<(&'static str, Vec<Notification>)> {
    // eventDate values of the fixtures, all at +02:00.
    let at = |date: &str| chrono::DateTime::parse_from_rfc3339(date).unwrap().timestamp();
    vec![
        (
            "AUTHORISATION.json",
            vec![notification(
                "QFQTPCQ8HXSKGK82:AUTHORISATION:true",
                "AUTHORISATION",
                ADYEN_PAYMENT,
                authorized(eur(2500)),
                at("2024-05-14T10:21:06+02:00"),
            )],
        ),
        (
            "AUTHORISATION.refused.json",
            vec![notification(
                "WG8QF4B4RPLFTK82:AUTHORISATION:false",
                "AUTHORISATION",
                "WG8QF4B4RPLFTK82",
                NotificationKind::Failed { code: None, message: Some("CVC Declined".into()) },
                at("2024-05-14T11:02:45+02:00"),
            )],
        ),
        (
            "CAPTURE.json",
            vec![notification(
                "V4HZ4RBFJGXXGN82:CAPTURE:true",
                "CAPTURE",
                ADYEN_PAYMENT,
                captured(eur(2500), false),
                at("2024-05-14T14:30:12+02:00"),
            )],
        ),
        (
            "CANCELLATION.json",
            vec![notification(
                "DZ5XQ2H7N6BG6X82:CANCELLATION:true",
                "CANCELLATION",
                "K8T2ZJ3QJWR3MF82",
                NotificationKind::Canceled,
                at("2024-05-15T08:44:19+02:00"),
            )],
        ),
        (
            "REFUND.json",
            vec![notification(
                "LMHT3V4ZJ6LTGN82:REFUND:true",
                "REFUND",
                ADYEN_PAYMENT,
                refunded("LMHT3V4ZJ6LTGN82", eur(1000), false),
                at("2024-05-16T09:12:40+02:00"),
            )],
        ),
        (
            "REFUND_FAILED.json",
            vec![notification(
                "LMHT3V4ZJ6LTGN82:REFUND_FAILED:true",
                "REFUND_FAILED",
                ADYEN_PAYMENT,
                refund_failed("LMHT3V4ZJ6LTGN82"),
                at("2024-05-21T16:05:03+02:00"),
            )],
        ),
        (
            "CHARGEBACK.json",
            vec![notification(
                "TBH3VQWQDJS4GX82:CHARGEBACK:true",
                "CHARGEBACK",
                ADYEN_PAYMENT,
                dispute_opened("TBH3VQWQDJS4GX82", eur(1500)),
                at("2024-06-03T10:00:00+02:00"),
            )],
        ),
        (
            "CHARGEBACK_REVERSED.json",
            vec![notification(
                "TBH3VQWQDJS4GX82:CHARGEBACK_REVERSED:true",
                "CHARGEBACK_REVERSED",
                ADYEN_PAYMENT,
                dispute_closed("TBH3VQWQDJS4GX82", true),
                at("2024-07-01T12:30:00+02:00"),
            )],
        ),
        (
            "batch.json",
            vec![
                notification(
                    "NC6HT9CRT65ZGN82:AUTHORISATION:true",
                    "AUTHORISATION",
                    "NC6HT9CRT65ZGN82",
                    authorized((1099, "USD".into())),
                    at("2024-05-17T18:01:33+02:00"),
                ),
                notification(
                    "settlement_detail_report_batch_238.csv:REPORT_AVAILABLE:true",
                    "REPORT_AVAILABLE",
                    "settlement_detail_report_batch_238.csv",
                    NotificationKind::Unknown,
                    at("2024-05-18T02:10:00+02:00"),
                ),
            ],
        ),
    ]
}

fn json_files(provider: &str) -> BTreeSet<String> {
    std::fs::read_dir(fixtures_dir(provider))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect()
}

#[test]
fn every_stripe_fixture_maps_as_expected() {
    let expectations = stripe_expectations();
    for provider in [Provider::Stripe, Provider::Generic] {
        for (file, expected) in &expectations {
            let parsed = parse(provider, &fixture("stripe", file)).unwrap();
            assert_eq!(parsed, vec![expected.clone()], "{provider} {file}");
        }
    }
    let covered: BTreeSet<String> = expectations.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(covered, json_files("stripe"), "every fixture needs an expectation");
}

#[test]
fn every_adyen_fixture_maps_as_expected() {
    let expectations = adyen_expectations();
    for (file, expected) in &expectations {
        let parsed = parse(Provider::Adyen, &fixture("adyen", file)).unwrap();
        assert_eq!(&parsed, expected, "{file}");
    }
    let covered: BTreeSet<String> = expectations.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(covered, json_files("adyen"), "every fixture needs an expectation");
}

#[test]
fn unknown_event_types_are_not_errors() {
    let stripe =
        br#"{"id":"evt_9","type":"customer.created","created":1,"data":{"object":{"id":"cus_1","object":"customer"}}}"#;
    let parsed = parse(Provider::Stripe, stripe).unwrap();
    assert_eq!(parsed[0].kind, NotificationKind::Unknown);
    assert_eq!(parsed[0].payment_reference, None);
    assert_eq!(parsed[0].dedupe_key, "evt_9");

    let adyen = br#"{"live":"false","notificationItems":[{"NotificationRequestItem":{
        "pspReference":"ABC","originalReference":"PAY","eventCode":"SECOND_CHARGEBACK","success":"true",
        "amount":{"value":100,"currency":"EUR"}}}]}"#;
    let parsed = parse(Provider::Adyen, adyen).unwrap();
    assert_eq!(parsed[0].kind, NotificationKind::Unknown);
    assert_eq!(parsed[0].payment_reference.as_deref(), Some("PAY"));
}

#[test]
fn float_amounts_are_rejected_not_rounded() {
    let body = String::from_utf8(fixture("stripe", "payment_intent.succeeded.json")).unwrap();
    let float = body.replace("\"amount_received\": 2000", "\"amount_received\": 2000.5");
    assert_ne!(float, body);
    assert_eq!(parse(Provider::Stripe, float.as_bytes()), Err(ParseError::AmountNotInteger("amount_received")));
    let whole_float = body.replace("\"amount_received\": 2000", "\"amount_received\": 2000.0");
    assert_eq!(parse(Provider::Generic, whole_float.as_bytes()), Err(ParseError::AmountNotInteger("amount_received")));

    let body = String::from_utf8(fixture("adyen", "CAPTURE.json")).unwrap();
    let float = body.replace("\"value\": 2500", "\"value\": 10.5");
    assert_ne!(float, body);
    assert_eq!(parse(Provider::Adyen, float.as_bytes()), Err(ParseError::AmountNotInteger("value")));
}

#[test]
fn negative_and_string_amounts_are_rejected() {
    let body = String::from_utf8(fixture("adyen", "REFUND.json")).unwrap();
    let negative = body.replace("\"value\": 1000", "\"value\": -1000");
    assert_eq!(parse(Provider::Adyen, negative.as_bytes()), Err(ParseError::AmountOutOfRange("value")));
    let text = body.replace("\"value\": 1000", "\"value\": \"1000\"");
    assert_eq!(parse(Provider::Adyen, text.as_bytes()), Err(ParseError::InvalidField("value")));
}
