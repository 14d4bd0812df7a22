//! Logs: writing lines (with the nudge on the bus), the platform's own `system` lines (with the
//! app's secrets scrubbed), reading pages on behalf of a user, and retention. Following live is
//! in `follow`, getting instance output and build logs into the store in `capture`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::events::{Event, LogsWritten, StatusEvent};
use crate::logs::{
    Direction, LogLine, LogPage, LogQuery, LogStream, LogTime, NewLine, SourcePosition,
};
use crate::model::{AppId, DeploymentId, User};
use crate::platform::Platform;

/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

impl Platform {
    /// Stores lines of an app and nudges its followers.
    pub async fn write_logs(&self, app: AppId, lines: &[NewLine]) -> Result<Vec<LogLine>> {
        self.append_logs_from(app, lines, None).await
    }

    pub(super) async fn append_logs_from(
        &self,
        app: AppId,
        lines: &[NewLine],
        position: Option<&SourcePosition>,
    ) -> Result<Vec<LogLine>> {
        let stored = self.store().append_logs(app, lines, position).await?;
        for stream in crate::logs::LogStream::ALL {
            let n = stored.iter().filter(|l| l.stream == stream).count();
            if n > 0 {
                crate::metrics::log_lines_stored(stream, n);
            }
        }
        if let Some(last) = stored.last() {
            let nudge = Event::Logs(LogsWritten {
                app_id: app,
                last: last.at,
            });
            if let Err(e) = self.bus().publish(nudge).await {
                tracing::debug!(error = %e, "log nudge not published; followers poll");
            }
        }
        Ok(stored)
    }

    /// Writes a `system` line: what the platform did to the app, in words. Values of the app's
    /// env vars are scrubbed out (a reason may quote the app's output). Best effort: a failure
    /// is logged, never returned, so that logging cannot fail the work it describes.
    pub(crate) async fn system_log(
        &self,
        app: AppId,
        deployment: Option<DeploymentId>,
        text: impl Into<String>,
    ) {
        let mut text = text.into();
        if let Ok(Some(a)) = self.app(app).await {
            text = a.env.scrub(&text);
        }
        // A reason quoting output spans lines: one log line each.
        let lines: Vec<NewLine> = text
            .trim_end()
            .lines()
            .map(|l| NewLine::new(LogStream::System, deployment, l))
            .collect();
        if let Err(e) = self.write_logs(app, &lines).await {
            tracing::warn!(app_id = %app, error = %e, "could not write a system log line");
        }
    }

    /// The system line of a status change.
    pub(crate) async fn log_status(&self, event: &StatusEvent) {
        let text = match &event.reason {
            Some(r) => format!("status {}: {r}", event.status),
            None => format!("status {}", event.status),
        };
        self.system_log(event.app_id, event.deployment, text).await;
    }

    /// Checks that `user` may read the lines `query` asks for: the app is theirs, and the
    /// deployment (if any) is the app's. Others get `NOT_FOUND`.
    pub(super) async fn check_log_query(&self, user: &User, query: &LogQuery) -> Result<()> {
        self.app_for(user, query.app).await?;
        if let Some(d) = query.deployment {
            match self.store().deployment(d).await? {
                Some(dep) if dep.app_id == query.app => {}
                _ => return Err(Error::NotFound("deployment")),
            }
        }
        Ok(())
    }

    /// A page of an app's log, for its owner.
    pub async fn logs_for(&self, user: &User, query: &LogQuery) -> Result<LogPage> {
        self.check_log_query(user, query).await?;
        let lines = self.store().read_logs(query).await?;
        let last = lines.last().map(|l| l.at).or(query.last).or(query.from);
        Ok(LogPage { lines, last })
    }

    /// The last `lines` lines (at most [`crate::logs::MAX_PAGE`]) of a deployment's build
    /// output, oldest first: clone, build steps, their output and errors. Read from the log
    /// store, so they are there whichever host built it.
    pub async fn build_output(
        &self,
        app: AppId,
        deployment: DeploymentId,
        lines: u64,
    ) -> Result<String> {
        let query = LogQuery {
            deployment: Some(deployment),
            streams: vec![LogStream::Build],
            limit: lines.clamp(1, crate::logs::MAX_PAGE),
            direction: Direction::Backward,
            ..LogQuery::app(app)
        };
        let mut newest_first = self.store().read_logs(&query).await?;
        newest_first.reverse();
        let texts: Vec<String> = newest_first.into_iter().map(|l| l.text).collect();
        Ok(texts.join("\n"))
    }

    /// Applies the retention policy to every app's log once; returns how many lines went.
    /// Lines of apps that no longer exist go entirely.
    pub async fn prune_logs(&self) -> Result<u64> {
        let retention = self.config().log_retention;
        let max_age =
            chrono::Duration::from_std(retention.max_age).unwrap_or(chrono::Duration::MAX);
        let before = LogTime::from(chrono::Utc::now() - max_age);
        let mut removed = 0;
        for app in self.store().apps_with_logs().await? {
            if self.store().app(app).await?.is_none() {
                removed += self.store().log_head(app).await?.lines;
                self.store().delete_logs(app).await?;
                continue;
            }
            removed += self
                .store()
                .prune_logs(app, before, retention.max_bytes_per_app)
                .await?;
        }
        Ok(removed)
    }

    /// Runs retention every minute until `shutdown` completes.
    pub async fn run_log_retention(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(RETENTION_EVERY) => {}
            }
            match self.prune_logs().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(lines = n, "old log lines removed"),
                Err(e) => tracing::warn!(error = %e, "log retention failed"),
            }
        }
    }
}
