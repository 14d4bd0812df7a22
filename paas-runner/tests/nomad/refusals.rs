//! The Nomad stand-in (`paas_tests::nomad`) refuses what Nomad refuses, with Nomad's status and
//! words, and records what Nomad accepts but the platform must not send: the job the runtime
//! renders, broken one field at a time and registered as the runtime registers it. The runtime's
//! own job passes both (the other Nomad tests assert no problem).

use paas_core::model::{AppId, AppName, DeploymentId, EnvVars, Port, Resources};
use paas_core::runtime::InstanceSpec;
use paas_runner::nomad::NomadSettings;
use paas_tests::nomad::FakeNomad;
use serde_json::{Value, json};

use super::NAMESPACE;

/// The runtime's job for a small app, as JSON.
fn rendered() -> anyhow::Result<Value> {
    let spec = InstanceSpec {
        app_id: AppId::new(),
        app_name: AppName::parse("web")?,
        deployment_id: DeploymentId::new(),
        image: "localhost/paas-web:v1".into(),
        start_command: None,
        port: Some(Port::parse(8000)?),
        env: EnvVars::default(),
        resources: Resources::default(),
        port_bindings: Vec::new(),
    };
    let mut settings = NomadSettings::new("http://127.0.0.1:4646");
    settings.namespace = Some(NAMESPACE.into());
    Ok(serde_json::to_value(paas_runner::nomad::job::render(
        &spec, &settings,
    )?)?)
}

/// Registers `job` with the stand-in: the status and body of its answer.
async fn register(fake: &FakeNomad, job: &Value) -> anyhow::Result<(u16, String)> {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/jobs?namespace={NAMESPACE}", fake.address))
        .json(&json!({ "Job": job }))
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

/// Nomad's answer to a group whose one check fails `ServiceCheck.validateNomad` with `why`.
fn check_refusal(why: &str) -> String {
    let one = |e: &str| format!("1 error occurred:\n\t* {e}\n\n");
    one(&format!(
        "Task group app validation failed: {}",
        one(&format!(
            "Task group service validation failed: {}",
            one(&format!("Service[0] web validation failed: {}", one(why)))
        ))
    ))
}

#[tokio::test]
async fn the_stand_in_refuses_what_nomad_refuses() -> anyhow::Result<()> {
    let fake = FakeNomad::start(None, Some(NAMESPACE)).await?;
    let check = "/TaskGroups/0/Services/0/Checks/0";

    // A check without Timeout (nomad/structs/services.go `validateCommon`).
    let mut job = rendered()?;
    job.pointer_mut(check)
        .and_then(Value::as_object_mut)
        .map(|c| c.remove("Timeout"));
    assert_eq!(
        register(&fake, &job).await?,
        (
            500,
            check_refusal("missing required value timeout. Timeout cannot be less than 1s")
        )
    );

    // An http check without Path, then with an absolute one.
    let mut job = rendered()?;
    if let Some(c) = job.pointer_mut(check) {
        c["Type"] = json!("http");
    }
    assert_eq!(
        register(&fake, &job).await?,
        (500, check_refusal("http type must have http path"))
    );
    if let Some(c) = job.pointer_mut(check) {
        c["Path"] = json!("http://example.com/health");
    }
    assert_eq!(
        register(&fake, &job).await?,
        (500, check_refusal("http type must have relative http path"))
    );
    if let Some(c) = job.pointer_mut(check) {
        c["Path"] = json!("/health");
    }
    assert_eq!(register(&fake, &job).await?.0, 200, "a valid http check");

    // AutoPromote without a canary (nomad/structs/structs.go `UpdateStrategy.Validate`).
    let mut job = rendered()?;
    if let Some(u) = job.pointer_mut("/TaskGroups/0/Update") {
        u["Canary"] = json!(0);
    }
    let (status, body) = register(&fake, &job).await?;
    assert_eq!(status, 500);
    assert!(
        body.contains("Auto Promote requires a Canary count greater than zero"),
        "{body}"
    );

    // Deadlines out of order, in Go's duration format.
    let mut job = rendered()?;
    if let Some(u) = job.pointer_mut("/TaskGroups/0/Update") {
        u["MinHealthyTime"] = json!(300_000_000_000_i64);
    }
    let (status, body) = register(&fake, &job).await?;
    assert_eq!(status, 500);
    assert!(
        body.contains("Minimum healthy time must be less than healthy deadline: 5m0s > 2m0s"),
        "{body}"
    );

    let refused = fake.problems();
    assert_eq!(refused.len(), 5, "every refusal recorded: {refused:#?}");
    assert!(
        refused
            .iter()
            .all(|p| p.starts_with("Nomad refused the job")),
        "{refused:#?}"
    );
    let id = job["ID"].as_str().unwrap_or_default();
    assert!(fake.job(id).is_none(), "a refused job is not registered");

    // Nomad accepts these; the platform must not send them.
    let fake = FakeNomad::start(None, Some(NAMESPACE)).await?;
    let mut job = rendered()?;
    if let Some(p) = job.pointer_mut("/TaskGroups/0/Networks/0/DynamicPorts/0") {
        p["To"] = json!(9000);
    }
    if let Some(u) = job.pointer_mut("/TaskGroups/0/Update") {
        u["AutoPromote"] = json!(false);
    }
    assert_eq!(register(&fake, &job).await?.0, 200, "Nomad accepts it");
    let problems = fake.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("the dynamic port maps To the app's PORT")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("Update.AutoPromote")),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), 2, "{problems:#?}");

    // Log requests (command/agent/fs_endpoint.go `Logs`): the query is checked first.
    let logs = |query: &'static str| {
        let url = format!("{}/v1/client/fs/logs/no-such-alloc?{query}", fake.address);
        async move {
            let resp = reqwest::get(url).await?;
            anyhow::Ok((resp.status().as_u16(), resp.text().await?))
        }
    };
    assert_eq!(
        logs("task=app&type=both").await?,
        (400, "must provide log type (stdout/stderr)".to_owned())
    );
    assert_eq!(
        logs("type=stdout").await?,
        (400, "must provide task name".to_owned())
    );
    assert_eq!(
        logs("task=app&type=stdout").await?,
        (404, "Unknown allocation \"no-such-alloc\"".to_owned())
    );

    // The runtime's job as it renders it: accepted, nothing to say.
    let fake = FakeNomad::start(None, Some(NAMESPACE)).await?;
    assert_eq!(register(&fake, &rendered()?).await?.0, 200);
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    Ok(())
}
