//! [`Platform::run`]: every background loop the platform needs, started in one place, so that an
//! embedder gets the whole platform with one call and a new loop is added here once.
//!
//! The loops: the builder (build requests → images), the deployer (images → instances), the
//! supervisor (crashed instances restarted, after recovery at start), the task queue (queued
//! user tasks run once their app is free), log retention, requeue (messages the queue lost
//! pushed again from the database), the scaler (idle apps to sleep, replicas for the load),
//! auto-deploy (new commits of followed branches deployed, the other branches previewed),
//! the warden (routed replicas' health checked, unhealthy ones restarted), and housekeeping
//! (old events pruned, free disk space watched). Instance output is
//! captured per instance, started by the
//! deployer and the supervisor.
//!
//! Expected flow: `run(shutdown)` spawns the selected loops → `shutdown` completes → every loop
//! is told to stop and awaited → [`Platform::shutdown`] stops the apps that die with this
//! process (local processes) and gives back the locks of unfinished work. So when `run`
//! returns, nothing of the platform runs any more.

use std::future::Future;

use crate::platform::Platform;

/// Which background loops [`Platform::run_loops`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loops {
    /// Build requests in, images out.
    pub builder: bool,
    /// Built images in, running instances out.
    pub deployer: bool,
    /// Recovery at start, then crashed instances restarted by the restart policy.
    pub supervisor: bool,
    /// Queued tasks run once their app is free.
    pub tasks: bool,
    /// Old log lines removed.
    pub log_retention: bool,
    /// What the queue lost pushed again from the database.
    pub requeue: bool,
    /// Idle apps put to sleep, instances added and removed for the load.
    pub scaler: bool,
    /// The branches of apps with `autoDeploy` watched, their new commits deployed; the other
    /// branches of those with previews get preview apps.
    pub auto_deploy: bool,
    /// The routed replicas' health checked, unhealthy ones restarted (in one process at a
    /// time, whichever holds the warden's lock).
    pub warden: bool,
    /// Old events pruned from the event log, the data directory's free space watched.
    pub housekeeping: bool,
}

impl Loops {
    /// Every loop: a whole platform in one process.
    pub const ALL: Loops = Loops {
        builder: true,
        deployer: true,
        supervisor: true,
        tasks: true,
        log_retention: true,
        requeue: true,
        scaler: true,
        auto_deploy: true,
        warden: true,
        housekeeping: true,
    };

    /// Only the builder: a build worker (`paas worker`). Builds are the one step that needs
    /// CPU, disk and toolchains rather than the apps' hosts, so they scale out on their own; every
    /// other loop acts on instances or on the whole platform and runs with the servers.
    pub const BUILDER: Loops = Loops {
        builder: true,
        deployer: false,
        supervisor: false,
        tasks: false,
        log_retention: false,
        requeue: false,
        scaler: false,
        auto_deploy: false,
        warden: false,
        housekeeping: false,
    };
}

impl Platform {
    /// Runs every loop the platform needs (the builder unless
    /// [`crate::PlatformConfig::run_builder`] is off) until `shutdown` completes, then stops the
    /// apps that die with this process. See the module's expected flow.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let loops = Loops {
            builder: self.config().run_builder,
            ..Loops::ALL
        };
        self.run_loops(loops, shutdown).await;
    }

    /// Runs the `loops` selected until `shutdown` completes, then stops the apps that die with
    /// this process.
    pub async fn run_loops(&self, loops: Loops, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        let p = || self.clone();
        if loops.builder {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_builder(stop).await });
        }
        if loops.deployer {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_deployer(stop).await });
        }
        if loops.supervisor {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move {
                // Recovery first, so that an instance lost with a crash is recovered, not
                // counted as a crash of the app.
                if let Err(e) = p.reconcile().await {
                    tracing::error!(error = %e, "recovery at start-up failed");
                }
                p.run_supervisor(stop).await;
            });
        }
        if loops.tasks {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_task_queue(stop).await });
        }
        if loops.log_retention {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_log_retention(stop).await });
        }
        if loops.requeue {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_requeue(stop).await });
        }
        if loops.scaler {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_scaler(stop).await });
        }
        if loops.auto_deploy {
            let (p1, stop) = (p(), stopped());
            tasks.spawn(async move { p1.run_auto_deploy(stop).await });
            let (p2, stop) = (p(), stopped());
            tasks.spawn(async move { p2.run_branch_previews(stop).await });
        }
        if loops.warden {
            let (p, stop) = (p(), stopped());
            tasks.spawn(async move { p.run_warden(stop).await });
        }
        if loops.housekeeping {
            let (events, stop) = (p(), stopped());
            tasks.spawn(async move { events.run_event_retention(stop).await });
            let (disk, stop) = (p(), stopped());
            tasks.spawn(async move { disk.run_disk_check(stop).await });
        }
        tracing::info!(?loops, "platform running");
        shutdown.await;
        let _ = stop_tx.send(true);
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "a platform loop ended abnormally");
            }
        }
        if let Err(e) = self.shutdown().await {
            tracing::error!(error = %e, "could not stop the apps' instances at shutdown");
        }
    }
}
