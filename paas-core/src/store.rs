//! The store port: the database, which is the truth, as one small trait per role. [`Store`] is
//! every role together, what the platform holds (`Arc<dyn Store>`); anything that implements
//! the roles is a `Store`. Adapters: [`sql::SqlStore`] (SQLite and PostgreSQL through sea-orm).
//!
//! ## Roles
//! - [`UserStore`]: users, token hashes, git credentials.
//! - [`AppStore`]: applications, compare-and-set on their version.
//! - [`DeploymentStore`]: an app's deployments.
//! - [`StatusEventStore`]: the history of an app's status.
//! - [`LockStore`]: the rows behind [`crate::lock::Locks`].
//! - [`TaskStore`]: the records of [`crate::task::Task`]s.
//! - [`LogStore`]: log lines, heads and source positions.
//! - [`DomainStore`]: custom domains routed to apps.
//! - [`HookStore`]: apps' webhooks and the deliveries they have seen.
//! - [`OutboxStore`]: users' outgoing notification webhooks, their delivery attempts, and
//!   when each condition was last mailed.
//! - [`EventLogStore`]: the event log.
//! - [`NotificationStore`]: users' notifications, and who is an admin.
//!
//! A wrapper (counting, caching) or a store assembled from several backends implements
//! [`Delegate`] instead: it names the store every role goes to and overrides only the roles it
//! changes.

mod app_store;
mod delegate;
mod deployment_store;
mod domain_store;
mod event_log_store;
mod event_store;
mod hook_store;
mod lock_store;
mod log_store;
mod notification_store;
mod outbox_store;
pub mod sql;
mod task_store;
mod user_store;

pub use app_store::AppStore;
pub use delegate::Delegate;
pub use deployment_store::DeploymentStore;
pub use domain_store::DomainStore;
pub use event_log_store::EventLogStore;
pub use event_store::StatusEventStore;
pub use hook_store::HookStore;
pub use lock_store::LockStore;
pub use log_store::LogStore;
pub use notification_store::NotificationStore;
pub use outbox_store::OutboxStore;
pub use task_store::TaskStore;
pub use user_store::UserStore;

/// Persistent state of the platform: every role of the store in one trait object. Each role
/// states the guarantees its adapters give.
pub trait Store:
    UserStore
    + AppStore
    + DeploymentStore
    + StatusEventStore
    + LockStore
    + TaskStore
    + LogStore
    + DomainStore
    + HookStore
    + OutboxStore
    + EventLogStore
    + NotificationStore
{
}

impl<T> Store for T where
    T: UserStore
        + AppStore
        + DeploymentStore
        + StatusEventStore
        + LockStore
        + TaskStore
        + LogStore
        + DomainStore
        + HookStore
        + OutboxStore
        + EventLogStore
        + NotificationStore
{
}
