//! The HTTP server: `Server::build(settings)` then `.run(shutdown)`, the same in `main` and in
//! tests. Routes: `POST /graphql`, websocket subscriptions on `/graphql/ws` (graphql-transport-ws
//! and the older graphql-ws), GraphiQL at `GET /`, `GET /healthz`, and an app's log as JSON at
//! `GET /apps/{id}/logs` (`http_logs`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use paas_core::cache::none::NoCache;
use paas_core::cache::redis::RedisCache;
use paas_core::events::redis::RedisBus;
use paas_core::queue::redis::RedisQueue;
use paas_core::{Platform, PlatformConfig};
use paas_runner::BuildWorker;
use paas_runner::local::{Isolation, LocalBuilder, LocalRuntime};
use paas_runner::nomad::NomadRuntime;
use paas_runner::podman::{PodmanBuilder, PodmanRuntime};
use tokio::net::TcpListener;

use crate::auth::{Viewer, authenticate, bearer, token_from_init_payload};
use crate::schema::{self, PaasSchema};
use crate::settings::{RuntimeKind, Settings};

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
    #[error(transparent)]
    Platform(#[from] paas_core::Error),
}

#[derive(Clone)]
pub(crate) struct AppState {
    schema: PaasSchema,
    pub(crate) platform: Platform,
}

/// A built server, bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    platform: Platform,
    worker: Option<BuildWorker>,
    router: Router,
}

/// Assembles the platform for these settings: local-process runtime and builder.
pub async fn platform(settings: &Settings) -> Result<Platform, paas_core::Error> {
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
    let config = PlatformConfig {
        data_dir: settings.data_dir.clone(),
        builds_dir,
        source_policy: paas_core::model::SourcePolicy {
            allow_local: settings.allow_local_repos,
        },
        lock_lease: settings.lock_lease,
        lock_wait: settings.lock_wait,
        crash_restart: paas_core::retry::RetryPolicy {
            base: settings.crash_backoff,
            ..paas_core::retry::RetryPolicy::attempts(settings.crash_restarts)
        },
        log_retention: settings.log_retention,
        git: settings.git.clone(),
        ..PlatformConfig::default()
    };
    let keys = settings.keys().map_err(paas_core::Error::from)?;
    let mut builder = Platform::builder()
        .config(config)
        .keys(keys.clone())
        .database_url(settings.database_url());
    if settings.no_cache {
        builder = builder.cache(Arc::new(NoCache));
    }
    if let Some(url) = &settings.redis_url {
        let prefix = &settings.redis_prefix;
        // One consumer name per process: a restarted process is a new consumer, and what the
        // old one held is claimed after `claim_after`.
        let consumer = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        builder = builder
            .queue(Arc::new(
                RedisQueue::connect(url, prefix, &consumer, settings.claim_after).await?,
            ))
            .bus(Arc::new(RedisBus::connect(url, prefix).await?));
        if !settings.no_cache {
            builder = builder.cache(Arc::new(
                RedisCache::connect(url, prefix, CACHE_TTL, keys).await?,
            ));
        }
    }
    let builder = match settings.runtime {
        RuntimeKind::Process => builder
            .runtime(Arc::new(
                LocalRuntime::new(settings.data_dir.join("logs")).with_isolation(isolation.clone()),
            ))
            .images(Arc::new(LocalBuilder::default().with_isolation(isolation))),
        RuntimeKind::Podman => {
            let podman = paas_runner::podman::connect(&settings.podman_socket);
            builder
                .runtime(Arc::new(PodmanRuntime::new(
                    podman.clone(),
                    settings.publish_address.clone(),
                )))
                .images(Arc::new(
                    PodmanBuilder::new(podman, settings.base_images.clone())
                        .with_registry(settings.registry.clone()),
                ))
        }
        RuntimeKind::Nomad => {
            // Images are built with Podman on this host; Nomad runs them.
            let podman = paas_runner::podman::connect(&settings.podman_socket);
            builder
                .runtime(Arc::new(NomadRuntime::new(settings.nomad.clone())?))
                .images(Arc::new(
                    PodmanBuilder::new(podman, settings.base_images.clone())
                        .with_registry(settings.registry.clone()),
                ))
        }
    };
    builder.build().await
}

