//! A cache that keeps nothing: every lookup reads the store. For measuring what the cache buys,
//! and for operators who want none.

use async_trait::async_trait;

use super::Cache;
use crate::model::{AppId, AppName, Application, User, UserId};

#[derive(Clone, Copy, Debug, Default)]
pub struct NoCache;

#[async_trait]
impl Cache for NoCache {
    async fn app(&self, _: AppId) -> Option<Application> {
        None
    }
    async fn put_app(&self, _: &Application) {}
    async fn evict_app(&self, _: &Application) {}
    async fn app_id_by_name(&self, _: &AppName) -> Option<AppId> {
        None
    }
    async fn app_list(&self, _: UserId, _: Option<AppId>, _: u64) -> Option<Vec<AppId>> {
        None
    }
    async fn put_app_list(&self, _: UserId, _: Option<AppId>, _: u64, _: &[AppId]) {}
    async fn evict_app_lists(&self, _: UserId) {}
    async fn user_by_token_hash(&self, _: &str) -> Option<User> {
        None
    }
    async fn put_user_by_token_hash(&self, _: &str, _: &User) {}
    async fn user(&self, _: UserId) -> Option<User> {
        None
    }
}
