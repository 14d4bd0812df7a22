//! The router's own settings: its timeouts and body limit (apart from the API's: apps take
//! uploads the API never does), its access log and its TLS files. Defaults are written here
//! once; `Config` reads them from [`RouterSettings::default`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What [`super::serve`] and the proxy need besides the route table.
#[derive(Clone, Debug, PartialEq)]
pub struct RouterSettings {
    /// How long a client may take to send a request's head once it started it (slowloris).
    pub header_timeout: Duration,
    /// How long a connection may stay open with no request in flight and no byte moving. An
    /// upgraded connection (websocket) is the app's: it is bounded by the app and the drain.
    pub idle_timeout: Duration,
    /// Bytes of a request body; a bigger `Content-Length` is answered 413 before the app is
    /// asked, and a body that grows past it is cut.
    pub max_body_bytes: u64,
    /// Headers of one request; more are answered 431.
    pub max_headers: usize,
    /// Bytes of one request's headers (names and values); more are answered 431.
    pub max_header_bytes: usize,
    /// Which requests get an access line in their app's log (`ROUTER` stream).
    pub access_log: AccessLog,
    /// The HTTPS listener, if any.
    pub tls_listen: Option<SocketAddr>,
    /// The default certificate chain and key (PEM), e.g. a wildcard `*.<domain>`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Per-domain certificates, `<domain>.crt`/`<domain>.key` (or `.pem`), picked by SNI.
    pub tls_cert_dir: Option<PathBuf>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_body_bytes: 100 * 1024 * 1024,
            max_headers: 100,
            max_header_bytes: 32 * 1024,
            access_log: AccessLog::Off,
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            tls_cert_dir: None,
        }
    }
}

/// Which requests are written to their app's log: `off`, `all`, or a sample rate in (0, 1]
/// (`0.1`: one request in ten, on average).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AccessLog {
    #[default]
    Off,
    All,
    Sample(f64),
}

impl AccessLog {
    /// Whether this request gets a line (`roll` is uniform in [0, 1)).
    pub fn wants(self, roll: f64) -> bool {
        match self {
            AccessLog::Off => false,
            AccessLog::All => true,
            AccessLog::Sample(rate) => roll < rate,
        }
    }
}

impl TryFrom<String> for AccessLog {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.trim() {
            "off" | "" => Ok(AccessLog::Off),
            "all" => Ok(AccessLog::All),
            other => match other.parse::<f64>() {
                Ok(rate) if rate > 0.0 && rate <= 1.0 => Ok(AccessLog::Sample(rate)),
                _ => Err(format!(
                    "{other:?} is not `off`, `all` or a sample rate in (0, 1]"
                )),
            },
        }
    }
}

impl From<AccessLog> for String {
    fn from(a: AccessLog) -> Self {
        match a {
            AccessLog::Off => "off".into(),
            AccessLog::All => "all".into(),
            AccessLog::Sample(rate) => rate.to_string(),
        }
    }
}

/// An address that may be left unset (empty), checked when the configuration is read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionalAddr(pub Option<SocketAddr>);

impl TryFrom<String> for OptionalAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Ok(Self(None));
        }
        s.trim()
            .parse()
            .map(|a| Self(Some(a)))
            .map_err(|_| format!("{s:?} is not an address such as 0.0.0.0:443"))
    }
}

impl From<OptionalAddr> for String {
    fn from(a: OptionalAddr) -> Self {
        a.0.map(|a| a.to_string()).unwrap_or_default()
    }
}

impl std::str::FromStr for OptionalAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl std::str::FromStr for AccessLog {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_values() {
        assert_eq!(AccessLog::try_from("off".to_owned()), Ok(AccessLog::Off));
        assert_eq!(AccessLog::try_from("all".to_owned()), Ok(AccessLog::All));
        assert_eq!(
            AccessLog::try_from("0.25".to_owned()),
            Ok(AccessLog::Sample(0.25))
        );
        for bad in ["0", "1.5", "-1", "some"] {
            assert!(AccessLog::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert!(AccessLog::Sample(0.25).wants(0.1) && !AccessLog::Sample(0.25).wants(0.3));
        assert!(AccessLog::All.wants(0.99) && !AccessLog::Off.wants(0.0));
    }
}
