//! The flows of the design card, as methods on [`crate::Platform`]. The pipeline, in order:
//! `create` (app and first deployment, build request queued) → `build` (request → image) →
//! `deploy` (image → running instance), both halves on the one consume loop of `consume`;
//! `capture` stores build and instance output; `run` starts every background loop; `autodeploy`
//! watches branches and `pushed` turns a new commit into a redeploy; `git_push` keeps an app's
//! own repository and deploys what `git push` stored in it; `repos` lists the user's
//! repositories on their git hosts and picks the token a clone uses; `hooks` is an app's webhook
//! and what a delivery to it does; `warden` checks the routed replicas' health and restarts
//! the unhealthy ones; `previews` makes and removes an app's preview apps, fed by
//! `preview_branches` (the watcher's branches) and `preview_pulls` (pull requests by webhook);
//! `contact` is where a user's notifications go outside the
//! platform (their email address, their outgoing webhooks); `event_log` records events (and reads them for their readers), `disk`
//! watches the data directory's free space.

mod actions;
mod apps;
mod autodeploy;
mod build;
mod capture;
mod consume;
mod contact;
mod create;
mod deploy;
mod disk;
mod domains;
mod event_log;
mod follow;
mod git_push;
mod hooks;
mod lifecycle;
mod log_watch;
mod logs;
mod power;
mod preview_branches;
mod preview_pulls;
mod previews;
mod pushed;
mod reconcile;
mod replicas;
mod repos;
mod requeue;
mod run;
mod scale;
mod serving;
mod settle;
mod supervise;
mod tasks;
mod wake;
mod warden;
mod watch;

pub use consume::Step;
pub use contact::{MAX_ATTEMPTS_LISTED, MAX_NOTIFICATION_WEBHOOKS};
pub use disk::{disk_low, free_percent};
pub use domains::MAX_DOMAINS;
pub use follow::LogItem;
pub use git_push::{GitPushConfig, PushDeploy, PushTarget, RefUpdate};
pub use hooks::{DEBOUNCE, HookAnswer, HookStatus};
pub(crate) use log_watch::LogWatches;
pub use previews::{PreviewHead, PreviewOutcome};
pub use pushed::PushOutcome;
pub use repos::GitHostStatus;
pub use run::Loops;
pub use serving::{ListedReplica, ServingInstance};
pub use wake::{WAKING, Woken};
