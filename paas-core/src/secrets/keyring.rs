//! [`Keyring`]: seals with the current key, opens with any key it holds.
//!
//! Sealed text: `paas:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, XChaCha20-Poly1305
//! with a random 192-bit nonce and the value's place (`env:<app id>`…) as associated data.
//! Text without the `paas:v1:` prefix is a value stored before encryption existed: it is read
//! as it is and reported stale, so it gets sealed.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::{KeyId, SecretKey, SecretsError};

/// What every sealed value starts with.
const PREFIX: &str = "paas:v1:";
const NONCE_LEN: usize = 24;

/// The key file in the data dir, used when `PAAS_SECRET_KEY` is not set.
pub const KEY_FILE: &str = "secret.key";
/// The new key of a rotation under way; read as an extra key until the rotation ends.
pub const NEXT_KEY_FILE: &str = "secret.key.next";

/// A value opened from the store.
#[derive(PartialEq, Eq)]
pub struct Opened {
    pub plaintext: String,
    /// Plain text from an older version, or sealed with a key other than the current one: it
    /// should be sealed again.
    pub stale: bool,
}

/// The keys of this process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Keyring {
    inner: Arc<Keys>,
}

#[derive(Debug)]
struct Keys {
    /// Seals every new value.
    current: SecretKey,
    /// Open only: earlier keys, during and after a rotation until everything is sealed again.
    others: Vec<SecretKey>,
}

impl Keyring {
    pub fn new(current: SecretKey, others: Vec<SecretKey>) -> Self {
        let others = others
            .into_iter()
            .filter(|k| k.id() != current.id())
            .collect();
        Self {
            inner: Arc::new(Keys { current, others }),
        }
    }

    /// A random key held in memory only: for tests and tools that store no secrets.
    pub fn ephemeral() -> Self {
        Self::new(SecretKey::generate(), Vec::new())
    }

    /// The keys of a server: `env_key` (`PAAS_SECRET_KEY`) if given, else the key file of
    /// `data_dir`, created 0600 on first start. `previous` keys (`PAAS_SECRET_KEY_PREVIOUS`) and
    /// the new key of an unfinished rotation are held to open older values.
    pub fn load(
        data_dir: &Path,
        env_key: Option<&str>,
        previous: &[String],
    ) -> Result<Self, SecretsError> {
        let mut others = previous
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| SecretKey::parse(p, "PAAS_SECRET_KEY_PREVIOUS"))
            .collect::<Result<Vec<_>, _>>()?;
        // A key in the environment is the key: the key file is not read, so a wrong key is
        // reported, never silently made the new one (to move from the file to the
        // environment, give the file's key in `PAAS_SECRET_KEY_PREVIOUS` once).
        let current = match env_key.filter(|k| !k.trim().is_empty()) {
            Some(text) => SecretKey::parse(text, "PAAS_SECRET_KEY")?,
            None => read_or_create(&data_dir.join(KEY_FILE))?,
        };
        let next = data_dir.join(NEXT_KEY_FILE);
        if next.exists() {
            others.push(SecretKey::read_file(&next)?);
        }
        Ok(Self::new(current, others))
    }

    pub fn current_id(&self) -> KeyId {
        self.inner.current.id()
    }

    /// The ids of every key held, current first, for messages.
    pub fn ids(&self) -> String {
        std::iter::once(&self.inner.current)
            .chain(&self.inner.others)
            .map(|k| k.id().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Seals `plaintext` with the current key, bound to `context` (where it is stored).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let key = &self.inner.current;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(&Key::from(*key.bytes()));
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for messages over 256 GiB; values are bounded far below.
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id(), URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens a stored value: sealed text with the key it names, or plain text of an older
    /// version as it is.
    pub fn open(&self, context: &str, stored: &str) -> Result<Opened, SecretsError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(Opened {
                plaintext: stored.to_owned(),
                stale: true,
            });
        };
        let malformed = || SecretsError::Malformed {
            context: context.to_owned(),
        };
        let (id, body) = rest.split_once(':').ok_or_else(malformed)?;
        let id = KeyId::parse(id).ok_or_else(malformed)?;
        let key = self.key(&id).ok_or_else(|| SecretsError::UnknownKey {
            found: id.clone(),
            known: self.ids(),
            context: context.to_owned(),
        })?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| malformed())?;
        if bytes.len() < NONCE_LEN {
            return Err(malformed());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| malformed())?;
        let cipher = XChaCha20Poly1305::new(&Key::from(*key.bytes()));
        let tampered = || SecretsError::Tampered {
            key: id.clone(),
            context: context.to_owned(),
        };
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| tampered())?;
        Ok(Opened {
            plaintext: String::from_utf8(plain).map_err(|_| tampered())?,
            stale: id != self.inner.current.id(),
        })
    }

    fn key(&self, id: &KeyId) -> Option<&SecretKey> {
        std::iter::once(&self.inner.current)
            .chain(&self.inner.others)
            .find(|k| &k.id() == id)
    }
}

