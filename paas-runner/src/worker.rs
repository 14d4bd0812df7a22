//! The build worker, step 3 of the create flow: take a build request, check the commit out into
//! a per-deployment directory, build it, record the result, report it on the queue.
//!
//! Guarantees: a platform fault is retried with the platform's build `RetryPolicy`; a user fault
//! fails the app at once with the reason and is never retried. A redelivered request for a
//! deployment already built re-sends its result and changes nothing else.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use paas_core::builder::{BuildJob, BuiltImage, log_line};
use paas_core::flow::{Step, run_steps, while_renewing};
use paas_core::logs::LogStream;
use paas_core::model::{
    AppId, Application, Deployment, DeploymentId, DeploymentStatus, Language, Procfile,
};
use paas_core::queue::{Message, Topic};
use paas_core::{AppStatus, Error, Platform, Result};

/// Builds what the queue asks for.
#[derive(Clone)]
pub struct BuildWorker {
    platform: Platform,
    /// Checkouts go to `<work_dir>/<deployment id>`.
    work_dir: PathBuf,
}

impl BuildWorker {
    /// A worker building with the platform's image builder.
    pub fn new(platform: Platform, work_dir: impl Into<PathBuf>) -> Self {
        Self {
            platform,
            work_dir: work_dir.into(),
        }
    }

    /// The build log of a deployment, beside its checkout.
    fn build_log(&self, deployment: DeploymentId) -> PathBuf {
        self.work_dir.join(format!("{deployment}.build.log"))
    }

