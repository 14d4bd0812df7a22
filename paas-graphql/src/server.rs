//! The HTTP server: `Server::build(settings)` then `.run(shutdown)`, the same in `main` and in
//! tests. Routes: `POST /graphql`, websocket subscriptions on `/graphql/ws` (graphql-transport-ws
//! and the older graphql-ws), GraphiQL at `GET /graphql`, the web dashboard at `GET /ui/` (`GET /`
//! redirects there), `GET /healthz`, an app's log as JSON at
//! `GET /apps/{id}/logs` (`http_logs`), the route table at `GET /routes` (`routes_api`), the
//! metrics at `GET /metrics` (`metrics`; or on `metrics_listen`), and
//! git hosts' push webhooks at `POST /hooks/git/{hookId}` (`hooks`).
//! Beside the API: the router on its own listeners (HTTP, and HTTPS when configured).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::MultipartOptions;
use async_graphql_axum::GraphQLResponse;
use async_graphql_axum::rejection::GraphQLRejection;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use paas_core::Platform;
use paas_core::cache::none::NoCache;
use paas_core::cache::redis::RedisCache;
use paas_core::events::redis::RedisBus;
use paas_core::model::Secret;
use paas_core::queue::redis::RedisQueue;
use paas_core::router::{RouteTable, Routes};
use paas_runner::local::{Isolation, LocalBuilder, LocalRuntime};
use paas_runner::nomad::NomadRuntime;
use paas_runner::podman::{PodmanBuilder, PodmanRuntime};
use tokio::net::TcpListener;

use crate::auth::{Viewer, authenticate, bearer};
use crate::limits::Limits;
use crate::schema::{self, PaasSchema};
use crate::settings::{RuntimeKind, Settings};
use crate::subscriptions::SubscriptionLimits;

/// How long cached apps and users live in Redis.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// How long open connections (websockets) get to finish after shutdown is asked.
const GRACE: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A dependency that does not answer: one line naming it (without its password) and why.
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Platform(#[from] paas_core::Error),
    #[error("router HTTPS: {0}")]
    Tls(#[from] crate::router::tls::TlsError),
    /// `smtp_url` or `mail_from` that cannot be used.
    #[error("mail: {0}")]
    Mail(String),
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) schema: PaasSchema,
    pub(crate) platform: Platform,
    pub(crate) limits: Limits,
    pub(crate) routes: Arc<dyn RouteTable>,
    pub(crate) admin_token: Option<Secret>,
    /// `GET /metrics` answers on the API (no `metrics_listen`).
    pub(crate) metrics_on_api: bool,
    /// Parsed documents of `POST /graphql`, by their text.
    pub(crate) documents: crate::documents::Documents,
}

/// A built server, bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    platform: Platform,
    router: Router,
    limits: Limits,
    /// The route table, fed by the store and the bus (every `serve` keeps one; `GET /routes`
    /// reads it even without the HTTP router).
    routes: Routes,
    /// The router's listeners (HTTP, and HTTPS if asked), unless `--no-router`.
    router_listeners: Option<crate::router::Listeners>,
    /// `metrics_listen` and what it serves.
    metrics: Option<(TcpListener, Router)>,
}

