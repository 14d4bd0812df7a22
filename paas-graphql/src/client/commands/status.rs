//! `paas status [--watch]`.

use super::{Ctx, find_app};
use crate::client::failure::Failure;
use crate::client::follow::{follow, name, outcome, settled};
use crate::client::output::Tone;

/// Shows the app; with `watch`, follows it until it settles (and the task under way ends).
pub async fn show(ctx: &Ctx<'_>, app: &str, watch: bool) -> Result<(), Failure> {
    let (shown, raw) = find_app(ctx, app).await?;
    let status = name(&shown.status);
    if ctx.out.json {
        ctx.out.json_line(&raw);
    } else {
        let out = ctx.out;
        let field = |label: &str, value: String| {
            out.line(&format!(
                "{}{value}",
                out.paint(&format!("{label:<12}"), Tone::Dim)
            ));
        };
        field("name", shown.name.clone());
        field("status", out.status(&status));
        if let Some(reason) = &shown.status_reason {
            field("reason", reason.clone());
        }
        field("url", shown.endpoint.url.clone());
        let repo = &shown.repository;
        let pinned = repo
            .commit
            .as_deref()
            .map(|c| format!(" at {}", short(c)))
            .unwrap_or_default();
        let push = if shown.auto_deploy {
            ", deployed on push"
        } else {
            ""
        };
        field(
            "repository",
            format!("{} ({}{pinned}{push})", repo.url, repo.branch),
        );
        let instances = if shown.instances.is_empty() {
            "none".to_owned()
        } else {
            shown
                .instances
                .iter()
                .map(|i| format!("{}:{} {}", i.host, i.port, name(&i.state)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        field("instances", instances);
        if let Some(last) = shown.deployments.first() {
            let commit = last.commit.as_deref().map(short).unwrap_or("-");
            let error = last
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            field(
                "deployment",
                format!(
                    "{} {} {commit} {}{error}",
                    last.id,
                    out.status(&name(&last.status)),
                    last.created_at
                ),
            );
        }
    }
    if !watch {
        return Ok(());
    }
    let task = shown
        .tasks
        .first()
        .filter(|t| matches!(name(&t.state).as_str(), "QUEUED" | "RUNNING"))
        .map(|t| t.id.clone());
    if task.is_none() && settled(&status) {
        return outcome(&status, shown.status_reason.as_deref());
    }
    follow(ctx, &shown.id, &shown.name, Some(shown.version), task).await
}

/// The first 12 characters of a commit id.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
