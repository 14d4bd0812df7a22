//! The push event, in the shape GitHub, Gitea/Forgejo and GitLab document (they agree on
//! `ref`, `after` and `commits`; GitHub and Gitea add `head_commit`, GitHub `deleted`).

use serde::Deserialize;

use crate::model::{Branch, CommitId, DeploymentTrigger, PushedCommit};

/// A push event's fields that matter here.
#[derive(Clone, Debug, Deserialize)]
pub struct PushEvent {
    #[serde(rename = "ref")]
    pub reference: String,
    /// The new head; all zeros when the branch was deleted.
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    head_commit: Option<Commit>,
    #[serde(default)]
    commits: Vec<Commit>,
}

#[derive(Clone, Debug, Deserialize)]
struct Commit {
    #[serde(default)]
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    author: Option<Author>,
}

#[derive(Clone, Debug, Deserialize)]
struct Author {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// What a push asks of an app following `branch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushVerdict {
    /// Deploy this commit.
    Deploy(PushedCommit),
    /// Nothing to deploy, and why (a sentence).
    Ignore(String),
}

impl PushEvent {
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// What the push means for an app that follows `branch`.
    pub fn verdict(&self, branch: &Branch) -> PushVerdict {
        if self.reference.starts_with("refs/tags/") {
            return PushVerdict::Ignore(format!("{} is a tag push", self.reference));
        }
        let Some(pushed) = self.reference.strip_prefix("refs/heads/") else {
            return PushVerdict::Ignore(format!("{} is not a branch", self.reference));
        };
        if pushed != branch.as_str() {
            return PushVerdict::Ignore(format!(
                "a push to branch {pushed}; the application follows {}",
                branch.as_str()
            ));
        }
        if self.deleted || self.after.bytes().all(|b| b == b'0') {
            return PushVerdict::Ignore(format!("branch {pushed} was deleted"));
        }
        let Ok(commit) = CommitId::parse(&self.after) else {
            return PushVerdict::Ignore(format!("{:?} is not a commit hash", self.after));
        };
        // The head commit's details: `head_commit`, else the commit of `commits` that is `after`,
        // else the last one.
        let head = self
            .head_commit
            .as_ref()
            .filter(|c| c.id.eq_ignore_ascii_case(&self.after))
            .or_else(|| {
                self.commits
                    .iter()
                    .find(|c| c.id.eq_ignore_ascii_case(&self.after))
            })
            .or(self.commits.last());
        let message = head.and_then(|c| c.message.clone());
        let author = head.and_then(|c| c.author.as_ref()).and_then(|a| {
            match (a.name.as_deref(), a.email.as_deref()) {
                (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
                (Some(n), None) => Some(n.to_owned()),
                (None, Some(e)) => Some(format!("<{e}>")),
                (None, None) => None,
            }
        });
        PushVerdict::Deploy(PushedCommit {
            commit,
            message: message.map(|m| m.trim_end().to_owned()),
            author,
            trigger: DeploymentTrigger::Webhook,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn main() -> Branch {
        Branch::parse("main").expect("a branch")
    }

    fn deploys(body: &str) -> PushedCommit {
        match PushEvent::parse(body.as_bytes())
            .expect("json")
            .verdict(&main())
        {
            PushVerdict::Deploy(p) => p,
            other => panic!("expected a deploy, got {other:?}"),
        }
    }

    fn ignores(body: &str) -> String {
        match PushEvent::parse(body.as_bytes())
            .expect("json")
            .verdict(&main())
        {
            PushVerdict::Ignore(why) => why,
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    #[test]
    fn github_head_commit() {
        let p = deploys(&format!(
            r#"{{"ref":"refs/heads/main","before":"{A}","after":"{B}","deleted":false,
            "head_commit":{{"id":"{B}","message":"Second\n","author":{{"name":"Ada","email":"ada@x"}}}},
            "commits":[{{"id":"{B}","message":"Second"}}]}}"#
        ));
        assert_eq!(p.commit.as_str(), B);
        assert_eq!(p.message.as_deref(), Some("Second"));
        assert_eq!(p.author.as_deref(), Some("Ada <ada@x>"));
        assert_eq!(p.trigger, DeploymentTrigger::Webhook);
    }

    #[test]
    fn gitlab_commits_pick_the_one_that_is_after() {
        let p = deploys(&format!(
            r#"{{"object_kind":"push","ref":"refs/heads/main","after":"{B}","checkout_sha":"{B}",
            "commits":[{{"id":"{B}","message":"newest","author":{{"name":"Bo","email":"bo@x"}}}},
                       {{"id":"{A}","message":"older"}}]}}"#
        ));
        assert_eq!(p.message.as_deref(), Some("newest"));
        assert_eq!(p.author.as_deref(), Some("Bo <bo@x>"));
    }

    #[test]
    fn what_is_not_deployed() {
        assert!(ignores(&format!(r#"{{"ref":"refs/tags/v1","after":"{B}"}}"#)).contains("tag"));
        assert!(
            ignores(&format!(r#"{{"ref":"refs/heads/dev","after":"{B}"}}"#)).contains("branch dev")
        );
        assert!(
            ignores(&format!(
                r#"{{"ref":"refs/heads/main","after":"{B}","deleted":true}}"#
            ))
            .contains("deleted")
        );
        assert!(
            ignores(
                r#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#
            )
            .contains("deleted")
        );
        assert!(ignores(r#"{"ref":"refs/heads/main","after":"xyz"}"#).contains("not a commit"));
    }

    #[test]
    fn not_a_push() {
        assert!(PushEvent::parse(b"[1]").is_err());
        assert!(PushEvent::parse(br#"{"zen":"hi"}"#).is_err());
    }
}
