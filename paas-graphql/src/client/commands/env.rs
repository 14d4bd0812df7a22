//! `paas env list|set|unset`: keys only (values are write-only); set and unset keep the other
//! variables, and the app restarts with the change (followed unless `--no-wait`).

use serde_json::json;

use super::lifecycle::{Started, report, started};
use super::{Ctx, find_app};
use crate::client::failure::Failure;
use crate::client::follow::name;
use crate::client::queries::{UpdateEnv, update_env};

pub async fn list(ctx: &Ctx<'_>, app: &str) -> Result<(), Failure> {
    let (shown, raw) = find_app(ctx, app).await?;
    if ctx.out.json {
        ctx.out
            .json_line(&json!({ "env": raw["application"]["env"] }));
    } else if shown.env.is_empty() {
        ctx.out
            .note(&format!("`{app}` has no environment variables"));
    } else {
        for var in &shown.env {
            ctx.out.line(&var.key);
        }
    }
    Ok(())
}

pub async fn set(
    ctx: &Ctx<'_>,
    app: &str,
    vars: Vec<(String, String)>,
    no_wait: bool,
) -> Result<(), Failure> {
    let set = vars
        .into_iter()
        .map(|(key, value)| update_env::EnvVarInput { key, value })
        .collect();
    update(ctx, app, Some(set), None, no_wait).await
}

pub async fn unset(
    ctx: &Ctx<'_>,
    app: &str,
    keys: Vec<String>,
    no_wait: bool,
) -> Result<(), Failure> {
    update(ctx, app, None, Some(keys), no_wait).await
}

async fn update(
    ctx: &Ctx<'_>,
    app: &str,
    set: Option<Vec<update_env::EnvVarInput>>,
    unset: Option<Vec<String>>,
    no_wait: bool,
) -> Result<(), Failure> {
    let (shown, _) = find_app(ctx, app).await?;
    let answer = ctx
        .api
        .run::<UpdateEnv>(update_env::Variables {
            id: shown.id,
            set,
            unset,
        })
        .await?;
    let started: Started = started!(answer.data.update_application.started);
    report(
        ctx,
        "Updating the environment of",
        started,
        &answer.raw,
        no_wait,
    )
    .await
}
