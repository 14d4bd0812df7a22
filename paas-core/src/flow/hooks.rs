//! An app's webhook ([`Platform::create_webhook`], shown once) and what a delivery to it does
//! ([`Platform::receive_hook`]).
//!
//! Expected flow of a delivery: find the hook by the id in its URL → check the signature over
//! the raw body with the hook's secret (an unknown hook and a bad signature get the same answer,
//! so ids cannot be probed) → answer a ping → read the push event and decide what it asks of the
//! app (another branch, a tag, a deleted branch: nothing) → record the delivery id (a replay is
//! acknowledged and ignored) → wait [`DEBOUNCE`]: if a newer push reached the hook meanwhile, it
//! is the one deployed → [`Platform::deploy_pushed`] (queued behind a task under way, replacing
//! a waiting push, skipping a commit already deployed).
//!
//! A pull (merge) request event goes to the app's previews instead (`preview_pulls.rs`).
//!
//! Guarantees: nothing is queued for a delivery whose signature fails. The delivery ids are in
//! the store, so a replay is ignored whichever server gets it; of pushes arriving within
//! [`DEBOUNCE`] of each other, only the last recorded one is deployed.

use std::time::Duration;

use super::pushed::PushOutcome;
use crate::error::Result;
use crate::hooks::{Delivery, HookProvider, PushEvent, PushVerdict};
use crate::model::{AppId, HookId, Secret, User, Webhook};
use crate::platform::Platform;

/// How long a push waits for a newer one before it is deployed.
pub const DEBOUNCE: Duration = Duration::from_secs(1);

/// How long a delivery id is remembered (hosts redeliver within hours).
pub(super) const REMEMBER: chrono::TimeDelta = chrono::TimeDelta::days(3);

/// How a delivery was answered (the edge turns it into a status and a JSON body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookAnswer {
    pub status: HookStatus,
    /// One word: `deploying`, `queued`, `ignored`, `duplicate`, `pong`, `skipped`, ...
    pub outcome: &'static str,
    /// Why, in a sentence, when it is not obvious.
    pub reason: Option<String>,
    /// The commit the push named.
    pub commit: Option<String>,
}

/// The kinds of answers, which the edge maps to HTTP statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookStatus {
    /// Done or ignored on purpose (200).
    Ok,
    /// A deploy started or waits (202).
    Accepted,
    /// Unknown hook or bad signature (401).
    Unauthorized,
    /// Signed, but not a push event that can be read (400).
    BadRequest,
    /// The app's pushes are being decided on for too long; the host should retry (503).
    Busy,
}

impl HookAnswer {
    pub(super) fn new(status: HookStatus, outcome: &'static str, reason: Option<String>) -> Self {
        Self {
            status,
            outcome,
            reason,
            commit: None,
        }
    }

    fn unauthorized() -> Self {
        Self::new(
            HookStatus::Unauthorized,
            "unauthorized",
            Some("unknown hook or bad signature".into()),
        )
    }
}

impl Platform {
    /// Gives the user's app a webhook with a new id and secret in place of any it had: the
    /// secret is returned here only.
    pub async fn create_webhook(&self, user: &User, app: AppId) -> Result<(Webhook, Secret)> {
        let app = self.app_for(user, app).await?;
        let hook = Webhook {
            id: HookId::new(),
            app: app.id,
            created_at: chrono::Utc::now(),
            last_delivery_at: None,
        };
        let secret = Secret::new(hex::encode(rand::random::<[u8; 32]>()));
        self.store().put_webhook(&hook, &secret).await?;
        Ok((hook, secret))
    }

    /// The user's app's webhook, if it has one (never its secret).
    pub async fn webhook_for(&self, user: &User, app: AppId) -> Result<Option<Webhook>> {
        let app = self.app_for(user, app).await?;
        self.store().webhook_of(app.id).await
    }

    /// Removes the user's app's webhook; false when it had none.
    pub async fn delete_webhook(&self, user: &User, app: AppId) -> Result<bool> {
        let app = self.app_for(user, app).await?;
        self.store().delete_webhook(app.id).await
    }

