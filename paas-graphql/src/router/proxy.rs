//! One request through the router.
//!
//! Expected flow: the host (the `Host` header, or the authority of an HTTP/2 request) is parsed
//! as a name (a bad one: 400) → the table resolves it (unknown: 404; the app not running: 503
//! with its status) → the backend with the fewest requests in flight is picked and the request
//! counted on it → hop-by-hop headers are dropped, `X-Forwarded-*` and `Forwarded` set → sent
//! over a pooled upstream connection, bodies streamed both ways → the response streams back,
//! the request counted until its body ends. An upgrade (websocket) gets its own upstream
//! connection, and both upgraded sides are copied into each other until one closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use paas_core::model::Domain;
use paas_core::router::{Backend, InFlight, Resolution, RouteTable};
use paas_core::status::AppStatus;

use super::body::{Counted, ProxyBody};

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

/// The router: the table it reads and the pool of upstream connections. Cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    table: Arc<dyn RouteTable>,
    client: Client<HttpConnector, Incoming>,
}

impl Proxy {
    pub fn new(table: Arc<dyn RouteTable>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .build(connector);
        Self { table, client }
    }

    /// Answers one request from `peer`, which came in over `scheme` (`http` or `https`).
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        scheme: &'static str,
    ) -> Response<ProxyBody> {
        let raw_host = match host_of(&req) {
            Some(h) => h,
            None => return page(StatusCode::BAD_REQUEST, "the request names no host"),
        };
        let host = match Domain::from_host_header(&raw_host) {
            Ok(h) => h,
            Err(_) => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "the request's host is not a valid name",
                );
            }
        };
        if req.method() == Method::CONNECT {
            return page(
                StatusCode::METHOD_NOT_ALLOWED,
                "CONNECT is not served: this router is not a forward proxy",
            );
        }
        let route = match self.table.resolve(&host).await {
            Resolution::Live(route) => route,
            Resolution::Down {
                name,
                status,
                traffic,
                ..
            } => {
                let response = down(&name.to_string(), status);
                traffic.record(response.status().as_u16(), 0, 0, Default::default());
                return response;
            }
            Resolution::Unknown => {
                return page(
                    StatusCode::NOT_FOUND,
                    &format!("no application answers at {host}"),
                );
            }
        };
        let Some(in_flight) = route.pick() else {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the application is switching instances; retry",
            );
        };
        let backend = in_flight.backend().clone();
        let started = Instant::now();
        route.traffic.touch();
        let upgrade =
            req.headers().contains_key(header::UPGRADE) && req.version() == Version::HTTP_11;
        let answer = if upgrade {
            self.upgrade(req, &backend, &host, peer, scheme, in_flight)
                .await
        } else {
            self.forward(req, &backend, &host, peer, scheme)
                .await
                .map(|res| {
                    let status = res.status().as_u16();
                    res.map(|b| {
                        Counted::new(
                            b,
                            route.traffic.clone(),
                            status,
                            started.elapsed(),
                            in_flight,
                        )
                        .boxed()
                    })
                })
                .map_err(Into::into)
        };
        match answer {
            Ok(res) => res,
            Err(e) => {
                tracing::debug!(app = %route.name, backend = %backend.authority(), error = %e, "upstream failed");
                route.traffic.record(502, 0, 0, started.elapsed());
                page(StatusCode::BAD_GATEWAY, "the application did not answer")
            }
        }
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        backend: &Backend,
        host: &Domain,
        peer: SocketAddr,
        scheme: &str,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        prepare(&mut req, backend, host, peer, scheme);
        let mut res = self.client.request(req).await?;
        strip_hop_by_hop(res.headers_mut());
        Ok(res)
    }

    /// A websocket (or other HTTP/1.1 upgrade): its own upstream connection; once both sides
    /// switched protocols, bytes are copied both ways until one side closes. The request stays
    /// in flight on the backend as long as the connection is open.
    async fn upgrade(
        &self,
        mut req: Request<Incoming>,
        backend: &Backend,
        host: &Domain,
        peer: SocketAddr,
        scheme: &str,
        in_flight: InFlight,
    ) -> Result<Response<ProxyBody>, Box<dyn std::error::Error + Send + Sync>> {
        let protocol = req.headers().get(header::UPGRADE).cloned();
        let client_upgrade = hyper::upgrade::on(&mut req);
        prepare(&mut req, backend, host, peer, scheme);
        if let Some(protocol) = protocol {
            req.headers_mut().insert(header::UPGRADE, protocol);
            req.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
        let stream = tokio::net::TcpStream::connect(backend.authority()).await?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upgraded upstream connection ended");
            }
        });
        let mut res = sender.send_request(req).await?;
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            strip_hop_by_hop(res.headers_mut());
            return Ok(res.map(|b| b.boxed()));
        }
        let upstream_upgrade = hyper::upgrade::on(&mut res);
        tokio::spawn(async move {
            let _in_flight = in_flight;
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, upstream)) => {
                    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
                Err(e) => tracing::debug!(error = %e, "an upgrade did not complete"),
            }
        });
        let (parts, _) = res.into_parts();
        Ok(Response::from_parts(parts, empty()))
    }
}

/// The host a request is for: an absolute-form or HTTP/2 authority, else the `Host` header.
fn host_of<B>(req: &Request<B>) -> Option<String> {
    if let Some(authority) = req.uri().authority() {
        return Some(authority.as_str().to_owned());
    }
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
}

/// Readies a request for the backend: origin-form URI on the backend's address, HTTP/1.1,
/// hop-by-hop headers out, forwarding headers in.
fn prepare<B>(
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

/// Drops hop-by-hop headers, and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in HOP_BY_HOP.iter().copied().map(str::to_owned).chain(named) {
        headers.remove(name.as_str());
    }
}

fn empty() -> ProxyBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// A short page the router answers itself.
pub(crate) fn page(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body = format!(
        "{} {}\n{text}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut res = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// 503 for an app that does not run now, with `Retry-After` while it is coming up. The reason
/// stays out: it may quote the app's output, and anyone may ask the router.
fn down(name: &str, status: AppStatus) -> Response<ProxyBody> {
    let coming = matches!(
        status,
        AppStatus::Pending | AppStatus::Building | AppStatus::Starting
    );
    let text = format!("application {name} is {}", status.as_str());
    let mut res = page(StatusCode::SERVICE_UNAVAILABLE, &text);
    if coming {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    if let Ok(v) = HeaderValue::from_str(status.as_str()) {
        res.headers_mut().insert("x-paas-app-status", v);
    }
    res
}
