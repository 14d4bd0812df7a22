//! The builder and the deployer of the core, on the local adapters, stepped by hand (no sleeping): a real SQLite store, real
//! git repositories, real processes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use paas_core::flow::Step;
use paas_core::model::{AppName, GitUrl, NewApplication, SourcePolicy, User, UserId};
use paas_core::queue::{Message, Topic};
use paas_core::retry::RetryPolicy;
use paas_core::{AppStatus, Platform, PlatformConfig};
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::git_repo;
use paas_tests::repo::file_url;

const APP: &str = "import http.server, os\nhttp.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), http.server.SimpleHTTPRequestHandler).serve_forever()\n";

struct Setup {
    platform: Platform,
    user: User,
    _dir: tempfile::TempDir,
}

async fn setup(builds_dir: Option<std::path::PathBuf>) -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir()?;
    let config = PlatformConfig {
        data_dir: dir.path().to_path_buf(),
        builds_dir,
        build_retry: RetryPolicy {
            base: Duration::from_millis(5),
            ..RetryPolicy::attempts(3)
        },
        ..PlatformConfig::default()
    };
    let platform = Platform::builder()
        .config(config)
        .runtime(Arc::new(LocalRuntime::new(dir.path().join("logs"))))
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    let user = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    platform.store().create_user(&user, "hash").await?;
    Ok(Setup {
        platform,
        user,
        _dir: dir,
    })
}

fn new_app(name: &str, repo: &std::path::Path) -> anyhow::Result<NewApplication> {
    Ok(NewApplication::new(
        AppName::parse(name)?,
        GitUrl::parse(&file_url(repo), SourcePolicy::default())?,
    ))
}

/// Steps builder and deployer until both queues are empty.
async fn drain(s: &Setup) -> anyhow::Result<()> {
    loop {
        let built = s.platform.build_step(Duration::ZERO).await?;
        let deployed = s.platform.deploy_step(Duration::ZERO).await?;
        if built == Step::Idle && deployed == Step::Idle {
            return Ok(());
        }
    }
}

#[tokio::test]
async fn redelivered_messages_change_nothing() -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", APP)])?;
    let s = setup(None).await?;
    let app = s
        .platform
        .create_application(&s.user, new_app("again", repo.path())?)
        .await?;
    drain(&s).await?;
    let running = s
        .platform
        .store()
        .app(app.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(running.status, AppStatus::Running);
    let dep_id = running
        .deployment
        .ok_or_else(|| anyhow::anyhow!("no deployment"))?;
    let serving = s.platform.serving_instances(&running).await?;
    assert_eq!(serving.len(), 1, "{serving:?}");

    // The build's output is in the log store, and only there.
    let build_output = s.platform.build_output(app.id, dep_id, 200).await?;
    for line in ["cloning file://", " as PYTHON", "build finished: "] {
        assert!(build_output.contains(line), "{line:?} in {build_output:?}");
    }
    let builds = s.platform.config().build_dir();
    assert!(!builds.join(format!("{dep_id}.build.log")).exists());

    // The same request and result again, as a queue redelivers after a crash.
    let q = s.platform.queue();
    q.push(
        Topic::Builds,
        Message::BuildRequest {
            app: app.id,
            deployment: dep_id,
        },
    )
    .await?;
    q.push(
        Topic::Results,
        Message::BuildSucceeded {
            app: app.id,
            deployment: dep_id,
        },
    )
    .await?;
    drain(&s).await?;

    let after = s
        .platform
        .store()
        .app(app.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(
        (after.status, after.version),
        (AppStatus::Running, running.version)
    );
    assert_eq!(s.platform.serving_instances(&after).await?, serving);
    let dep = s
        .platform
        .store()
        .deployment(dep_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!((dep.build_attempts, dep.start_attempts), (1, 1));
    assert_eq!(
        s.platform.build_output(app.id, dep_id, 200).await?,
        build_output,
        "nothing built or stored again"
    );
    s.platform.runtime().shutdown().await;
    Ok(())
}

#[tokio::test]
async fn platform_faults_are_retried_then_fail_with_the_reason() -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", APP)])?;
    // The work dir cannot be created (its parent is a file): a fault of the platform's disk.
    let blocker = tempfile::NamedTempFile::new()?;
    let s = setup(Some(blocker.path().join("builds"))).await?;
    let app = s
        .platform
        .create_application(&s.user, new_app("diskfull", repo.path())?)
        .await?;
    drain(&s).await?;
    let failed = s
        .platform
        .store()
        .app(app.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(failed.status, AppStatus::Failed);
    assert!(
        failed
            .status_reason
            .as_deref()
            .unwrap_or("")
            .contains("creating"),
        "{:?}",
        failed.status_reason
    );
    let dep = s
        .platform
        .store()
        .deployment(app.deployment.ok_or_else(|| anyhow::anyhow!("no dep"))?)
        .await?;
    assert_eq!(
        dep.map(|d| d.build_attempts),
        Some(3),
        "retried up to the policy's 3 attempts"
    );
    Ok(())
}
