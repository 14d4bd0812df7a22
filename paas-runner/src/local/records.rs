//! Records of started processes on disk (`<logs>/run/<instance>.json`), so that a platform
//! restarted after a crash finds the processes of its earlier run: it adopts those still alive
//! and can remove those nothing needs.
//!
//! A record names the process group and the start time of its leader (from `/proc`), so a
//! recycled pid is never mistaken for the app.

use std::path::{Path, PathBuf};

use nix::sys::signal::killpg;
use nix::unistd::Pid;
use paas_core::model::{AppId, DeploymentId};
use paas_core::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Record {
    pub id: String,
    pub pgid: i32,
    /// Start time of the leader in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    pub started: Option<u64>,
    pub app: AppId,
    pub deployment: DeploymentId,
    pub log: PathBuf,
}

impl Record {
    /// Whether the recorded process group still runs (and is the one recorded).
    pub fn alive(&self) -> bool {
        killpg(Pid::from_raw(self.pgid), None).is_ok()
            && (self.started.is_none() || start_time(self.pgid) == self.started)
    }
}

/// When process `pid` started, in clock ticks since boot.
pub(super) fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields after it follow the
    // last ')'. Field 3 is the first of them, so field 22 is the 20th.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

pub(super) fn dir(logs_dir: &Path) -> PathBuf {
    logs_dir.join("run")
}

fn path(logs_dir: &Path, id: &str) -> PathBuf {
    dir(logs_dir).join(format!("{id}.json"))
}

pub(super) fn write(logs_dir: &Path, record: &Record) -> Result<()> {
    let dir = dir(logs_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let json = serde_json::to_vec(record)
        .map_err(|e| Error::runtime_from("encoding the instance record", e))?;
    let file = path(logs_dir, &record.id);
    paas_core::secrets::files::write_private(&file, &json)
        .map_err(|e| Error::io(format!("writing {}", file.display()), e))
}

pub(super) fn read(logs_dir: &Path, id: &str) -> Option<Record> {
    // Ids are ours (`<app>-<pid>`); anything else cannot name a record file.
    if id.contains('/') || id.starts_with('.') {
        return None;
    }
    let bytes = std::fs::read(path(logs_dir, id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn remove(logs_dir: &Path, id: &str) {
    if read(logs_dir, id).is_some() {
        let _ = std::fs::remove_file(path(logs_dir, id));
    }
}

pub(super) fn all(logs_dir: &Path) -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(dir(logs_dir)) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e
                .file_name()
                .to_string_lossy()
                .strip_suffix(".json")?
                .to_owned();
            read(logs_dir, &name)
        })
        .collect()
}

/// Kills every recorded process group under `logs_dir` that still runs (and is the one
/// recorded); returns how many. For whoever cleans up after a runtime that will not come back
/// to adopt its processes (a test's server, a data dir being thrown away).
pub fn kill_recorded(logs_dir: &Path) -> usize {
    all(logs_dir)
        .into_iter()
        .filter(Record::alive)
        .filter(|r| killpg(Pid::from_raw(r.pgid), nix::sys::signal::Signal::SIGKILL).is_ok())
        .count()
}