/// Assembles the platform for these settings, checking each dependency it is given (database,
/// Redis, Podman, Nomad) so that an absent one stops the start with one line naming it.
pub async fn platform(settings: &Settings) -> Result<Platform, StartError> {
    // Local apps run as their own users when this server runs as root; their checkouts then go
    // to the apps dir, outside the data dir.
    let isolation = match settings.runtime {
        RuntimeKind::Process => Isolation::detect(settings.sandbox),
        _ => Isolation::off(),
    };
    let builds_dir = if isolation.is_on() {
        let dir = settings.apps_dir();
        isolation.prepare_apps_dir(&dir)?;
        Some(dir)
    } else {
        None
    };
    let config = settings.platform_config(builds_dir);
    let keys = settings.keys().map_err(paas_core::Error::from)?;
    let database_url = settings.database_url();
    crate::start_checks::database(&database_url).await?;
    let mut builder = Platform::builder()
        .config(config)
        .keys(keys.clone())
        .database_url(database_url.clone());
    if settings.no_cache {
        builder = builder.cache(Arc::new(NoCache));
    }
    if let Some(url) = &settings.redis_url {
        let (url, prefix) = (url.expose(), &settings.redis_prefix);
        // One consumer name per process: a restarted process is a new consumer, and what the
        // old one held is claimed after `claim_after`.
        let consumer = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        let queue = crate::start_checks::redis(
            url,
            RedisQueue::connect(url, prefix, &consumer, settings.claim_after),
        )
        .await?;
        let bus = crate::start_checks::redis(url, RedisBus::connect(url, prefix)).await?;
        builder = builder.queue(Arc::new(queue)).bus(Arc::new(bus));
        if !settings.no_cache {
            let cache = RedisCache::connect(url, prefix, CACHE_TTL, keys);
            builder = builder.cache(Arc::new(crate::start_checks::redis(url, cache).await?));
        }
    }
    let registry = settings
        .registry
        .as_ref()
        .map(|host| paas_runner::podman::Registry {
            host: host.expose().to_owned(),
            tls_verify: settings.registry_tls_verify,
        });
    let builder = match settings.runtime {
        RuntimeKind::Process => builder
            .runtime(Arc::new(
                LocalRuntime::new(settings.data_dir.join("logs")).with_isolation(isolation.clone()),
            ))
            .images(Arc::new(LocalBuilder::default().with_isolation(isolation))),
        RuntimeKind::Podman => {
            let podman = paas_runner::podman::connect(&settings.podman_socket);
            // A wrong socket fails the start, naming the socket, instead of every app later.
            podman.ping().await?;
            let ports = settings.publish_ports;
            if let Some(ephemeral) =
                paas_runner::podman::PortRange::ephemeral().filter(|e| ports.overlaps(e))
            {
                tracing::warn!(
                    %ports, %ephemeral,
                    "publish_ports overlaps the kernel's ephemeral range: a port bound on port 0 \
                     there may get a stopped container's connections; pick ports outside it"
                );
            }
            builder
                .runtime(Arc::new(
                    PodmanRuntime::new(podman.clone(), settings.publish_address.clone())
                        .with_ports(ports),
                ))
                .images(Arc::new(
                    PodmanBuilder::new(podman, settings.base_images.clone())
                        .with_registry(registry),
                ))
        }
        RuntimeKind::Nomad => {
            // Images are built with Podman on this host; Nomad runs them.
            let podman = paas_runner::podman::connect(&settings.podman_socket);
            let nomad = NomadRuntime::new(settings.nomad.clone())?;
            crate::start_checks::nomad(&nomad, &settings.nomad.address).await?;
            builder.runtime(Arc::new(nomad)).images(Arc::new(
                PodmanBuilder::new(podman, settings.base_images.clone()).with_registry(registry),
            ))
        }
    };
    let (builder, workers) = outbox(settings, builder)?;
    let platform = builder
        .build()
        .await
        .map_err(|e| crate::start_checks::platform_error(&database_url, e))?;
    workers.spawn(platform.store());
    Ok(platform)
}

/// The workers of the notification sinks, started once the store exists.
struct OutboxWorkers {
    mail: Option<paas_core::outbox::MailWorker>,
    webhooks: paas_core::outbox::WebhookWorker,
}

impl OutboxWorkers {
    /// Each runs until the platform (holding the sinks' queues) is dropped.
    fn spawn(self, store: &Arc<dyn paas_core::store::Store>) {
        if let Some(mail) = self.mail {
            tokio::spawn(mail.run(store.clone()));
        }
        tokio::spawn(self.webhooks.run(store.clone()));
    }
}

/// Notifications out: every one to the users' webhooks; the urgent ones by mail when an SMTP
/// server is configured (without one, none is mailed).
fn outbox(
    settings: &Settings,
    builder: paas_core::PlatformBuilder,
) -> Result<(paas_core::PlatformBuilder, OutboxWorkers), StartError> {
    use paas_core::outbox::{MailSink, OutboxConfig, WebhookSink};
    let config = OutboxConfig {
        public_url: settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", settings.listen)),
        ..OutboxConfig::default()
    };
    let (webhook_sink, webhooks) = WebhookSink::new(config.clone());
    let mut builder = builder.notification_sink(Arc::new(webhook_sink));
    let mail = match &settings.smtp_url {
        Some(url) => {
            let mailer = paas_core::mail::smtp::SmtpMailer::new(url.expose(), &settings.mail_from)
                .map_err(StartError::Mail)?;
            let (sink, worker) = MailSink::new(Arc::new(mailer), config);
            builder = builder.notification_sink(Arc::new(sink));
            Some(worker)
        }
        None => None,
    };
    Ok((builder, OutboxWorkers { mail, webhooks }))
}

