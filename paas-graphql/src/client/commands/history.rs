//! An app's deployments (newest first, as the API lists them) read for the commands that pick
//! one: which build each runs (a rollback or an env change builds nothing and runs its
//! origin's image; origins chain) and where a rollback goes by default.

use crate::client::follow::name;
use crate::client::queries::app_show::AppShowApplicationDeployments;

/// One deployment as the commands need it.
pub struct Deployment {
    pub id: String,
    /// `DeploymentStatus` as the API names it.
    pub status: String,
    /// The deployment whose image it runs again, if it built nothing.
    pub origin: Option<String>,
}

/// The deployments of `paas status`'s query (newest first).
pub fn history(deployments: &[AppShowApplicationDeployments]) -> Vec<Deployment> {
    deployments
        .iter()
        .map(|d| Deployment {
            id: d.id.clone(),
            status: name(&d.status),
            origin: d.origin.clone(),
        })
        .collect()
}

/// The deployment whose build `id` runs: itself, or its origins' first (the end of a broken
/// chain: the last one listed).
pub fn build_of<'a>(deployments: &'a [Deployment], id: &'a str) -> &'a str {
    let mut current = id;
    // At most one step per deployment: a chain that loops ends too.
    for _ in 0..deployments.len() {
        let origin = deployments
            .iter()
            .find(|d| d.id == current)
            .and_then(|d| d.origin.as_deref());
        match origin {
            Some(origin) if deployments.iter().any(|d| d.id == origin) => current = origin,
            _ => break,
        }
    }
    current
}

/// The build the latest deployment runs.
pub fn latest_build(deployments: &[Deployment]) -> Option<&str> {
    deployments.first().map(|d| build_of(deployments, &d.id))
}

/// Where `paas rollback` goes by default: the newest deployment older than the current one
/// (the newest `RUNNING`, else the newest) that was built (`BUILT`, or `STOPPED` after it
/// ran) and runs another build than the current one (rolling back to an env change of the
/// same build would change no code).
pub fn rollback_target(deployments: &[Deployment]) -> Option<&str> {
    let current = deployments
        .iter()
        .position(|d| d.status == "RUNNING")
        .unwrap_or(0);
    let running = build_of(deployments, &deployments.get(current)?.id);
    deployments
        .iter()
        .skip(current + 1)
        .filter(|d| matches!(d.status.as_str(), "BUILT" | "STOPPED"))
        .find(|d| build_of(deployments, &d.id) != running)
        .map(|d| d.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[(&str, &str, Option<&str>)]) -> Vec<Deployment> {
        items
            .iter()
            .map(|(id, status, origin)| Deployment {
                id: (*id).to_owned(),
                status: (*status).to_owned(),
                origin: origin.map(str::to_owned),
            })
            .collect()
    }

    #[test]
    fn builds_follow_origins() {
        // `d`: an env change of `c`, a rollback to `a`.
        let deps = list(&[
            ("d", "RUNNING", Some("c")),
            ("c", "STOPPED", Some("a")),
            ("b", "STOPPED", None),
            ("a", "STOPPED", None),
        ]);
        assert_eq!(latest_build(&deps), Some("a"));
        assert_eq!(build_of(&deps, "b"), "b");
        assert_eq!(build_of(&list(&[("x", "RUNNING", Some("gone"))]), "x"), "x");
        let looped = list(&[("x", "RUNNING", Some("y")), ("y", "STOPPED", Some("x"))]);
        assert!(["x", "y"].contains(&build_of(&looped, "x")));
        assert_eq!(latest_build(&[]), None);
    }

    #[test]
    fn rollback_goes_to_the_newest_earlier_other_build() {
        let deps = list(&[
            ("d", "RUNNING", Some("c")),
            ("c", "STOPPED", Some("a")),
            ("b", "STOPPED", None),
            ("a", "STOPPED", None),
        ]);
        assert_eq!(rollback_target(&deps), Some("b"));
        // Env changes of the running build are skipped; a failed newer one is not current.
        let deps = list(&[
            ("e", "FAILED", None),
            ("d", "RUNNING", Some("c")),
            ("c", "STOPPED", None),
            ("b", "FAILED", None),
            ("a", "STOPPED", None),
        ]);
        assert_eq!(rollback_target(&deps), Some("a"));
        assert_eq!(rollback_target(&list(&[("a", "RUNNING", None)])), None);
    }
}
