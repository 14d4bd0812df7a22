//! One health check of one instance: a TCP connect or an HTTP `GET`, bounded by the check's
//! timeout, answering why it failed in words a user can act on.

use tokio::net::TcpStream;

use crate::model::{Endpoint, HealthCheck, HealthKind};

/// How much of a failing answer's body a reason quotes.
const BODY_QUOTED: usize = 200;

/// Why a check did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// In words: `health check GET /health answered 500: <body start>`.
    pub reason: String,
    /// Nothing listens at the address yet (refused): a starting instance is not up yet, which
    /// is no failure of its check.
    pub refused: bool,
}

/// Runs checks; cheap to clone (one HTTP client, no pooled connections: each check opens its
/// own, as a new client would).
#[derive(Clone)]
pub struct Prober {
    http: reqwest::Client,
}

impl Default for Prober {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0)
            .user_agent("paas-health-check")
            .build()
            .unwrap_or_default();
        Self { http }
    }
}

impl Prober {
    /// Checks the instance at `at` once.
    pub async fn check(&self, check: &HealthCheck, at: &Endpoint) -> Result<(), Failure> {
        match check.kind {
            HealthKind::None => Ok(()),
            HealthKind::Tcp => tcp(check, at).await,
            HealthKind::Http => self.http(check, at).await,
        }
    }

    async fn http(&self, check: &HealthCheck, at: &Endpoint) -> Result<(), Failure> {
        let what = format!("health check {}", check.describe());
        let host = if at.host.contains(':') {
            format!("[{}]", at.host)
        } else {
            at.host.clone()
        };
        let url = format!("http://{host}:{}{}", at.port, check.path);
        let asked = async {
            let mut response = self.http.get(&url).send().await?;
            let status = response.status();
            if status.is_success() || status.is_redirection() {
                return Ok(Ok(()));
            }
            let mut body = Vec::new();
            while body.len() < BODY_QUOTED {
                match response.chunk().await? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            body.truncate(BODY_QUOTED);
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            Ok(Err(if text.is_empty() {
                format!("{what} answered {}", status.as_u16())
            } else {
                format!("{what} answered {}: {text}", status.as_u16())
            }))
        };
        match tokio::time::timeout(check.timeout(), asked).await {
            Err(_) => Err(timed_out(&what, check)),
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(reason))) => Err(Failure {
                reason,
                refused: false,
            }),
            Ok(Err(e)) => Err(request_failed(&what, &e)),
        }
    }
}

async fn tcp(check: &HealthCheck, at: &Endpoint) -> Result<(), Failure> {
    let what = format!("health check {} to port {}", check.describe(), at.port);
    let addr = (at.host.as_str(), at.port);
    match tokio::time::timeout(check.timeout(), TcpStream::connect(addr)).await {
        Err(_) => Err(timed_out(&what, check)),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Failure {
            reason: format!("{what}: connection refused"),
            refused: true,
        }),
        Ok(Err(e)) => Err(Failure {
            reason: format!("{what}: {e}"),
            refused: false,
        }),
    }
}

fn timed_out(what: &str, check: &HealthCheck) -> Failure {
    Failure {
        reason: format!("{what} timed out after {}s", check.timeout_seconds),
        refused: false,
    }
}

/// A request that got no answer: refused, reset, or unreadable.
fn request_failed(what: &str, e: &reqwest::Error) -> Failure {
    let refused = refused_in(e);
    let reason = if refused {
        format!("{what}: connection refused")
    } else if e.is_connect() {
        format!("{what}: could not connect")
    } else {
        format!("{what}: no answer ({})", innermost(e))
    };
    Failure { reason, refused }
}

/// Whether an I/O error saying "connection refused" is in `e`'s chain.
fn refused_in(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = s.source();
    }
    false
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}
