//! A job's life: register, run, restart in place, redeploy, deregister; a crash; logs.

use std::time::Duration;

use futures::StreamExt;
use paas_core::logs::LogStream;
use paas_core::model::AppId;
use paas_core::runtime::{InstanceState, Runtime};
use paas_runner::nomad::job::job_id;
use serde_json::json;

use super::{NAMESPACE, TOKEN, cluster, get, nomad_get, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_run_restart_redeploy_and_deregister() -> anyhow::Result<()> {
    let (fake, runtime) = cluster().await?;
    let app = AppId::new();
    let first = spec(app)?;
    let instance = runtime.start(&first).await?;
    assert_eq!(get(&instance.endpoint.url()).await?, "hello from nomad");

    // The job as Nomad got it.
    let job = fake
        .job(&job_id(app))
        .ok_or_else(|| anyhow::anyhow!("no job"))?;
    let task = &job.job["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Driver"], "podman");
    assert_eq!(task["Config"]["image"], "localhost/paas-web:v1");
    assert_eq!(task["Config"]["args"][1], "python3 app.py");
    assert_eq!(task["Env"]["PORT"], "8000");
    assert_eq!(task["Env"]["GREETING"], "hi");
    assert_eq!(
        task["Resources"]["CPU"], 500,
        "500 millicpus at 1000 MHz a core"
    );
    assert_eq!(task["Resources"]["MemoryMB"], 128);
    let group = &job.job["TaskGroups"][0];
    assert_eq!(group["Networks"][0]["DynamicPorts"][0]["To"], 8000);
    assert_eq!(group["Update"]["AutoRevert"], true);
    assert_eq!(group["Update"]["Canary"], 1);
    assert_eq!(group["Update"]["AutoPromote"], true);
    assert_eq!(
        group["Services"][0]["Checks"][0]["Timeout"],
        2_000_000_000_i64
    );
    assert_eq!(group["Services"][0]["Checks"][0]["Type"], "tcp");
    assert_eq!(job.job["Namespace"], NAMESPACE);
    assert_eq!(
        job.job["Meta"]["paas.deployment"],
        first.deployment_id.to_string()
    );
    // Every request carried the token and the namespace; register and deregister the region.
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.token.as_deref() == Some(TOKEN)));
    let register = requests
        .iter()
        .find(|r| r.path == "/v1/jobs")
        .ok_or_else(|| anyhow::anyhow!("no register"))?;
    assert_eq!(register.method, "POST");
    assert_eq!(register.body["Region"], "eu");
    assert!(
        requests
            .iter()
            .any(|r| r.path.ends_with("/allocations") && r.query.contains_key("index")),
        "start waits with blocking queries"
    );

    assert_eq!(runtime.inspect(&instance.id).await?, InstanceState::Running);
    // The allocation as Nomad answers it: in the job's namespace, its port mapped to the app's.
    let alloc = nomad_get(&fake, &format!("/v1/allocation/{}", instance.id)).await?;
    assert_eq!(alloc["Namespace"], NAMESPACE);
    let port = &alloc["AllocatedResources"]["Shared"]["Ports"][0];
    assert_eq!(
        (&port["Label"], &port["To"]),
        (&json!("http"), &json!(8000))
    );
    assert_eq!(port["Value"], instance.endpoint.port);

    // Restart in place: the same allocation, restarted by Nomad.
    let again = runtime
        .restart(&instance.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no restart in place"))?;
    assert_eq!(again, instance);
    let restarted = fake
        .alloc(&instance.id)
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(restarted.restarts, 1);
    let restart = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/restart"))
        .ok_or_else(|| anyhow::anyhow!("no restart request"))?;
    assert_eq!(
        restart.path,
        format!("/v1/client/allocation/{}/restart", instance.id)
    );
    assert_eq!(restart.body["TaskName"], "app");

    // A redeploy: the same job, a new version and allocation; the old one retires.
    let mut second = spec(app)?;
    second.image = "localhost/paas-web:v2".into();
    let next = runtime.start(&second).await?;
    assert_ne!(next.id, instance.id);
    // The new version ran as a canary, promoted by Nomad once healthy: the old one stopped.
    let deployment = nomad_get(&fake, &format!("/v1/job/{}/deployment", job_id(app))).await?;
    assert_eq!(deployment["Status"], "successful");
    assert_eq!(deployment["TaskGroups"]["app"]["DesiredCanaries"], 1);
    assert_eq!(deployment["TaskGroups"]["app"]["Promoted"], true);
    assert_eq!(
        fake.alloc(&instance.id).map(|a| a.desired_status),
        Some("stop".to_owned())
    );
    assert_eq!(
        fake.job(&job_id(app)).map(|j| j.version),
        Some(1),
        "one job, version 2"
    );
    runtime.remove(&instance.id).await?;
    assert!(
        fake.job(&job_id(app)).is_some(),
        "retiring the old one keeps the job"
    );
    assert_eq!(runtime.inspect(&next.id).await?, InstanceState::Running);
    let known = runtime.instances().await?;
    assert_eq!(known.len(), 1);
    assert_eq!(
        (known[0].app, known[0].deployment),
        (app, second.deployment_id)
    );

    // Deregister: the job is purged, the allocation forgotten.
    runtime.remove(&next.id).await?;
    assert!(fake.job(&job_id(app)).is_none());
    let purge = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .ok_or_else(|| anyhow::anyhow!("no DELETE"))?;
    assert_eq!(purge.query.get("purge").map(String::as_str), Some("true"));
    assert_eq!(runtime.inspect(&next.id).await?, InstanceState::Missing);
    runtime.remove(&next.id).await?; // removing what is gone succeeds
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_task_shows_its_exit_code_and_last_words() -> anyhow::Result<()> {
    let (fake, runtime) = cluster().await?;
    let instance = runtime.start(&spec(AppId::new())?).await?;
    fake.crash(&instance.id, 3, "boom: out of luck");
    match runtime.inspect(&instance.id).await? {
        InstanceState::Exited {
            code, output_tail, ..
        } => {
            assert_eq!(code, Some(3));
            assert!(output_tail.contains("boom: out of luck"), "{output_tail}");
            assert!(
                output_tail.contains("listening"),
                "stdout too: {output_tail}"
            );
        }
        other => anyhow::bail!("not exited: {other:?}"),
    }
    // A crashed allocation cannot be restarted in place.
    assert!(runtime.restart(&instance.id).await.is_err());
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_followed_until_the_task_dies() -> anyhow::Result<()> {
    let (fake, runtime) = cluster().await?;
    let instance = runtime.start(&spec(AppId::new())?).await?;
    let mut output = runtime.output(&instance.id, None);
    let mut lines = Vec::new();
    let mut position = String::new();
    let collect = |lines: &mut Vec<(LogStream, String)>,
                   position: &mut String,
                   batch: paas_core::runtime::OutputBatch| {
        *position = batch.position;
        lines.extend(batch.lines.into_iter().map(|l| (l.stream, l.text)));
    };
    while lines.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(10), output.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("ended early"))??;
        collect(&mut lines, &mut position, batch);
    }
    assert_eq!(
        lines,
        [
            (LogStream::Stdout, "starting version 0".to_owned()),
            (LogStream::Stdout, "listening".to_owned()),
        ]
    );
    fake.write_stdout(&instance.id, "request /\n");
    fake.crash(&instance.id, 1, "fatal: gone");
    // Nomad keeps a followed log open after the task died; the runtime ends it.
    while let Some(batch) = tokio::time::timeout(Duration::from_secs(15), output.next()).await? {
        collect(&mut lines, &mut position, batch?);
    }
    // stdout and stderr are followed apart: each in order, each line once.
    let of = |stream: LogStream| -> Vec<&str> {
        lines
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, t)| t.as_str())
            .collect()
    };
    assert_eq!(
        of(LogStream::Stdout),
        ["starting version 0", "listening", "request /"]
    );
    assert_eq!(of(LogStream::Stderr), ["fatal: gone"]);
    // Each frame names the file it comes from, as Nomad's do.
    for kind in ["stdout", "stderr"] {
        let frame = reqwest::Client::new()
            .get(format!(
                "{}/v1/client/fs/logs/{}",
                fake.address, instance.id
            ))
            .query(&[("task", "app"), ("type", kind), ("namespace", NAMESPACE)])
            .header("X-Nomad-Token", TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json::<serde_json::Value>()
            .await?;
        assert_eq!(frame["File"], format!("alloc/logs/app.{kind}.0"));
    }
    let follows = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/v1/client/fs/logs/{}", instance.id))
        .filter(|r| r.query.get("follow").map(String::as_str) == Some("true"))
        .count();
    assert!(follows >= 2, "stdout and stderr followed");

    // Following again from the stored position repeats nothing.
    let mut again = runtime.output(&instance.id, Some(position));
    let mut more = Vec::new();
    while let Some(batch) = tokio::time::timeout(Duration::from_secs(15), again.next()).await? {
        more.extend(batch?.lines);
    }
    assert!(more.is_empty(), "{more:?}");
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    Ok(())
}
