//! `paas logs`: a page of the app's log (the last lines, or every line since a time), then with
//! `-f` the live log from the last line shown, with no line twice (the subscription starts at
//! that line's timestamp, which is unique within the app, and that line is skipped). `--build`:
//! the build log of the image the latest deployment runs, which ends with the build. Ctrl-C ends
//! cleanly (exit 0).

use serde_json::Value;

use super::history::{history, latest_build};
use super::{Ctx, find_app};
use crate::client::cli::LogsArgs;
use crate::client::failure::Failure;
use crate::client::output::{Tone, clock};
use crate::client::queries::{BuildLog, FollowLogs, LogPage, build_log, follow_logs, log_page};

/// The most lines the API gives in one page.
const PAGE: u32 = 5000;
/// Lines shown without `--since` or `-n`.
const DEFAULT_LINES: u32 = 100;

pub async fn run(ctx: &Ctx<'_>, args: LogsArgs) -> Result<(), Failure> {
    tokio::select! {
        done = logs(ctx, args) => done,
        // Only a signal received ends it (a handler that cannot be set leaves the default).
        Ok(()) = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn logs(ctx: &Ctx<'_>, args: LogsArgs) -> Result<(), Failure> {
    let (app, _) = find_app(ctx, &args.app).await?;
    if args.build {
        let deployments = history(&app.deployments);
        let Some(built) = latest_build(&deployments) else {
            return Err(Failure::api(
                paas_core::ErrorCode::NotFound,
                format!("`{}` has no deployment yet", args.app),
            ));
        };
        return build(ctx, built).await;
    }
    let mut last = match &args.since {
        Some(since) => forward(ctx, &app.id, since, args.lines).await?,
        None => tail(ctx, &app.id, args.lines.unwrap_or(DEFAULT_LINES)).await?,
    };
    if !args.follow {
        return Ok(());
    }
    let from = last.clone().or(args.since.clone());
    let mut live = ctx
        .api
        .subscribe::<FollowLogs>(follow_logs::Variables {
            app: app.id.clone(),
            from,
        })
        .await?;
    while let Some(event) = live.next().await? {
        let batch = &event.raw["logBatches"];
        if batch["lagged"].is_object() {
            lagged(ctx, &batch["lagged"]);
        }
        for raw in batch["lines"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(timestamp) = raw["timestamp"].as_str() else {
                continue;
            };
            if last.as_deref().is_some_and(|seen| !after(timestamp, seen)) {
                continue;
            }
            print_line(ctx, raw);
            last = Some(timestamp.to_owned());
        }
    }
    Ok(())
}

/// The last `n` lines, oldest first; answers the last line's timestamp.
async fn tail(ctx: &Ctx<'_>, app: &str, n: u32) -> Result<Option<String>, Failure> {
    let page = ctx
        .api
        .run::<LogPage>(log_page::Variables {
            app: app.to_owned(),
            from: None,
            last_nano: None,
            limit: Some(i64::from(n.min(PAGE))),
            direction: Some(log_page::LogDirection::BACKWARD),
        })
        .await?;
    let lines: Vec<Value> = page.raw["logs"]["lines"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for line in lines.iter().rev() {
        print_line(ctx, line);
    }
    Ok(lines
        .first()
        .and_then(|l| l["timestamp"].as_str())
        .map(str::to_owned))
}

/// Every line from `since` on (at most `cap`), page after page; answers the last timestamp.
async fn forward(
    ctx: &Ctx<'_>,
    app: &str,
    since: &str,
    cap: Option<u32>,
) -> Result<Option<String>, Failure> {
    let mut left = cap.unwrap_or(u32::MAX);
    let (mut from, mut last_nano) = (Some(since.to_owned()), None::<String>);
    let mut last = None;
    while left > 0 {
        let limit = left.min(PAGE);
        let page = ctx
            .api
            .run::<LogPage>(log_page::Variables {
                app: app.to_owned(),
                from: from.clone(),
                last_nano: last_nano.clone(),
                limit: Some(i64::from(limit)),
                direction: Some(log_page::LogDirection::FORWARD),
            })
            .await?;
        let lines = page.raw["logs"]["lines"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for line in &lines {
            print_line(ctx, line);
            last = line["timestamp"].as_str().map(str::to_owned);
        }
        let count = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        if count < limit {
            break;
        }
        left = left.saturating_sub(count);
        from = page.data.logs.last_nano.clone();
        last_nano = page.data.logs.last_nano;
    }
    Ok(last)
}

/// The build log of `deployment`, to the end of its build.
async fn build(ctx: &Ctx<'_>, deployment: &str) -> Result<(), Failure> {
    let mut lines = ctx
        .api
        .subscribe::<BuildLog>(build_log::Variables {
            deployment: deployment.to_owned(),
        })
        .await?;
    while let Some(event) = lines.next().await? {
        let raw = &event.raw["buildLogs"];
        if raw["__typename"] == "LogsLagged" {
            lagged(ctx, raw);
        } else {
            print_line(ctx, raw);
        }
    }
    Ok(())
}

/// One log line: JSON as the API gave it, or `time stream text` for people.
fn print_line(ctx: &Ctx<'_>, line: &Value) {
    if ctx.out.json {
        ctx.out.json_line(line);
        return;
    }
    let stream = line["stream"].as_str().unwrap_or("");
    let tone = match stream {
        "STDERR" => Tone::Bad,
        "SYSTEM" | "BUILD" | "ROUTER" => Tone::Dim,
        _ => Tone::Plain,
    };
    let time = clock(line["timestamp"].as_str().unwrap_or(""));
    ctx.out.line(&format!(
        "{} {} {}",
        ctx.out.paint(&time, Tone::Dim),
        ctx.out.paint(&format!("{stream:<6}"), tone),
        line["text"].as_str().unwrap_or("")
    ));
}

/// Lines dropped for this reader (it read slower than the app wrote): said where to find them.
fn lagged(ctx: &Ctx<'_>, marker: &Value) {
    if ctx.out.json {
        ctx.out.json_line(marker);
    } else {
        eprintln!(
            "paas: {} lines skipped (stored: `paas logs --since {}`)",
            marker["skipped"],
            marker["first"].as_str().unwrap_or("")
        );
    }
}

/// Whether timestamp `a` is after `b` (RFC 3339; as text if either does not parse).
fn after(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}
