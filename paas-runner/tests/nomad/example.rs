//! The example app's job, as the platform renders it.

use paas_core::model::{AppId, AppName, DeploymentId, EnvVars, Resources};
use paas_core::runtime::InstanceSpec;
use paas_runner::nomad::NomadSettings;

/// The job of the example app (`examples/apps/hello-python`), as `examples/nomad/hello-python.json`
/// shows it. Run with `UPDATE_EXAMPLES=1` after changing the job mapping on purpose.
#[test]
fn the_example_job_is_the_rendered_one() -> anyhow::Result<()> {
    let app: AppId = "01a20000-0000-7000-8000-000000000001".parse()?;
    let deployment: DeploymentId = "01a20000-0000-7000-8000-000000000002".parse()?;
    let spec = InstanceSpec {
        app_id: app,
        app_name: AppName::parse("hello-python")?,
        deployment_id: deployment,
        image: format!("registry.example.com/paas/hello-python:{deployment}"),
        start_command: None,
        port: None,
        env: EnvVars::parse([("GREETING", "hello from Nomad")])?,
        resources: Resources {
            cpu_millis: Some(250),
            memory_mb: Some(128),
        },
        port_bindings: Vec::new(),
    };
    let mut settings = NomadSettings::new("http://127.0.0.1:4646");
    settings.datacenters = vec!["dc1".into()];
    let job = paas_runner::nomad::job::render(&spec, &settings)?;
    let rendered = serde_json::to_string_pretty(&serde_json::json!({ "Job": job }))? + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/nomad/hello-python.json");
    if std::env::var_os("UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, &rendered)?;
    }
    let stored = std::fs::read_to_string(&path)?;
    let stored: serde_json::Value = serde_json::from_str(&stored)?;
    let rendered: serde_json::Value = serde_json::from_str(&rendered)?;
    assert_eq!(
        stored, rendered,
        "examples/nomad/hello-python.json is out of date"
    );
    Ok(())
}
