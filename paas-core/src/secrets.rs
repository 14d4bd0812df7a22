//! Secrets at rest: env values, git tokens and queued changes that carry them are sealed with
//! XChaCha20-Poly1305 (authenticated: a changed byte or a wrong key is an error, never garbage)
//! before they reach the database or a shared cache.
//!
//! ## Layout
//! - [`key`]: [`SecretKey`] (32 bytes, never printed) and its [`KeyId`]; read from
//!   `PAAS_SECRET_KEY` or from the key file `<data-dir>/secret.key` (created 0600 on first start).
//! - [`keyring`]: [`Keyring`], the current key (seals) and older ones (open only), and the sealed
//!   text format `paas:v1:<key id>:<base64 nonce+ciphertext>`.
//! - [`rotation`]: `paas secrets rotate`, sealing everything again with a new key.
//! - [`files`]: the data dir 0700 and its files 0600.
//! - [`error`]: [`SecretsError`], typed: unknown key, tampered value, bad key text.
//!
//! ## Guarantees
//! - Each sealed value names the key that sealed it, so a rotation half done (some rows under the
//!   old key, some under the new) loses nothing: both keys open their own rows.
//! - A value is bound to where it is stored (`env:<app id>`, `git_token:<user id>`, …): moving a
//!   ciphertext to another row fails to open.
//! - Values stored by versions before encryption (plain text) are still read, and sealed at the
//!   next start ([`crate::store::sql::SqlStore::reseal`]).

pub mod error;
pub mod files;
pub mod key;
pub mod keyring;
pub mod rotation;

pub use error::SecretsError;
pub use key::{KeyId, SecretKey};
pub use keyring::{Keyring, Opened};
pub use rotation::Rotation;
