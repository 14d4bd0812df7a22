//! Preview deployments in the schema: `previews` on `createApplication` and
//! `updateApplication`, `Application.previews` (the settings and the preview apps) and
//! `Application.previewOf`.

use async_graphql::{ComplexObject, Context, InputObject, SimpleObject};
use paas_core::Platform;
use paas_core::model::{self, AppId, DEFAULT_MAX_PREVIEWS, PreviewKey, PreviewSettings};

use super::types::Application;
use crate::auth::viewer;
use crate::error::{GqlResult, OrGql};

/// Whether the app gets a preview app per branch and pull request. Replaces the app's
/// settings: fields left out take their defaults.
#[derive(InputObject)]
pub struct PreviewsInput {
    pub enabled: bool,
    /// Kept at most (1–50, default 5); past it the oldest preview is removed.
    #[graphql(default = 5)]
    pub max_previews: i32,
    /// Pull requests from forks get previews too (default false: a fork's code would run with
    /// this app's env).
    #[graphql(default = false)]
    pub forks: bool,
}

impl PreviewsInput {
    pub fn parse(&self) -> GqlResult<PreviewSettings> {
        PreviewSettings::new(self.enabled, i64::from(self.max_previews), self.forks).gql()
    }
}

/// An app's previews: its settings and its preview apps.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Previews {
    pub enabled: bool,
    pub max_previews: i32,
    pub forks: bool,
    #[graphql(skip)]
    pub app: AppId,
}

impl Previews {
    pub fn of(app: &model::Application) -> Self {
        Self {
            enabled: app.previews.enabled,
            max_previews: i32::try_from(app.previews.max_previews)
                .unwrap_or(i32::try_from(DEFAULT_MAX_PREVIEWS).unwrap_or(5)),
            forks: app.previews.forks,
            app: app.id,
        }
    }
}

#[ComplexObject]
impl Previews {
    /// The preview apps, oldest first.
    async fn apps(&self, ctx: &Context<'_>) -> GqlResult<Vec<Application>> {
        let user = viewer(ctx)?;
        let platform = ctx.data::<Platform>()?;
        let previews = platform.previews_for(user, self.app).await.gql()?;
        Ok(previews.into_iter().map(Into::into).collect())
    }
}

/// What a preview app previews.
#[derive(SimpleObject)]
pub struct PreviewOf {
    /// The app it previews.
    pub application: Application,
    /// The branch it shows (a pushed branch, or a pull request's head).
    pub branch: String,
    /// The pull (merge) request it shows, if it is one's.
    pub pull_request: Option<i32>,
}

/// `app`'s parent, when `app` is a preview the viewer's parent app has.
pub async fn preview_of(
    ctx: &Context<'_>,
    app: &model::Application,
) -> GqlResult<Option<PreviewOf>> {
    let Some(of) = &app.preview_of else {
        return Ok(None);
    };
    let user = viewer(ctx)?;
    let platform = ctx.data::<Platform>()?;
    let parent = match platform.app_for(user, of.parent).await {
        Ok(p) => p,
        Err(paas_core::Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e).gql(),
    };
    Ok(Some(PreviewOf {
        application: parent.into(),
        branch: app.source.branch.to_string(),
        pull_request: match of.key {
            PreviewKey::PullRequest(n) => i32::try_from(n).ok(),
            PreviewKey::Branch(_) => None,
        },
    }))
}
