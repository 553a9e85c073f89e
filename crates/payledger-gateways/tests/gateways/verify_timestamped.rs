//! stripe and generic share one scheme; every test runs for both.

use payledger_gateways::signing::{sign_stripe_header, stripe_v1_signature};
use payledger_gateways::{verify, Provider, SignatureError, Verified, WebhookSecret};

use crate::support::{fixture, header_name, secret, NOW, STRIPE_SECRET, TOLERANCE};

const PROVIDERS: [Provider; 2] = [Provider::Stripe, Provider::Generic];

fn body() -> Vec<u8> {
    fixture("stripe", "payment_intent.succeeded.json")
}

fn check(provider: Provider, header: &str, body: &[u8], secrets: &[WebhookSecret]) -> Result<Verified, SignatureError> {
    let headers = vec![(header_name(provider), header.to_owned())];
    verify(provider, &headers, body, secrets, NOW, TOLERANCE)
}

fn code(result: Result<Verified, SignatureError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn correctly_signed_delivery_verifies() {
    for p in PROVIDERS {
        let body = body();
        let header = sign_stripe_header(STRIPE_SECRET, NOW - 10, &body);
        let verified = check(p, &header, &body, &[secret(p, STRIPE_SECRET)]).unwrap();
        assert_eq!(verified, Verified { provider: p, secret_index: 0, signed_at_unix_s: Some(NOW - 10) });
    }
}

#[test]
fn header_names_are_case_insensitive() {
    for p in PROVIDERS {
        let body = body();
        let header = sign_stripe_header(STRIPE_SECRET, NOW, &body);
        let headers = [(header_name(p).to_ascii_lowercase(), header)];
        let result = verify(p, &headers, &body, &[secret(p, STRIPE_SECRET)], NOW, TOLERANCE);
        assert!(result.is_ok(), "{p}: {result:?}");
    }
}

#[test]
fn wrong_secret_is_a_mismatch() {
    for p in PROVIDERS {
        let body = body();
        let header = sign_stripe_header("whsec_someone_else", NOW, &body);
        let err = check(p, &header, &body, &[secret(p, STRIPE_SECRET)]).unwrap_err();
        assert_eq!(err.code(), "signature_mismatch");
        assert_eq!(err.http_status(), 401);
    }
}

#[test]
fn one_changed_body_byte_is_a_mismatch() {
    for p in PROVIDERS {
        let body = body();
        let header = sign_stripe_header(STRIPE_SECRET, NOW, &body);
        // The amount: "amount_received": 2000 -> 3000.
        let at = body.windows(6).position(|w| w == b"2000,\n").unwrap();
        let mut changed = body.clone();
        changed[at] = b'3';
        assert_eq!(code(check(p, &header, &changed, &[secret(p, STRIPE_SECRET)])), "signature_mismatch");
    }
}

#[test]
fn stale_or_future_timestamps_are_refused_after_the_mac_checks_out() {
    for p in PROVIDERS {
        let body = body();
        let secrets = [secret(p, STRIPE_SECRET)];
        for (t, expected) in [
            (NOW - TOLERANCE, "ok"),
            (NOW + TOLERANCE, "ok"),
            (NOW - TOLERANCE - 1, "signature_timestamp_stale"),
            (NOW + TOLERANCE + 1, "signature_timestamp_stale"),
            (0, "signature_timestamp_stale"),
        ] {
            let header = sign_stripe_header(STRIPE_SECRET, t, &body);
            assert_eq!(code(check(p, &header, &body, &secrets)), expected, "{p} t={t}");
        }
        let stale = check(p, &sign_stripe_header(STRIPE_SECRET, NOW - 301, &body), &body, &secrets);
        assert_eq!(stale, Err(SignatureError::TimestampStale { skew_s: 301 }));
        assert_eq!(stale.unwrap_err().http_status(), 401);
        // A forged old delivery reports the mismatch, not staleness.
        let forged = sign_stripe_header("whsec_forger", 0, &body);
        assert_eq!(code(check(p, &forged, &body, &secrets)), "signature_mismatch");
    }
}

#[test]
fn missing_header_is_reported() {
    for p in PROVIDERS {
        let body = body();
        let secrets = [secret(p, STRIPE_SECRET)];
        let none: Vec<(String, String)> = Vec::new();
        let err = verify(p, &none, &body, &secrets, NOW, TOLERANCE).unwrap_err();
        assert_eq!(err.code(), "signature_header_missing");
        assert_eq!(err.http_status(), 400);
    }
    // Each scheme reads only its own header.
    let body = body();
    let header = sign_stripe_header(STRIPE_SECRET, NOW, &body);
    let stripe_only = [("Stripe-Signature", header.as_str())];
    let err =
        verify(Provider::Generic, &stripe_only, &body, &[secret(Provider::Generic, STRIPE_SECRET)], NOW, TOLERANCE)
            .unwrap_err();
    assert_eq!(err, SignatureError::HeaderMissing("Payledger-Signature"));
}

#[test]
fn malformed_header_is_reported() {
    for p in PROVIDERS {
        let body = body();
        let secrets = [secret(p, STRIPE_SECRET)];
        let good = stripe_v1_signature(STRIPE_SECRET, NOW, &body);
        for header in [
            "garbage".to_owned(),
            format!("v1={good}"),
            format!("t={NOW}"),
            format!("t=yesterday,v1={good}"),
            format!("t={NOW},v1=not-hex"),
        ] {
            let err = check(p, &header, &body, &secrets).unwrap_err();
            assert_eq!(err.code(), "signature_header_malformed", "{header}");
            assert_eq!(err.http_status(), 400);
        }
    }
}

#[test]
fn any_of_several_v1_signatures_may_match() {
    for p in PROVIDERS {
        let body = body();
        let wrong = stripe_v1_signature("whsec_other", NOW, &body);
        let right = stripe_v1_signature(STRIPE_SECRET, NOW, &body);
        let header = format!("t={NOW},v1={wrong},v0={wrong},v1={right}");
        assert_eq!(code(check(p, &header, &body, &[secret(p, STRIPE_SECRET)])), "ok");
        // A v0 (test-mode scheme) signature alone is never trusted.
        let v0_only = format!("t={NOW},v0={right},v1={wrong}");
        assert_eq!(code(check(p, &v0_only, &body, &[secret(p, STRIPE_SECRET)])), "signature_mismatch");
    }
}

#[test]
fn rotation_accepts_both_secrets_until_the_old_one_is_retired() {
    for p in PROVIDERS {
        let body = body();
        let (old, new) = ("whsec_old_secret", "whsec_new_secret");
        let overlap = [secret(p, old), secret(p, new)];
        let by_old = sign_stripe_header(old, NOW, &body);
        let by_new = sign_stripe_header(new, NOW, &body);
        assert_eq!(check(p, &by_old, &body, &overlap).unwrap().secret_index, 0);
        assert_eq!(check(p, &by_new, &body, &overlap).unwrap().secret_index, 1);
        let both = format!("{by_new},v1={}", stripe_v1_signature(old, NOW, &body));
        assert!(check(p, &both, &body, &overlap).is_ok());

        let retired = [secret(p, new)];
        assert_eq!(code(check(p, &by_old, &body, &retired)), "signature_mismatch");
        assert_eq!(check(p, &by_new, &body, &retired).unwrap().secret_index, 0);
    }
}

#[test]
fn no_active_secret_is_reported() {
    for p in PROVIDERS {
        let body = body();
        let header = sign_stripe_header(STRIPE_SECRET, NOW, &body);
        assert_eq!(code(check(p, &header, &body, &[])), "no_active_secret");
        // A secret registered for another provider does not count.
        let other = [secret(Provider::Adyen, "00ff")];
        assert_eq!(code(check(p, &header, &body, &other)), "no_active_secret");
    }
}
