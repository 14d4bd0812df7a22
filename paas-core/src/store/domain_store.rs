//! [`DomainStore`]: custom domains routed to apps.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::model::{AppId, Domain};

/// Custom domains.
///
/// Guarantees every adapter gives: a domain routes to at most one app; [`DomainStore::add_domain`]
/// refuses one another app has with [`crate::Error::DomainTaken`] even under races (the domain
/// is the key), and adding one the same app has already changes nothing. An app's domains go
/// with it ([`super::AppStore::delete_app`]).
#[async_trait]
pub trait DomainStore: Send + Sync {
    async fn add_domain(&self, app: AppId, domain: &Domain) -> Result<()>;
    /// False when the app did not have it.
    async fn remove_domain(&self, app: AppId, domain: &Domain) -> Result<bool>;
    /// An app's domains, sorted.
    async fn domains_of(&self, app: AppId) -> Result<Vec<Domain>>;
    async fn app_of_domain(&self, domain: &Domain) -> Result<Option<AppId>>;
}

#[async_trait]
impl<T: Delegate> DomainStore for T {
    async fn add_domain(&self, app: AppId, domain: &Domain) -> Result<()> {
        self.domain_store().add_domain(app, domain).await
    }
    async fn remove_domain(&self, app: AppId, domain: &Domain) -> Result<bool> {
        self.domain_store().remove_domain(app, domain).await
    }
    async fn domains_of(&self, app: AppId) -> Result<Vec<Domain>> {
        self.domain_store().domains_of(app).await
    }
    async fn app_of_domain(&self, domain: &Domain) -> Result<Option<AppId>> {
        self.domain_store().app_of_domain(domain).await
    }
}
