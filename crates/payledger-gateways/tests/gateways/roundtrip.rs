use payledger_gateways::signing::{sign_adyen_body, sign_stripe_header};
use payledger_gateways::{verify, Provider, SignatureError, WebhookSecret};
use proptest::prelude::*;
use serde_json::json;

use crate::support::{header_name, NOW, TOLERANCE};

fn stripe_scheme() -> impl Strategy<Value = Provider> {
    prop_oneof![Just(Provider::Stripe), Just(Provider::Generic)]
}

proptest! {
    #[test]
    fn sign_then_verify_and_any_single_byte_change_fails(
        provider in stripe_scheme(),
        secret in "[ -~]{1,80}",
        body in proptest::collection::vec(any::<u8>(), 1..512),
        skew in -TOLERANCE..=TOLERANCE,
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let t = NOW + skew;
        let header = sign_stripe_header(&secret, t, &body);
        let headers = [(header_name(provider), header)];
        let secrets = [WebhookSecret::new(provider, &secret).unwrap()];
        prop_assert!(verify(provider, &headers, &body, &secrets, NOW, TOLERANCE).is_ok());

        let mut mutated = body.clone();
        mutated[index.index(body.len())] ^= flip;
        prop_assert_eq!(
            verify(provider, &headers, &mutated, &secrets, NOW, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn adyen_sign_then_verify_and_a_changed_amount_fails(
        key in proptest::collection::vec(any::<u8>(), 1..64),
        psp in "[A-Z0-9]{16}",
        merchant_reference in "[ -~]{0,40}",
        value in 0i64..1_000_000_000_000,
        event_code in prop_oneof![Just("AUTHORISATION"), Just("CAPTURE"), Just("REFUND")],
        success in any::<bool>(),
    ) {
        let hex_key = hex::encode(&key);
        let item = json!({
            "pspReference": psp, "merchantAccountCode": "PayledgerECOM",
            "merchantReference": merchant_reference, "eventCode": event_code,
            "success": success.to_string(), "amount": { "value": value, "currency": "EUR" }
        });
        let unsigned = serde_json::to_vec(&json!({
            "live": "false", "notificationItems": [{ "NotificationRequestItem": item }]
        })).unwrap();
        let body = sign_adyen_body(&hex_key, &unsigned).unwrap();
        let secrets = [WebhookSecret::new(Provider::Adyen, &hex_key).unwrap()];
        let none: Vec<(String, String)> = Vec::new();
        prop_assert!(verify(Provider::Adyen, &none, &body, &secrets, NOW, TOLERANCE).is_ok());

        let mut root: serde_json::Value = serde_json::from_slice(&body).unwrap();
        root["notificationItems"][0]["NotificationRequestItem"]["amount"]["value"] = json!(value + 1);
        let changed = serde_json::to_vec(&root).unwrap();
        prop_assert_eq!(
            verify(Provider::Adyen, &none, &changed, &secrets, NOW, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }
}
