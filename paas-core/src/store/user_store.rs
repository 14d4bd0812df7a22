//! [`UserStore`]: users, the hashes of their API tokens, and their git credentials.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::model::{Secret, User, UserId};

/// Users and their credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: &User, token_hash: &str) -> Result<()>;
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>>;
    /// Sets (or with `None` clears) the credential of the user's private repositories.
    async fn set_git_token(&self, user: UserId, token: Option<&Secret>) -> Result<()>;
    async fn git_token(&self, user: UserId) -> Result<Option<Secret>>;
}

#[async_trait]
impl<T: Delegate> UserStore for T {
    async fn create_user(&self, user: &User, token_hash: &str) -> Result<()> {
        self.user_store().create_user(user, token_hash).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.user_store().user(id).await
    }
    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>> {
        self.user_store().user_by_token_hash(token_hash).await
    }
    async fn set_git_token(&self, user: UserId, token: Option<&Secret>) -> Result<()> {
        self.user_store().set_git_token(user, token).await
    }
    async fn git_token(&self, user: UserId) -> Result<Option<Secret>> {
        self.user_store().git_token(user).await
    }
}