    /// Acts on a delivery to the hook `id` (see the module's flow). `None` delivery: no known
    /// host's headers.
    #[tracing::instrument(skip_all, fields(hook = %id), err(level = "info"))]
    pub async fn receive_hook(
        &self,
        id: HookId,
        delivery: Option<Delivery<'_>>,
    ) -> Result<HookAnswer> {
        let Some((hook, secret)) = self.store().webhook(id).await? else {
            return Ok(HookAnswer::unauthorized());
        };
        let Some(delivery) = delivery.filter(|d| d.verify(secret.expose())) else {
            return Ok(HookAnswer::unauthorized());
        };
        let Some(app) = self.app(hook.app).await? else {
            return Ok(HookAnswer::unauthorized());
        };
        if delivery.provider == HookProvider::GitHub && delivery.event == "ping" {
            return Ok(HookAnswer::new(HookStatus::Ok, "pong", None));
        }
        if delivery.is_pull_request() {
            return self.receive_pull_request(id, &app, &delivery).await;
        }
        if !delivery.is_push() {
            let why = format!("{} events are not acted on", delivery.event);
            return Ok(HookAnswer::new(HookStatus::Ok, "ignored", Some(why)));
        }
        let event = match PushEvent::parse(delivery.body) {
            Ok(e) => e,
            Err(e) => {
                let why = format!("not a push event: {e}");
                return Ok(HookAnswer::new(
                    HookStatus::BadRequest,
                    "invalid",
                    Some(why),
                ));
            }
        };
        let verdict = match &app.source.commit {
            Some(pinned) => PushVerdict::Ignore(format!(
                "the application is pinned to commit {}",
                pinned.as_str()
            )),
            None => event.verdict(&app.source.branch),
        };
        let push = match &verdict {
            PushVerdict::Deploy(p) => Some(p.clone()),
            PushVerdict::Ignore(_) => None,
        };
        let delivery_id = delivery_key(&delivery);
        let forget = chrono::Utc::now() - REMEMBER;
        let commit = push.as_ref().map(|p| p.commit.clone());
        let new = self
            .store()
            .record_delivery(id, &delivery_id, commit.as_ref(), forget)
            .await?;
        let with_commit = |mut a: HookAnswer| {
            a.commit = commit.as_ref().map(|c| c.as_str().to_owned());
            a
        };
        if !new {
            let why = format!("delivery {delivery_id} was received before");
            return Ok(with_commit(HookAnswer::new(
                HookStatus::Ok,
                "duplicate",
                Some(why),
            )));
        }
        let push = match verdict {
            PushVerdict::Ignore(why) => {
                return Ok(HookAnswer::new(HookStatus::Ok, "ignored", Some(why)));
            }
            PushVerdict::Deploy(p) => p,
        };
        tokio::time::sleep(DEBOUNCE).await;
        if self.store().latest_push_delivery(id).await?.as_deref() != Some(delivery_id.as_str()) {
            let why = "a newer push arrived; it is the one deployed".to_owned();
            return Ok(with_commit(HookAnswer::new(
                HookStatus::Ok,
                "superseded",
                Some(why),
            )));
        }
        let mut outcome = PushOutcome::Busy;
        for _ in 0..5 {
            outcome = self.deploy_pushed(app.id, push.clone(), false).await?;
            if outcome != PushOutcome::Busy {
                break;
            }
        }
        let answer = match outcome {
            PushOutcome::Started => HookAnswer::new(HookStatus::Accepted, "deploying", None),
            PushOutcome::Queued => HookAnswer::new(
                HookStatus::Accepted,
                "queued",
                Some("it deploys once the task under way ends".into()),
            ),
            PushOutcome::Replaced => HookAnswer::new(
                HookStatus::Accepted,
                "queued",
                Some("it replaces a waiting push".into()),
            ),
            PushOutcome::Skipped(why) => {
                HookAnswer::new(HookStatus::Ok, "skipped", Some(why.to_owned()))
            }
            PushOutcome::Busy => HookAnswer::new(
                HookStatus::Busy,
                "busy",
                Some("the application's pushes are being decided on; try again".into()),
            ),
        };
        Ok(with_commit(answer))
    }
}

/// The id a delivery is remembered by: the host's (bounded), or a new one when it sent none.
pub(super) fn delivery_key(delivery: &Delivery<'_>) -> String {
    delivery
        .id
        .map(|d| d.chars().take(128).collect::<String>())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}
