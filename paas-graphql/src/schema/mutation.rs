use async_graphql::{Context, ID, Object};
use paas_core::Platform;
use paas_core::model::{
    AppId, AppName, Branch, CommitId, EnvVars, GitUrl, NewApplication, Port, Resources, Secret,
    validate_port_bindings,
};

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
        };
        validate_port_bindings(&new.port_bindings).gql()?;
        let app = platform.create_application(user, new).await.gql()?;
        Ok(CreateApplicationPayload {
            application: app.into(),
        })
    }

    /// Builds the app again, at `commit` or its branch head, and rolls it out. A running app
    /// keeps serving until the new deployment answers; if that fails, the old one stays.
    async fn redeploy_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        commit: Option<String>,
    ) -> GqlResult<Application> {
        let user = viewer(ctx)?;
        let id: AppId = id.parse().gql()?;
        let commit = commit.as_deref().map(CommitId::parse).transpose().gql()?;
        let app = ctx
            .data::<Platform>()?
            .redeploy_application(user, id, commit)
            .await
            .gql()?;
        Ok(app.into())
    }

    /// Deletes an app: stops and removes its instances and images, frees its name.
    async fn delete_application(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let user = viewer(ctx)?;
        let id: AppId = id.parse().gql()?;
        ctx.data::<Platform>()?
            .delete_application(user, id)
            .await
            .gql()?;
        Ok(true)
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
                "INVALID_ARGUMENT",
                "the token is longer than 4096 characters",
            ));
        }
        ctx.data::<Platform>()?
            .store()
            .set_git_token(user.id, token.as_ref())
            .await
            .gql()?;
        Ok(true)
    }
}
