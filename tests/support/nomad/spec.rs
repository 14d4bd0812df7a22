//! What a registered job must look like: the fields the runtime has to send.

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
    need(g["Count"] == 1, "Count 1");
    let dynamic = &g["Networks"][0]["DynamicPorts"][0];
    need(dynamic["Label"] == "http", "a dynamic port labelled http");
    need(
        dynamic["To"].as_u64().is_some_and(|t| t > 0),
        "the dynamic port maps To the app port",
    );
    let u = &g["Update"];
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
    let tasks = g["Tasks"].as_array().cloned().unwrap_or_default();
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
