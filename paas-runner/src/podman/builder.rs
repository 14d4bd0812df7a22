//! [`ImageBuilder`] on Podman: writes the language's Containerfile into the checkout (or uses the
//! repository's own), sends the checkout to `POST /libpod/build`, and streams the build output
//! into the deployment's build log. Images are tagged `paas/<app>:<deployment>` and labelled
//! with app, deployment and commit. With a registry ([`PodmanBuilder::with_registry`]), the
//! image is tagged `<registry>/paas/<app>:<deployment>` instead and pushed there, so that other
//! machines (Nomad's nodes) can pull it.

use std::collections::VecDeque;
use std::io::Write;

use async_trait::async_trait;
use futures::StreamExt;
use paas_core::builder::{BuildJob, BuiltImage, ImageBuilder, log_line};
use paas_core::{Error, Result};
use podman_api::opts::{ImageBuildOpts, ImagePushOpts, ImageTagOpts};

use super::containerfile::{self, BaseImages};
use super::runtime::DEFAULT_CONTAINER_PORT;
use super::{Podman, message, platform, status};

/// The Containerfile the builder writes into a checkout (a name no repository uses).
const GENERATED: &str = ".paas.Containerfile";
/// Lines of build output kept to explain a failure.
const TAIL_LINES: usize = 20;

/// Where built images are pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    /// `host[:port]`, e.g. `registry.example.com` or `127.0.0.1:5000`.
    pub host: String,
    /// False for a registry served over plain HTTP (or with a self-signed certificate).
    pub tls_verify: bool,
}

/// Builds images with Podman. Cheap to clone.
#[derive(Clone)]
pub struct PodmanBuilder {
    podman: Podman,
    images: BaseImages,
    registry: Option<Registry>,
}

impl PodmanBuilder {
    pub fn new(podman: Podman, images: BaseImages) -> Self {
        Self {
            podman,
            images,
            registry: None,
        }
    }

    /// Pushes every built image to `registry`; deployments then name the pushed image.
    pub fn with_registry(mut self, registry: Option<Registry>) -> Self {
        self.registry = registry;
        self
    }

    /// Tags the local image with the registry's name, pushes it, and keeps only that name.
    async fn push(
        &self,
        local: &str,
        registry: &Registry,
        log: &std::path::Path,
    ) -> Result<String> {
        let remote = format!("{}/{local}", registry.host);
        let (repo, tag) = remote
            .rsplit_once(':')
            .ok_or_else(|| Error::runtime(format!("image name {remote} has no tag")))?;
        let images = self.podman.images();
        images
            .get(local)
            .tag(&ImageTagOpts::builder().repo(repo).tag(tag).build())
            .await
            .map_err(|e| platform(&self.podman, "image tag", e))?;
        log_line(log, &format!("pushing {remote}"))?;
        let opts = ImagePushOpts::builder()
            .destination(&remote)
            .tls_verify(registry.tls_verify)
            .build();
        let image = images.get(&remote);
        let mut progress = image.push(&opts);
        while let Some(chunk) = progress.next().await {
            let chunk = chunk.map_err(|e| platform(&self.podman, "push", e))?;
            // libpod reports a failed push inside the stream: {"error": "..."}.
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&chunk)
                && let Some(e) = v.get("error").and_then(|e| e.as_str())
            {
                return Err(Error::runtime(format!("pushing {remote}: {e}")));
            }
        }
        log_line(log, &format!("pushed {remote}"))?;
        // The local name goes; the image stays under the registry's name (removed with it).
        // (Removing one of an image's two names only untags it.)
        if let Err(e) = images.get(local).remove().await {
            tracing::debug!(image = %local, error = %message(&e), "local name kept");
        }
        Ok(remote)
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
        let mut stream = images
            .build(&opts)
            .map_err(|e| platform(&self.podman, "build", e))?;
        let mut log = paas_core::secrets::files::append_private(job.log)
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
            .map_err(|e| platform(&self.podman, "image check", e))?;
        if built {
            let image = match &self.registry {
                Some(registry) => self.push(&tag, registry, job.log).await?,
                None => tag,
            };
            return Ok(BuiltImage {
                image,
                start_command: None,
            });
        }
        // The service answered and streamed, but no image came out: a step of the build failed,
        // which is the app's fault. Its error names the failing step.
        let tail: Vec<String> = recent.into_iter().collect();
        let reason = match failure {
            Some(e) if status(&e).is_none() && !matches!(e, podman_api::Error::ServerError(_)) => {
                return Err(platform(&self.podman, "build", e));
            }
            Some(e) => format!("{}\n{}", message(&e), tail.join("\n")),
            None => tail.join("\n"),
        };
        if reason.contains("no space left on device") {
            // The build host's disk, not the app: retried like any platform fault.
            return Err(Error::runtime(format!(
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
            Err(e) => Err(platform(&self.podman, "image remove", e)),
        }
    }
}
