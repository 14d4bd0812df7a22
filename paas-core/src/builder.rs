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
    /// The deployment's build log: the builder appends every line of build output to it.
    pub log: &'a Path,
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

/// Appends one line to a build log (the platform's own lines: cloning, detected language).
pub fn log_line(log: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = crate::secrets::files::append_private(log)
        .map_err(|e| crate::Error::io(format!("opening {}", log.display()), e))?;
    writeln!(f, "{text}").map_err(|e| crate::Error::io("writing the build log", e))
}

/// How much of the end of a log is read at most.
const TAIL_BYTES: u64 = 64 * 1024;

/// The last `lines` lines of a log (from its last 64 KiB). A missing file reads as empty.
pub fn tail(path: &Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    // The first line may be cut in the middle when reading started mid-file.
    let skip = usize::from(start > 0 && all.len() > 1);
    let from = all.len().saturating_sub(lines).max(skip);
    all[from..].join("\n")
}
