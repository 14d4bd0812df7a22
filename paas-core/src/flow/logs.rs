//! Logs: writing lines (with the nudge on the bus), reading pages on behalf of a user, following
//! live, collecting instance output, and retention.
//!
//! Following (`follow_logs`, `follow_build`) reads the store, never the bus: the bus only says
//! "app X has lines up to T". One cursor goes from the replay into the live part, so the seam has
//! no gap and no duplicate, whichever process wrote the lines. Each subscriber has a bounded
//! buffer; history is replayed at the subscriber's pace, while live lines that find its buffer
//! full are dropped for it and replaced by one [`LogItem::Lagged`] marker naming the range,
//! which `Query.logs` still serves. A slow subscriber never slows the app or the platform: the
//! lines go to the store either way.

use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, Result};
use crate::events::{Event, LogsWritten, StatusEvent};
use crate::logs::{
    Direction, LogLine, LogPage, LogQuery, LogStream, LogTime, NewLine, SourcePosition,
};
use crate::model::{AppId, DeploymentId, DeploymentStatus, User};
use crate::platform::Platform;

/// Lines read from the store at a time while following.
const FOLLOW_PAGE: u64 = 1000;
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// What a log subscriber receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogItem {
    Line(LogLine),
    /// `skipped` live lines, from `first` to `last`, were dropped because this subscriber's
    /// buffer was full. They are stored: a page query from `first` reads them.
    Lagged {
        skipped: u64,
        first: LogTime,
        last: LogTime,
    },
}

impl Platform {
    /// Stores lines of an app and nudges its followers.
    pub async fn write_logs(&self, app: AppId, lines: &[NewLine]) -> Result<Vec<LogLine>> {
        self.append_logs_from(app, lines, None).await
    }

    async fn append_logs_from(
        &self,
        app: AppId,
        lines: &[NewLine],
        position: Option<&SourcePosition>,
    ) -> Result<Vec<LogLine>> {
        let stored = self.store().append_logs(app, lines, position).await?;
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
    pub async fn system_log(
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
    async fn check_log_query(&self, user: &User, query: &LogQuery) -> Result<()> {
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

    /// Follows an app's log for its owner: lines from `query.from` (or the start), then live
    /// ones as they are written, until the app is deleted or the stream is dropped.
    pub async fn follow_logs(
        &self,
        user: &User,
        query: LogQuery,
    ) -> Result<BoxStream<'static, LogItem>> {
        self.check_log_query(user, &query).await?;
        self.follow(query, None).await
    }

    /// Follows a deployment's build log (its `build` and `system` lines) for the app's owner;
    /// ends once the build has ended and every line of it was delivered.
    pub async fn follow_build(
        &self,
        user: &User,
        deployment: DeploymentId,
    ) -> Result<BoxStream<'static, LogItem>> {
        let dep = self
            .store()
            .deployment(deployment)
            .await?
            .ok_or(Error::NotFound("deployment"))?;
        let mut query = LogQuery::app(dep.app_id);
        query.deployment = Some(deployment);
        query.streams = vec![LogStream::Build, LogStream::System];
        self.check_log_query(user, &query)
            .await
            .map_err(|_| Error::NotFound("deployment"))?;
        self.follow(query, Some(deployment)).await
    }

    async fn follow(
        &self,
        query: LogQuery,
        build: Option<DeploymentId>,
    ) -> Result<BoxStream<'static, LogItem>> {
        // Subscribed before the first read, so no nudge falls between the two.
        let events = self.bus().subscribe().await?;
        let head = self.store().log_head(query.app).await?.last;
        let (tx, rx) = mpsc::channel(self.config().log_buffer.max(1));
        let platform = self.clone();
        tokio::spawn(async move {
            let app = query.app;
            if let Err(e) = platform.feed(query, build, head, events, tx).await {
                tracing::warn!(app_id = %app, error = %e, "a log subscription ended early");
            }
        });
        Ok(ReceiverStream::new(rx).boxed())
    }

