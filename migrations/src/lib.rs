//! # paas-migrations
//!
//! The database schema of paas, as sea-orm migrations that run the same on SQLite and PostgreSQL.
//! Only binaries (and tests) run them: `paas migrate`, or `paas serve` at start-up.
//!
//! ## Layout
//! - `m20261123_000001_init.rs`: users, applications, deployments, status events.
//! - `m20261123_000002_user_git_token.rs`: the token for a user's private repositories.
//! - `m20261123_000003_app_resources.rs`: CPU and memory limits, extra port bindings.
//! - `m20261123_000004_locks_tasks.rs`: locks, task records, a deployment's crash count.
//! - `m20261123_000005_logs.rs`: log lines, the head of each app's log, source positions.
//! - `m20261201_000006_desired_state.rs`: whether the user wants an app running or stopped.
//! - `m20261202_000007_domains.rs`: custom domains routed to apps.
//! - `m20261202_000008_https_only.rs`: whether an app's plain-HTTP requests go to HTTPS.
//! - `m20261203_000009_scaling.rs`: how many instances an app runs and when it sleeps.
//! - `m20261203_000010_replicas.rs`: a deployment's replicas with their addresses (the app's
//!   single endpoint and the deployment's single instance go).
//! - `m20261204_000011_auto_deploy.rs`: apps that redeploy each new commit of their branch; what
//!   started a deployment, its commit's message and author.
//! - `m20261204_000012_git_host_tokens.rs`: each user's token (and API URL) per git host.
//! - `m20261205_000013_webhooks.rs`: each app's webhook (its sealed secret) and the delivery ids
//!   it has seen.
//! - `m20261206_000014_health_check.rs`: each app's health check (`NULL`: a TCP connect).
//! - `m20261207_000015_previews.rs`: apps' preview settings; a preview app's parent and the
//!   branch or pull request it shows.
//! - `m20261208_000016_email_webhooks_out.rs`: users' email addresses, their notification
//!   webhooks and the attempts to deliver to them, and the last mail per condition.
//! - `m20261209_000017_events_notifications.rs`: the event log, users' notifications, the
//!   admins.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261123_000001_init;
mod m20261123_000002_user_git_token;
mod m20261123_000003_app_resources;
mod m20261123_000004_locks_tasks;
mod m20261123_000005_logs;
mod m20261201_000006_desired_state;
mod m20261202_000007_domains;
mod m20261202_000008_https_only;
mod m20261203_000009_scaling;
mod m20261203_000010_replicas;
mod m20261204_000011_auto_deploy;
mod m20261204_000012_git_host_tokens;
mod m20261205_000013_webhooks;
mod m20261206_000014_health_check;
mod m20261207_000015_previews;
mod m20261208_000016_email_webhooks_out;
mod m20261209_000017_events_notifications;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_init::Migration),
            Box::new(m20261123_000002_user_git_token::Migration),
            Box::new(m20261123_000003_app_resources::Migration),
            Box::new(m20261123_000004_locks_tasks::Migration),
            Box::new(m20261123_000005_logs::Migration),
            Box::new(m20261201_000006_desired_state::Migration),
            Box::new(m20261202_000007_domains::Migration),
            Box::new(m20261202_000008_https_only::Migration),
            Box::new(m20261203_000009_scaling::Migration),
            Box::new(m20261203_000010_replicas::Migration),
            Box::new(m20261204_000011_auto_deploy::Migration),
            Box::new(m20261204_000012_git_host_tokens::Migration),
            Box::new(m20261205_000013_webhooks::Migration),
            Box::new(m20261206_000014_health_check::Migration),
            Box::new(m20261207_000015_previews::Migration),
            Box::new(m20261208_000016_email_webhooks_out::Migration),
            Box::new(m20261209_000017_events_notifications::Migration),
        ]
    }
}
