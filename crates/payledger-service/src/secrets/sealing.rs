//! One secret sealed with AES-256-GCM: a fresh 96-bit nonce, then the ciphertext and its tag.
//! The secret's id is the associated data, so a sealed value copied onto another row does
//! not open there.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::master_key::MasterKey;

const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the secret could not be sealed")]
    Seal,
    /// Wrong key, another row's value, or altered bytes: GCM tells none of them apart.
    #[error("the sealed secret does not open under this master key")]
    Open,
}

/// The sealed form of `secret` for the row `secret_id`.
pub fn seal_secret(key: &MasterKey, secret_id: Uuid, secret: &str) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let payload = Payload { msg: secret.as_bytes(), aad: secret_id.as_bytes() };
    let ciphertext = cipher.encrypt(&nonce, payload).map_err(|_| SealError::Seal)?;
    let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// The secret sealed for `secret_id`.
pub fn open_secret(key: &MasterKey, secret_id: Uuid, sealed: &[u8]) -> Result<Zeroizing<String>, SealError> {
    if sealed.len() < NONCE_BYTES {
        return Err(SealError::Open);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()));
    let payload = Payload { msg: ciphertext, aad: secret_id.as_bytes() };
    let plain = Zeroizing::new(cipher.decrypt(Nonce::from_slice(nonce), payload).map_err(|_| SealError::Open)?);
    let text = std::str::from_utf8(&plain).map_err(|_| SealError::Open)?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_to_itself_and_does_not_contain_it() {
        let key = MasterKey::generate();
        let id = Uuid::now_v7();
        let sealed = seal_secret(&key, id, "whsec_plain_secret_value").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"whsec_"), "the plaintext shows through");
        assert_eq!(open_secret(&key, id, &sealed).unwrap().as_str(), "whsec_plain_secret_value");
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let (key, id) = (MasterKey::generate(), Uuid::now_v7());
        assert_ne!(seal_secret(&key, id, "s").unwrap(), seal_secret(&key, id, "s").unwrap());
    }

    #[test]
    fn another_key_another_row_or_a_flipped_bit_does_not_open() {
        let (key, id) = (MasterKey::generate(), Uuid::now_v7());
        let sealed = seal_secret(&key, id, "whsec_x").unwrap();
        assert!(matches!(open_secret(&MasterKey::generate(), id, &sealed), Err(SealError::Open)));
        assert!(matches!(open_secret(&key, Uuid::now_v7(), &sealed), Err(SealError::Open)));
        for byte in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[byte] ^= 0x01;
            assert!(matches!(open_secret(&key, id, &altered), Err(SealError::Open)), "byte {byte}");
        }
        assert!(matches!(open_secret(&key, id, &sealed[..5]), Err(SealError::Open)));
    }
}
