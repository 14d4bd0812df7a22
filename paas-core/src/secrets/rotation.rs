//! Rotating the key: every secret is sealed again with a new key, then the old key goes.
//!
//! Expected flow (`paas secrets rotate`, with the paas processes of the data dir stopped):
//! 1. [`Rotation::begin`]: with a key file, a new key is written to `secret.key.next` (0600,
//!    synced) — or the one already there is taken, when an earlier rotation stopped half way.
//!    With `PAAS_SECRET_KEY`, the operator has put the new key there and the old one in
//!    `PAAS_SECRET_KEY_PREVIOUS`.
//! 2. The caller seals everything again with [`Rotation::keys`]
//!    ([`crate::store::sql::SqlStore::reseal`]).
//! 3. [`Rotation::finish`]: the new key file replaces the old one (an atomic rename).
//!
//! Guarantees: a stop at any step loses nothing. Until step 3 the old key file is in place and
//! servers also load `secret.key.next` ([`super::Keyring::load`]), so rows under either key open;
//! running the command again finishes the same rotation.

use std::path::{Path, PathBuf};

use super::keyring::{KEY_FILE, NEXT_KEY_FILE};
use super::{KeyId, Keyring, SecretKey, SecretsError};

/// A rotation under way.
pub struct Rotation {
    keys: Keyring,
    /// `secret.key.next` → `secret.key` at the end, with a key file.
    promote: Option<(PathBuf, PathBuf)>,
}

impl Rotation {
    /// Starts (or resumes) a rotation of the keys of `data_dir`; see the module docs.
    pub fn begin(
        data_dir: &Path,
        env_key: Option<&str>,
        previous: &[String],
    ) -> Result<Self, SecretsError> {
        if env_key.is_some_and(|k| !k.trim().is_empty()) {
            return Ok(Self {
                keys: Keyring::load(data_dir, env_key, previous)?,
                promote: None,
            });
        }
        super::files::private_dir(data_dir)?;
        let file = data_dir.join(KEY_FILE);
        let next_file = data_dir.join(NEXT_KEY_FILE);
        let mut old = previous
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| SecretKey::parse(p, "PAAS_SECRET_KEY_PREVIOUS"))
            .collect::<Result<Vec<_>, _>>()?;
        if file.exists() {
            old.push(SecretKey::read_file(&file)?);
        }
        let next = if next_file.exists() {
            SecretKey::read_file(&next_file)?
        } else {
            let key = SecretKey::generate();
            key.write_new_file(&next_file)?;
            key
        };
        Ok(Self {
            keys: Keyring::new(next, old),
            promote: Some((next_file, file)),
        })
    }

    /// The keys to seal again with: the new key current, the old ones to open.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Makes the new key the only one: with a key file, it replaces the old file. Call once
    /// everything is sealed with [`Rotation::keys`].
    pub fn finish(self) -> Result<KeyId, SecretsError> {
        if let Some((next, file)) = &self.promote {
            std::fs::rename(next, file).map_err(|e| {
                SecretsError::io(
                    format!("moving {} to {}", next.display(), file.display()),
                    e,
                )
            })?;
            if let Some(dir) = file.parent() {
                // The rename is durable once the directory is synced.
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
        }
        Ok(self.keys.current_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_stopped_half_way_resumes_with_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = Keyring::load(dir.path(), None, &[]).expect("first key");
        let sealed = before.seal("c", "v");
        let first = Rotation::begin(dir.path(), None, &[]).expect("begin");
        let new_id = first.keys().current_id();
        assert_ne!(new_id, before.current_id());
        // Stopped here: a server start holds both keys, and a second run takes the same new key.
        let during = Keyring::load(dir.path(), None, &[]).expect("during");
        assert_eq!(during.open("c", &sealed).expect("old opens").plaintext, "v");
        assert!(
            during
                .open("c", &first.keys().seal("c", "w"))
                .expect("new opens")
                .stale
        );
        let again = Rotation::begin(dir.path(), None, &[]).expect("resume");
        assert_eq!(again.keys().current_id(), new_id);
        assert_eq!(again.finish().expect("finish"), new_id);
        let after = Keyring::load(dir.path(), None, &[]).expect("after");
        assert_eq!(after.current_id(), new_id);
        assert!(matches!(
            after.open("c", &sealed),
            Err(SecretsError::UnknownKey { .. })
        ));
        assert!(!dir.path().join(NEXT_KEY_FILE).exists());
    }
}