/// The key file's key, or a new one written 0600.
fn read_or_create(file: &Path) -> Result<SecretKey, SecretsError> {
    if file.exists() {
        return SecretKey::read_file(file);
    }
    let key = SecretKey::generate();
    match key.write_new_file(file) {
        Ok(()) => {
            tracing::info!(file = %file.display(), key = %key.id(), "created the secret key");
            Ok(key)
        }
        // Another process of this data dir wrote it first: use theirs.
        Err(SecretsError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            SecretKey::read_file(file)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_and_nothing_else_opens() {
        let ring = Keyring::ephemeral();
        let sealed = ring.seal("env:a", "hunter2-value");
        assert!(sealed.starts_with("paas:v1:"));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, ring.seal("env:a", "hunter2-value"), "nonces differ");
        let opened = ring.open("env:a", &sealed).expect("opens");
        assert_eq!(opened.plaintext, "hunter2-value");
        assert!(!opened.stale);
        // Another place, another key, a flipped byte: typed errors, never garbage.
        assert!(matches!(
            ring.open("env:b", &sealed),
            Err(SecretsError::Tampered { .. })
        ));
        assert!(matches!(
            Keyring::ephemeral().open("env:a", &sealed),
            Err(SecretsError::UnknownKey { .. })
        ));
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert!(ring.open("env:a", &flipped).is_err());
    }

    #[test]
    fn older_keys_and_plain_text_open_as_stale() {
        let old = SecretKey::generate();
        let before = Keyring::new(old.clone(), vec![]).seal("t", "v");
        let ring = Keyring::new(SecretKey::generate(), vec![old]);
        let opened = ring.open("t", &before).expect("old key opens");
        assert!(opened.stale && opened.plaintext == "v");
        let legacy = ring.open("t", "{\"A\":\"1\"}").expect("plain");
        assert!(legacy.stale && legacy.plaintext == "{\"A\":\"1\"}");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Keyring::load(dir.path(), None, &[]).expect("created");
        let meta = std::fs::metadata(dir.path().join(KEY_FILE)).expect("file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let b = Keyring::load(dir.path(), None, &[]).expect("read");
        assert_eq!(a.current_id(), b.current_id());
        let env = SecretKey::generate();
        let c = Keyring::load(dir.path(), Some(&env.to_hex()), &[]).expect("env");
        assert_eq!(c.current_id(), env.id());
        let sealed = a.seal("x", "y");
        assert!(matches!(
            c.open("x", &sealed),
            Err(SecretsError::UnknownKey { .. })
        ));
        let file_key = std::fs::read_to_string(dir.path().join(KEY_FILE)).expect("key");
        let d = Keyring::load(dir.path(), Some(&env.to_hex()), &[file_key]).expect("previous");
        assert!(d.open("x", &sealed).expect("previous key opens").stale);
        assert!(matches!(
            Keyring::load(dir.path(), Some("short"), &[]),
            Err(SecretsError::BadKey { .. })
        ));
    }
}
