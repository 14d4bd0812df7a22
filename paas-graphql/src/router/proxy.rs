//! One request through the router.
//!
//! Expected flow: `CONNECT` is refused (405) → the head is checked (too many or too big
//! headers: 431; no host, a host that is not a name: 400; an absolute-form target naming
//! another host than `Host`: 400, this is no open proxy) → a `Content-Length` over the body
//! limit: 413, the app never asked → the table resolves the host (unknown: 404; a sleeping
//! app: the request is held while it wakes, [`super::wake`]; the app not running otherwise:
//! 503 with its status) → an HTTPS-only app asked over plain HTTP: 308 to HTTPS → the
//! backend with the fewest requests in flight is picked and the request counted on it →
//! hop-by-hop headers dropped, `X-Forwarded-*` and `Forwarded` set → sent over a pooled
//! upstream connection, bodies streamed both ways (a request body growing past the limit is
//! cut: 413) → the response streams back, the request counted until its body ends. An upgrade
//! (websocket) gets its own upstream connection, and both upgraded sides are copied into each
//! other until one closes.
//!
//! Guarantees: a pooled connection the app closed as the request went out (the keep-alive
//! race) does not fail the client's request: an idempotent request without a body is sent once
//! more on a fresh connection (hyper-util itself resends any request never written). Nothing a
//! request carries changes the route table.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use paas_core::model::Domain;
use paas_core::router::{Backend, InFlight, Resolution, RouteTable};

use super::access::AccessLogger;
use super::body::{Capped, Counted, ProxyBody, Seen};
use super::config::RouterSettings;
use super::headers::{self, BadHead};
use super::pages::{down, empty, page, to_https};
use super::wake::{Held, WakeLimits, Wakes};

type Upstream = Client<HttpConnector, Capped>;

/// The router: the table it reads, the pool of upstream connections and its limits. Cheap to
/// clone.
#[derive(Clone)]
pub struct Proxy {
    table: Arc<dyn RouteTable>,
    client: Upstream,
    /// Without a pool: the retry of a request whose pooled connection was closed under it.
    fresh: Upstream,
    settings: Arc<RouterSettings>,
    /// The public port of HTTPS, where the router serves it (HTTPS-only apps redirect there).
    https_port: Option<u16>,
    access: AccessLogger,
    /// Requests held for sleeping apps.
    wakes: Wakes,
}

impl Proxy {
    pub fn new(table: Arc<dyn RouteTable>) -> Self {
        Self::with(table, RouterSettings::default(), None, AccessLogger::off())
    }

