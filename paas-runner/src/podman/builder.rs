//! [`ImageBuilder`] on Podman: writes the language's Containerfile into the checkout (or uses the
//! repository's own), sends the checkout to `POST /libpod/build`, and streams the build output
//! into the deployment's build log. Images are tagged `paas/<app>:<deployment>` and labelled
//! with app, deployment and commit.

use std::collections::VecDeque;
use std::io::Write;

use async_trait::async_trait;
use futures::StreamExt;
use paas_core::builder::{BuildJob, BuiltImage, ImageBuilder, log_line};
use paas_core::{Error, Result};
use podman_api::Podman;
use podman_api::opts::ImageBuildOpts;

use super::containerfile::{self, BaseImages};
use super::runtime::DEFAULT_CONTAINER_PORT;
use super::{message, platform, status};

/// The Containerfile the builder writes into a checkout (a name no repository uses).
const GENERATED: &str = ".paas.Containerfile";
/// Lines of build output kept to explain a failure.
const TAIL_LINES: usize = 20;

/// Builds images with Podman. Cheap to clone.
#[derive(Clone)]
pub struct PodmanBuilder {
    podman: Podman,
    images: BaseImages,
}

impl PodmanBuilder {
    pub fn new(podman: Podman, images: BaseImages) -> Self {
        Self { podman, images }
    }
}

#[async_trait]
impl ImageBuilder for PodmanBuilder {
    #[tracing::instrument(skip_all, fields(app_id = %job.app.id, deployment = %job.deployment.id, language = %job.language), err)]
    async fn build(&self, job: BuildJob<'_>) -> Result<BuiltImage> {
        let dir = job.source_dir;
        let port = job.app.port.map_or(DEFAULT_CONTAINER_PORT, |p| p.get());
        let dockerfile = match containerfile::generate(
            job.language,
            &self.images,
            dir,
            port,
            job.start_command.as_deref(),
        )? {
            Some(text) => {
                std::fs::write(dir.join(GENERATED), &text)
                    .map_err(|e| Error::io("writing the Containerfile", e))?;
                log_line(job.log, &format!("generated Containerfile:\n{text}"))?;
                GENERATED
            }
            None => containerfile::own(dir).ok_or_else(|| {
                Error::BuildFailed("the repository has no Containerfile or Dockerfile".into())
            })?,
        };
        let tag = format!("paas/{}:{}", job.app.name, job.deployment.id);
        let commit = job
            .deployment
            .commit
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let opts = ImageBuildOpts::builder(dir.display().to_string())
            .dockerfile(dockerfile)
            .tag(&tag)
            .labels([
                ("paas.app", job.app.id.to_string()),
                ("paas.deployment", job.deployment.id.to_string()),
                ("paas.commit", commit),
            ])
            .remove(true)
            .force_rm(true)
            .build();

        let images = self.podman.images();
        let mut stream = images.build(&opts).map_err(|e| platform("build", &e))?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(job.log)
            .map_err(|e| Error::io("opening the build log", e))?;
        let mut recent: VecDeque<String> = VecDeque::new();
        let mut failure = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(out) => {
                    log.write_all(out.stream.as_bytes())
                        .map_err(|e| Error::io("writing the build log", e))?;
                    for line in out.stream.lines().filter(|l| !l.trim().is_empty()) {
                        if recent.len() == TAIL_LINES {
                            recent.pop_front();
                        }
                        recent.push_back(line.to_owned());
                    }
                }
                Err(e) => {
                    let _ = writeln!(log, "{}", message(&e));
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(stream);
        let built = images
            .get(&tag)
            .exists()
            .await
            .map_err(|e| platform("image check", &e))?;
        if built {
            return Ok(BuiltImage {
                image: tag,
                start_command: None,
            });
        }
        // The service answered and streamed, but no image came out: a step of the build failed,
        // which is the app's fault. Its error names the failing step.
        let tail: Vec<String> = recent.into_iter().collect();
        let reason = match &failure {
            Some(e) if status(e).is_none() && !matches!(e, podman_api::Error::ServerError(_)) => {
                return Err(platform("build", e));
            }
            Some(e) => format!("{}\n{}", message(e), tail.join("\n")),
            None => tail.join("\n"),
        };
        if reason.contains("no space left on device") {
            // The build host's disk, not the app: retried like any platform fault.
            return Err(Error::Runtime(format!(
                "podman build: the disk is full: {}",
                reason.trim()
            )));
        }
        Err(Error::BuildFailed(reason.trim().to_owned()))
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        match self.podman.images().get(image).remove().await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(platform("image remove", &e)),
        }
    }
}
