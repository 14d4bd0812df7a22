//! [`SecretKey`]: 32 random bytes, written as 64 hex digits (key files, `PAAS_SECRET_KEY`;
//! base64 is accepted too). `Debug` and `Display` print only its [`KeyId`].

use std::fmt;
use std::path::Path;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::SecretsError;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// A key that seals secrets. Never printed: `Debug`/`Display` show its id.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

/// Names a key without revealing it: the first 8 hex digits of a SHA-256 of the key. Stored in
/// every sealed value, so the right key is found and a wrong one is named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// A key id read from sealed text: 8 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads a key written as 64 hex digits or as base64 of 32 bytes (surrounding space is
    /// ignored). `origin` names where it came from, for the error.
    pub fn parse(text: &str, origin: &str) -> Result<Self, SecretsError> {
        let text = text.trim();
        let bad = |why: &str| SecretsError::BadKey {
            origin: origin.to_owned(),
            why: why.to_owned(),
        };
        let bytes = if text.len() == 2 * KEY_LEN {
            hex::decode(text).map_err(|_| bad("64 characters, but not hex"))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
                .map_err(|_| bad("expected 64 hex digits or base64 of 32 bytes"))?
        };
        let bytes: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| bad("a key is 32 bytes (64 hex digits)"))?;
        Ok(Self(bytes))
    }

    /// Reads a key file.
    pub fn read_file(path: &Path) -> Result<Self, SecretsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Writes the key to a new file, 0600 from its creation, synced to disk before it is used.
    /// Fails if the file exists (a key is never overwritten by accident).
    pub fn write_new_file(&self, path: &Path) -> Result<(), SecretsError> {
        use std::io::Write;
        let mut f = super::files::create_private(path)?;
        f.write_all(format!("{}\n", self.to_hex()).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| SecretsError::io(format!("writing {}", path.display()), e))
    }

    /// The key as 64 hex digits: what key files and `PAAS_SECRET_KEY` hold.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(b"paas secret key id\0")
            .chain_update(self.0)
            .finalize();
        KeyId(hex::encode(&digest[..4]))
    }

    pub(super) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id())
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {}", self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_hex_and_base64_and_refuse_the_rest() {
        let key = SecretKey::generate();
        assert_eq!(
            SecretKey::parse(&key.to_hex(), "t").expect("hex"),
            key.clone()
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.bytes());
        assert_eq!(SecretKey::parse(&b64, "t").expect("base64"), key);
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(31)] {
            assert!(
                matches!(SecretKey::parse(bad, "t"), Err(SecretsError::BadKey { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn printing_shows_the_id_only() {
        let key = SecretKey::generate();
        let printed = format!("{key:?} {key}");
        assert!(!printed.contains(&key.to_hex()));
        assert!(printed.contains(key.id().as_str()));
        assert_ne!(key.id(), SecretKey::generate().id());
    }
}
