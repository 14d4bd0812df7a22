//! The embedding example runs the whole platform: the app it deploys answers, a task queued while
//! the app is busy runs once it is free (task queue, builder, deployer), and an instance killed
//! behind the platform's back is restarted (supervisor). Real git, SQLite and processes.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use paas_core::AppStatus;
use paas_core::lock::LockKey;
use paas_core::model::{AppId, Deployment};
use paas_core::task::{TaskRequest, TaskState};

/// The example's own app.
const APP: &str = include_str!("../apps/hello-python/app.py");

/// Polls `check` until it gives a value, failing after `timeout`.
async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("not within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(url: &str) -> anyhow::Result<String> {
    Ok(reqwest::get(url).await?.error_for_status()?.text().await?)
}

async fn current(platform: &paas_core::Platform, app: AppId) -> anyhow::Result<Deployment> {
    let app = platform.app(app).await?.context("app gone")?;
    let dep = app.deployment.context("no deployment")?;
    platform
        .store()
        .deployment(dep)
        .await?
        .context("no deployment")
}

/// The process group of a local instance, from the record the local runtime keeps.
fn pgid_of(data_dir: &std::path::Path, instance: &str) -> anyhow::Result<i32> {
    for entry in std::fs::read_dir(data_dir.join("logs").join("run"))? {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(entry?.path())?)?;
        if record["id"] == instance {
            return Ok(i32::try_from(record["pgid"].as_i64().context("no pgid")?)?);
        }
    }
    bail!("no record of {instance}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_runs_every_loop_of_the_platform() -> anyhow::Result<()> {
    let repo = paas_tests::git_repo(&[("app.py", APP)])?;
    let data = tempfile::tempdir()?;
    let mut seen = Vec::new();
    let deployed = paas_examples::deploy_local(repo.path(), "hello", data.path(), |change| {
        seen.push(change.status)
    })
    .await?;
    let (platform, user, app) = (&deployed.platform, &deployed.user, &deployed.app);
    assert_eq!(seen.first(), Some(&AppStatus::Pending), "{seen:?}");
    assert_eq!(app.status, AppStatus::Running);
    let url = live_url(platform, app.id).await?.context("no replica")?;
    assert_eq!(get(&url).await?, "hello from paas\n");

    // A redeploy asked for while the app is busy (its lock held, as by another server's
    // task) is queued; the task queue runs it once the app is free, through build and start.
    let first = current(platform, app.id).await?;
    let lock = platform
        .locks()
        .acquire(
            &LockKey::App(app.id),
            "a test's task",
            Duration::from_secs(5),
        )
        .await?;
    let task = platform
        .submit(
            user,
            app.id,
            TaskRequest::Redeploy {
                commit: None,
                push: None,
            },
            true,
        )
        .await?;
    assert_eq!(task.state, TaskState::Queued);
    platform.locks().release(&lock).await?;
    eventually(Duration::from_secs(60), || async {
        let tasks = platform.tasks_of(app, 10).await?;
        let t = tasks
            .iter()
            .find(|t| t.id == task.id)
            .context("task gone")?;
        if t.state == TaskState::Failed {
            bail!("the queued redeploy failed: {:?}", t.error);
        }
        Ok((t.state == TaskState::Succeeded).then_some(()))
    })
    .await?;
    let second = current(platform, app.id).await?;
    assert_ne!(second.id, first.id, "the redeploy made a new deployment");
    let url = live_url(platform, app.id).await?.context("no replica")?;
    assert_eq!(get(&url).await?, "hello from paas\n");

    // The instance is killed behind the platform's back: the supervisor starts it again.
    let instance = second
        .running()
        .next()
        .map(|r| r.id.clone())
        .context("no instance")?;
    killpg(
        Pid::from_raw(pgid_of(data.path(), &instance)?),
        Signal::SIGKILL,
    )?;
    let restarted = eventually(Duration::from_secs(60), || async {
        let dep = current(platform, app.id).await?;
        let replaced = dep.restarts >= 1 && dep.running().all(|r| r.id != instance);
        Ok(match replaced {
            true => live_url(platform, app.id).await?,
            false => None,
        })
    })
    .await?;
    assert_eq!(get(&restarted).await?, "hello from paas\n");

    deployed.stop().await?;
    // The app's instance died with the platform.
    assert!(get(&restarted).await.is_err(), "stopped with the platform");
    Ok(())
}

/// The address of the app's first serving replica, while it is `RUNNING`.
async fn live_url(platform: &paas_core::Platform, app: AppId) -> anyhow::Result<Option<String>> {
    let app = platform.app(app).await?.context("app gone")?;
    if app.status != AppStatus::Running {
        return Ok(None);
    }
    let serving = platform.serving_instances(&app).await?;
    Ok(serving.first().map(|s| s.endpoint.url()))
}