impl Server {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let platform = platform(&settings).await?;
        let worker = settings
            .run_worker
            .then(|| BuildWorker::new(platform.clone(), platform.config().build_dir()));
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: settings.listen,
                    source,
                })?;
        let state = AppState {
            schema: schema::build(platform.clone()),
            platform: platform.clone(),
        };
        let router = Router::new()
            .route("/", get(playground))
            .route("/graphql", get(playground).post(graphql))
            .route("/graphql/ws", get(graphql_ws))
            .route("/healthz", get(healthz))
            .route("/apps/{id}/logs", get(crate::http_logs::app_logs))
            .with_state(state);
        Ok(Self {
            listener,
            platform,
            worker,
            router,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Serves until `shutdown` completes, then stops the deployer, the worker and the apps that
    /// die with this process, recording that on the apps.
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
        let mut tasks = tokio::task::JoinSet::new();
        {
            let platform = self.platform.clone();
            let stop = stopped();
            tasks.spawn(async move { platform.run_deployer(stop).await });
        }
        {
            let platform = self.platform.clone();
            let stop = stopped();
            tasks.spawn(async move { platform.run_task_queue(stop).await });
        }
        {
            // Recovery first, so that an instance lost with a crash is recovered, not counted
            // as a crash of the app.
            let platform = self.platform.clone();
            let stop = stopped();
            tasks.spawn(async move {
                if let Err(e) = platform.reconcile().await {
                    tracing::error!(error = %e, "recovery at start-up failed");
                }
                platform.run_supervisor(stop).await;
            });
        }
        {
            let platform = self.platform.clone();
            let stop = stopped();
            tasks.spawn(async move { platform.run_log_retention(stop).await });
        }
        {
            // Queues again what the database says is waiting when the queue lost it (Redis
            // restarted empty) or could not take it (Redis unreachable).
            let platform = self.platform.clone();
            let stop = stopped();
            tasks.spawn(async move { platform.run_requeue(stop).await });
        }
        if let Some(worker) = self.worker {
            let stop = stopped();
            tasks.spawn(async move { worker.run(stop).await });
        }

        let serve_stop = stopped();
        let mut serve = tokio::spawn(
            axum::serve(self.listener, self.router)
                .with_graceful_shutdown(serve_stop)
                .into_future(),
        );
        tokio::select! {
            _ = shutdown => {}
            r = &mut serve => {
                // The server ended by itself: an I/O error.
                let _ = stop_tx.send(true);
                return r.map_err(std::io::Error::other)?;
            }
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        if tokio::time::timeout(GRACE, &mut serve).await.is_err() {
            serve.abort();
        }
        while tasks.join_next().await.is_some() {}
        if let Err(e) = self.platform.shutdown().await {
            tracing::error!(error = %e, "could not stop the apps' instances at shutdown");
        }
        Ok(())
    }
}

/// `paas worker`: builds from the queue until `shutdown`, nothing else.
pub async fn run_worker(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let platform = platform(&settings).await?;
    let worker = BuildWorker::new(platform.clone(), platform.config().build_dir());
    tracing::info!("build worker started");
    worker.run(shutdown).await;
    Ok(())
}

async fn viewer_from_headers(platform: &Platform, headers: &HeaderMap) -> Option<Viewer> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)?;
    authenticate(platform, &token).await.ok().map(Viewer)
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> GraphQLResponse {
    let mut req = req.into_inner();
    if let Some(viewer) = viewer_from_headers(&state.platform, &headers).await {
        req = req.data(viewer);
    }
    state.schema.execute(req).await.into()
}

async fn graphql_ws(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_headers = viewer_from_headers(&state.platform, &headers).await;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let platform = state.platform.clone();
            GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let viewer = match token_from_init_payload(&payload) {
                        Some(token) => authenticate(&platform, &token).await.ok().map(Viewer),
                        None => from_headers,
                    };
                    // No valid token, no connection: every subscription needs one.
                    let viewer = viewer
                        .ok_or_else(|| crate::error::gql(paas_core::Error::Unauthenticated))?;
                    let mut data = Data::default();
                    data.insert(viewer);
                    Ok(data)
                })
                .serve()
        })
}

async fn playground() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("paas")
            .finish(),
    )
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