impl Server {
    pub async fn build(mut settings: Settings) -> Result<Self, StartError> {
        // The address first: taken, it fails the start at once, before the slower checks.
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: settings.listen,
                    source,
                })?;
        let metrics_listener = bind_metrics(&settings).await?;
        let router_listeners = match settings.router_listen {
            Some(addr) => Some(crate::router::Listeners::bind(addr, &settings.router).await?),
            None => None,
        };
        // Apps' URLs carry the port the router got (port 0 in tests picks one).
        if settings.router_public_port.is_none()
            && let Some(bound) = router_listeners.as_ref().and_then(|l| l.http_addr())
        {
            settings.router_public_port = Some(bound.port());
        }
        // Links in mails and webhooks go to the address bound (port 0 in tests picks one).
        if settings.public_url.is_none() {
            settings.public_url = listener
                .local_addr()
                .ok()
                .map(|addr| format!("http://{addr}"));
        }
        let platform = platform(&settings).await?;
        let routes = Routes::new(platform.clone());
        let mut limits = settings.limits.clone();
        limits.max_connections =
            crate::nofile::fit_connections(limits.max_connections, crate::nofile::raise());
        let table: Arc<dyn RouteTable> = Arc::new(routes.clone());
        let schema = schema::builder(platform.clone())
            .data(schema::RouteTableHandle(table.clone()))
            .extension(SubscriptionLimits::new(limits.max_subscriptions_per_user))
            .extension(crate::metrics::OperationMetrics)
            .finish();
        let metrics = metrics_listener.map(|l| {
            (
                l,
                crate::metrics::own_listener(platform.clone(), table.clone()),
            )
        });
        let state = AppState {
            schema,
            platform: platform.clone(),
            limits: limits.clone(),
            routes: table,
            admin_token: settings.admin_token.clone(),
            metrics_on_api: settings.metrics_listen.is_none(),
            documents: crate::documents::Documents::default(),
        };
        let router = Router::new()
            .route("/", get(crate::ui::root))
            .route("/ui", get(crate::ui::page))
            .route("/ui/", get(crate::ui::page))
            .route("/ui/assets/{file}", get(crate::ui::asset))
            .route("/ui/{*path}", get(crate::ui::page))
            .route("/playground/{file}", get(crate::playground::asset))
            .route("/graphql", get(crate::playground::page).post(graphql))
            .route("/graphql/ws", get(crate::ws::graphql_ws))
            .route("/healthz", get(healthz))
            .route("/apps/{id}/logs", get(crate::http_logs::app_logs))
            .route("/routes", get(crate::routes_api::routes))
            .route("/metrics", get(crate::metrics::api_metrics))
            .route(
                "/hooks/git/{id}",
                axum::routing::post(crate::hooks::receive)
                    .layer(DefaultBodyLimit::max(crate::hooks::MAX_BODY)),
            )
            .layer(DefaultBodyLimit::max(limits.max_body_bytes))
            // `git push`: bounded by its own setting, not the API's body limit.
            .route("/git/{repo}/info/refs", get(crate::git_http::info_refs))
            .route(
                "/git/{repo}/git-receive-pack",
                axum::routing::post(crate::git_http::receive_pack),
            )
            .route_layer(axum::middleware::from_fn(crate::metrics::count_requests))
            .with_state(state);
        Ok(Self {
            listener,
            platform,
            router,
            limits,
            routes,
            router_listeners,
            metrics,
        })
    }

    /// The address `GET /metrics` is served on without a token, if `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The HTTPS router's address actually bound, if it runs.
    pub fn router_tls_addr(&self) -> Option<SocketAddr> {
        self.router_listeners.as_ref().and_then(|l| l.https_addr())
    }

    /// The router's address actually bound, if it runs.
    pub fn router_addr(&self) -> Option<SocketAddr> {
        self.router_listeners.as_ref().and_then(|l| l.http_addr())
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Serves until `shutdown` completes, with every loop of the platform running beside
    /// ([`Platform::run`]: the build worker unless `--no-worker`); then stops them and the apps
    /// that die with this process, recording that on the apps.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let (platform, stop) = (self.platform.clone(), stopped());
        let loops = tokio::spawn(async move { platform.run(stop).await });
        let (routes, stop) = (self.routes.clone(), stopped());
        let table = tokio::spawn(async move { routes.run(stop).await });
        let routers = match self.router_listeners {
            Some(listeners) => listeners
                .spawn(
                    Arc::new(self.routes.clone()),
                    self.platform.clone(),
                    self.limits.clone(),
                    &stopped,
                )
                .map_err(std::io::Error::other)?,
            None => Vec::new(),
        };
        let metrics = self.metrics.map(|(listener, router)| {
            let stop = stopped();
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let api = self.router;
        let handler = move |req: hyper::Request<hyper::body::Incoming>, _peer| {
            let api = api.clone();
            async move {
                match tower::ServiceExt::oneshot(api, req.map(axum::body::Body::new)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        };
        let mut serve = tokio::spawn(crate::conn::serve(
            self.listener,
            handler,
            self.limits,
            crate::conn::Options::default(),
            stopped(),
        ));
        let served = tokio::select! {
            _ = shutdown => None,
            // The server ended by itself (it only does on a panic).
            r = &mut serve => Some(r.map_err(std::io::Error::other)),
        };
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        if served.is_none() && tokio::time::timeout(GRACE, &mut serve).await.is_err() {
            serve.abort();
        }
        for router in routers {
            if tokio::time::timeout(GRACE, router).await.is_err() {
                tracing::warn!("the router's connections did not finish in time");
            }
        }
        let _ = table.await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        if let Err(e) = loops.await {
            tracing::error!(error = %e, "the platform's loops ended abnormally");
        }
        served.unwrap_or(Ok(()))
    }
}

/// The `metrics_listen` listener, if set.
async fn bind_metrics(settings: &Settings) -> Result<Option<TcpListener>, StartError> {
    let Some(addr) = settings.metrics_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    Ok(Some(listener))
}

/// `paas worker`: builds from the queue until `shutdown`, nothing else
/// ([`paas_core::flow::Loops::BUILDER`]: the other loops run with `paas serve`).
pub async fn run_worker(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let metrics = bind_metrics(&settings).await?;
    let platform = platform(&settings).await?;
    // A worker's builds are counted here: `metrics_listen` serves them (it has no API).
    if let Some(listener) = metrics {
        let routes: Arc<dyn RouteTable> = Arc::new(Routes::new(platform.clone()));
        let router = crate::metrics::own_listener(platform.clone(), routes);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    tracing::info!("build worker started");
    platform
        .run_loops(paas_core::flow::Loops::BUILDER, shutdown)
        .await;
    Ok(())
}

pub(crate) async fn viewer_from_headers(
    platform: &Platform,
    headers: &HeaderMap,
) -> Option<Viewer> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)?;
    authenticate(platform, &token).await.ok().map(Viewer)
}

/// `POST /graphql`. The body is read whole under the size limit (`DefaultBodyLimit`, set from
/// `Limits::max_body_bytes`): a bigger one is answered 413 before it is parsed.
async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let req = match async_graphql::http::receive_body(
        content_type,
        futures::io::Cursor::new(body),
        MultipartOptions::default().max_file_size(state.limits.max_body_bytes),
    )
    .await
    {
        Ok(req) => req,
        Err(e) => return GraphQLRejection(e).into_response(),
    };
    let mut req = state.documents.prepare(req);
    if let Some(viewer) = viewer_from_headers(&state.platform, &headers).await {
        req = req.data(viewer);
    }
    GraphQLResponse::from(state.schema.execute(req).await).into_response()
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    // Ready means the database answers.
    match state
        .platform
        .store()
        .user(paas_core::model::UserId::new())
        .await
    {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
