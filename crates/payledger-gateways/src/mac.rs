//! HMAC-SHA256 keyed with arbitrary-length keys, without a fallible constructor.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// SHA-256 block size; HMAC keys are normalised to exactly this length.
const BLOCK_LEN: usize = 64;

/// A MAC keyed with `key` of any length.
///
/// `Hmac::new_from_slice` never fails for HMAC but still returns a `Result`. Rather than
/// unwrap it, normalise the key the way RFC 2104 §2 does (hash if longer than a block,
/// zero-pad to a block) and use the infallible fixed-size constructor; the resulting MAC
/// is identical (checked in the tests below).
pub(crate) fn keyed(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; BLOCK_LEN];
    if key.len() <= BLOCK_LEN {
        block[..key.len()].copy_from_slice(key);
    } else {
        let hashed = Sha256::digest(key);
        block[..hashed.len()].copy_from_slice(&hashed);
    }
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

/// `HMAC-SHA256(key, parts[0] || parts[1] || ...)`.
pub(crate) fn sign(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_library_constructor_for_every_key_length() {
        for len in [0usize, 1, 31, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut reference = HmacSha256::new_from_slice(&key).unwrap();
            reference.update(b"message");
            let expected: [u8; 32] = reference.finalize().into_bytes().into();
            assert_eq!(sign(&key, &[b"mess", b"age"]), expected, "key length {len}");
        }
    }

    #[test]
    fn rfc4231_test_case_2() {
        let mac = sign(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
