//! Step 3 of the create flow: the builder takes build requests off the queue, checks the commit
//! out into a per-deployment directory, builds it with the [`crate::builder::ImageBuilder`],
//! records the result and reports it on the results topic for the deployer (`deploy`).
//!
//! Expected flow: `consume` hands a request over under the app's lock → a deployment already
//! built has its result reported again, a replaced one is stopped → `BUILDING` → clone, detect
//! the language, read the Procfile, build, each attempt counted on the deployment → the build's
//! output, written to a log file by the builder, is captured into the app's log as it is
//! written (`capture`) → `BUILT` and `BuildSucceeded`, or the deployment failed and
//! `BuildFailed`.
//!
//! Guarantees: a platform fault is retried with the platform's build `RetryPolicy`; a user fault
//! fails the app at once with the reason and is never retried. A redelivered request for a
//! deployment already built re-sends its result and changes nothing else. Every line of the
//! build log is in the log store before the build's end is recorded; the file is only the
//! builder's buffer and is removed once stored, so the log reads the same from any host.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use futures::FutureExt;

use super::consume::{Attempts, STEP_WAIT, Step, Work, run_steps};
use crate::builder::{BuildJob, BuiltImage, log_line};
use crate::error::{Error, Result};
use crate::git::HeadCommit;
use crate::logs::LogStream;
use crate::model::{
    AppId, Application, Deployment, DeploymentId, DeploymentStatus, Language, Procfile,
};
use crate::platform::Platform;
use crate::queue::{Message, Topic};
use crate::status::AppStatus;

impl Platform {
    /// Runs the builder until `shutdown` completes.
    pub async fn run_builder(&self, shutdown: impl Future<Output = ()>) {
        run_steps("builder", shutdown, || self.build_step(STEP_WAIT)).await;
    }

    /// Takes one build request (waiting up to `wait`) and builds it.
    pub async fn build_step(&self, wait: Duration) -> Result<Step> {
        self.consume_step(Topic::Builds, wait, |message| match message {
            // The build runs under the app's lock, so a forced restart can stop it.
            Message::BuildRequest { app, deployment } => Some(Work {
                app: *app,
                purpose: format!("building deployment {deployment}"),
                run: self.build_deployment(*app, *deployment).boxed(),
            }),
            other => {
                tracing::warn!(?other, "not a build request; dropped");
                None
            }
        })
        .await
    }

    #[tracing::instrument(skip(self), err)]
    async fn build_deployment(&self, app_id: AppId, dep_id: DeploymentId) -> Result<()> {
        let Some(mut dep) = self.store().deployment(dep_id).await? else {
            return Ok(()); // the app was deleted meanwhile
        };
        if dep.status.is_built() {
            if dep.status == DeploymentStatus::Built {
                // We died between recording the build and reporting it: report again.
                let done = Message::BuildSucceeded {
                    app: app_id,
                    deployment: dep_id,
                };
                self.queue().push(Topic::Results, done).await?;
            }
            return Ok(());
        }
        let Some(app) = self.app(app_id).await? else {
            return Ok(());
        };
        if self.replaced(app.deployment, &mut dep).await? {
            return Ok(());
        }
        // A running app keeps serving (and stays RUNNING) while its next deployment builds.
        if !matches!(app.status, AppStatus::Building | AppStatus::Running) {
            self.set_status(app.id, AppStatus::Building, None).await?;
        }
        dep.status = DeploymentStatus::Building;
        self.store().update_deployment(&dep).await?;
        self.track(dep.id, "building", None).await?;

        // Every line of the build log goes into the app's log as it is written. The file of an
        // earlier run of this build (a worker that died) is in the store already.
        let log = self.config().build_log(dep.id);
        remove_log(&log).await;
        let capture = self.capture_file(app.id, dep.id, log.clone(), LogStream::Build);
        let began = std::time::Instant::now();
        let built = self.build_attempts(&app, &mut dep, &log).await;
        crate::metrics::build_finished(began.elapsed(), built.is_ok());
        // Stored before the build's end is recorded: a build log subscriber ends on that.
        match capture.finish().await {
            Ok(()) => remove_log(&log).await,
            Err(e) => {
                tracing::warn!(deployment = %dep.id, error = %e, "build log not fully stored");
            }
        }
        // A forced restart may have cancelled the deployment while it built.
        let current = self.store().deployment(dep.id).await?;
        if current.is_none_or(|d| d.status != DeploymentStatus::Building) {
            tracing::info!(deployment = %dep.id, "deployment cancelled during its build");
            return Ok(());
        }
        self.record_build(&app, &mut dep, built).await
    }

