//! Podman for tests: the API socket `scripts/setup-podman.sh` starts, the locally built base
//! images, and the `podman` CLI to look at what is left on the machine.

use anyhow::bail;

/// The API socket (`PODMAN_SOCKET`, default the one `scripts/setup-podman.sh` starts).
pub fn socket() -> String {
    std::env::var("PODMAN_SOCKET").unwrap_or_else(|_| "/run/paas/podman.sock".into())
}

/// Arguments that make `paas serve` run apps on Podman with the local base images.
pub fn serve_args() -> Vec<String> {
    [
        "--runtime",
        "podman",
        "--podman-socket",
        &socket(),
        "--image-python",
        "localhost/paas-python:latest",
        "--image-static",
        "localhost/busybox:latest",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs the podman CLI; returns its stdout.
pub async fn cli(args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("podman")
        .args(args)
        .output()
        .await?;
    if !out.status.success() {
        bail!("podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Names of containers (running or not) labelled with this app id.
pub async fn containers_of(app_id: &str) -> anyhow::Result<Vec<String>> {
    let out = cli(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=paas.app={app_id}"),
        "--format",
        "{{.Names}}",
    ])
    .await?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Images labelled with this app id.
pub async fn images_of(app_id: &str) -> anyhow::Result<Vec<String>> {
    let out = cli(&[
        "images",
        "--filter",
        &format!("label=paas.app={app_id}"),
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ])
    .await?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Removes the containers and images of the apps a test made when dropped, even if the test
/// failed: containers outlive `paas serve` by design, so nothing else would.
#[derive(Default)]
pub struct Cleanup {
    apps: std::sync::Mutex<Vec<String>>,
}

impl Cleanup {
    pub fn track(&self, app_id: &str) {
        self.apps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(app_id.to_owned());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let apps = std::mem::take(&mut *self.apps.lock().unwrap_or_else(|p| p.into_inner()));
        let ids = |list: &str, label: &str| {
            std::process::Command::new("podman")
                .args([list, "-aq", "--filter", label])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default()
        };
        for app in apps {
            let label = format!("label=paas.app={app}");
            // Podman's storage is shared with builds other tests run at the same time; a removal
            // that loses a race is tried again.
            for (remove, list) in [("rm", "ps"), ("rmi", "images")] {
                for _ in 0..5 {
                    let found = ids(list, &label);
                    if found.trim().is_empty() {
                        break;
                    }
                    for id in found.split_whitespace() {
                        let _ = std::process::Command::new("podman")
                            .args([remove, "-f", id])
                            .output();
                    }
                }
            }
        }
    }
}
