//! The master key: 32 random bytes, written as 64 hexadecimal characters.

use std::fmt;
use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of the key's text form: 32 bytes in hexadecimal.
pub const MASTER_KEY_HEX_CHARS: usize = 64;
/// Hexadecimal characters of a key's id (64 bits of its digest).
const KEY_ID_HEX_CHARS: usize = 16;
/// Largest key file read (the key, a newline, some slack).
const KEY_FILE_MAX_BYTES: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "a master key is {MASTER_KEY_HEX_CHARS} hexadecimal characters (32 bytes); this one is {chars} characters"
    )]
    WrongLength { chars: usize },
    #[error("a master key is hexadecimal (0-9, a-f): {0}")]
    NotHex(String),
    #[error("cannot read the master key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("give the master key by PAYLEDGER_MASTER_KEY or PAYLEDGER_MASTER_KEY_FILE, not both")]
    BothGiven,
}

/// The key that seals webhook secrets. Its bytes are wiped when dropped and never printed.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl MasterKey {
    /// Parses the text form (surrounding whitespace, such as a file's newline, is ignored).
    pub fn parse_hex(text: &str) -> Result<MasterKey, MasterKeyError> {
        let text = text.trim();
        let chars = text.chars().count();
        if chars != MASTER_KEY_HEX_CHARS {
            return Err(MasterKeyError::WrongLength { chars });
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, bytes.as_mut()).map_err(|e| MasterKeyError::NotHex(e.to_string()))?;
        Ok(MasterKey::from_bytes(bytes))
    }

    /// Reads the key from a file holding its text form.
    pub fn read_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let file_error = |reason: String| MasterKeyError::File { path: path.display().to_string(), reason };
        let length = std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?.len();
        if length > KEY_FILE_MAX_BYTES {
            return Err(file_error(format!("{length} bytes; a key file holds {MASTER_KEY_HEX_CHARS} characters")));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?);
        MasterKey::parse_hex(&text)
    }

    /// The key given by value or by file (at most one of them), if any.
    pub fn from_value_or_file(value: Option<&str>, file: Option<&Path>) -> Result<Option<MasterKey>, MasterKeyError> {
        match (value, file) {
            (Some(_), Some(_)) => Err(MasterKeyError::BothGiven),
            (Some(value), None) => MasterKey::parse_hex(value).map(Some),
            (None, Some(file)) => MasterKey::read_file(file).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// A new random key (the operating system's generator).
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        MasterKey::from_bytes(bytes)
    }

    /// The text form, for writing a new key once to a file the operator keeps.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.bytes.as_ref()))
    }

    /// Names the key without revealing it: stored beside each secret it sealed, so a
    /// server given another key says so instead of failing every verification.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> MasterKey {
        let digest = Sha256::new().chain_update(b"payledger master key id\0").chain_update(bytes.as_ref()).finalize();
        let mut id = hex::encode(digest);
        id.truncate(KEY_ID_HEX_CHARS);
        MasterKey { bytes, id }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parses_64_hex_characters_and_ignores_the_newline_of_a_file() {
        let key = MasterKey::parse_hex(&format!("{KEY}\n")).unwrap();
        assert_eq!(key.bytes()[31], 0x1f);
        assert_eq!(key.to_hex().as_str(), KEY);
        assert_eq!(key.id().len(), KEY_ID_HEX_CHARS);
    }

    #[test]
    fn refuses_a_short_a_long_and_a_non_hex_key() {
        assert!(matches!(MasterKey::parse_hex(&KEY[..62]), Err(MasterKeyError::WrongLength { chars: 62 })));
        assert!(matches!(MasterKey::parse_hex(&format!("{KEY}00")), Err(MasterKeyError::WrongLength { chars: 66 })));
        let not_hex = format!("{}zz", &KEY[..62]);
        assert!(matches!(MasterKey::parse_hex(&not_hex), Err(MasterKeyError::NotHex(_))));
        assert!(matches!(MasterKey::parse_hex(&"é".repeat(64)), Err(MasterKeyError::NotHex(_))));
    }

    #[test]
    fn the_id_differs_between_keys_and_the_debug_form_shows_only_the_id() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        assert_ne!(a.id(), b.id());
        assert_eq!(MasterKey::parse_hex(&a.to_hex()).unwrap().id(), a.id());
        let shown = format!("{a:?}");
        assert!(shown.contains(a.id()) && !shown.contains(a.to_hex().as_str()));
    }

    #[test]
    fn value_and_file_are_exclusive() {
        let both = MasterKey::from_value_or_file(Some(KEY), Some(Path::new("/nonexistent")));
        assert!(matches!(both, Err(MasterKeyError::BothGiven)));
        assert!(MasterKey::from_value_or_file(None, None).unwrap().is_none());
        let missing = MasterKey::from_value_or_file(None, Some(Path::new("/nonexistent/key")));
        assert!(matches!(missing, Err(MasterKeyError::File { .. })));
    }
}
