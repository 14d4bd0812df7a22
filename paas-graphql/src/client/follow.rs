//! Following an app until it settles: a line per status change from the `applicationStatus`
//! subscription (on a terminal, a spinner while it builds or starts, or with the step of the
//! task followed), and, when a command started a task (deploy, restart, rollback, an env
//! change), that task to its end.
//!
//! Expected flow: subscribe after the version the command saw (so no change is missed or
//! shown twice), print each change; without a task, end on a settled status (`RUNNING`,
//! `SLEEPING`, `STOPPED`: done; `FAILED`: a failure with its reason); with a task, look at it
//! every second and end when it has (a redeploy of a running app may change no status at all).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::commands::Ctx;
use super::failure::Failure;
use super::output::clock;
use super::queries::{StatusChanges, TaskState, status_changes, task_state};

/// How often a followed task is looked at.
const TASK_POLL: Duration = Duration::from_secs(1);

/// The GraphQL name of an enum value (`RUNNING`).
pub fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "UNKNOWN".into(),
    }
}

/// Whether an app in `status` is done changing for now.
pub fn settled(status: &str) -> bool {
    matches!(
        status,
        "RUNNING" | "SLEEPING" | "STOPPED" | "FAILED" | "DELETING"
    )
}

/// What a settled status means for the command's exit.
pub fn outcome(status: &str, reason: Option<&str>) -> Result<(), Failure> {
    if status == "FAILED" {
        Err(Failure::Failed {
            reason: reason.unwrap_or("the app failed").to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Follows app `id` (`name`) after `after_version` until it settles or `task` ends.
pub async fn follow(
    ctx: &Ctx<'_>,
    id: &str,
    name_of_app: &str,
    after_version: Option<i64>,
    task: Option<String>,
) -> Result<(), Failure> {
    let mut changes = ctx
        .api
        .subscribe::<StatusChanges>(status_changes::Variables {
            id: id.to_owned(),
            after_version,
        })
        .await?;
    let mut spinner = Spinner::new(ctx.out.tty && !ctx.out.json);
    let mut poll = tokio::time::interval(TASK_POLL);
    let result = loop {
        tokio::select! {
            event = changes.next() => {
                let Some(event) = event? else {
                    // The app was deleted: nothing more will change.
                    break Ok(());
                };
                let change = event.data.application_status;
                let status = name(&change.status);
                spinner.pause();
                if ctx.out.json {
                    ctx.out.json_line(&event.raw["applicationStatus"]);
                } else {
                    let reason = change.reason.as_deref().map(|r| format!("  {r}")).unwrap_or_default();
                    ctx.out.line(&format!(
                        "{}  {}{}",
                        ctx.out.paint(&clock(&change.at), super::output::Tone::Dim),
                        ctx.out.status(&status),
                        reason
                    ));
                }
                spinner.show(&status, name_of_app);
                if task.is_none() && settled(&status) {
                    break outcome(&status, change.reason.as_deref());
                }
            }
            _ = poll.tick(), if task.is_some() => {
                let wanted = task.as_deref().unwrap_or_default();
                match task_state(ctx, name_of_app, wanted).await? {
                    Progress::Done(done) => break done,
                    Progress::At(step) => spinner.step(name_of_app, &step),
                }
            }
        }
    };
    spinner.clear();
    result
}

/// Where a followed task is.
enum Progress {
    /// Under way, at this step.
    At(String),
    /// Over, with what it means for the command.
    Done(Result<(), Failure>),
}

/// Where the task `id` of app `name` is.
async fn task_state(ctx: &Ctx<'_>, app: &str, id: &str) -> Result<Progress, Failure> {
    let answer = ctx
        .api
        .run::<TaskState>(task_state::Variables {
            name: app.to_owned(),
        })
        .await?;
    let Some(shown) = answer.data.application else {
        return Err(Failure::not_found(app));
    };
    let settled_app = || outcome(&name(&shown.status), shown.status_reason.as_deref());
    let Some(task) = shown.tasks.iter().find(|t| t.id == id) else {
        // Out of the newest tasks: long over.
        return Ok(Progress::Done(settled_app()));
    };
    let kind = name(&task.kind).to_lowercase();
    Ok(match name(&task.state).as_str() {
        "SUCCEEDED" => Progress::Done(settled_app()),
        "FAILED" => Progress::Done(Err(Failure::Failed {
            reason: format!(
                "{kind} failed: {}",
                task.error.as_deref().unwrap_or("no reason given")
            ),
        })),
        state => Progress::At(match &task.progress {
            Some(step) => format!("{kind}: {step}"),
            None => format!("{kind}: {}", state.to_lowercase()),
        }),
    })
}

/// A spinner on stdout while the app builds or starts (on a terminal only).
struct Spinner {
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Spinner {
    fn new(enabled: bool) -> Self {
        Self { enabled, bar: None }
    }

    /// Hides the spinner before a line is printed.
    fn pause(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Spins while `status` is one that moves on by itself.
    fn show(&mut self, status: &str, app: &str) {
        if !self.enabled || !matches!(status, "PENDING" | "BUILDING" | "STARTING") {
            return;
        }
        self.spin(format!("{app} is {}", status.to_lowercase()));
    }

    fn spin(&mut self, message: String) {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bar = Some(bar);
    }

    /// Spins with the step a followed task is at (a redeploy of a running app builds while its
    /// status stays `RUNNING`).
    fn step(&mut self, app: &str, step: &str) {
        if !self.enabled {
            return;
        }
        let message = format!("{app}: {step}");
        match &self.bar {
            Some(bar) => bar.set_message(message),
            None => self.spin(message),
        }
    }

    fn clear(&mut self) {
        self.pause();
    }
}
