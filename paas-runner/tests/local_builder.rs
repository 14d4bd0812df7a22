//! The local builder on real checkouts.

use chrono::Utc;
use paas_core::Error;
use paas_core::builder::{BuildJob, ImageBuilder};
use paas_core::model::{
    AppId, AppName, Application, Branch, Deployment, GitUrl, Language, NewApplication,
    SourcePolicy, UserId,
};
use paas_runner::local::LocalBuilder;

fn app() -> anyhow::Result<(Application, Deployment)> {
    let dep = Deployment::queued(AppId::new(), None, Utc::now());
    let new = NewApplication::new(
        AppName::parse("b")?,
        GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
    );
    Ok((
        Application::pending(UserId::new(), new, Branch::parse("main")?, &dep),
        dep,
    ))
}

async fn build(
    files: &[(&str, &str)],
    language: Language,
    procfile: Option<&str>,
) -> anyhow::Result<paas_core::Result<paas_core::builder::BuiltImage>> {
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src)?;
    for (f, c) in files {
        std::fs::write(src.join(f), c)?;
    }
    let (a, d) = app()?;
    Ok(LocalBuilder::default()
        .build(BuildJob {
            app: &a,
            deployment: &d,
            source_dir: &src,
            language,
            start_command: procfile.map(str::to_owned),
            log: &dir.path().join("build.log"),
        })
        .await)
}

#[tokio::test]
async fn start_commands_by_language_and_procfile() -> anyhow::Result<()> {
    let py = build(&[("main.py", "")], Language::Python, None).await??;
    assert_eq!(py.start_command.as_deref(), Some("python3 main.py"));
    let web = build(
        &[("main.py", "")],
        Language::Python,
        Some("gunicorn app:app"),
    )
    .await??;
    assert_eq!(web.start_command.as_deref(), Some("gunicorn app:app"));
    let site = build(&[("index.html", "<p>hi</p>")], Language::Static, None).await??;
    assert!(
        site.start_command
            .unwrap_or_default()
            .contains("http.server")
    );
    Ok(())
}

#[tokio::test]
async fn failing_steps_and_missing_start_commands_are_user_faults() -> anyhow::Result<()> {
    let r = build(
        &[("package.json", r#"{"name":"x","version":"1.0.0","scripts":{"build":"echo 'Error: bad import' >&2; exit 1"}}"#)],
        Language::Node,
        None,
    )
    .await?;
    match r {
        Err(Error::BuildFailed(reason)) => {
            assert!(reason.contains("npm run build"), "{reason}");
            assert!(reason.contains("Error: bad import"), "{reason}");
        }
        other => panic!("expected a failed build, got {other:?}"),
    }
    let r = build(&[("lib.py", "")], Language::Python, None).await?;
    assert!(
        matches!(&r, Err(Error::BuildFailed(m)) if m.contains("Procfile")),
        "{r:?}"
    );
    let r = build(
        &[("Containerfile", "FROM scratch")],
        Language::Containerfile,
        None,
    )
    .await?;
    assert!(
        matches!(&r, Err(Error::BuildFailed(m)) if m.contains("podman")),
        "{r:?}"
    );
    Ok(())
}

/// Whether process `pid` still runs (a zombie counts as gone).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

#[tokio::test]
async fn a_cancelled_build_leaves_no_process_behind() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src)?;
    // The step starts a child of its own, as npm and compilers do, and waits.
    std::fs::write(
        src.join("package.json"),
        r#"{"name":"x","version":"1.0.0","scripts":{"build":"sleep 300 & echo $! > child.pid; wait"}}"#,
    )?;
    let (a, d) = app()?;
    let log = dir.path().join("build.log");
    let builder = LocalBuilder::default();
    let build = builder.build(BuildJob {
        app: &a,
        deployment: &d,
        source_dir: &src,
        language: Language::Node,
        start_command: None,
        log: &log,
    });
    let pid_file = src.join("child.pid");
    let child: i32 = tokio::select! {
        out = build => anyhow::bail!("the build ended: {out:?}"),
        pid = async {
            loop {
                if let Ok(pid) = std::fs::read_to_string(&pid_file)
                    && let Ok(pid) = pid.trim().parse::<i32>()
                {
                    return pid;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        } => pid,
    };
    // The build future was dropped by the select: its step's whole process group goes.
    paas_tests::eventually(std::time::Duration::from_secs(10), || async {
        Ok((!running(child)).then_some(()))
    })
    .await?;
    Ok(())
}
