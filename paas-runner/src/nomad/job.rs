//! An app deployment as a Nomad service job (nomad-client-rs's typed job specification).
//!
//! One job per app, its id derived from the app's id (a redelivered deploy replaces the job, it
//! never adds one); one group, one task running the image with the task driver; the app's port
//! as a dynamic host port mapped to the container port; CPU (MHz) and memory; restart and
//! reschedule policies; an `update` block that starts each new version as a canary beside the
//! live allocation, promotes it once healthy and reverts on failure; a service with a TCP check
//! on the app's port.

use std::collections::HashMap;
use std::time::Duration;

use nomad_client_rs::job::Job;
use nomad_client_rs::job_specification::{
    NetworkResource, Port, ReschedulePolicy, Resources, RestartPolicy, Service, ServiceCheck, Task,
    TaskGroup, UpdateStrategy,
};
use paas_core::model::AppId;
use paas_core::runtime::InstanceSpec;
use paas_core::{Error, Result};
use serde_json::json;

use super::NomadSettings;

/// The group and task name inside every job.
pub const GROUP: &str = "app";
pub const TASK: &str = "app";
/// The label of the app's port.
pub const PORT_LABEL: &str = "http";
/// The port an app listens on in its container when it names none.
pub const DEFAULT_PORT: u16 = 8080;
/// CPU (MHz) and memory (MB) of an app that sets no limits.
pub const DEFAULT_CPU_MHZ: i32 = 100;
pub const DEFAULT_MEMORY_MB: i32 = 256;
/// Job meta keys naming the app and the deployment.
pub const META_APP: &str = "paas.app";
pub const META_DEPLOYMENT: &str = "paas.deployment";

/// The job id of an app.
pub fn job_id(app: AppId) -> String {
    format!("paas-{app}")
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The job of a deployment.
pub fn render(spec: &InstanceSpec, settings: &NomadSettings) -> Result<Job> {
    let port = spec.port.map_or(DEFAULT_PORT, |p| p.get());
    let mut env: HashMap<String, String> = spec
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    env.insert("PORT".into(), port.to_string());
    // A new deployment changes the task, so Nomad places a new allocation for it.
    env.insert("PAAS_DEPLOYMENT".into(), spec.deployment_id.to_string());

    let mut reserved = Vec::new();
    let mut labels = vec![json!(PORT_LABEL)];
    for b in &spec.port_bindings {
        if b.count > 1 {
            return Err(Error::StartFailed(format!(
                "port ranges ({} ports from {}) are not supported on Nomad",
                b.count,
                b.host_port.get()
            )));
        }
        let label = format!("port{}", b.host_port.get());
        env.insert(b.env.to_string(), b.host_port.get().to_string());
        reserved.push(Port {
            label: Some(label.clone()),
            value: Some(i32::from(b.host_port.get())),
            to: Some(i32::from(b.host_port.get())),
            ..Default::default()
        });
        labels.push(json!(label));
    }

    let mut config: HashMap<String, serde_json::Value> = HashMap::new();
    config.insert("image".into(), json!(spec.image));
    config.insert("ports".into(), json!(labels));
    if let Some(command) = &spec.start_command {
        config.insert("command".into(), json!("/bin/sh"));
        config.insert("args".into(), json!(["-c", command]));
    }
    let cpu = spec.resources.cpu_millis.map_or(DEFAULT_CPU_MHZ, |m| {
        let mhz = u64::from(m) * u64::from(settings.mhz_per_core) / 1000;
        i32::try_from(mhz.max(1)).unwrap_or(i32::MAX)
    });
    let memory = spec
        .resources
        .memory_bytes()
        .map_or(DEFAULT_MEMORY_MB, |b| {
            i32::try_from((b / (1024 * 1024)).max(1)).unwrap_or(i32::MAX)
        });

    let task = Task {
        name: Some(TASK.into()),
        driver: Some(settings.driver.clone()),
        config: Some(config),
        env: Some(env),
        resources: Some(Resources {
            cpu: Some(cpu),
            memory_mb: Some(memory),
            ..Default::default()
        }),
        kill_timeout: Some(nanos(Duration::from_secs(10))),
        ..Default::default()
    };
    let group = TaskGroup {
        name: Some(GROUP.into()),
        count: Some(1),
        networks: Some(vec![NetworkResource {
            dynamic_ports: Some(vec![Port {
                label: Some(PORT_LABEL.into()),
                to: Some(i32::from(port)),
                ..Default::default()
            }]),
            reserved_ports: (!reserved.is_empty()).then_some(reserved),
            ..Default::default()
        }]),
        services: Some(vec![Service {
            name: Some(spec.app_name.to_string()),
            port_label: Some(PORT_LABEL.into()),
            provider: Some("nomad".into()),
            checks: Some(vec![ServiceCheck {
                name: Some("port".into()),
                r#type: Some("tcp".into()),
                port_label: Some(PORT_LABEL.into()),
                interval: Some(nanos(Duration::from_secs(10))),
                timeout: Some(nanos(Duration::from_secs(2))),
                ..Default::default()
            }]),
            ..Default::default()
        }]),
        // Nomad restarts a crashed task in place twice within 5 minutes, then fails the
        // allocation, which is rescheduled (on another node if one fits) with backoff.
        restart_policy: Some(RestartPolicy {
            attempts: Some(2),
            interval: Some(nanos(Duration::from_secs(300))),
            delay: Some(nanos(Duration::from_secs(5))),
            mode: Some("fail".into()),
        }),
        reschedule_policy: Some(ReschedulePolicy {
            delay: Some(nanos(Duration::from_secs(30))),
            delay_function: Some("exponential".into()),
            max_delay: Some(nanos(Duration::from_secs(3600))),
            unlimited: Some(true),
            ..Default::default()
        }),
        update: Some(UpdateStrategy {
            max_parallel: Some(1),
            canary: Some(1),
            auto_promote: Some(true),
            auto_revert: Some(true),
            health_check: Some("checks".into()),
            min_healthy_time: Some(nanos(Duration::from_secs(5))),
            healthy_deadline: Some(nanos(Duration::from_secs(120))),
            progress_deadline: Some(nanos(Duration::from_secs(300))),
            ..Default::default()
        }),
        tasks: Some(vec![task]),
        ..Default::default()
    };
    let id = job_id(spec.app_id);
    Ok(Job {
        id: Some(id),
        name: Some(spec.app_name.to_string()),
        r#type: Some("service".into()),
        namespace: settings.namespace.clone(),
        region: settings.region.clone(),
        datacenters: Some(settings.datacenters.clone()),
        meta: Some(HashMap::from([
            (META_APP.to_owned(), spec.app_id.to_string()),
            (META_DEPLOYMENT.to_owned(), spec.deployment_id.to_string()),
        ])),
        task_groups: Some(vec![group]),
        ..Default::default()
    })
}
