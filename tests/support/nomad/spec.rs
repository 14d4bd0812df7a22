//! What a registered job must look like for the platform: the fields the runtime has to send
//! beyond what Nomad itself requires (`validate.rs`). Nomad accepts a job that breaks these; the
//! stand-in accepts it too, as Nomad would, and records why it is wrong for the platform.

use serde_json::Value;

/// Checks a job against what the runtime must send; returns what is wrong.
pub(super) fn check_job(job: &Value, namespace: Option<&str>) -> Vec<String> {
    let mut p = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            p.push(format!("job spec: {what}: {job}"));
        }
    };
    need(
        job["ID"].as_str().is_some_and(|id| id.starts_with("paas-")),
        "ID derived from the app id",
    );
    need(job["Type"] == "service", "Type service");
    need(
        job["Datacenters"].as_array().is_some_and(|d| !d.is_empty()),
        "Datacenters",
    );
    if let Some(ns) = namespace {
        need(job["Namespace"] == ns, "Namespace");
    }
    need(job["Meta"]["paas.app"].is_string(), "Meta paas.app");
    need(
        job["Meta"]["paas.deployment"].is_string(),
        "Meta paas.deployment",
    );
    let groups = job["TaskGroups"].as_array().cloned().unwrap_or_default();
    need(groups.len() == 1, "one task group");
    let Some(g) = groups.first() else { return p };
    // One allocation, or the count of the app's replicas a new version keeps.
    need(
        g["Count"].as_u64().is_some_and(|c| c >= 1),
        "Count of at least 1",
    );
    let dynamic = &g["Networks"][0]["DynamicPorts"][0];
    need(dynamic["Label"] == "http", "a dynamic port labelled http");
    let tasks = g["Tasks"].as_array().cloned().unwrap_or_default();
    let env_port = tasks
        .first()
        .and_then(|t| t["Env"]["PORT"].as_str())
        .and_then(|p| p.parse::<u64>().ok());
    need(
        env_port.is_some() && dynamic["To"].as_u64() == env_port,
        "the dynamic port maps To the app's PORT",
    );
    need(
        g["Networks"][0]["ReservedPorts"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["Value"].as_u64().is_some() && r["To"] == r["Value"]),
        "a reserved port maps To its own number",
    );
    let u = &g["Update"];
    // The live allocation serves until the new version's is healthy: a canary, promoted by
    // Nomad itself (the platform never calls the promote endpoint).
    need(
        u["Canary"].as_u64().is_some_and(|c| c >= 1),
        "Update.Canary at least 1",
    );
    need(u["AutoPromote"] == true, "Update.AutoPromote");
    need(u["AutoRevert"] == true, "Update.AutoRevert");
    need(u["MaxParallel"] == 1, "Update.MaxParallel");
    need(u["HealthCheck"] == "checks", "Update.HealthCheck checks");
    need(
        u["HealthyDeadline"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "HealthyDeadline in ns",
    );
    need(
        u["MinHealthyTime"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "MinHealthyTime in ns",
    );
    need(g["RestartPolicy"]["Mode"].is_string(), "RestartPolicy");
    need(
        g["RestartPolicy"]["Delay"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "RestartPolicy.Delay in ns",
    );
    need(g["ReschedulePolicy"].is_object(), "ReschedulePolicy");
    let check = &g["Services"][0]["Checks"][0];
    need(
        g["Services"][0]["PortLabel"] == "http",
        "a service on the http port",
    );
    need(
        check["Type"] == "tcp" || check["Type"] == "http",
        "a tcp or http check",
    );
    need(
        check["Interval"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "check Interval in ns",
    );
    need(tasks.len() == 1, "one task");
    let Some(t) = tasks.first() else { return p };
    need(
        t["Driver"] == "podman" || t["Driver"] == "docker",
        "Driver podman or docker",
    );
    need(
        t["Config"]["image"].as_str().is_some_and(|i| !i.is_empty()),
        "Config.image",
    );
    need(
        t["Config"]["ports"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|x| x == "http")),
        "Config.ports names http",
    );
    need(t["Env"]["PORT"].is_string(), "Env.PORT");
    need(
        t["Resources"]["CPU"].as_i64().is_some_and(|c| c > 0),
        "Resources.CPU (MHz)",
    );
    need(
        t["Resources"]["MemoryMB"].as_i64().is_some_and(|m| m > 0),
        "Resources.MemoryMB",
    );
    p
}
