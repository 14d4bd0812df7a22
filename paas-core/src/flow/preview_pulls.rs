//! A pull (merge) request delivered to an app's webhook, signature already checked: opened,
//! reopened or pushed to, its preview `pr-<n>--<app>` shows the request's head; closed or
//! merged, the preview goes.
//!
//! Expected flow: the app has previews → read the event in its host's shape → record the
//! delivery id (a replay is acknowledged and ignored) → open ([`Platform::open_preview`]) or
//! close ([`Platform::close_preview`]) the request's preview.
//!
//! Guarantees: a request from a fork gets a preview only when the app's `previews.forks` is on
//! (a fork's code would run with the app's env), from the fork's repository, whose URL passes
//! the server's source policy like any URL a user gives.

use super::hooks::{HookAnswer, HookStatus, REMEMBER, delivery_key};
use super::previews::{PreviewHead, PreviewOutcome, no_previews};
use super::pushed::PushOutcome;
use crate::error::Result;
use crate::hooks::{Delivery, PullAction, PullEvent};
use crate::model::{
    Application, Branch, CommitId, DeploymentTrigger, GitUrl, HookId, PreviewKey, PushedCommit,
};
use crate::platform::Platform;

impl Platform {
    /// Acts on a pull request delivered to the hook `id` of `app` (see the module's flow).
    pub(super) async fn receive_pull_request(
        &self,
        id: HookId,
        app: &Application,
        delivery: &Delivery<'_>,
    ) -> Result<HookAnswer> {
        let ignored = |why: String| HookAnswer::new(HookStatus::Ok, "ignored", Some(why));
        if let Some(why) = no_previews(app) {
            return Ok(ignored(why));
        }
        let event = match PullEvent::parse(delivery.provider, delivery.body) {
            Ok(e) => e,
            Err(e) => {
                let why = format!("not a pull request event: {e}");
                return Ok(HookAnswer::new(
                    HookStatus::BadRequest,
                    "invalid",
                    Some(why),
                ));
            }
        };
        let delivery_id = delivery_key(delivery);
        let forget = chrono::Utc::now() - REMEMBER;
        if !self
            .store()
            .record_delivery(id, &delivery_id, None, forget)
            .await?
        {
            let why = format!("delivery {delivery_id} was received before");
            return Ok(HookAnswer::new(HookStatus::Ok, "duplicate", Some(why)));
        }
        let key = PreviewKey::PullRequest(event.number);
        match event.action {
            PullAction::Other => Ok(ignored(format!(
                "pull request {} was {}: its preview stays as it is",
                event.number, event.action_name
            ))),
            PullAction::Close => {
                let why = format!("pull request {} was {}", event.number, event.action_name);
                let closed = self.close_preview(app, &key, &why).await?;
                Ok(if closed {
                    HookAnswer::new(HookStatus::Accepted, "closed", Some(why))
                } else {
                    ignored(format!("pull request {} has no preview", event.number))
                })
            }
            PullAction::Open => {
                let head = match self.pull_head(app, &event) {
                    Ok(head) => head,
                    Err(why) => return Ok(ignored(why)),
                };
                let commit = head.push.commit.as_str().to_owned();
                let mut answer = match self.open_preview(app, head, false).await? {
                    PreviewOutcome::Created(name) => HookAnswer::new(
                        HookStatus::Accepted,
                        "preview",
                        Some(format!("preview {name} created")),
                    ),
                    PreviewOutcome::Deployed(name, PushOutcome::Skipped(why)) => {
                        HookAnswer::new(HookStatus::Ok, "skipped", Some(format!("{name}: {why}")))
                    }
                    PreviewOutcome::Deployed(name, _) => HookAnswer::new(
                        HookStatus::Accepted,
                        "deploying",
                        Some(format!("preview {name} deploys the new head")),
                    ),
                    PreviewOutcome::Skipped(why) => {
                        HookAnswer::new(HookStatus::Ok, "skipped", Some(why))
                    }
                    PreviewOutcome::Busy => HookAnswer::new(
                        HookStatus::Busy,
                        "busy",
                        Some("the application's previews are being decided on; try again".into()),
                    ),
                };
                answer.commit = Some(commit);
                Ok(answer)
            }
        }
    }

    /// The preview of an opened request, or why it gets none.
    fn pull_head(&self, app: &Application, event: &PullEvent) -> Result<PreviewHead, String> {
        let url = match &event.fork_url {
            None => app.source.url.clone(),
            Some(_) if !app.previews.forks => {
                return Err(format!(
                    "pull request {} comes from a fork; previews of forks are off",
                    event.number
                ));
            }
            Some(url) => GitUrl::parse(url, self.config().source_policy)
                .map_err(|e| format!("the fork's repository cannot be read: {e}"))?,
        };
        let branch = Branch::parse(&event.head_branch).map_err(|e| e.to_string())?;
        let commit = CommitId::parse(&event.head_commit).map_err(|e| e.to_string())?;
        Ok(PreviewHead {
            key: PreviewKey::PullRequest(event.number),
            url,
            branch,
            push: PushedCommit {
                commit,
                message: event.message.clone(),
                author: event.author.clone(),
                trigger: DeploymentTrigger::Webhook,
            },
        })
    }
}