    /// A proxy with these limits, redirecting HTTPS-only apps to `https_port` when given.
    pub fn with(
        table: Arc<dyn RouteTable>,
        settings: RouterSettings,
        https_port: Option<u16>,
        access: AccessLogger,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector.clone());
        let fresh = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Self {
            table,
            client,
            fresh,
            settings: Arc::new(settings),
            https_port,
            access,
            wakes: Wakes::new(WakeLimits::default()),
        }
    }

    /// This proxy, holding requests for sleeping apps within `limits`.
    pub fn holding(mut self, limits: WakeLimits) -> Self {
        self.wakes = Wakes::new(limits);
        self
    }

    /// Answers one request from `peer`, which came in over `scheme` (`http` or `https`).
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        scheme: &'static str,
    ) -> Response<ProxyBody> {
        if req.method() == Method::CONNECT {
            return page(
                StatusCode::METHOD_NOT_ALLOWED,
                "CONNECT is not served: this router is not a forward proxy",
            );
        }
        let s = &self.settings;
        let host = match headers::check_size(req.headers(), s.max_headers, s.max_header_bytes)
            .and_then(|()| headers::host_of(&req))
        {
            Ok(host) => host,
            Err(bad) => return refused(bad),
        };
        if let Some(length) = content_length(&req)
            && length > s.max_body_bytes
        {
            return too_large(s.max_body_bytes);
        }
        let received = Instant::now();
        let (route, turn) = match self.table.resolve(&host).await {
            Resolution::Live(route) => (route, None),
            Resolution::Down {
                app,
                name,
                status,
                reason,
                traffic,
            } if super::wake::held(status, reason.as_deref()) => {
                match self.wakes.hold(&self.table, app, &name, &traffic).await {
                    Held::Live(route, turn) => (route, Some(turn)),
                    Held::Answer(response) => {
                        let status = response.status().as_u16();
                        traffic.record(status, 0, 0, received.elapsed());
                        return response;
                    }
                }
            }
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
        if route.https_only
            && scheme == "http"
            && let Some(port) = self.https_port
        {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            return to_https(&host, port, path);
        }
        let picked = route.pick();
        // The next request held for this app may go now: this one has its backend.
        drop(turn);
        let Some(in_flight) = picked else {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the application is switching instances; retry",
            );
        };
        let backend = in_flight.backend().clone();
        let started = Instant::now();
        route.traffic.touch();
        let line = self
            .access
            .wants()
            .then(|| request_line(&req, peer, &host, scheme));
        let upgrade =
            req.headers().contains_key(header::UPGRADE) && req.version() == Version::HTTP_11;
        let seen = Seen::default();
        let answer = if upgrade {
            self.upgrade(req, &backend, &host, peer, scheme, in_flight)
                .await
        } else {
            self.forward(req, &backend, &host, peer, scheme, &seen)
                .await
                .map(|res| {
                    let status = res.status().as_u16();
                    res.map(|b| {
                        Counted::new(
                            b,
                            route.traffic.clone(),
                            status,
                            started.elapsed(),
                            seen.bytes.clone(),
                            in_flight,
                        )
                        .boxed()
                    })
                })
        };
        let res = match answer {
            Ok(res) => res,
            Err(_) if seen.over() => {
                route
                    .traffic
                    .record(413, seen.bytes(), 0, started.elapsed());
                too_large(s.max_body_bytes)
            }
            Err(e) => {
                tracing::debug!(app = %route.name, backend = %backend.authority(), error = %e, "upstream failed");
                route
                    .traffic
                    .record(502, seen.bytes(), 0, started.elapsed());
                page(StatusCode::BAD_GATEWAY, "the application did not answer")
            }
        };
        if let Some(line) = line {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            self.access.line(
                route.app,
                format!("{line} {} {ms:.1}ms", res.status().as_u16()),
            );
        }
        res
    }

    /// Sends the request on a pooled connection; when that connection turns out closed and the
    /// request is idempotent without a body, once more on a fresh one.
    async fn forward(
        &self,
        mut req: Request<Incoming>,
        backend: &Backend,
        host: &Domain,
        peer: SocketAddr,
        scheme: &str,
        seen: &Seen,
    ) -> Result<Response<ProxyBody>, BoxError> {
        let version = req.version();
        headers::prepare(&mut req, backend, host, peer, scheme);
        let (parts, body) = req.into_parts();
        // Sent again only if sending it twice cannot do harm: no body, an idempotent method
        // (the app may have read the first one before its connection closed).
        let again = (body.is_end_stream() && parts.method.is_idempotent()).then(|| {
            let mut r = Request::new(Capped::new(None, 0, seen));
            *r.method_mut() = parts.method.clone();
            *r.uri_mut() = parts.uri.clone();
            *r.version_mut() = parts.version;
            *r.headers_mut() = parts.headers.clone();
            r
        });
        let body = Capped::new(Some(body), self.settings.max_body_bytes, seen);
        let sent = self.client.request(Request::from_parts(parts, body)).await;
        let mut res = match (sent, again) {
            (Ok(res), _) => res,
            (Err(e), Some(again)) if !e.is_connect() => {
                tracing::debug!(error = %e, "pooled upstream connection failed; retrying on a fresh one");
                self.fresh.request(again).await?
            }
            (Err(e), _) => return Err(e.into()),
        };
        headers::strip_hop_by_hop(res.headers_mut());
        // The client's version, not the app's (an HTTP/1.0 app must not end a keep-alive).
        *res.version_mut() = version;
        Ok(res.map(|b| b.boxed()))
    }

    /// A websocket (or other HTTP/1.1 upgrade): its own upstream connection; once both sides
    /// switched protocols, bytes are copied both ways until one side closes. The request stays
    /// in flight on the backend as long as the connection is open. The client's connection is
    /// out of the accept loop's idle bound once upgraded: a quiet websocket stays open.
    async fn upgrade(
        &self,
        mut req: Request<Incoming>,
        backend: &Backend,
        host: &Domain,
        peer: SocketAddr,
        scheme: &str,
        in_flight: InFlight,
    ) -> Result<Response<ProxyBody>, BoxError> {
        let protocol = req.headers().get(header::UPGRADE).cloned();
        let version = req.version();
        let client_upgrade = hyper::upgrade::on(&mut req);
        headers::prepare(&mut req, backend, host, peer, scheme);
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
        *res.version_mut() = version;
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            headers::strip_hop_by_hop(res.headers_mut());
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn content_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn too_large(limit: u64) -> Response<ProxyBody> {
    let mut res = page(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the request body is over this router's limit of {} MB",
            limit / (1024 * 1024)
        ),
    );
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

fn refused(bad: BadHead) -> Response<ProxyBody> {
    match bad {
        BadHead::NoHost => page(StatusCode::BAD_REQUEST, "the request names no host"),
        BadHead::BadHost => page(
            StatusCode::BAD_REQUEST,
            "the request's host is not a valid name",
        ),
        BadHead::OtherHost => page(
            StatusCode::BAD_REQUEST,
            "the request's target names another host than its Host header: this router is \
             not a forward proxy",
        ),
        BadHead::TooManyHeaders => page(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request has too many headers, or too large ones",
        ),
    }
}

/// The start of an access line: who asked what, where.
fn request_line<B>(req: &Request<B>, peer: SocketAddr, host: &Domain, scheme: &str) -> String {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    format!(
        "{} {scheme}://{host} \"{} {path} {:?}\"",
        peer.ip(),
        req.method(),
        req.version()
    )
}
