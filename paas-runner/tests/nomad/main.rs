//! The Nomad runtime against a Nomad API served inside the test (`paas_tests::nomad`), which
//! checks every request it gets and refuses what Nomad refuses:
//! - `lifecycle`: register, the pending → running → failed life of an allocation, restart in
//!   place, a redeploy replacing the job's allocation, deregister, logs followed until the task
//!   dies;
//! - `failures`: Nomad down, a rejected job, no capacity, a failed canary, and what is taken
//!   back after each;
//! - `refusals`: the stand-in itself refuses what Nomad refuses, in Nomad's words;
//! - `replicas`: the group's count as an app's replicas (the scale endpoint);
//! - `example`: the example app's rendered job is the one in `examples/nomad`.

use std::time::Duration;

use paas_core::model::{AppId, AppName, DeploymentId, EnvVars, Port, Resources, Secret};
use paas_core::runtime::InstanceSpec;
use paas_runner::nomad::{NomadRuntime, NomadSettings};
use paas_tests::nomad::FakeNomad;

mod example;
mod failures;
mod lifecycle;
mod refusals;
mod replicas;

pub const TOKEN: &str = "s3cr3t-acl-token";
pub const NAMESPACE: &str = "apps";

pub async fn cluster() -> anyhow::Result<(FakeNomad, NomadRuntime)> {
    let fake = FakeNomad::start(Some(TOKEN), Some(NAMESPACE)).await?;
    let mut settings = NomadSettings::new(&fake.address);
    settings.token = Some(Secret::new(TOKEN));
    settings.namespace = Some(NAMESPACE.into());
    settings.region = Some("eu".into());
    let runtime = NomadRuntime::new(settings)?.with_start_timeout(Duration::from_secs(20));
    Ok((fake, runtime))
}

pub fn spec(app: AppId) -> anyhow::Result<InstanceSpec> {
    Ok(InstanceSpec {
        app_id: app,
        app_name: AppName::parse("web")?,
        deployment_id: DeploymentId::new(),
        image: "localhost/paas-web:v1".into(),
        start_command: Some("python3 app.py".into()),
        port: Some(Port::parse(8000)?),
        env: EnvVars::parse([("GREETING", "hi")])?,
        resources: Resources {
            cpu_millis: Some(500),
            memory_mb: Some(128),
        },
        port_bindings: Vec::new(),
    })
}

/// A GET on the stand-in as the runtime sends it (token, namespace): its JSON answer.
pub async fn nomad_get(fake: &FakeNomad, path: &str) -> anyhow::Result<serde_json::Value> {
    Ok(reqwest::Client::new()
        .get(format!("{}{path}", fake.address))
        .query(&[("namespace", NAMESPACE)])
        .header("X-Nomad-Token", TOKEN)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub async fn get(url: &str) -> anyhow::Result<String> {
    Ok(reqwest::get(url).await?.error_for_status()?.text().await?)
}
