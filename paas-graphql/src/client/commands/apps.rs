//! `paas apps`, `paas create`, `paas delete`, `paas open`.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Value, json};

use super::{Ctx, find_app};
use crate::client::cli::CreateArgs;
use crate::client::failure::Failure;
use crate::client::follow::{follow, name};
use crate::client::output::{Tone, tone_of};
use crate::client::queries::{AppList, CreateApp, DeleteApp, app_list, create_app, delete_app};

/// Every app of the viewer (all pages) as a table, or `{"applications": [...]}`.
pub async fn list(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let mut apps = Vec::new();
    let mut raw = Vec::new();
    let mut after = None;
    loop {
        let answer = ctx
            .api
            .run::<AppList>(app_list::Variables { after })
            .await?;
        let page = answer.data.applications;
        if let Some(nodes) = answer.raw["applications"]["nodes"].as_array() {
            raw.extend(nodes.iter().cloned());
        }
        apps.extend(page.nodes);
        if !page.page_info.has_next_page || page.page_info.end_cursor.is_none() {
            break;
        }
        after = page.page_info.end_cursor;
    }
    if ctx.out.json {
        ctx.out.json_line(&json!({ "applications": raw }));
        return Ok(());
    }
    if apps.is_empty() {
        ctx.out
            .line("No apps yet: `paas create <name> --repo <url>` makes one.");
        return Ok(());
    }
    let rows: Vec<_> = apps
        .iter()
        .map(|app| {
            let status = name(&app.status);
            let tone = tone_of(&status);
            vec![
                (app.name.clone(), Tone::Plain),
                (status, tone),
                (app.endpoint.url.clone(), Tone::Plain),
            ]
        })
        .collect();
    ctx.out.table(&["NAME", "STATUS", "URL"], &rows);
    Ok(())
}

/// Creates an app, prints it, then follows it until it settles (unless `--no-wait`).
pub async fn create(ctx: &Ctx<'_>, args: CreateArgs) -> Result<(), Failure> {
    let input = create_app::CreateApplicationInput {
        name: args.name,
        repository: create_app::RepositoryInput {
            url: args.repo,
            branch: args.branch,
        },
        language: None,
        port: args.port.map(i64::from),
        env: (!args.env.is_empty()).then(|| {
            args.env
                .into_iter()
                .map(|(key, value)| create_app::EnvVarInput { key, value })
                .collect()
        }),
        resources: None,
        ports: None,
        https_only: None,
        scaling: None,
        health_check: None,
        auto_deploy: args.auto_deploy.then_some(true),
    };
    let answer = ctx
        .api
        .run::<CreateApp>(create_app::Variables { input })
        .await?;
    let app = answer.data.create_application.application;
    if ctx.out.json {
        ctx.out.json_line(&answer.raw);
    } else {
        ctx.out.line(&format!(
            "Created {} ({}), at {}",
            app.name,
            ctx.out.status(&name(&app.status)),
            app.endpoint.url
        ));
    }
    if args.no_wait {
        return Ok(());
    }
    follow(ctx, &app.id, &app.name, None, None).await
}

/// Deletes an app after the user typed its name (or with `--yes`).
pub async fn delete(ctx: &Ctx<'_>, app: &str, yes: bool) -> Result<(), Failure> {
    let (shown, _) = find_app(ctx, app).await?;
    if !yes {
        confirm(app)?;
    }
    let answer = ctx
        .api
        .run::<DeleteApp>(delete_app::Variables { id: shown.id })
        .await?;
    if ctx.out.json {
        ctx.out.json_line(&answer.raw);
    } else {
        ctx.out.line(&format!("Deleted {app}"));
    }
    Ok(())
}

/// Asks to type the app's name; refuses where nobody can answer.
fn confirm(app: &str) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::Usage(format!(
            "not deleting `{app}`: confirm with --yes (stdin is not a terminal to ask on)"
        )));
    }
    eprint!("This deletes `{app}`, its instances and images. Type its name to confirm: ");
    let _ = std::io::stderr().flush();
    let mut typed = String::new();
    stdin
        .lock()
        .read_line(&mut typed)
        .map_err(|e| Failure::Local(format!("cannot read the answer: {e}")))?;
    if typed.trim() == app {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "not deleting `{app}`: the name did not match"
        )))
    }
}

/// Prints the app's URL (alone, so `curl "$(paas open web)"` works).
pub async fn open(ctx: &Ctx<'_>, app: &str) -> Result<(), Failure> {
    let (shown, raw) = find_app(ctx, app).await?;
    if ctx.out.json {
        let endpoint: &Value = &raw["application"]["endpoint"];
        ctx.out
            .json_line(&json!({ "name": shown.name, "url": endpoint["url"] }));
    } else {
        ctx.out.line(&shown.endpoint.url);
    }
    Ok(())
}
