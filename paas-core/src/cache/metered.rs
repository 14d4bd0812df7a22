//! [`Metered`]: any cache, its lookups counted as hits and misses per kind
//! ([`crate::metrics::cache_lookup`]). The platform wraps the cache it is given in it.

use std::sync::Arc;

use async_trait::async_trait;

use super::Cache;
use crate::metrics::cache_lookup;
use crate::model::{AppId, AppName, Application, User, UserId};

pub struct Metered(pub Arc<dyn Cache>);

fn counted<T>(op: &'static str, found: Option<T>) -> Option<T> {
    cache_lookup(op, found.is_some());
    found
}

#[async_trait]
impl Cache for Metered {
    async fn app(&self, id: AppId) -> Option<Application> {
        counted("app", self.0.app(id).await)
    }
    async fn put_app(&self, app: &Application) {
        self.0.put_app(app).await
    }
    async fn evict_app(&self, app: &Application) {
        self.0.evict_app(app).await
    }
    async fn app_id_by_name(&self, name: &AppName) -> Option<AppId> {
        counted("app_by_name", self.0.app_id_by_name(name).await)
    }
    async fn app_list(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Option<Vec<AppId>> {
        counted("app_list", self.0.app_list(owner, after, limit).await)
    }
    async fn put_app_list(&self, owner: UserId, after: Option<AppId>, limit: u64, ids: &[AppId]) {
        self.0.put_app_list(owner, after, limit, ids).await
    }
    async fn evict_app_lists(&self, owner: UserId) {
        self.0.evict_app_lists(owner).await
    }
    async fn user_by_token_hash(&self, hash: &str) -> Option<User> {
        counted("token", self.0.user_by_token_hash(hash).await)
    }
    async fn put_user_by_token_hash(&self, hash: &str, user: &User) {
        self.0.put_user_by_token_hash(hash, user).await
    }
    async fn user(&self, id: UserId) -> Option<User> {
        counted("user", self.0.user(id).await)
    }
}
