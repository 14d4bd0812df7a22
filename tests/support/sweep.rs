//! Removing what a test's servers started, even when a test killed a server with SIGKILL (its
//! apps then outlive it by design, for the next run to adopt) or failed halfway.
//!
//! The local runtime records every process group it starts in `<data-dir>/logs/run/*.json`
//! (pgid and the leader's start time, so a recycled pid is never taken for the app). When the
//! last server of a data dir in this test process is dropped, every group still recorded there
//! is killed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Servers alive per data dir, in this test process.
static LIVE: Mutex<Option<HashMap<PathBuf, usize>>> = Mutex::new(None);

/// A server on `data_dir` started.
pub(crate) fn started(data_dir: &Path) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    *live
        .get_or_insert_with(HashMap::new)
        .entry(data_dir.to_path_buf())
        .or_default() += 1;
}

/// A server on `data_dir` was dropped: when it was the last, its apps go too.
pub(crate) fn stopped(data_dir: &Path) {
    let last = {
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        let map = live.get_or_insert_with(HashMap::new);
        match map.get_mut(data_dir) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                map.remove(data_dir);
                true
            }
        }
    };
    if last {
        kill_recorded_apps(data_dir);
    }
}

/// Kills every process group the local runtime recorded under `data_dir` that still runs;
/// returns how many it killed.
pub fn kill_recorded_apps(data_dir: &Path) -> usize {
    paas_runner::local::kill_recorded(&data_dir.join("logs"))
}
