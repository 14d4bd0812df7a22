use async_graphql::{Context, ID, Object};
use paas_core::Platform;
use paas_core::model::{
    AppId, AppName, Branch, CommitId, DeploymentId, EnvVars, GitUrl, NewApplication, Port,
    Resources, Secret, validate_port_bindings,
};
use paas_core::task::TaskRequest;

use super::lifecycle::UpdateApplicationInput;
use super::types::{Application, CreateApplicationInput, CreateApplicationPayload};
use crate::auth::viewer;
use crate::error::{GqlResult, OrGql};

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Creates an application and queues its first build. Answers at once with the app
    /// `PENDING`; follow it with the `applicationStatus` subscription.
    async fn create_application(
        &self,
        ctx: &Context<'_>,
        input: CreateApplicationInput,
    ) -> GqlResult<CreateApplicationPayload> {
        let user = viewer(ctx)?;
        let platform = ctx.data::<Platform>()?;
        // Parse everything before touching anything: bad input changes nothing.
        let new = NewApplication {
            name: AppName::parse(&input.name).gql()?,
            url: GitUrl::parse(&input.repository.url, platform.config().source_policy).gql()?,
            branch: input
                .repository
                .branch
                .as_deref()
                .map(Branch::parse)
                .transpose()
                .gql()?,
            language: input.language.map(Into::into),
            port: input
                .port
                .map(|p| Port::parse(i64::from(p)))
                .transpose()
                .gql()?,
            env: EnvVars::parse(
                input
                    .env
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| (e.key, e.value)),
            )
            .gql()?,
            resources: {
                let r = input.resources.unwrap_or_default();
                Resources::parse(r.cpu_millis.map(i64::from), r.memory_mb.map(i64::from)).gql()?
            },
            port_bindings: input
                .ports
                .unwrap_or_default()
                .iter()
                .map(|p| p.parse())
                .collect::<Result<Vec<_>, _>>()
                .gql()?,
            https_only: input.https_only.unwrap_or(false),
            auto_deploy: input.auto_deploy.unwrap_or(false),
            scaling: paas_core::model::Scaling::default()
                .with(
                    input.scaling.unwrap_or_default().change(),
                    platform.config().scaler.bounds,
                )
                .gql()?,
            health: paas_core::model::HealthCheck::default()
                .with(&input.health_check.unwrap_or_default().change())
                .gql()?,
            previews: input
                .previews
                .as_ref()
                .map(super::previews::PreviewsInput::parse)
                .transpose()?
                .unwrap_or_default(),
            preview_of: None,
        };
        validate_port_bindings(&new.port_bindings).gql()?;
        let app = platform.create_application(user, new).await.gql()?;
        Ok(CreateApplicationPayload {
            application: app.into(),
        })
    }

    /// Builds the app again, at `commit` or its branch head, and rolls it out. A running app
    /// keeps serving until the new deployment answers; if that fails, the old one stays. A busy
    /// app answers `APP_BUSY`, or with `queue: true` the task waits its turn.
    async fn redeploy_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        commit: Option<String>,
        queue: Option<bool>,
    ) -> GqlResult<Application> {
        let commit = commit.as_deref().map(CommitId::parse).transpose().gql()?;
        submit(ctx, id, TaskRequest::Redeploy { commit, push: None }, queue).await
    }

    /// Restarts the app's instance from its current image (no build). Waits for a task under
    /// way; `force: true` does not wait: it cancels the deployment in flight and takes over.
    async fn restart_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        force: Option<bool>,
        queue: Option<bool>,
    ) -> GqlResult<Application> {
        let force = force.unwrap_or(false);
        submit(ctx, id, TaskRequest::Restart { force }, queue).await
    }

    /// Stops the app: its instances are removed and it is `STOPPED` until `startApplication`,
    /// across restarts of the server too; crashes are no longer watched. A stopped app answers
    /// `ALREADY_STOPPED`; a busy one `APP_BUSY`, or with `queue: true` the task waits its turn.
    async fn stop_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        queue: Option<bool>,
    ) -> GqlResult<Application> {
        submit(ctx, id, TaskRequest::Stop, queue).await
    }

    /// Starts a stopped app from its current deployment's image (no build). An app that is not
    /// stopped answers `NOT_STOPPED`; one without a built image `NOT_BUILT`.
    async fn start_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        queue: Option<bool>,
    ) -> GqlResult<Application> {
        submit(ctx, id, TaskRequest::Start, queue).await
    }

    /// Changes an app. With `expectedVersion`, the change applies only if the app is still at
    /// that version (`VERSION_CONFLICT` otherwise), so two editors never lose a change.
    async fn update_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateApplicationInput,
        expected_version: Option<i64>,
        queue: Option<bool>,
    ) -> GqlResult<Application> {
        let update = input.parse()?;
        let request = TaskRequest::Update {
            update: Box::new(update),
            expected_version,
        };
        submit(ctx, id, request, queue).await
    }

    /// Runs an earlier deployment's image again, without building; the app keeps serving until
    /// it answers.
    async fn rollback_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        deployment: ID,
        queue: Option<bool>,
    ) -> GqlResult<Application> {
        let deployment: DeploymentId = deployment.parse().gql()?;
        submit(ctx, id, TaskRequest::Rollback { deployment }, queue).await
    }

    /// Deletes an app: stops and removes its instances and images, frees its name. It does not
    /// wait for a task under way: a build in flight is cancelled.
    async fn delete_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        queue: Option<bool>,
    ) -> GqlResult<bool> {
        let user = viewer(ctx)?;
        let id: AppId = id.parse().gql()?;
        ctx.data::<Platform>()?
            .submit(user, id, TaskRequest::Delete, queue.unwrap_or(false))
            .await
            .gql()?;
        Ok(true)
    }

    /// Routes a domain of yours (`shop.example.com`) to the app too: point its DNS at the router.
    /// `INVALID_DOMAIN` for a name that is not a DNS name or is under the platform's own
    /// domain; `DOMAIN_TAKEN` when it routes to another app already.
    async fn add_domain(
        &self,
        ctx: &Context<'_>,
        id: ID,
        domain: String,
    ) -> GqlResult<Application> {
        let user = viewer(ctx)?;
        let id: AppId = id.parse().gql()?;
        let platform = ctx.data::<Platform>()?;
        Ok(platform.add_domain(user, id, &domain).await.gql()?.into())
    }

    /// Stops routing a custom domain to the app (`NOT_FOUND` if it has no such domain).
    async fn remove_domain(
        &self,
        ctx: &Context<'_>,
        id: ID,
        domain: String,
    ) -> GqlResult<Application> {
        let user = viewer(ctx)?;
        let id: AppId = id.parse().gql()?;
        let platform = ctx.data::<Platform>()?;
        Ok(platform
            .remove_domain(user, id, &domain)
            .await
            .gql()?
            .into())
    }

    /// Marks your notifications `ids` read (all of them when `ids` is omitted); returns how
    /// many were unread.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> GqlResult<i32> {
        super::activity::mark_read(ctx, ids).await
    }

    /// Sets the token your private repositories are read with (sent as the password of HTTP
    /// basic auth, which GitHub, GitLab and Gitea accept). `null` or "" removes it. It is never
    /// shown again.
    async fn set_git_token(&self, ctx: &Context<'_>, token: Option<String>) -> GqlResult<bool> {
        let user = viewer(ctx)?;
        let token = token
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        if token.as_ref().is_some_and(|t| t.expose().len() > 4096) {
            return Err(crate::error::coded(
                paas_core::ErrorCode::InvalidArgument,
                "the token is longer than 4096 characters",
            ));
        }
        let platform = ctx.data::<Platform>()?;
        platform
            .store()
            .set_git_token(user.id, token.as_ref())
            .await
            .gql()?;
        platform
            .record_token(user, "repositories", token.is_some())
            .await;
        Ok(true)
    }

    /// Sets the token your repositories on a git host are listed with (`gitRepositories`) and
    /// its private ones cloned with (an HTTPS repository URL on that host uses it before the
    /// `setGitToken` one). `baseUrl`: the API URL of GitHub Enterprise (`https://HOST/api/v3`)
    /// or of your Gitea/Forgejo (required there). `null` or "" as token removes it. It is
    /// never shown again.
    async fn set_git_host_token(
        &self,
        ctx: &Context<'_>,
        provider: super::repos::GitHostKind,
        token: Option<String>,
        base_url: Option<String>,
    ) -> GqlResult<bool> {
        super::repos::set_token(ctx, provider, token, base_url).await
    }

    /// Gives the app a webhook (`POST /hooks/git/<id>`) for GitHub, Gitea/Forgejo or GitLab
    /// pushes, with a new secret, in place of any it had (the old URL stops working: this is
    /// also how a secret is rotated). The secret is shown here only.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        app_id: ID,
    ) -> GqlResult<super::hooks::CreatedWebhook> {
        super::hooks::create(ctx, app_id).await
    }

    /// Removes the app's webhook; false when it had none.
    async fn delete_webhook(&self, ctx: &Context<'_>, app_id: ID) -> GqlResult<bool> {
        super::hooks::delete(ctx, app_id).await
    }

    /// Sets the address urgent notifications are mailed to (`null` clears it). `INVALID_EMAIL`
    /// for one that is not an address (nothing changes).
    async fn set_email(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
    ) -> GqlResult<super::types::Viewer> {
        super::contact::set_email(ctx, email).await
    }

    /// Registers a URL that receives each of the viewer's notifications as a JSON POST, signed
    /// with the secret answered here (and only here) in `X-Paas-Signature-256`.
    /// `INVALID_WEBHOOK_URL` for anything but an `http`/`https` URL of at most 2048 bytes (or
    /// past 10 webhooks).
    async fn create_notification_webhook(
        &self,
        ctx: &Context<'_>,
        url: String,
    ) -> GqlResult<super::contact::CreatedNotificationWebhook> {
        super::contact::create(ctx, url).await
    }

    /// Removes one of the viewer's notification webhooks; `NOT_FOUND` for one that is not
    /// theirs.
    async fn delete_notification_webhook(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        super::contact::delete(ctx, id).await
    }
}

/// Submits a task on the viewer's app and answers the app as it is then.
async fn submit(
    ctx: &Context<'_>,
    id: ID,
    request: TaskRequest,
    queue: Option<bool>,
) -> GqlResult<Application> {
    let queue = queue.unwrap_or(false);
    let user = viewer(ctx)?;
    let id: AppId = id.parse().gql()?;
    let platform = ctx.data::<Platform>()?;
    platform.submit(user, id, request, queue).await.gql()?;
    Ok(platform.app_for(user, id).await.gql()?.into())
}
