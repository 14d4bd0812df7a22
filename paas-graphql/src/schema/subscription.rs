use async_graphql::{Context, ID, Subscription};
use futures::{Stream, StreamExt};
use paas_core::Platform;
use paas_core::model::AppId;

use super::types::StatusChange;
use crate::auth::viewer;
use crate::error::OrGql;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every status change of one of the viewer's apps, in order, without duplicates. Replays
    /// the current deployment's changes first (or those after `afterVersion`), then follows live.
    async fn application_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        after_version: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = StatusChange> + use<>> {
        let user = viewer(ctx)?;
        let platform = ctx.data::<Platform>()?;
        let id: AppId = id.parse().gql()?;
        let app = platform.app_for(user, id).await.gql()?;
        let events = platform.status_changes(app.id, after_version).await.gql()?;
        Ok(events.map(StatusChange::from))
    }
}
