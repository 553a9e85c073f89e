use payledger_gateways::signing::{sign_adyen_body, sign_adyen_item};
use payledger_gateways::{
    adyen_signing_string, verify, Provider, SignatureError, Verified, WebhookSecret, ADYEN_ACCEPTED_REPLY,
    MAX_ADYEN_ITEMS,
};
use serde_json::{json, Value};

use crate::support::{fixture, fixtures_dir, secret, ADYEN_KEY, NOW, TOLERANCE};

const OTHER_KEY: &str = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";

fn check(body: &[u8], secrets: &[WebhookSecret]) -> Result<Verified, SignatureError> {
    let no_headers: Vec<(String, String)> = Vec::new();
    verify(Provider::Adyen, &no_headers, body, secrets, NOW, TOLERANCE)
}

fn code(result: Result<Verified, SignatureError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn adyen(key: &str) -> WebhookSecret {
    secret(Provider::Adyen, key)
}

/// Adyen's documented example item (Verify HMAC signatures page), unsigned.
fn documented_item() -> Value {
    json!({
        "pspReference": "7914073381342284",
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "TestPayment-1407325143704",
        "amount": { "value": 1130, "currency": "EUR" },
        "eventCode": "AUTHORISATION",
        "success": "true",
        "paymentMethod": "visa"
    })
}

fn delivery(items: &[Value]) -> Vec<u8> {
    let items: Vec<Value> = items.iter().map(|i| json!({ "NotificationRequestItem": i })).collect();
    serde_json::to_vec(&json!({ "live": "false", "notificationItems": items })).unwrap()
}

#[test]
fn documented_test_vectors() {
    // Expected values from the test suites of Adyen's Ruby and PHP API libraries, for
    // the item of Adyen's documentation.
    let item = documented_item();
    assert_eq!(
        adyen_signing_string(&item).unwrap(),
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
    );
    assert_eq!(sign_adyen_item(ADYEN_KEY, &item).unwrap(), "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=");
    assert_eq!(sign_adyen_item(OTHER_KEY, &item).unwrap(), "Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I=");
    let mut signed = item;
    signed["additionalData"] = json!({ "hmacSignature": "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=" });
    assert_eq!(code(check(&delivery(&[signed]), &[adyen(ADYEN_KEY)])), "ok");
}

#[test]
fn every_fixture_is_correctly_signed() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir("adyen")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let verified = check(&body, &[adyen(ADYEN_KEY)]);
        assert_eq!(
            verified,
            Ok(Verified { provider: Provider::Adyen, secret_index: 0, signed_at_unix_s: None }),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 9, "found only {seen} adyen fixtures");
    assert_eq!(ADYEN_ACCEPTED_REPLY, "[accepted]");
}

#[test]
fn wrong_key_is_a_mismatch() {
    let body = fixture("adyen", "AUTHORISATION.json");
    let err = check(&body, &[adyen(OTHER_KEY)]).unwrap_err();
    assert_eq!(err.code(), "signature_mismatch");
    assert_eq!(err.http_status(), 401);
}

