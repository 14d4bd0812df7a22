use async_graphql::{Context, ID, Subscription};
use futures::{Stream, StreamExt};
use paas_core::Platform;
use paas_core::model::{AppId, DeploymentId};

use super::logs::{self, LogBatch, LogDirection, LogEvent, LogStream};
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

    /// One of the viewer's apps' log: the lines from `from` (default: the start of the stored
    /// log), then every new line as it is written, with no gap and no duplicate between the
    /// two. A subscriber that reads slower than the app writes gets a `LogsLagged` marker for
    /// the live lines dropped for it (they stay readable with `logs`).
    async fn logs(
        &self,
        ctx: &Context<'_>,
        app_id: ID,
        deployment: Option<ID>,
        streams: Option<Vec<LogStream>>,
        from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = LogEvent> + use<>> {
        let items = follow(ctx, &app_id, deployment, streams, from).await?;
        Ok(items.map(LogEvent::from))
    }

    /// [`logs`](Self::logs) in batches: the lines ready together (at most 1,000) in one
    /// message, so a client reading a fast app's log is not held back by one message a line.
    /// The same order, no gap and no duplicate; a `lagged` marker starts a batch.
    async fn log_batches(
        &self,
        ctx: &Context<'_>,
        app_id: ID,
        deployment: Option<ID>,
        streams: Option<Vec<LogStream>>,
        from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = LogBatch> + use<>> {
        let items = follow(ctx, &app_id, deployment, streams, from).await?;
        Ok(items
            .ready_chunks(logs::MAX_BATCH)
            .flat_map(|chunk| futures::stream::iter(LogBatch::split(chunk))))
    }

    /// New events of the log as they happen, with the rights of `events`: an app of another
    /// user is `NOT_FOUND` (unless you are an admin).
    async fn events(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
        kinds: Option<Vec<super::activity::EventKind>>,
    ) -> async_graphql::Result<impl Stream<Item = super::activity::Event> + use<>> {
        super::activity::follow(ctx, app_id, kinds).await
    }

    /// A deployment's build log (`BUILD` and `SYSTEM` lines) from its first line; ends when
    /// the build has ended.
    async fn build_logs(
        &self,
        ctx: &Context<'_>,
        deployment: ID,
    ) -> async_graphql::Result<impl Stream<Item = LogEvent> + use<>> {
        let user = viewer(ctx)?;
        let platform = ctx.data::<Platform>()?;
        let deployment: DeploymentId = deployment.parse().gql()?;
        let items = platform.follow_build(user, deployment).await.gql()?;
        Ok(items.map(LogEvent::from))
    }
}

/// The viewer's app's log from `from` (the stored lines, then live ones): what `logs` and
/// `logBatches` deliver.
async fn follow(
    ctx: &Context<'_>,
    app_id: &ID,
    deployment: Option<ID>,
    streams: Option<Vec<LogStream>>,
    from: Option<String>,
) -> async_graphql::Result<impl Stream<Item = paas_core::flow::LogItem> + use<>> {
    let user = viewer(ctx)?;
    let platform = ctx.data::<Platform>()?;
    let query = logs::query(
        app_id,
        deployment.as_ref(),
        streams,
        from.as_deref(),
        None,
        None,
        LogDirection::Forward,
    )?;
    platform.follow_logs(user, query).await.gql()
}