    /// Runs until `shutdown` completes.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        run_steps("build worker", shutdown, || {
            self.step(Duration::from_secs(1))
        })
        .await;
    }

    /// Takes one build request (waiting up to `wait`) and handles it.
    pub async fn step(&self, wait: Duration) -> Result<Step> {
        let queue = self.platform.queue();
        let Some(delivery) = queue.pull(Topic::Builds, wait).await? else {
            return Ok(Step::Idle);
        };
        if delivery.attempt > paas_core::queue::MAX_DELIVERIES {
            self.platform.dead_letter(&delivery).await?;
            return Ok(Step::Handled);
        }
        match &delivery.message {
            Message::BuildRequest { app, deployment } => {
                // The build runs under the app's lock, so a forced restart can stop it.
                let purpose = format!("building deployment {deployment}");
                let build =
                    self.platform
                        .with_app_lock(*app, &purpose, self.handle(*app, *deployment));
                while_renewing(queue, &delivery, build).await?;
            }
            other => tracing::warn!(?other, "not a build request; dropped"),
        }
        queue.ack(&delivery).await?;
        Ok(Step::Handled)
    }

    #[tracing::instrument(skip(self), err)]
    async fn handle(&self, app_id: AppId, dep_id: DeploymentId) -> Result<()> {
        let p = &self.platform;
        let Some(mut dep) = p.store().deployment(dep_id).await? else {
            return Ok(()); // the app was deleted meanwhile
        };
        if dep.status.is_built() {
            if dep.status == DeploymentStatus::Built {
                // We died between recording the build and reporting it: report again.
                self.report(Message::BuildSucceeded {
                    app: app_id,
                    deployment: dep_id,
                })
                .await?;
            }
            return Ok(());
        }
        let Some(app) = p.app(app_id).await? else {
            return Ok(());
        };
        if app.deployment != Some(dep.id) {
            let why = "replaced by a newer deployment".to_owned();
            dep.status = DeploymentStatus::Stopped;
            dep.error = Some(why.clone());
            p.store().update_deployment(&dep).await?;
            return p.track(dep.id, "", Some(Some(why))).await;
        }
        // A running app keeps serving (and stays RUNNING) while its next deployment builds.
        if !matches!(app.status, AppStatus::Building | AppStatus::Running) {
            p.set_status(app.id, AppStatus::Building, None).await?;
        }
        dep.status = DeploymentStatus::Building;
        p.store().update_deployment(&dep).await?;
        p.track(dep.id, "building", None).await?;

        // Every line of the build log goes into the app's log as it is written.
        let log = self.build_log(dep.id);
        let capture = p.capture_file(app.id, dep.id, log.clone(), LogStream::Build);
        let attempts = p.config().build_retry.max_attempts;
        let built = p
            .config()
            .build_retry
            .run(|attempt| {
                dep.build_attempts += 1;
                let dep = dep.clone();
                let app = app.clone();
                let log = log.clone();
                async move {
                    // Best effort: a log that cannot be written must not change the outcome.
                    if attempt > 1 {
                        let _ = log_line(&log, &format!("build attempt {attempt} of {attempts}"));
                    }
                    p.store().update_deployment(&dep).await?;
                    let out = self.build_once(&app, &dep).await;
                    if let Err(e) = &out {
                        // The output is in the log already; the reason's first line says it.
                        let first = e.to_string();
                        let first = first.lines().next().unwrap_or_default();
                        let _ = log_line(&log, &format!("error: {first}"));
                    }
                    out
                }
            })
            .await;
        // Stored before the build's end is recorded: a build log subscriber ends on that.
        if let Err(e) = capture.finish().await {
            tracing::warn!(deployment = %dep.id, error = %e, "build log not fully stored");
        }
        // A forced restart may have cancelled the deployment while it built.
        let current = p.store().deployment(dep.id).await?;
        if current.is_none_or(|d| d.status != DeploymentStatus::Building) {
            tracing::info!(deployment = %dep.id, "deployment cancelled during its build");
            return Ok(());
        }
        // The build's end, in its log before it is recorded (a build log subscriber ends then).
        let end = match &built {
            Ok((image, _, _)) => format!("build succeeded: {}", image.image),
            Err(e) => format!(
                "build failed after {} attempt(s): {}",
                dep.build_attempts,
                e.to_string().lines().next().unwrap_or_default()
            ),
        };
        p.system_log(app.id, Some(dep.id), end).await;
        match built {
            Ok((image, commit, language)) => {
                dep.status = DeploymentStatus::Built;
                dep.image = Some(image.image);
                dep.start_command = image.start_command;
                dep.commit = Some(commit);
                dep.error = None;
                p.store().update_deployment(&dep).await?;
                if app.language != Some(language) {
                    p.update_app(app.id, |a| {
                        a.language = Some(language);
                        Ok(())
                    })
                    .await?;
                }
                self.report(Message::BuildSucceeded {
                    app: app.id,
                    deployment: dep.id,
                })
                .await
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::info!(app_id = %app.id, %reason, attempts = dep.build_attempts, "build failed");
                p.fail_deployment(&mut dep, reason.clone()).await?;
                self.report(Message::BuildFailed {
                    app: app.id,
                    deployment: dep.id,
                    reason,
                })
                .await
            }
        }
    }

    async fn report(&self, message: Message) -> Result<()> {
        self.platform.queue().push(Topic::Results, message).await
    }

    /// One try: fresh checkout, language, Procfile, build.
    async fn build_once(
        &self,
        app: &Application,
        dep: &Deployment,
    ) -> Result<(BuiltImage, paas_core::model::CommitId, Language)> {
        // Our disk failing is the platform's fault (retried), unlike anything about the repository.
        tokio::fs::create_dir_all(&self.work_dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", self.work_dir.display()), e))?;
        let dir = self.work_dir.join(dep.id.to_string());
        if dir.exists() {
            tokio::fs::remove_dir_all(&dir)
                .await
                .map_err(|e| Error::io(format!("clearing {}", dir.display()), e))?;
        }
        let log = self.build_log(dep.id);
        log_line(
            &log,
            &format!("cloning {} ({})", app.source.url, app.source.branch),
        )?;
        let source = &app.source;
        let token = self.platform.store().git_token(app.owner).await?;
        let commit = self
            .platform
            .git()
            .clone_at(
                &source.url,
                &source.branch,
                dep.commit.as_ref().or(source.commit.as_ref()),
                &dir,
                token.as_ref(),
            )
            .await?;
        let language = match app.language.or_else(|| Language::detect(&dir)) {
            Some(l) => l,
            None => {
                return Err(Error::BuildFailed(
                    "could not tell the app's language from its files (Cargo.toml, go.mod, \
                     package.json, requirements.txt, *.py, index.html, Containerfile): \
                     choose one when creating the app"
                        .into(),
                ));
            }
        };
        let procfile = Procfile::read(&dir).map_err(|e| Error::io("reading the Procfile", e))?;
        log_line(&log, &format!("building {commit} as {language}"))?;
        let image = self
            .platform
            .images()
            .build(BuildJob {
                app,
                deployment: dep,
                source_dir: &dir,
                language,
                start_command: procfile.web,
                log: &log,
            })
            .await?;
        log_line(&log, &format!("build finished: {}", image.image))?;
        Ok((image, commit, language))
    }
}
