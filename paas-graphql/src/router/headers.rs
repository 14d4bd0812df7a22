//! What the router reads from a request's head and writes into it: the host it is for (and the
//! refusals of a head that is not for this router), the headers of one connection that never go
//! further, and the `X-Forwarded-*` / `Forwarded` headers that tell the app who asked.

use std::net::SocketAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Uri, Version};
use paas_core::model::Domain;
use paas_core::router::Backend;

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Why a request's head is refused before any app is asked.
#[derive(Debug, PartialEq, Eq)]
pub enum BadHead {
    /// No `Host` and no authority.
    NoHost,
    /// The host is not a DNS name (with an optional port).
    BadHost,
    /// An absolute-form target naming another host than `Host` (an open-proxy attempt).
    OtherHost,
    /// More headers, or more header bytes, than the router takes.
    TooManyHeaders,
}

/// The host a request is for. HTTP/1.1 names it in `Host`; an absolute-form target (`GET
/// http://a/ HTTP/1.1`, what a forward proxy is sent) or an HTTP/2 `:authority` names it in the
/// URI, and then both must agree: this router is no forward proxy.
pub fn host_of<B>(req: &Request<B>) -> Result<Domain, BadHead> {
    let header = match req.headers().get(header::HOST) {
        Some(h) => Some(h.to_str().map_err(|_| BadHead::BadHost)?),
        None => None,
    };
    let target = req.uri().authority().map(|a| a.as_str());
    let raw = match (target, header) {
        (Some(t), Some(h)) => {
            let (t, h) = (parse(t)?, parse(h)?);
            if t != h {
                return Err(BadHead::OtherHost);
            }
            return Ok(t);
        }
        // An absolute-form target without `Host` is not HTTP/1.1; over HTTP/2 it is the norm.
        (Some(_), None) if req.version() < Version::HTTP_2 => return Err(BadHead::NoHost),
        (Some(t), None) => t,
        (None, Some(h)) => h,
        (None, None) => return Err(BadHead::NoHost),
    };
    parse(raw)
}

fn parse(raw: &str) -> Result<Domain, BadHead> {
    Domain::from_host_header(raw).map_err(|_| BadHead::BadHost)
}

/// Refuses a head with more than `max` headers or `max_bytes` of them (names and values).
pub fn check_size(headers: &HeaderMap, max: usize, max_bytes: usize) -> Result<(), BadHead> {
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if headers.len() > max || bytes > max_bytes {
        return Err(BadHead::TooManyHeaders);
    }
    Ok(())
}

/// Readies a request for the backend: origin-form URI on the backend's address, HTTP/1.1,
/// hop-by-hop headers out, forwarding headers in.
pub fn prepare<B>(
    req: &mut Request<B>,
    backend: &Backend,
    host: &Domain,
    peer: SocketAddr,
    scheme: &str,
) {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    if let Ok(uri) = Uri::builder()
        .scheme("http")
        .authority(backend.authority())
        .path_and_query(path)
        .build()
    {
        *req.uri_mut() = uri;
    }
    *req.version_mut() = Version::HTTP_11;
    let original_host = req
        .headers()
        .get(header::HOST)
        .cloned()
        .or_else(|| HeaderValue::from_str(host.as_str()).ok());
    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    if let Some(h) = &original_host {
        headers.insert(header::HOST, h.clone());
    }
    let ip = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {ip}"),
        None => ip.clone(),
    };
    set(headers, "x-forwarded-for", &forwarded_for);
    set(headers, "x-forwarded-proto", scheme);
    set(headers, "x-forwarded-host", host.as_str());
    let for_ = if peer.is_ipv6() {
        format!("\"[{ip}]\"")
    } else {
        ip
    };
    set(
        headers,
        "forwarded",
        &format!("for={for_};host={host};proto={scheme}"),
    );
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Drops hop-by-hop headers, and those the `Connection` header names. Allocates only when a
/// `Connection` header names others (the common request names none, or only `keep-alive`).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = if headers.contains_key(header::CONNECTION) {
        headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty() && !HOP_BY_HOP.contains(&s.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    for name in HOP_BY_HOP {
        if headers.contains_key(*name) {
            headers.remove(*name);
        }
    }
    for name in named {
        headers.remove(name.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, host: Option<&str>, version: Version) -> Request<()> {
        let mut b = Request::builder().uri(uri).version(version);
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn the_host_comes_from_host_or_an_agreeing_authority() {
        let h1 = Version::HTTP_11;
        let host = |r: &Request<()>| host_of(r).map(|d| d.to_string());
        assert_eq!(
            host(&req("/", Some("Hello.localhost:8000"), h1)),
            Ok("hello.localhost".into())
        );
        assert_eq!(
            host(&req(
                "http://hello.localhost/x",
                Some("hello.localhost"),
                h1
            )),
            Ok("hello.localhost".into())
        );
        assert_eq!(
            host(&req("http://evil.example/", Some("hello.localhost"), h1)),
            Err(BadHead::OtherHost)
        );
        assert_eq!(
            host(&req("http://evil.example/", None, h1)),
            Err(BadHead::NoHost)
        );
        assert_eq!(host(&req("/", None, h1)), Err(BadHead::NoHost));
        assert_eq!(host(&req("/", Some("exa mple"), h1)), Err(BadHead::BadHost));
        assert_eq!(
            host(&req("https://hello.localhost/", None, Version::HTTP_2)),
            Ok("hello.localhost".into())
        );
    }

    #[test]
    fn hop_by_hop_headers_go_with_those_connection_names() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
