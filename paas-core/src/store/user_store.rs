//! [`UserStore`]: users, the hashes of their API tokens, and their git credentials (one for
//! every repository, and one per git host).

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::model::{EmailAddress, GitHostKind, GitHostToken, Secret, User, UserId};

/// Users and their credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: &User, token_hash: &str) -> Result<()>;
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>>;
    /// Sets (or with `None` clears) the credential of the user's private repositories.
    async fn set_git_token(&self, user: UserId, token: Option<&Secret>) -> Result<()>;
    async fn git_token(&self, user: UserId) -> Result<Option<Secret>>;
    /// Sets (or with `None` removes) the user's token for one git host.
    async fn set_git_host_token(
        &self,
        user: UserId,
        kind: GitHostKind,
        token: Option<&GitHostToken>,
    ) -> Result<()>;
    /// The user's tokens per git host (of `kind` only, if given), by host.
    async fn git_host_tokens(
        &self,
        user: UserId,
        kind: Option<GitHostKind>,
    ) -> Result<Vec<(GitHostKind, GitHostToken)>>;
    /// Sets (or with `None` clears) where the user's urgent notifications are mailed.
    async fn set_email(&self, user: UserId, email: Option<&EmailAddress>) -> Result<()>;
    async fn email(&self, user: UserId) -> Result<Option<EmailAddress>>;
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
    async fn set_git_host_token(
        &self,
        user: UserId,
        kind: GitHostKind,
        token: Option<&GitHostToken>,
    ) -> Result<()> {
        self.user_store()
            .set_git_host_token(user, kind, token)
            .await
    }
    async fn git_host_tokens(
        &self,
        user: UserId,
        kind: Option<GitHostKind>,
    ) -> Result<Vec<(GitHostKind, GitHostToken)>> {
        self.user_store().git_host_tokens(user, kind).await
    }
    async fn set_email(&self, user: UserId, email: Option<&EmailAddress>) -> Result<()> {
        self.user_store().set_email(user, email).await
    }
    async fn email(&self, user: UserId) -> Result<Option<EmailAddress>> {
        self.user_store().email(user).await
    }
}
