//! The router's listeners in a server: HTTP on `--router-listen`, HTTPS on
//! `--router-tls-listen` with its certificates. Bound in `Server::build` (a taken address or a
//! bad certificate fails the start, naming it), served from `Server::run`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use paas_core::Platform;
use paas_core::router::RouteTable;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::access::AccessLogger;
use super::tls::{self, Certificates};
use super::{Proxy, RouterSettings};
use crate::limits::Limits;
use crate::server::StartError;

/// The bound listeners, not yet serving.
pub struct Listeners {
    http: TcpListener,
    https: Option<(TcpListener, Arc<Certificates>)>,
    settings: RouterSettings,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

impl Listeners {
    /// Binds HTTP on `addr`, and HTTPS where the settings ask for it (certificates read now).
    pub async fn bind(addr: SocketAddr, settings: &RouterSettings) -> Result<Self, StartError> {
        let http = bind(addr).await?;
        let https = match settings.tls_listen {
            Some(addr) => {
                let certs = Certificates::load(
                    settings.tls_cert.as_deref(),
                    settings.tls_key.as_deref(),
                    settings.tls_cert_dir.as_deref(),
                )?;
                Some((bind(addr).await?, certs))
            }
            None => None,
        };
        Ok(Self {
            http,
            https,
            settings: settings.clone(),
        })
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr().ok()
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves both until the futures `stopped` makes complete; the certificates are read again
    /// on SIGHUP. Returns the serving tasks, to wait for at shutdown.
    pub fn spawn<S, F>(
        self,
        table: Arc<dyn RouteTable>,
        platform: Platform,
        limits: Limits,
        stopped: S,
    ) -> Result<Vec<JoinHandle<()>>, StartError>
    where
        S: Fn() -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let https_port = self.https_addr().map(|a| a.port());
        let wake = super::WakeLimits {
            queue: platform.config().scaler.wake_queue,
            timeout: platform.config().scaler.wake_timeout,
        };
        let access = AccessLogger::start(self.settings.access_log, platform);
        let proxy = Proxy::with(table, self.settings.clone(), https_port, access).holding(wake);
        let mut tasks = Vec::new();
        let mut start = |listener, acceptor| {
            let (proxy, settings, limits, stop) = (
                proxy.clone(),
                self.settings.clone(),
                limits.clone(),
                stopped(),
            );
            tasks.push(tokio::spawn(async move {
                super::serve(listener, proxy, limits, &settings, acceptor, stop).await
            }));
        };
        start(self.http, None);
        if let Some((listener, certs)) = self.https {
            let acceptor = tls::acceptor(certs.clone())?;
            start(listener, Some(acceptor));
            tasks.push(tokio::spawn(reload_on_hangup(certs, stopped())));
        }
        Ok(tasks)
    }
}

/// Reads the router's certificates again on each SIGHUP until `stop` (an operator renewed them).
async fn reload_on_hangup(certs: Arc<Certificates>, stop: impl Future<Output = ()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("no SIGHUP handler: certificates are read at start only");
        return;
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = hangups.recv() => match certs.reload() {
                Ok(n) => tracing::info!(certificates = n, "router certificates reloaded"),
                Err(e) => tracing::warn!(error = %e, "router certificates not reloaded; keeping the loaded ones"),
            },
        }
    }
}
