//! The Stripe signature scheme, shared by `stripe` and `generic`:
//! `t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 over `"{t}.{raw body}"`.

use hmac::Mac;

use super::SignatureError;
use crate::limits::{MAX_SIGNATURE_HEADER_LEN, MAX_V1_SIGNATURES};
use crate::mac;

/// Longest accepted `t=` value; 12 digits reach year 33658.
const MAX_TIMESTAMP_DIGITS: usize = 12;
/// Hex length of one HMAC-SHA256.
const V1_HEX_LEN: usize = 64;

pub(super) struct Window {
    pub now_unix_s: i64,
    pub tolerance_s: i64,
}

struct ParsedHeader<'h> {
    /// The timestamp exactly as sent: that is what the sender signed.
    timestamp_text: &'h str,
    timestamp: i64,
    v1: Vec<[u8; 32]>,
}

/// Returns the index of the verifying secret and the signed timestamp.
pub(super) fn verify(
    header: &str,
    body: &[u8],
    secrets: &[(usize, &[u8])],
    window: Window,
) -> Result<(usize, i64), SignatureError> {
    let parsed = parse_header(header)?;
    let secret_index = secrets
        .iter()
        .find(|(_, key)| matches_any(key, &parsed, body))
        .map(|(index, _)| *index)
        .ok_or(SignatureError::Mismatch)?;
    let skew_s = window.now_unix_s.saturating_sub(parsed.timestamp);
    if skew_s.unsigned_abs() > window.tolerance_s.max(0).unsigned_abs() {
        return Err(SignatureError::TimestampStale { skew_s });
    }
    Ok((secret_index, parsed.timestamp))
}

fn matches_any(key: &[u8], parsed: &ParsedHeader<'_>, body: &[u8]) -> bool {
    let mut mac = mac::keyed(key);
    mac.update(parsed.timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    // verify_slice compares in constant time.
    parsed.v1.iter().any(|signature| mac.clone().verify_slice(signature).is_ok())
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, SignatureError> {
    use SignatureError::HeaderMalformed as Malformed;
    if header.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(Malformed("header too long"));
    }
    let mut timestamp: Option<(&str, i64)> = None;
    let mut v1 = Vec::new();
    for element in header.split(',') {
        let (key, value) =
            element.trim().split_once('=').ok_or(Malformed("expected comma-separated key=value pairs"))?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(Malformed("more than one t= timestamp"));
                }
                timestamp = Some((value, parse_timestamp(value)?));
            }
            "v1" => {
                if v1.len() == MAX_V1_SIGNATURES {
                    return Err(Malformed("too many v1 signatures"));
                }
                let mut signature = [0u8; 32];
                if value.len() != V1_HEX_LEN || hex::decode_to_slice(value, &mut signature).is_err() {
                    return Err(Malformed("v1 signature is not 64 hex characters"));
                }
                v1.push(signature);
            }
            // Other schemes (v0 is Stripe's test-mode scheme) are not trusted.
            _ => {}
        }
    }
    let (timestamp_text, timestamp) = timestamp.ok_or(Malformed("no t= timestamp"))?;
    if v1.is_empty() {
        return Err(Malformed("no v1 signature"));
    }
    Ok(ParsedHeader { timestamp_text, timestamp, v1 })
}

fn parse_timestamp(text: &str) -> Result<i64, SignatureError> {
    let digits_only =
        !text.is_empty() && text.len() <= MAX_TIMESTAMP_DIGITS && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return Err(SignatureError::HeaderMalformed("t= is not a unix timestamp in seconds"));
    }
    text.parse().map_err(|_| SignatureError::HeaderMalformed("t= is not a unix timestamp in seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "7bfbbface0aafcb443f2b34e9ba47cb0e04b6343d9be466366cae2af65b099e9";

    fn code(header: &str) -> &'static str {
        match parse_header(header) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn accepts_the_stripe_format_and_ignores_other_schemes() {
        let header = format!("t=1680800504,v1={SIG},v0=deadbeef, v1={SIG}");
        let parsed = parse_header(&header).unwrap();
        assert_eq!(parsed.timestamp, 1_680_800_504);
        assert_eq!(parsed.timestamp_text, "1680800504");
        assert_eq!(parsed.v1.len(), 2);
    }

    #[test]
    fn rejects_malformed_headers() {
        for header in [
            "",
            "garbage",
            &format!("v1={SIG}"),
            "t=1680800504",
            "t=1680800504,v0=abc",
            &format!("t=abc,v1={SIG}"),
            &format!("t=-5,v1={SIG}"),
            &format!("t=1,t=2,v1={SIG}"),
            "t=1,v1=zz",
            &format!("t=1,v1={SIG}00"),
            &format!("t=1,v1={SIG},"),
            &format!("t=1,{}", vec![format!("v1={SIG}"); MAX_V1_SIGNATURES + 1].join(",")),
            &format!("t=1,v1={SIG},v0={}", "a".repeat(MAX_SIGNATURE_HEADER_LEN)),
        ] {
            assert_eq!(code(header), "signature_header_malformed", "{header:?}");
        }
        let most = format!("t=1,{}", vec![format!("v1={SIG}"); MAX_V1_SIGNATURES].join(","));
        assert_eq!(code(&most), "ok");
    }

    #[test]
    fn matches_an_independently_computed_signature() {
        // python3: hmac.new(b"whsec_test_secret", b'1680800504.{"id":"evt_test"}', sha256)
        let header = format!("t=1680800504,v1={SIG}");
        let key: &[u8] = b"whsec_test_secret";
        let window = Window { now_unix_s: 1_680_800_504, tolerance_s: 300 };
        assert_eq!(verify(&header, br#"{"id":"evt_test"}"#, &[(3, key)], window), Ok((3, 1_680_800_504)));
    }
}
