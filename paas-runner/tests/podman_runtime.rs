//! The Podman runtime against the real Podman service.

use std::time::Duration;

use paas_core::model::{AppId, AppName, DeploymentId, EnvVars};
use paas_core::runtime::{InstanceSpec, InstanceState, Runtime};
use paas_runner::podman::{PodmanRuntime, connect};

fn runtime() -> PodmanRuntime {
    let socket = std::env::var("PODMAN_SOCKET").unwrap_or_else(|_| "/run/paas/podman.sock".into());
    PodmanRuntime::new(connect(std::path::Path::new(&socket)), "127.0.0.1")
}

#[tokio::test]
async fn the_output_of_a_container_that_exits_at_once_is_reported() -> anyhow::Result<()> {
    let rt = runtime();
    for round in 0..8 {
        let spec = InstanceSpec {
            app_id: AppId::new(),
            app_name: AppName::parse("exits")?,
            deployment_id: DeploymentId::new(),
            image: "localhost/paas-python:latest".into(),
            start_command: Some("python3 -c \"import sys; sys.exit('no config')\"".into()),
            port: None,
            env: EnvVars::default(),
            resources: Default::default(),
            port_bindings: Vec::new(),
        };
        let inst = rt.start(&spec).await?;
        let state = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match rt.inspect(&inst.id).await {
                    Ok(InstanceState::Running) => {
                        tokio::time::sleep(Duration::from_millis(25)).await
                    }
                    other => return other,
                }
            }
        })
        .await??;
        rt.remove(&inst.id).await?;
        match state {
            InstanceState::Exited {
                code, output_tail, ..
            } => {
                assert_eq!(code, Some(1), "round {round}");
                assert_eq!(output_tail, "no config", "round {round}");
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    Ok(())
}
