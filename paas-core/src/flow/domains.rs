//! Custom domains: a user routes names of their own (`shop.example.com`) to an app, besides its
//! `<name>.<domain>`.
//!
//! Expected flow of an add: the caller's app (another user's is "not found") → the name parsed
//! as a DNS name (`INVALID_DOMAIN`) and refused under the platform's own domain, where it would
//! shadow an app's name → at most [`MAX_DOMAINS`] per app → stored, one app per domain across
//! every user (`DOMAIN_TAKEN`, the database's key decides races) → routers told on the bus. A
//! remove is the same in reverse; removing a domain the app does not have is `NOT_FOUND`.
//!
//! Guarantees: bad input changes nothing; the route changes on every router within the bus's
//! delay (or at its next resync).

use crate::error::{Error, Result};
use crate::events::Event;
use crate::model::{AppId, Application, Domain, User, ValidationError};
use crate::platform::Platform;

/// Custom domains one app may have.
pub const MAX_DOMAINS: usize = 50;

impl Platform {
    /// Routes `domain` to the user's app too.
    #[tracing::instrument(skip(self, user), fields(app_id = %app), err)]
    pub async fn add_domain(&self, user: &User, app: AppId, domain: &str) -> Result<Application> {
        let app = self.app_for(user, app).await?;
        let domain = self.custom_domain(domain)?;
        let domains = self.store().domains_of(app.id).await?;
        if domains.contains(&domain) {
            return Ok(app);
        }
        if domains.len() >= MAX_DOMAINS {
            return Err(ValidationError::Domain(format!(
                "an application has at most {MAX_DOMAINS} custom domains"
            ))
            .into());
        }
        self.store().add_domain(app.id, &domain).await?;
        self.rerouted(app.id).await;
        tracing::info!(%domain, "custom domain added");
        Ok(app)
    }

    /// Stops routing `domain` to the user's app.
    #[tracing::instrument(skip(self, user), fields(app_id = %app), err)]
    pub async fn remove_domain(
        &self,
        user: &User,
        app: AppId,
        domain: &str,
    ) -> Result<Application> {
        let app = self.app_for(user, app).await?;
        let domain = Domain::parse(domain)?;
        if !self.store().remove_domain(app.id, &domain).await? {
            return Err(Error::NotFound("domain"));
        }
        self.rerouted(app.id).await;
        tracing::info!(%domain, "custom domain removed");
        Ok(app)
    }

    /// An app's custom domains, sorted.
    pub async fn domains_of(&self, app: &Application) -> Result<Vec<Domain>> {
        self.store().domains_of(app.id).await
    }

    /// A custom domain a user may add: a DNS name outside the platform's own domain.
    fn custom_domain(&self, domain: &str) -> Result<Domain> {
        let domain = Domain::parse(domain)?;
        let own = &self.config().router.domain;
        let name = domain.as_str();
        if name == own || name.ends_with(&format!(".{own}")) {
            return Err(ValidationError::Domain(format!(
                "{} is under the platform's own domain {own}, where apps answer by name",
                crate::model::quote(name)
            ))
            .into());
        }
        Ok(domain)
    }

    /// Tells routers an app's route changed; they also find it at their next resync, so a bus
    /// that is away costs a delay, not the change.
    async fn rerouted(&self, app: AppId) {
        if let Err(e) = self.bus().publish(Event::RouteChanged(app)).await {
            tracing::warn!(app_id = %app, error = %e, "route change not published; routers resync");
        }
    }
}
