//! Adyen: every notification item is signed on its own; all must verify.

use base64::Engine as _;
use hmac::Mac;
use serde_json::Value;

use super::SignatureError;
use crate::adyen_hmac::{adyen_signing_string, item_signature, notification_items};
use crate::mac;

/// Base64 of a 32-byte MAC is 44 characters; anything much longer is not a signature.
const MAX_SIGNATURE_B64_LEN: usize = 64;

/// Returns the index of the secret that verified the first item.
pub(super) fn verify(body: &[u8], secrets: &[(usize, &[u8])]) -> Result<usize, SignatureError> {
    // Parsed only to find the signed fields; parse() reads the same bytes with the same
    // parser, so both see the same values (duplicate keys included: last one wins).
    let root: Value = serde_json::from_slice(body).map_err(|_| SignatureError::PayloadMalformed("body is not JSON"))?;
    let items = notification_items(&root).map_err(|e| SignatureError::PayloadMalformed(e.reason()))?;
    let mut first_match = None;
    for item in items {
        let index = verify_item(item, secrets)?;
        first_match.get_or_insert(index);
    }
    // notification_items never returns an empty list; an unsigned empty batch must not pass.
    first_match.ok_or(SignatureError::PayloadMalformed("no notification items"))
}

fn verify_item(item: &Value, secrets: &[(usize, &[u8])]) -> Result<usize, SignatureError> {
    let signature_b64 = item_signature(item)
        .map_err(|()| SignatureError::HeaderMalformed("additionalData.hmacSignature is not a string"))?
        .ok_or(SignatureError::HeaderMissing("additionalData.hmacSignature"))?;
    let signature = decode_signature(signature_b64)?;
    let signing_string = adyen_signing_string(item)
        .ok_or(SignatureError::PayloadMalformed("a signed notification field is not a scalar"))?;
    secrets
        .iter()
        .find(|(_, key)| {
            let mut mac = mac::keyed(key);
            mac.update(signing_string.as_bytes());
            // verify_slice compares in constant time.
            mac.verify_slice(&signature).is_ok()
        })
        .map(|(index, _)| *index)
        .ok_or(SignatureError::Mismatch)
}

fn decode_signature(text: &str) -> Result<Vec<u8>, SignatureError> {
    let malformed = SignatureError::HeaderMalformed("hmacSignature is not base64 of 32 bytes");
    if text.len() > MAX_SIGNATURE_B64_LEN {
        return Err(malformed);
    }
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(malformed),
    }
}
