//! What `paas serve` and `paas worker` check before they say they are ready, so that a missing
//! dependency stops the start with one line naming it (and no password) instead of a server
//! that looks healthy while every app fails later.

use std::future::Future;
use std::time::Duration;

use crate::config::print::redact_url;
use crate::server::StartError;

/// How long one check may take: a dependency slower than this at start is as good as absent.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// One line: "cannot reach <what> at <where>: <why>".
fn unreachable(what: &str, at: &str, why: impl std::fmt::Display) -> StartError {
    StartError::Unreachable(format!("cannot reach {what} at {at}: {why}"))
}

/// A PostgreSQL server must accept a connection on its address: checked with a plain TCP
/// connection first, since the database driver retries a refused connection for its whole
/// connect timeout. SQLite is a file, opened (and its errors named) when the store connects.
pub async fn database(url: &str) -> Result<(), StartError> {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return Ok(());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        // A Unix socket given in the query: the driver reports its own errors.
        return Ok(());
    }
    let addr = if host_port.ends_with(']') || !host_port.contains(':') {
        format!("{host_port}:5432")
    } else {
        host_port.to_owned()
    };
    let shown = redact_url(url);
    match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable("the database", &shown, e)),
        Err(_) => Err(unreachable(
            "the database",
            &shown,
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        )),
    }
}

/// An error of the platform's build: a storage one (the database refused the connection, the
/// migration failed) is named with the database's address and the driver's own words.
pub fn platform_error(database_url: &str, e: paas_core::Error) -> StartError {
    match e {
        paas_core::Error::Storage(source) => StartError::Unreachable(format!(
            "cannot use the database at {}: {}",
            redact_url(database_url),
            root_cause(source.as_ref())
        )),
        e => StartError::Platform(e),
    }
}

/// Connecting to Redis (`connect` does it), bounded in time, its failure named.
pub async fn redis<T>(
    url: &str,
    connect: impl Future<Output = paas_core::Result<T>>,
) -> Result<T, StartError> {
    let shown = redact_url(url);
    match tokio::time::timeout(CHECK_TIMEOUT, connect).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(unreachable("Redis", &shown, root_cause(&e))),
        Err(_) => Err(unreachable(
            "Redis",
            &shown,
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        )),
    }
}

/// Nomad must answer (and have a leader).
pub async fn nomad(
    runtime: &paas_runner::nomad::NomadRuntime,
    addr: &str,
) -> Result<(), StartError> {
    match tokio::time::timeout(CHECK_TIMEOUT, runtime.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(unreachable("Nomad", &redact_url(addr), root_cause(&e))),
        Err(_) => Err(unreachable(
            "Nomad",
            &redact_url(addr),
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        )),
    }
}

/// The innermost error's words (the outer ones repeat what the line already says).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
