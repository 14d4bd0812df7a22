//! `paas deploy`, `paas restart`, `paas rollback`: a mutation that starts a task, then (unless
//! `--no-wait`) that task followed to its end.

use serde_json::Value;

use super::history::{history, rollback_target};
use super::{Ctx, find_app};
use crate::client::failure::Failure;
use crate::client::follow::{follow, name};
use crate::client::queries::{Redeploy, Restart, Rollback, redeploy, restart, rollback};

/// What a mutation that starts a task answered.
pub struct Started {
    pub id: String,
    pub name: String,
    pub status: String,
    pub version: i64,
    /// The app's newest task: the one the mutation started (followed to its end).
    pub task: Option<String>,
}

macro_rules! started {
    ($app:expr) => {{
        let app = $app;
        Started {
            id: app.id,
            name: app.name,
            status: name(&app.status),
            version: app.version,
            task: app.tasks.into_iter().next().map(|t| t.id),
        }
    }};
}
pub(super) use started;

/// Prints what a mutation answered and, unless `no_wait`, follows its task.
pub async fn report(
    ctx: &Ctx<'_>,
    what: &str,
    started: Started,
    raw: &Value,
    no_wait: bool,
) -> Result<(), Failure> {
    if ctx.out.json {
        ctx.out.json_line(raw);
    } else {
        ctx.out.line(&format!(
            "{what} {} ({})",
            started.name,
            ctx.out.status(&started.status)
        ));
    }
    if no_wait {
        return Ok(());
    }
    follow(
        ctx,
        &started.id,
        &started.name,
        Some(started.version),
        started.task,
    )
    .await?;
    if !ctx.out.json {
        let (shown, _) = find_app(ctx, &started.name).await?;
        ctx.out.line(&format!(
            "{} is {} at {}",
            shown.name,
            ctx.out.status(&name(&shown.status)),
            shown.endpoint.url
        ));
    }
    Ok(())
}

pub async fn deploy(
    ctx: &Ctx<'_>,
    app: &str,
    commit: Option<String>,
    no_wait: bool,
) -> Result<(), Failure> {
    let (shown, _) = find_app(ctx, app).await?;
    let answer = ctx
        .api
        .run::<Redeploy>(redeploy::Variables {
            id: shown.id,
            commit,
        })
        .await?;
    let started = started!(answer.data.redeploy_application);
    report(ctx, "Deploying", started, &answer.raw, no_wait).await
}

pub async fn restart(ctx: &Ctx<'_>, app: &str, no_wait: bool) -> Result<(), Failure> {
    let (shown, _) = find_app(ctx, app).await?;
    let answer = ctx
        .api
        .run::<Restart>(restart::Variables { id: shown.id })
        .await?;
    let started = started!(answer.data.restart_application);
    report(ctx, "Restarting", started, &answer.raw, no_wait).await
}

/// Rolls back to `deployment`, or by default to the newest earlier build
/// ([`rollback_target`]).
pub async fn rollback(
    ctx: &Ctx<'_>,
    app: &str,
    deployment: Option<String>,
    no_wait: bool,
) -> Result<(), Failure> {
    let (shown, _) = find_app(ctx, app).await?;
    let deployment = match deployment {
        Some(id) => id,
        None => {
            let deployments = history(&shown.deployments);
            rollback_target(&deployments)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Failure::api(
                        paas_core::ErrorCode::NotFound,
                        format!("`{app}` has no earlier build to roll back to"),
                    )
                })?
        }
    };
    let answer = ctx
        .api
        .run::<Rollback>(rollback::Variables {
            id: shown.id,
            deployment: deployment.clone(),
        })
        .await?;
    let started = started!(answer.data.rollback_application);
    report(
        ctx,
        &format!("Rolling back to {deployment}:"),
        started,
        &answer.raw,
        no_wait,
    )
    .await
}
