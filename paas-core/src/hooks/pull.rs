//! The pull (merge) request event, in the shapes the hosts document: GitHub's and Gitea's
//! `pull_request` (`action`, `number`, `pull_request.head.{ref,sha,repo}`, `base.repo`),
//! GitLab's `Merge Request Hook` (`object_attributes.{iid,action,source_branch,last_commit}`,
//! `source_project_id`, `target_project_id`, `source.git_http_url`).

use serde::Deserialize;

use super::HookProvider;

/// What a pull request event asks of the app's previews.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullAction {
    /// Opened, reopened or pushed to: its preview shows the head.
    Open,
    /// Closed or merged: its preview goes.
    Close,
    /// Anything else (edited, labelled, assigned, ...): nothing.
    Other,
}

/// A pull request event's fields that matter here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullEvent {
    pub number: u64,
    pub action: PullAction,
    /// The action as the host spells it.
    pub action_name: String,
    /// The branch the request merges from.
    pub head_branch: String,
    /// Its head commit.
    pub head_commit: String,
    /// The repository it lives in, when that is another one than the app's (a fork).
    pub fork_url: Option<String>,
    /// The head commit's message and author, when the host sends them (GitLab).
    pub message: Option<String>,
    pub author: Option<String>,
}

#[derive(Deserialize)]
struct Hub {
    action: String,
    number: u64,
    pull_request: HubPull,
}

#[derive(Deserialize)]
struct HubPull {
    head: HubEnd,
    base: HubEnd,
}

#[derive(Deserialize)]
struct HubEnd {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    sha: String,
    /// Null when the fork was deleted.
    repo: Option<HubRepo>,
}

#[derive(Deserialize)]
struct HubRepo {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    clone_url: String,
}

#[derive(Deserialize)]
struct Lab {
    object_attributes: LabRequest,
}

#[derive(Deserialize)]
struct LabRequest {
    iid: u64,
    #[serde(default)]
    action: String,
    source_branch: String,
    source_project_id: Option<u64>,
    target_project_id: Option<u64>,
    last_commit: LabCommit,
    source: Option<LabProject>,
}

#[derive(Deserialize)]
struct LabCommit {
    id: String,
    message: Option<String>,
    author: Option<LabAuthor>,
}

#[derive(Deserialize)]
struct LabAuthor {
    name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct LabProject {
    #[serde(default)]
    git_http_url: String,
}

impl PullEvent {
    /// Reads the event as `provider` documents it.
    pub fn parse(provider: HookProvider, body: &[u8]) -> Result<Self, serde_json::Error> {
        match provider {
            HookProvider::GitHub | HookProvider::Gitea => {
                let e: Hub = serde_json::from_slice(body)?;
                let action = match e.action.as_str() {
                    "opened" | "reopened" | "synchronize" | "synchronized" => PullAction::Open,
                    "closed" => PullAction::Close,
                    _ => PullAction::Other,
                };
                let head = e.pull_request.head;
                let base_name = e.pull_request.base.repo.map(|r| r.full_name);
                let fork_url = match head.repo {
                    Some(r) if Some(&r.full_name) == base_name.as_ref() => None,
                    Some(r) => Some(r.clone_url),
                    // A deleted fork: nothing to clone.
                    None => Some(String::new()),
                };
                Ok(Self {
                    number: e.number,
                    action,
                    action_name: e.action,
                    head_branch: head.reference,
                    head_commit: head.sha,
                    fork_url,
                    message: None,
                    author: None,
                })
            }
            HookProvider::GitLab => {
                let e: Lab = serde_json::from_slice(body)?;
                let r = e.object_attributes;
                let action = match r.action.as_str() {
                    "open" | "reopen" | "update" => PullAction::Open,
                    "close" | "merge" => PullAction::Close,
                    _ => PullAction::Other,
                };
                let fork_url = (r.source_project_id != r.target_project_id)
                    .then(|| r.source.map(|s| s.git_http_url).unwrap_or_default());
                let author = r.last_commit.author.and_then(|a| match (a.name, a.email) {
                    (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
                    (Some(n), None) => Some(n),
                    (None, e) => e.map(|e| format!("<{e}>")),
                });
                Ok(Self {
                    number: r.iid,
                    action,
                    action_name: r.action,
                    head_branch: r.source_branch,
                    head_commit: r.last_commit.id,
                    fork_url,
                    message: r.last_commit.message.map(|m| m.trim_end().to_owned()),
                    author,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";

    fn github(action: &str, head_repo: &str) -> String {
        format!(
            r#"{{"action":"{action}","number":7,"pull_request":{{"number":7,"title":"T",
            "head":{{"ref":"feature","sha":"{A}","repo":{{"full_name":"{head_repo}",
            "clone_url":"https://github.com/{head_repo}.git"}}}},
            "base":{{"ref":"main","sha":"{A}","repo":{{"full_name":"o/r",
            "clone_url":"https://github.com/o/r.git"}}}}}}}}"#
        )
    }

    #[test]
    fn github_and_gitea_requests() -> Result<(), serde_json::Error> {
        let e = PullEvent::parse(HookProvider::GitHub, github("opened", "o/r").as_bytes())?;
        assert_eq!(
            (
                e.number,
                e.action,
                e.head_branch.as_str(),
                e.head_commit.as_str()
            ),
            (7, PullAction::Open, "feature", A)
        );
        assert_eq!(e.fork_url, None);
        let e = PullEvent::parse(
            HookProvider::Gitea,
            github("synchronized", "f/r").as_bytes(),
        )?;
        assert_eq!(e.action, PullAction::Open);
        assert_eq!(e.fork_url.as_deref(), Some("https://github.com/f/r.git"));
        let e = PullEvent::parse(HookProvider::GitHub, github("closed", "o/r").as_bytes())?;
        assert_eq!(e.action, PullAction::Close);
        let e = PullEvent::parse(HookProvider::GitHub, github("labeled", "o/r").as_bytes())?;
        assert_eq!(e.action, PullAction::Other);
        Ok(())
    }

    #[test]
    fn gitlab_merge_requests() -> Result<(), serde_json::Error> {
        let body = format!(
            r#"{{"object_kind":"merge_request","object_attributes":{{"iid":3,"action":"merge",
            "source_branch":"fix","source_project_id":1,"target_project_id":1,
            "last_commit":{{"id":"{A}","message":"Fix it\n","author":{{"name":"Bo","email":"bo@x"}}}},
            "source":{{"git_http_url":"https://gitlab.com/o/r.git"}}}}}}"#
        );
        let e = PullEvent::parse(HookProvider::GitLab, body.as_bytes())?;
        assert_eq!((e.number, e.action), (3, PullAction::Close));
        assert_eq!(e.message.as_deref(), Some("Fix it"));
        assert_eq!(e.author.as_deref(), Some("Bo <bo@x>"));
        assert_eq!(e.fork_url, None);
        Ok(())
    }
}