    /// Feeds one subscriber. `history_until`: lines up to it are history, delivered at the
    /// subscriber's pace; later ones are live.
    async fn feed(
        &self,
        mut q: LogQuery,
        build: Option<DeploymentId>,
        history_until: Option<LogTime>,
        mut events: BoxStream<'static, Event>,
        tx: mpsc::Sender<LogItem>,
    ) -> Result<()> {
        q.direction = Direction::Forward;
        q.limit = FOLLOW_PAGE;
        let mut lag: Option<(u64, LogTime, LogTime)> = None;
        let mut ending = false;
        loop {
            let page = self.store().read_logs(&q).await?;
            let full = page.len() as u64 == q.limit;
            for line in page {
                q.from = Some(line.at);
                q.last = Some(line.at);
                if history_until.is_some_and(|h| line.at <= h) {
                    if tx.send(LogItem::Line(line)).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                if let Some((skipped, first, last)) = lag {
                    match tx.try_send(LogItem::Lagged {
                        skipped,
                        first,
                        last,
                    }) {
                        Ok(()) => lag = None,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            lag = Some((skipped + 1, first, line.at));
                            continue;
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                    }
                }
                let at = line.at;
                match tx.try_send(LogItem::Line(line)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => lag = Some((1, at, at)),
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                }
            }
            if full {
                continue;
            }
            // Caught up with the store: the marker waits for room (newer lines wait in the
            // store meanwhile, not in memory).
            if let Some((skipped, first, last)) = lag.take() {
                let marker = LogItem::Lagged {
                    skipped,
                    first,
                    last,
                };
                if tx.send(marker).await.is_err() {
                    return Ok(());
                }
            }
            if ending {
                return Ok(());
            }
            if let Some(dep) = build
                && self.build_ended(dep).await?
            {
                // Every build line was committed before the build's end was: one more read.
                ending = true;
                continue;
            }
            tokio::select! {
                more = next_nudge(&mut events, q.app) => {
                    if !more {
                        // The bus is gone: poll.
                        tokio::time::sleep(self.config().log_poll).await;
                    }
                }
                () = tokio::time::sleep(self.config().log_poll) => {
                    if self.store().app(q.app).await?.is_none() {
                        return Ok(()); // deleted
                    }
                }
                () = tx.closed() => return Ok(()),
            }
        }
    }

    async fn build_ended(&self, dep: DeploymentId) -> Result<bool> {
        Ok(match self.store().deployment(dep).await? {
            Some(d) => !matches!(
                d.status,
                DeploymentStatus::Queued | DeploymentStatus::Building
            ),
            None => true,
        })
    }

    /// Starts storing an instance's output (once per instance in this process), until the
    /// instance is gone.
    pub(crate) fn collect_output(&self, app: AppId, deployment: DeploymentId, instance: &str) {
        if !self.follow_instance(instance) {
            return;
        }
        let platform = self.clone();
        let instance = instance.to_owned();
        tokio::spawn(async move {
            match platform.collect(app, deployment, &instance).await {
                Ok(()) => {}
                Err(Error::LockLost(_)) => {
                    tracing::debug!(%instance, "another process follows this instance's output");
                }
                Err(e) => {
                    tracing::warn!(%instance, error = %e, "stopped following an instance's output");
                }
            }
            platform.unfollow_instance(&instance);
        });
    }

    async fn collect(&self, app: AppId, deployment: DeploymentId, instance: &str) -> Result<()> {
        let source = format!("instance:{instance}");
        let mut position = self.store().log_position(&source).await?;
        let mut output = self.runtime().output(instance, position.clone());
        while let Some(batch) = output.next().await {
            let batch = batch?;
            let lines: Vec<NewLine> = batch
                .lines
                .into_iter()
                .map(|l| NewLine {
                    stream: l.stream,
                    deployment: Some(deployment),
                    text: l.text,
                    at: l.at,
                })
                .collect();
            let pos = SourcePosition {
                source: source.clone(),
                expected: position.clone(),
                next: batch.position.clone(),
            };
            self.config()
                .build_retry
                .run_while(
                    |_| self.append_logs_from(app, &lines, Some(&pos)),
                    |e| !matches!(e, Error::LockLost(_)),
                )
                .await?;
            position = Some(batch.position);
        }
        Ok(())
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

/// Waits for a nudge about `app`; false when the bus stream ended.
async fn next_nudge(events: &mut BoxStream<'static, Event>, app: AppId) -> bool {
    while let Some(event) = events.next().await {
        if let Event::Logs(LogsWritten { app_id, .. }) = event
            && app_id == app
        {
            return true;
        }
    }
    false
}

/// Copies the lines appended to a file (a build log) into an app's log while the work that
/// writes it runs. [`FileCapture::finish`] stores the rest; until then it looks every 100 ms.
pub struct FileCapture {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

/// How often a captured file is read.
const CAPTURE_EVERY: Duration = Duration::from_millis(100);

impl FileCapture {
    /// Stops after storing every line written so far.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(Error::Runtime(format!("the log capture stopped: {e}"))),
        }
    }
}

impl Platform {
    /// Captures `path` into the log of `app` as `stream` lines of `deployment`. Where an earlier
    /// capture of the same file stopped is remembered, so nothing is stored twice.
    pub fn capture_file(
        &self,
        app: AppId,
        deployment: DeploymentId,
        path: std::path::PathBuf,
        stream: LogStream,
    ) -> FileCapture {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let platform = self.clone();
        let task = tokio::spawn(async move {
            let source = format!("file:{deployment}:{}", stream.as_str());
            let mut position = platform.store().log_position(&source).await?;
            let start = position
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let mut tail = crate::logs::FileTail::new(path, start);
            loop {
                let done = tokio::select! {
                    _ = &mut stopped => true,
                    () = tokio::time::sleep(CAPTURE_EVERY) => false,
                };
                let mut texts = tail
                    .read()
                    .map_err(|e| Error::io("reading a captured log", e))?;
                if done {
                    texts.extend(tail.finish());
                }
                if !texts.is_empty() {
                    let lines: Vec<NewLine> = texts
                        .into_iter()
                        .map(|t| NewLine::new(stream, Some(deployment), t))
                        .collect();
                    let next = tail.position().to_string();
                    let pos = SourcePosition {
                        source: source.clone(),
                        expected: position.clone(),
                        next: next.clone(),
                    };
                    platform.append_logs_from(app, &lines, Some(&pos)).await?;
                    position = Some(next);
                }
                if done {
                    return Ok(());
                }
            }
        });
        FileCapture {
            stop: Some(stop),
            task,
        }
    }
}