#[test]
fn one_changed_byte_in_a_signed_field_is_a_mismatch() {
    let body = fixture("adyen", "CAPTURE.json");
    for needle in [&b"\"value\": 2500"[..], b"V4HZ4RBFJGXXGN82", b"\"EUR\"", b"\"true\""] {
        let at = body.windows(needle.len()).position(|w| w == needle).unwrap();
        let mut changed = body.clone();
        // Flip a character inside the value, keeping the JSON valid.
        let i = at + needle.len() - 2;
        changed[i] = if changed[i] == b'1' { b'2' } else { b'1' };
        assert_eq!(
            code(check(&changed, &[adyen(ADYEN_KEY)])),
            "signature_mismatch",
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn a_batch_with_one_badly_signed_item_fails() {
    let body = fixture("adyen", "batch.json");
    assert_eq!(code(check(&body, &[adyen(ADYEN_KEY)])), "ok");
    let mut root: Value = serde_json::from_slice(&body).unwrap();
    let first_signature =
        root["notificationItems"][0]["NotificationRequestItem"]["additionalData"]["hmacSignature"].clone();
    root["notificationItems"][1]["NotificationRequestItem"]["additionalData"]["hmacSignature"] = first_signature;
    let tampered = serde_json::to_vec(&root).unwrap();
    assert_eq!(code(check(&tampered, &[adyen(ADYEN_KEY)])), "signature_mismatch");
}

#[test]
fn missing_or_malformed_item_signature_is_reported() {
    let mut item = documented_item();
    let err = check(&delivery(&[item.clone()]), &[adyen(ADYEN_KEY)]).unwrap_err();
    assert_eq!(err.code(), "signature_header_missing");
    assert_eq!(err.http_status(), 400);

    for bad in [json!("not base64!"), json!("c2hvcnQ="), json!(42)] {
        item["additionalData"] = json!({ "hmacSignature": bad });
        let err = check(&delivery(&[item.clone()]), &[adyen(ADYEN_KEY)]).unwrap_err();
        assert_eq!(err.code(), "signature_header_malformed", "{bad}");
    }
}

#[test]
fn unparseable_payloads_are_reported() {
    let signed_item = {
        let body = sign_adyen_body(ADYEN_KEY, &delivery(&[documented_item()])).unwrap();
        let root: Value = serde_json::from_slice(&body).unwrap();
        root["notificationItems"][0].clone()
    };
    let too_many = serde_json::to_vec(&json!({
        "notificationItems": vec![signed_item.clone(); MAX_ADYEN_ITEMS + 1]
    }))
    .unwrap();
    let at_limit = serde_json::to_vec(&json!({
        "notificationItems": vec![signed_item; MAX_ADYEN_ITEMS]
    }))
    .unwrap();
    for body in [
        b"".to_vec(),
        b"[accepted]".to_vec(),
        br#"{"live":"false"}"#.to_vec(),
        br#"{"live":"false","notificationItems":[]}"#.to_vec(),
        br#"{"notificationItems":[{"Other":{}}]}"#.to_vec(),
        too_many,
    ] {
        let err = check(&body, &[adyen(ADYEN_KEY)]).unwrap_err();
        assert_eq!(err.code(), "payload_malformed", "{}", String::from_utf8_lossy(&body));
        assert_eq!(err.http_status(), 400);
    }
    assert_eq!(code(check(&at_limit, &[adyen(ADYEN_KEY)])), "ok");
}

#[test]
fn rotation_accepts_both_keys_until_the_old_one_is_retired() {
    let unsigned = fixture("adyen", "CAPTURE.json");
    let by_old = sign_adyen_body(ADYEN_KEY, &unsigned).unwrap();
    let by_new = sign_adyen_body(OTHER_KEY, &unsigned).unwrap();
    let overlap = [adyen(ADYEN_KEY), adyen(OTHER_KEY)];
    assert_eq!(check(&by_old, &overlap).unwrap().secret_index, 0);
    assert_eq!(check(&by_new, &overlap).unwrap().secret_index, 1);

    let retired = [adyen(OTHER_KEY)];
    assert_eq!(code(check(&by_old, &retired)), "signature_mismatch");
    assert_eq!(code(check(&by_new, &retired)), "ok");
}

#[test]
fn no_timestamp_is_signed_so_time_does_not_matter() {
    let body = fixture("adyen", "AUTHORISATION.json");
    let no_headers: Vec<(String, String)> = Vec::new();
    for now in [0, NOW, i64::MAX] {
        let result = verify(Provider::Adyen, &no_headers, &body, &[adyen(ADYEN_KEY)], now, 0);
        assert!(result.is_ok(), "now={now}: {result:?}");
    }
}

#[test]
fn no_active_secret_is_reported() {
    let body = fixture("adyen", "AUTHORISATION.json");
    assert_eq!(code(check(&body, &[])), "no_active_secret");
    let stripe_only = [secret(Provider::Stripe, "whsec_x")];
    assert_eq!(code(check(&body, &stripe_only)), "no_active_secret");
}

#[test]
fn invalid_hex_key_is_refused_at_creation() {
    assert!(WebhookSecret::new(Provider::Adyen, "whsec_not_hex").is_err());
    assert!(sign_adyen_item("zz", &documented_item()).is_err());
}
