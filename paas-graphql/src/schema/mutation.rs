use async_graphql::{Context, Object};
use paas_core::Platform;
use paas_core::model::{
    AppName, Branch, EnvVars, GitUrl, NewApplication, Port, Resources, Secret,
    validate_port_bindings,
};

use super::types::{CreateApplicationInput, CreateApplicationPayload};
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
