//! The `Cache` port: read-through lookups of apps and users. The database stays the truth: a
//! cache that fails or forgets only makes reads slower. Adapter: [`memory::MemoryCache`].

pub mod memory;

use async_trait::async_trait;

use crate::model::{AppId, Application, User, UserId};

/// Read-through cache. Methods cannot fail: an adapter that cannot reach its backend answers
/// "miss" and drops writes.
#[async_trait]
pub trait Cache: Send + Sync {
    async fn app(&self, id: AppId) -> Option<Application>;
    async fn put_app(&self, app: &Application);
    async fn evict_app(&self, id: AppId);
    async fn user_by_token_hash(&self, hash: &str) -> Option<User>;
    async fn put_user_by_token_hash(&self, hash: &str, user: &User);
    async fn user(&self, id: UserId) -> Option<User>;
}