    /// Builds under the build retry policy, each attempt counted on the deployment and noted in
    /// the build log.
    async fn build_attempts(
        &self,
        app: &Application,
        dep: &mut Deployment,
        log: &Path,
    ) -> Result<(BuiltImage, HeadCommit, Language)> {
        let policy = self.config().build_retry;
        let retry = |e: &Error| e.fault() == crate::Fault::Platform;
        self.counted(policy, dep, Attempts::Build, retry, |attempt, dep| {
            async move {
                // Best effort: a log that cannot be written must not change the outcome.
                if attempt > 1 {
                    let line = format!("build attempt {attempt} of {}", policy.max_attempts);
                    let _ = log_line(log, &line);
                }
                let out = self.build_once(app, &dep, log).await;
                if let Err(e) = &out {
                    // The output is in the log already; the reason's first line says it.
                    let _ = log_line(log, &format!("error: {}", first_line(e)));
                }
                out
            }
        })
        .await
    }

    /// Records the build's end: in the log first (a build log subscriber ends on it), then on
    /// the deployment, then on the queue for the deployer.
    async fn record_build(
        &self,
        app: &Application,
        dep: &mut Deployment,
        built: Result<(BuiltImage, HeadCommit, Language)>,
    ) -> Result<()> {
        let end = match &built {
            Ok((image, _, _)) => format!("build succeeded: {}", image.image),
            Err(e) => format!(
                "build failed after {} attempt(s): {}",
                dep.build_attempts,
                first_line(e)
            ),
        };
        self.system_log(app.id, Some(dep.id), end).await;
        let report = match built {
            Ok((image, commit, language)) => {
                dep.status = DeploymentStatus::Built;
                dep.image = Some(image.image);
                dep.start_command = image.start_command;
                dep.commit = Some(commit.commit);
                // The checkout is the truth about its commit (a webhook's word is not).
                if commit.message.is_some() || commit.author.is_some() {
                    dep.commit_message = commit.message;
                    dep.commit_author = commit.author;
                }
                dep.error = None;
                self.store().update_deployment(dep).await?;
                if app.language != Some(language) {
                    self.update_app(app.id, |a| {
                        a.language = Some(language);
                        Ok(())
                    })
                    .await?;
                }
                Message::BuildSucceeded {
                    app: app.id,
                    deployment: dep.id,
                }
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::info!(app_id = %app.id, %reason, attempts = dep.build_attempts, "build failed");
                self.fail_deployment(dep, reason.clone()).await?;
                Message::BuildFailed {
                    app: app.id,
                    deployment: dep.id,
                    reason,
                }
            }
        };
        self.queue().push(Topic::Results, report).await
    }

    /// One try: fresh checkout, language, Procfile, build.
    async fn build_once(
        &self,
        app: &Application,
        dep: &Deployment,
        log: &Path,
    ) -> Result<(BuiltImage, HeadCommit, Language)> {
        // Our disk failing is the platform's fault (retried), unlike anything about the repository.
        let work_dir = self.config().build_dir();
        tokio::fs::create_dir_all(&work_dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", work_dir.display()), e))?;
        let dir = work_dir.join(dep.id.to_string());
        if dir.exists() {
            tokio::fs::remove_dir_all(&dir)
                .await
                .map_err(|e| Error::io(format!("clearing {}", dir.display()), e))?;
        }
        let source = &app.source;
        log_line(log, &format!("cloning {} ({})", source.url, source.branch))?;
        let token = self.clone_token(app.owner, &app.source.url).await?;
        let commit = self
            .git()
            .clone_at(
                &source.url,
                &source.branch,
                dep.commit.as_ref().or(source.commit.as_ref()),
                &dir,
                token.as_ref(),
            )
            .await?;
        let commit = match self.git().checked_out(&source.url, &dir).await {
            Ok(read) => read,
            Err(e) => {
                tracing::info!(app_id = %app.id, error = %e, "could not read the commit's message");
                HeadCommit {
                    commit,
                    message: None,
                    author: None,
                }
            }
        };
        // What is built and run is the commit's files, not the repository: its history and
        // git's own files stay out of images and of what an app serves (a static site served
        // from the checkout would answer `/.git/config` to anyone).
        match tokio::fs::remove_dir_all(dir.join(".git")).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("removing the checkout's .git", e));
            }
            _ => {}
        }
        let Some(language) = app.language.or_else(|| Language::detect(&dir)) else {
            return Err(Error::BuildFailed(
                "could not tell the app's language from its files (Cargo.toml, go.mod, \
                 package.json, requirements.txt, *.py, index.html, Containerfile): \
                 choose one when creating the app"
                    .into(),
            ));
        };
        let procfile = Procfile::read(&dir).map_err(|e| Error::io("reading the Procfile", e))?;
        log_line(log, &format!("building {} as {language}", commit.commit))?;
        let image = self
            .images()
            .build(BuildJob {
                app,
                deployment: dep,
                source_dir: &dir,
                language,
                start_command: procfile.web,
                log,
            })
            .await?;
        log_line(log, &format!("build finished: {}", image.image))?;
        Ok((image, commit, language))
    }
}

/// The first line of an error: its output is in the log already.
fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Removes a build log file. Best effort: a file left behind holds lines the store has too,
/// and the next build of the deployment removes it first.
async fn remove_log(log: &Path) {
    match tokio::fs::remove_file(log).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(log = %log.display(), error = %e, "could not remove a build log");
        }
        _ => {}
    }
}
