//! [`Delegate`]: a store that hands each role to an adapter, so that a wrapper, or a store put
//! together from several backends, writes only the roles it changes.

use super::{
    AppStore, DeploymentStore, DomainStore, EventLogStore, HookStore, LockStore, LogStore,
    NotificationStore, OutboxStore, StatusEventStore, Store, TaskStore, UserStore,
};

/// A store that hands every call to the adapter of the call's role. Each role trait (and so
/// [`Store`]) is implemented for every `Delegate` by forwarding, so an implementation names
/// [`Delegate::inner`] and overrides the accessors of the roles it changes: a wrapper returns
/// itself or another adapter there, a mixed store returns its other backend.
///
/// Guarantees: every call of a role method asks for its role's adapter exactly once, just
/// before the call; so an accessor sees each call of its role (a wrapper may count there).
pub trait Delegate: Send + Sync {
    /// The store every role goes to unless its accessor is overridden.
    fn inner(&self) -> &dyn Store;

    fn user_store(&self) -> &dyn UserStore {
        self.inner()
    }
    fn app_store(&self) -> &dyn AppStore {
        self.inner()
    }
    fn deployment_store(&self) -> &dyn DeploymentStore {
        self.inner()
    }
    fn event_store(&self) -> &dyn StatusEventStore {
        self.inner()
    }
    fn lock_store(&self) -> &dyn LockStore {
        self.inner()
    }
    fn task_store(&self) -> &dyn TaskStore {
        self.inner()
    }
    fn log_store(&self) -> &dyn LogStore {
        self.inner()
    }
    fn domain_store(&self) -> &dyn DomainStore {
        self.inner()
    }
    fn hook_store(&self) -> &dyn HookStore {
        self.inner()
    }
    fn outbox_store(&self) -> &dyn OutboxStore {
        self.inner()
    }
    fn event_log_store(&self) -> &dyn EventLogStore {
        self.inner()
    }
    fn notification_store(&self) -> &dyn NotificationStore {
        self.inner()
    }
}
