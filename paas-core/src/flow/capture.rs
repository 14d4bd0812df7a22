//! Getting output into the log store: an instance's output (followed through the runtime, once
//! per instance in this process) and a build log file while the builder writes it. Both are a
//! source of line batches with positions, stored by one loop with one policy:
//!
//! - Each batch is stored with the position after it, in one transaction (compare-and-set), so
//!   a restarted reader goes on where the last one stopped, repeating nothing.
//! - Storing a batch is retried with the platform's build retry policy, except when another
//!   reader owns the source ([`Error::LockLost`]): this one then stops.
//! - An error of the source (the runtime's stream, reading the file) ends the capture with it.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::logs::{FileTail, LogStream, NewLine, SourcePosition};
use crate::model::{AppId, DeploymentId};
use crate::platform::Platform;
use crate::runtime::{OutputBatch, OutputLine};

/// How often a captured file is read.
const CAPTURE_EVERY: Duration = Duration::from_millis(100);

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
            let source = format!("instance:{instance}");
            let stored = async {
                let position = platform.store().log_position(&source).await?;
                let batches = platform.runtime().output(&instance, position.clone());
                platform
                    .store_source(app, deployment, &source, position, batches)
                    .await
            };
            match stored.await {
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

    /// Captures the file at `path` into the log of `app` as `stream` lines of `deployment`
    /// while it is written, until [`FileCapture::finish`]. Each capture is a source of its own
    /// (the builder starts each run of a build on a fresh file).
    pub(crate) fn capture_file(
        &self,
        app: AppId,
        deployment: DeploymentId,
        path: PathBuf,
        stream: LogStream,
    ) -> FileCapture {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let platform = self.clone();
        let source = format!(
            "file:{deployment}:{}:{}",
            stream.as_str(),
            uuid::Uuid::now_v7()
        );
        let task = tokio::spawn(async move {
            let batches = file_batches(FileTail::new(path, 0), stream, stopped);
            platform
                .store_source(app, deployment, &source, None, batches)
                .await
        });
        FileCapture {
            stop: Some(stop),
            task,
        }
    }

    /// The one capture loop: stores every batch of `batches` with the position after it.
    async fn store_source(
        &self,
        app: AppId,
        deployment: DeploymentId,
        source: &str,
        mut position: Option<String>,
        mut batches: BoxStream<'static, Result<OutputBatch>>,
    ) -> Result<()> {
        while let Some(batch) = batches.next().await {
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
                source: source.to_owned(),
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

/// The lines appended to a file, as batches with the byte position after them: looked at every
/// [`CAPTURE_EVERY`] (at once while a read stops at its size limit) until `stop`, then read to
/// the end (a last line without its end included).
fn file_batches(
    tail: FileTail,
    stream: LogStream,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> BoxStream<'static, Result<OutputBatch>> {
    // (the file, the stop signal until it came, whether the last batch was given)
    let state = (tail, Some(stop), false);
    futures::stream::unfold(state, move |(mut tail, mut stop, done)| async move {
        if done {
            return None;
        }
        loop {
            let stopping = match stop.as_mut() {
                // Stopped: reading what is left.
                None => true,
                Some(_) if tail.more() => false,
                Some(rx) => tokio::select! {
                    _ = rx => true,
                    () = tokio::time::sleep(CAPTURE_EVERY) => false,
                },
            };
            if stopping {
                stop = None;
            }
            let mut texts = match tail.read() {
                Ok(texts) => texts,
                Err(e) => {
                    let err = Error::io("reading a captured log", e);
                    return Some((Err(err), (tail, None, true)));
                }
            };
            let last = stopping && !tail.more();
            if last {
                texts.extend(tail.finish());
            }
            if !texts.is_empty() {
                let batch = OutputBatch {
                    lines: texts
                        .into_iter()
                        .map(|text| OutputLine {
                            stream,
                            text,
                            at: None,
                        })
                        .collect(),
                    position: tail.position().to_string(),
                };
                return Some((Ok(batch), (tail, stop, last)));
            }
            if last {
                return None;
            }
        }
    })
    .boxed()
}

/// A file being captured into an app's log; [`FileCapture::finish`] stores the rest.
pub(crate) struct FileCapture {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl FileCapture {
    /// Stops after storing every line written so far.
    pub(crate) async fn finish(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(Error::runtime_from("the log capture stopped", e)),
        }
    }
}
