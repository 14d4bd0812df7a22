//! The `ImageBuilder` port: a checked-out source directory in, something a [`crate::runtime::Runtime`]
//! can run out (an image, or a directory for local processes).

use std::path::Path;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Application, Deployment, Language};

/// What to build.
#[derive(Debug)]
pub struct BuildJob<'a> {
    pub app: &'a Application,
    pub deployment: &'a Deployment,
    /// The checkout. The builder may build in place.
    pub source_dir: &'a Path,
    pub language: Language,
    /// The Procfile's `web:` line, if any; overrides the language's start command.
    pub start_command: Option<String>,
}

/// What a build produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// Image reference (or directory) the runtime runs.
    pub image: String,
    /// Command the runtime starts, where the image does not carry its own.
    pub start_command: Option<String>,
}

#[async_trait]
pub trait ImageBuilder: Send + Sync {
    /// Builds. A failing build step is [`crate::Error::BuildFailed`] (user fault) with the failing
    /// output in the reason; anything else the platform's fault.
    async fn build(&self, job: BuildJob<'_>) -> Result<BuiltImage>;
    /// Removes a built image (garbage of deleted apps and old deployments). Removing an image
    /// that is already gone succeeds.
    async fn remove_image(&self, image: &str) -> Result<()>;
}
