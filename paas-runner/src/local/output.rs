//! Output of local processes: stdout goes to `<logs>/<instance>.log` and stderr to
//! `<instance>.err.log`. Files rather than pipes to the server: the processes outlive a
//! crashed server (they are adopted by the next run), and a pipe would kill them with `SIGPIPE`
//! on their next write. Following reads the files as they grow.

use std::path::{Path, PathBuf};
use std::time::Duration;

use paas_core::logs::{FileTail, LogStream};
use paas_core::runtime::{OutputBatch, OutputLine};
use paas_core::{Error, Result};

/// How many lines of output are quoted to the user in an error.
const TAIL_LINES: usize = 15;
/// How often the output files of a quiet process are read while following.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(50);
/// How soon they are read again after a read found lines (the wait doubles back to
/// [`FOLLOW_EVERY`] while nothing comes): a process that is writing has its lines stored within
/// about this long.
pub const FOLLOW_SOON: Duration = Duration::from_millis(10);

/// The stdout file of an instance.
pub fn out_log(logs_dir: &Path, instance: &str) -> PathBuf {
    logs_dir.join(format!("{instance}.log"))
}

/// The stderr file next to a stdout file.
pub fn err_log(out: &Path) -> PathBuf {
    out.with_extension("err.log")
}

/// The last lines of a process's output, for error messages: stdout's, then stderr's.
pub fn tail(out: &Path) -> String {
    let parts = [
        paas_core::builder::tail(out, TAIL_LINES),
        paas_core::builder::tail(&err_log(out), TAIL_LINES),
    ];
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads both files of one process. Positions are `<stdout bytes>:<stderr bytes>`.
pub struct Follower {
    out: FileTail,
    err: FileTail,
}

impl Follower {
    pub fn new(out: &Path, position: Option<&str>) -> Self {
        let (o, e) = position
            .and_then(|p| p.split_once(':'))
            .and_then(|(o, e)| Some((o.parse().ok()?, e.parse().ok()?)))
            .unwrap_or((0, 0));
        Self {
            out: FileTail::new(out, o),
            err: FileTail::new(err_log(out), e),
        }
    }

    /// Whether the last read stopped at its size limit: read again at once.
    pub fn more(&self) -> bool {
        self.out.more() || self.err.more()
    }

    /// What was written since the last read (a bounded amount, see [`Follower::more`]); with
    /// `last`, also unfinished last lines once everything was read.
    pub fn read(&mut self, last: bool) -> Result<Option<OutputBatch>> {
        let mut lines = Vec::new();
        for (tail, stream) in [
            (&mut self.out, LogStream::Stdout),
            (&mut self.err, LogStream::Stderr),
        ] {
            let mut texts = tail
                .read()
                .map_err(|e| Error::io("reading an app's output", e))?;
            if last {
                texts.extend(tail.finish());
            }
            lines.extend(texts.into_iter().map(|text| OutputLine {
                stream,
                text,
                at: None,
            }));
        }
        Ok((!lines.is_empty()).then(|| OutputBatch {
            lines,
            position: format!("{}:{}", self.out.position(), self.err.position()),
        }))
    }
}
