//! HTTPS for the router: a default certificate (`--tls-cert`/`--tls-key`, usually a wildcard
//! `*.<domain>`) and per-domain ones from a directory (`--tls-cert-dir`), picked by the name the
//! client asks for (SNI).
//!
//! Expected flow: [`Certificates::load`] at start (a bad file fails the start, naming it) →
//! [`acceptor`] for the listener → [`Certificates::reload`] on SIGHUP (a bad file then keeps
//! what was loaded and is logged). Lookup: the exact name, then the wildcard one level up
//! (`*.example.com` for `shop.example.com`), then the default.
//!
//! Files in the directory: `<domain>.crt` with `<domain>.key`, or `<domain>.pem` holding both
//! (a wildcard is named `*.<domain>.crt`). HTTP/2 is offered by ALPN (`h2`), then HTTP/1.1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("the key in {path} is not usable: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("--tls-cert and --tls-key go together")]
    Unpaired,
    #[error("HTTPS needs a certificate: --tls-cert and --tls-key, or --tls-cert-dir")]
    NoneGiven,
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificates the HTTPS listener serves; reloadable in place.
#[derive(Debug)]
pub struct Certificates {
    default_files: Option<(PathBuf, PathBuf)>,
    dir: Option<PathBuf>,
    loaded: RwLock<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl Certificates {
    /// Reads the default pair and the directory.
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        dir: Option<&Path>,
    ) -> Result<Arc<Self>, TlsError> {
        let default_files = match (cert, key) {
            (Some(c), Some(k)) => Some((c.to_path_buf(), k.to_path_buf())),
            (None, None) => None,
            _ => return Err(TlsError::Unpaired),
        };
        if default_files.is_none() && dir.is_none() {
            return Err(TlsError::NoneGiven);
        }
        let certs = Self {
            default_files,
            dir: dir.map(Path::to_path_buf),
            loaded: RwLock::new(Loaded::default()),
        };
        certs.reload()?;
        Ok(Arc::new(certs))
    }

    /// Reads every file again; on an error, what was loaded stays.
    pub fn reload(&self) -> Result<usize, TlsError> {
        let default = match &self.default_files {
            Some((cert, key)) => Some(Arc::new(certified(cert, key)?)),
            None => None,
        };
        let by_name = match &self.dir {
            Some(dir) => read_dir(dir)?,
            None => HashMap::new(),
        };
        let count = by_name.len() + usize::from(default.is_some());
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Loaded { default, by_name };
        }
        Ok(count)
    }

    fn find(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let loaded = self.loaded.read().ok()?;
        if let Some(name) = name.map(|n| n.trim_end_matches('.').to_ascii_lowercase()) {
            if let Some(c) = loaded.by_name.get(&name) {
                return Some(c.clone());
            }
            if let Some((_, parent)) = name.split_once('.')
                && let Some(c) = loaded.by_name.get(&format!("*.{parent}"))
            {
                return Some(c.clone());
            }
        }
        loaded.default.clone()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.find(hello.server_name())
    }
}

/// The TLS side of the HTTPS listener, serving `certs` (ring, TLS 1.2 and 1.3; ALPN h2 then
/// http/1.1).
pub fn acceptor(certs: Arc<Certificates>) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A chain and its key from PEM files (they may be one file).
fn certified(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| read_error(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_error(cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::BadKey {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let signing = ring::sign::any_supported_type(&der).map_err(|e| TlsError::BadKey {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(CertifiedKey::new(chain, signing))
}

/// Every `<name>.crt` + `<name>.key` (or `<name>.pem`) of `dir`, by name.
fn read_dir(dir: &Path) -> Result<HashMap<String, Arc<CertifiedKey>>, TlsError> {
    let mut found = HashMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| read_error(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| read_error(dir, e))?.path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        let key = match ext {
            "crt" => path.with_extension("key"),
            // A `.pem` holds the key too, unless a `.key` sits beside it.
            "pem" if !path.with_extension("crt").exists() => {
                let beside = path.with_extension("key");
                if beside.exists() {
                    beside
                } else {
                    path.clone()
                }
            }
            _ => continue,
        };
        let name = stem.trim_end_matches('.').to_ascii_lowercase();
        found.insert(name, Arc::new(certified(&path, &key)?));
    }
    Ok(found)
}
