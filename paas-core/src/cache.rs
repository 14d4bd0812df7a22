//! The `Cache` port: read-through lookups of apps and users. The database stays the truth: a
//! cache that fails or forgets only makes reads slower. Adapters: [`memory::MemoryCache`] (one
//! process) and [`redis::RedisCache`] (shared by every process).
//!
//! Guarantees every adapter gives: a write replaces or evicts exactly the keys it touches
//! (an app, its name, its owner's list); an entry lives at most its TTL; a backend that fails
//! answers "miss" and drops writes, quickly, so the caller reads the store instead.

pub mod memory;
pub mod metered;
pub mod none;
pub mod redis;

use async_trait::async_trait;

use crate::model::{AppId, AppName, Application, User, UserId};

#[async_trait]
pub trait Cache: Send + Sync {
    async fn app(&self, id: AppId) -> Option<Application>;
    /// Stores an app, and its name → id.
    async fn put_app(&self, app: &Application);
    /// Forgets an app, and its name → id.
    async fn evict_app(&self, app: &Application);
    async fn app_id_by_name(&self, name: &AppName) -> Option<AppId>;

    /// A page of a user's app ids (as `Store::apps_of` answers it).
    async fn app_list(&self, owner: UserId, after: Option<AppId>, limit: u64)
    -> Option<Vec<AppId>>;
    async fn put_app_list(&self, owner: UserId, after: Option<AppId>, limit: u64, ids: &[AppId]);
    /// Forgets every cached page of a user's apps (an app was added or removed).
    async fn evict_app_lists(&self, owner: UserId);

    async fn user_by_token_hash(&self, hash: &str) -> Option<User>;
    async fn put_user_by_token_hash(&self, hash: &str, user: &User);
    async fn user(&self, id: UserId) -> Option<User>;
}
