//! Browser tests: a script of `tests/browser/` (Node, playwright-core driving Debian's headless
//! Chromium, see `tests/browser/lib.mjs`) run against a server the test started. The script reads
//! its inputs from the environment, fails with a non-zero exit, and prints what the test reads
//! back; its screenshots land in `target/browser-artifacts/<script>/`.
//!
//! What it needs is installed by `scripts/setup-browser.sh` (`.ci/run` and `scripts/test` run
//! it); a missing piece is an error naming that script, never a skipped test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use tokio::process::Command;

/// The browser the scripts drive unless `PAAS_CHROMIUM` names another.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The script's own deadline (`lib.mjs`'s `main`) unless `PAAS_BROWSER_TIMEOUT_MS` is given.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The workspace's root (this crate is its `tests/` directory).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Checks that Chromium and playwright-core are there, with the way to get them if not.
fn check_installed(browser_dir: &Path) -> anyhow::Result<()> {
    if let Ok(chromium) = std::env::var("PAAS_CHROMIUM") {
        ensure!(
            Path::new(&chromium).is_file(),
            "PAAS_CHROMIUM={chromium} is missing (unset it to use Debian's chromium, which scripts/setup-browser.sh installs)"
        );
    } else {
        ensure!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: run scripts/setup-browser.sh (it installs Debian's chromium)"
        );
    }
    let playwright = browser_dir.join("node_modules/playwright-core/package.json");
    ensure!(
        playwright.is_file(),
        "{} is missing: run scripts/setup-browser.sh (npm ci in tests/browser)",
        playwright.display()
    );
    Ok(())
}

/// Runs `node tests/browser/<script>` with `env` (plus `PAAS_ARTIFACTS`, its screenshots' dir,
/// unless `env` gives one) and returns its stdout; a failure (non-zero exit, or no exit within
/// its deadline and a margin) is an error holding its stdout and stderr.
pub async fn run_script(script: &str, env: &[(&str, String)]) -> anyhow::Result<String> {
    let root = workspace();
    let browser_dir = root.join("tests/browser");
    let path = browser_dir.join(script);
    ensure!(path.is_file(), "no browser script {}", path.display());
    check_installed(&browser_dir)?;
    let stem = Path::new(script)
        .file_stem()
        .and_then(|s| s.to_str())
        .context("a script name")?;
    let artifacts = root.join("target/browser-artifacts").join(stem);
    let deadline = env
        .iter()
        .find(|(k, _)| *k == "PAAS_BROWSER_TIMEOUT_MS")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PAAS_BROWSER_TIMEOUT_MS").ok())
        .and_then(|ms| ms.parse().ok())
        .map_or(SCRIPT_TIMEOUT, Duration::from_millis);
    let child = Command::new("node")
        .arg(&path)
        .current_dir(&browser_dir)
        .env("PAAS_ARTIFACTS", &artifacts)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting node (apt-get install nodejs)")?;
    // The script fails itself at its deadline (with a screenshot); this only catches a hang.
    let out = tokio::time::timeout(deadline + Duration::from_secs(30), child.wait_with_output())
        .await
        .with_context(|| format!("{script} did not exit within {deadline:?}"))??;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "{script} failed ({}); screenshots in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status,
            artifacts.display()
        );
    }
    // What the script reported on the side shows with the test's output.
    if !stderr.is_empty() {
        eprintln!("{script}: {stderr}");
    }
    Ok(stdout)
}
