//! The local-process runtime with real processes.

use std::time::Duration;

use paas_core::model::{AppId, AppName, DeploymentId, EnvVars, Port};
use paas_core::runtime::{InstanceSpec, InstanceState, Runtime};
use paas_runner::local::LocalRuntime;

fn spec(
    dir: &std::path::Path,
    command: &str,
    env: EnvVars,
    port: Option<Port>,
) -> anyhow::Result<InstanceSpec> {
    Ok(InstanceSpec {
        app_id: AppId::new(),
        app_name: AppName::parse("t")?,
        deployment_id: DeploymentId::new(),
        image: dir.display().to_string(),
        start_command: Some(command.into()),
        port,
        env,
        resources: Default::default(),
        port_bindings: Vec::new(),
    })
}

async fn wait_for_file(path: &std::path::Path) -> anyhow::Result<String> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(s) = std::fs::read_to_string(path)
                && s.ends_with('\n')
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .map_err(Into::into)
}

#[tokio::test]
async fn apps_get_port_and_their_env_but_not_the_servers() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let rt = LocalRuntime::new(dir.path().join("logs"));
    // SAFETY of the test: a variable of the server that must not reach apps.
    let server_secret = std::env::var("DATABASE_URL").is_ok();
    let env = EnvVars::parse([("GREETING", "hi")])?;
    let cmd = "echo \"$PORT|$GREETING|${DATABASE_URL:-unset}|$PATH\" > out.txt; sleep 30";
    let inst = rt.start(&spec(dir.path(), cmd, env, None)?).await?;
    let out = wait_for_file(&dir.path().join("out.txt")).await?;
    let parts: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(parts[0], inst.endpoint.port.to_string());
    assert_eq!(parts[1], "hi");
    assert_eq!(
        parts[2], "unset",
        "server env leaked (DATABASE_URL set here: {server_secret})"
    );
    assert!(!parts[3].is_empty(), "PATH is passed on");
    assert_eq!(rt.inspect(&inst.id).await?, InstanceState::Running);
    rt.remove(&inst.id).await?;
    assert_eq!(rt.inspect(&inst.id).await?, InstanceState::Missing);
    Ok(())
}

#[tokio::test]
async fn stop_reaches_the_whole_process_group() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let rt = LocalRuntime::new(dir.path().join("logs"));
    // The shell starts a grandchild; stopping must end it too.
    let cmd = "sleep 300 & echo $! > child.pid; wait";
    let inst = rt
        .start(&spec(dir.path(), cmd, EnvVars::default(), None)?)
        .await?;
    let pid: i32 = wait_for_file(&dir.path().join("child.pid"))
        .await?
        .trim()
        .parse()?;
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    rt.stop(&inst.id).await?;
    assert!(matches!(
        rt.inspect(&inst.id).await?,
        InstanceState::Exited { .. }
    ));
    // The grandchild is gone (or a zombie about to be reaped by init).
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "grandchild survived: {state}"
    );
    // Stopping twice is fine.
    rt.stop(&inst.id).await?;
    Ok(())
}

#[tokio::test]
async fn exit_code_and_output_are_reported() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let rt = LocalRuntime::new(dir.path().join("logs"));
    let port = Port::parse(i64::from(
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
    ))?;
    let inst = rt
        .start(&spec(
            dir.path(),
            "echo boom >&2; exit 7",
            EnvVars::default(),
            Some(port),
        )?)
        .await?;
    assert_eq!(inst.endpoint.port, port.get(), "a fixed port is honoured");
    let state = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rt.inspect(&inst.id).await {
                Ok(InstanceState::Running) => tokio::time::sleep(Duration::from_millis(20)).await,
                other => return other,
            }
        }
    })
    .await??;
    assert_eq!(
        state,
        InstanceState::Exited {
            code: Some(7),
            oom_killed: false,
            output_tail: "boom".into()
        }
    );
    Ok(())
}

#[tokio::test]
async fn output_is_followed_until_the_process_ends_and_removed_with_it() -> anyhow::Result<()> {
    use futures::StreamExt;
    use paas_core::logs::LogStream;

    let dir = tempfile::tempdir()?;
    let logs = dir.path().join("logs");
    let rt = LocalRuntime::new(&logs).with_output_grace(Duration::from_millis(100));
    let cmd = "echo one; echo oops >&2; sleep 0.3; printf 'two\\nno end'; exit 0";
    let inst = rt
        .start(&spec(dir.path(), cmd, EnvVars::default(), None)?)
        .await?;
    let mut output = rt.output(&inst.id, None);
    let mut lines = Vec::new();
    let mut position = None;
    // The stream ends by itself once the process is gone and everything was read.
    while let Some(batch) = tokio::time::timeout(Duration::from_secs(10), output.next()).await? {
        let batch = batch?;
        position = Some(batch.position);
        lines.extend(batch.lines.into_iter().map(|l| (l.stream, l.text)));
    }
    let of = |s: LogStream| -> Vec<String> {
        lines
            .iter()
            .filter(|(x, _)| *x == s)
            .map(|(_, t)| t.clone())
            .collect()
    };
    assert_eq!(of(LogStream::Stdout), ["one", "two", "no end"]);
    assert_eq!(of(LogStream::Stderr), ["oops"]);
    // From the last position there is nothing more.
    let mut again = rt.output(&inst.id, position);
    assert!(
        tokio::time::timeout(Duration::from_secs(10), again.next())
            .await?
            .is_none()
    );
    // Removing the instance removes its output files after the grace period.
    let files = || {
        std::fs::read_dir(&logs)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(files(), 2, "stdout and stderr files");
    rt.remove(&inst.id).await?;
    tokio::time::timeout(Duration::from_secs(5), async {
        while files() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    Ok(())
}
