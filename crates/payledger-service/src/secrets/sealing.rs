//! One secret sealed with AES-256-GCM: a fresh 96-bit nonce, then the ciphertext and its tag.
//! The secret's id and its endpoint's id are the associated data, so a sealed value copied
//! onto another row, or a row moved to another endpoint, does not open.

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

/// Which row a sealed secret belongs to: its id and its endpoint's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRow {
    pub secret_id: Uuid,
    pub endpoint_id: Uuid,
}

impl SecretRow {
    fn associated_data(self) -> [u8; 32] {
        let mut aad = [0u8; 32];
        aad[..16].copy_from_slice(self.secret_id.as_bytes());
        aad[16..].copy_from_slice(self.endpoint_id.as_bytes());
        aad
    }
}

/// The sealed form of `secret` for `row`.
pub fn seal_secret(key: &MasterKey, row: SecretRow, secret: &str) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = row.associated_data();
    let payload = Payload { msg: secret.as_bytes(), aad: &aad };
    let ciphertext = cipher.encrypt(&nonce, payload).map_err(|_| SealError::Seal)?;
    let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// The secret sealed for `row`.
pub fn open_secret(key: &MasterKey, row: SecretRow, sealed: &[u8]) -> Result<Zeroizing<String>, SealError> {
    if sealed.len() < NONCE_BYTES {
        return Err(SealError::Open);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()));
    let aad = row.associated_data();
    let payload = Payload { msg: ciphertext, aad: &aad };
    let plain = Zeroizing::new(cipher.decrypt(Nonce::from_slice(nonce), payload).map_err(|_| SealError::Open)?);
    let text = std::str::from_utf8(&plain).map_err(|_| SealError::Open)?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SecretRow {
        SecretRow { secret_id: Uuid::now_v7(), endpoint_id: Uuid::now_v7() }
    }

    #[test]
    fn a_sealed_secret_opens_to_itself_and_does_not_contain_it() {
        let key = MasterKey::generate();
        let id = row();
        let sealed = seal_secret(&key, id, "whsec_plain_secret_value").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"whsec_"), "the plaintext shows through");
        assert_eq!(open_secret(&key, id, &sealed).unwrap().as_str(), "whsec_plain_secret_value");
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let (key, id) = (MasterKey::generate(), row());
        assert_ne!(seal_secret(&key, id, "s").unwrap(), seal_secret(&key, id, "s").unwrap());
    }

    #[test]
    fn another_key_another_row_another_endpoint_or_a_flipped_bit_does_not_open() {
        let (key, id) = (MasterKey::generate(), row());
        let sealed = seal_secret(&key, id, "whsec_x").unwrap();
        assert!(matches!(open_secret(&MasterKey::generate(), id, &sealed), Err(SealError::Open)));
        let other_row = SecretRow { secret_id: Uuid::now_v7(), ..id };
        assert!(matches!(open_secret(&key, other_row, &sealed), Err(SealError::Open)));
        let other_endpoint = SecretRow { endpoint_id: Uuid::now_v7(), ..id };
        assert!(matches!(open_secret(&key, other_endpoint, &sealed), Err(SealError::Open)));
        for byte in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[byte] ^= 0x01;
            assert!(matches!(open_secret(&key, id, &altered), Err(SealError::Open)), "byte {byte}");
        }
        assert!(matches!(open_secret(&key, id, &sealed[..5]), Err(SealError::Open)));
    }
}
