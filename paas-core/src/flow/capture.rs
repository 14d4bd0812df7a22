//! Getting lines into the store: an instance's output (followed through the runtime, once per
//! instance in this process) and a file while it is written (a build log). Where each source
//! was read up to is stored with its lines, so a restarted reader repeats nothing.

use std::time::Duration;

use futures::StreamExt;

use crate::error::{Error, Result};
use crate::logs::{LogStream, NewLine, SourcePosition};
use crate::model::{AppId, DeploymentId};
use crate::platform::Platform;

impl Platform {
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
            Err(e) => Err(Error::runtime_from("the log capture stopped", e)),
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
