use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object};
use paas_core::model::{AppId, AppName, Branch, GitUrl};
use paas_core::{ErrorCode, Platform};

use super::logs::{self, LogDirection, LogPage, LogStream};
use super::repos::{self, GitHost, GitHostKind, GitRepository};
use super::types::{Application, RepositoryCheck, Viewer};
use crate::auth::viewer;
use crate::error::{GqlResult, OrGql, coded};

/// Most apps one page of `applications` returns.
const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The user the token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Viewer> {
        let user = viewer(ctx)?;
        let email = if ctx.look_ahead().field("email").exists() {
            ctx.data::<Platform>()?.email_of(user).await.gql()?
        } else {
            None
        };
        Ok(Viewer {
            id: ID(user.id.to_string()),
            name: user.name.clone(),
            email: email.map(|e| e.to_string()),
        })
    }

    /// The viewer's outgoing notification webhooks, oldest first.
    async fn notification_webhooks(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<super::contact::NotificationWebhook>> {
        super::contact::list(ctx).await
    }

    /// Whether no application has this name yet.
    async fn name_available(&self, ctx: &Context<'_>, name: String) -> GqlResult<bool> {
        viewer(ctx)?;
        let name = AppName::parse(&name).gql()?;
        ctx.data::<Platform>()?.name_available(&name).await.gql()
    }

    /// Whether a repository and a branch exist (default branch if none is given).
    async fn repository(
        &self,
        ctx: &Context<'_>,
        url: String,
        branch: Option<String>,
    ) -> GqlResult<RepositoryCheck> {
        let user = viewer(ctx)?;
        let platform = ctx.data::<Platform>()?;
        let url = GitUrl::parse(&url, platform.config().source_policy).gql()?;
        let branch = branch.as_deref().map(Branch::parse).transpose().gql()?;
        let check = platform
            .check_repository(user, &url, branch.as_ref())
            .await
            .gql()?;
        let looked_at = branch.as_ref().or(check.default_branch.as_ref());
        let language = match looked_at {
            Some(branch) if check.branch_exists && ctx.look_ahead().field("language").exists() => {
                platform
                    .detect_language(user, &url, branch)
                    .await
                    .gql()?
                    .map(Into::into)
            }
            _ => None,
        };
        Ok(RepositoryCheck {
            exists: check.exists,
            branch_exists: check.branch_exists,
            default_branch: check.default_branch.map(|b| b.to_string()),
            language,
        })
    }

    /// One of the viewer's applications, by `id` or by `name` (exactly one of the two;
    /// `INVALID_ARGUMENT` otherwise). Another user's app, like a missing one, is `NOT_FOUND`.
    async fn application(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: Option<String>,
    ) -> GqlResult<Option<Application>> {
        let user = viewer(ctx)?;
        let platform = ctx.data::<Platform>()?;
        let app = match (id, name) {
            (Some(id), None) => {
                let id: AppId = id.parse().gql()?;
                platform.app_for(user, id).await.gql()?
            }
            (None, Some(name)) => {
                let name = AppName::parse(&name).gql()?;
                platform.app_named_for(user, &name).await.gql()?
            }
            _ => {
                return Err(coded(
                    ErrorCode::InvalidArgument,
                    "give the application's id or its name, not both",
                ));
            }
        };
        Ok(Some(app.into()))
    }

    /// The git hosts and whether you keep a token for each (`setGitHostToken`).
    async fn git_hosts(&self, ctx: &Context<'_>) -> GqlResult<Vec<GitHost>> {
        repos::hosts(ctx).await
    }

    /// The repositories your token for `provider` can see, latest update first, as a Relay
    /// connection; `search` keeps those whose `owner/name` holds each of its words. Errors:
    /// `GIT_HOST_NOT_CONFIGURED` (no token), `GIT_HOST_UNAUTHORIZED` (the host refused it),
    /// `GIT_HOST_RATE_LIMITED` (with `extensions.resetAt`), `GIT_HOST_UNAVAILABLE`.
    async fn git_repositories(
        &self,
        ctx: &Context<'_>,
        provider: GitHostKind,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Connection<String, GitRepository, EmptyFields, EmptyFields>> {
        repos::repositories(ctx, provider, search, first, after).await
    }

    /// The viewer's applications, oldest first, as a Relay connection.
    async fn applications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Connection<String, Application, EmptyFields, EmptyFields>> {
        let user = viewer(ctx)?;
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(coded(
                ErrorCode::InvalidArgument,
                format!("first must be between 0 and {MAX_PAGE}"),
            ));
        }
        let after: Option<AppId> = after
            .map(|c| {
                c.parse().map_err(|_| {
                    coded(
                        ErrorCode::InvalidCursor,
                        "after is not a cursor of this list",
                    )
                })
            })
            .transpose()?;
        let limit = u64::try_from(first).unwrap_or(0);
        // One more than asked tells whether there is a next page.
        let mut apps = ctx
            .data::<Platform>()?
            .apps_of(user, after, limit + 1)
            .await
            .gql()?;
        let has_next = apps.len() as u64 > limit;
        apps.truncate(first as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(
            apps.into_iter()
                .map(|a| Edge::new(a.id.to_string(), Application::from(a))),
        );
        Ok(conn)
    }

    /// The event log, newest first, as a Relay connection: your events (those of your apps,
    /// deleted ones too, and of your tokens), or everyone's for an admin; of one app with
    /// `appId`, of some kinds with `kinds`.
    async fn events(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
        kinds: Option<Vec<super::activity::EventKind>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Connection<String, super::activity::Event, EmptyFields, EmptyFields>> {
        super::activity::events(ctx, app_id, kinds, first, after).await
    }

    /// Your notifications (the important events: crash loop, out-of-memory kill, failed
    /// deploy, failing health check, low disk for admins), newest first; only unread ones with
    /// `unread: true`.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        unread: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Connection<String, super::activity::Notification, EmptyFields, EmptyFields>>
    {
        super::activity::notifications(ctx, unread, first, after).await
    }

    /// A page of one of the viewer's apps' log: lines at or after `from` (RFC 3339 with
    /// nanoseconds), without the one at exactly `lastNano` the client already has. Pass the
    /// page's `lastNano` back as both `from` and `lastNano` to continue: no line is ever seen
    /// twice or missed. `BACKWARD` pages from the newest line (or `from`) back, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn logs(
        &self,
        ctx: &Context<'_>,
        app_id: ID,
        deployment: Option<ID>,
        streams: Option<Vec<LogStream>>,
        from: Option<String>,
        last_nano: Option<String>,
        #[graphql(desc = "Lines per page, 1 to 5000 (default 100).")] limit: Option<i64>,
        direction: Option<LogDirection>,
    ) -> GqlResult<LogPage> {
        let user = viewer(ctx)?;
        let query = logs::query(
            &app_id,
            deployment.as_ref(),
            streams,
            from.as_deref(),
            last_nano.as_deref(),
            limit,
            direction.unwrap_or_default(),
        )?;
        let page = ctx.data::<Platform>()?.logs_for(user, &query).await.gql()?;
        Ok(page.into())
    }
}
