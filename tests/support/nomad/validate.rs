//! Nomad's own validation of a registered job, for the blocks the runtime sends, in Nomad's words.
//!
//! Followed from Nomad's source (github.com/hashicorp/nomad):
//! - `api/jobs.go` `DefaultUpdateStrategy`: the HTTP agent canonicalizes the job first, so a
//!   missing `Update` field takes its default before it is validated;
//! - `nomad/structs/structs.go` `Job.Validate` (each group's errors wrapped as `Task group %s
//!   validation failed: %v`), `TaskGroup.Validate`, `RestartPolicy.Validate`,
//!   `UpdateStrategy.Validate` (`Auto Promote requires a Canary count greater than zero`, the
//!   deadlines' order), `TaskGroup.validateServices` (`Service[%d] %s validation failed: %s`);
//! - `nomad/structs/services.go` `ServiceCheck.validateNomad`/`validateCommon`: a Nomad-provider
//!   check is `tcp` or `http`, an `http` check needs a relative `Path`, `Interval` and `Timeout`
//!   are required and at least 1 s;
//! - `command/agent/http.go` `wrap`: a validation error is a plain RPC error, answered with status
//!   500 and its text; errors are `go-multierror` lists (`ListFormatFunc`).

use serde_json::Value;

/// Nomad's refusal of `job` (the body of its 500 answer), if it refuses it.
pub(super) fn refusal(job: &Value) -> Option<String> {
    let mut errors = Vec::new();
    if job["ID"].as_str().unwrap_or_default().is_empty() {
        errors.push("Missing job ID".to_owned());
    }
    if job["Name"].as_str().unwrap_or_default().is_empty() {
        errors.push("Missing job name".to_owned());
    }
    match job["Type"].as_str().unwrap_or_default() {
        "service" | "batch" | "system" | "sysbatch" => {}
        "" => errors.push("Missing job type".to_owned()),
        other => errors.push(format!("Invalid job type: {other:?}")),
    }
    let groups = job["TaskGroups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        errors.push("Missing job task groups".to_owned());
    }
    for g in &groups {
        let group_errors = group(g);
        if !group_errors.is_empty() {
            let name = g["Name"].as_str().unwrap_or_default();
            errors.push(format!(
                "Task group {name} validation failed: {}",
                multi(&group_errors)
            ));
        }
    }
    (!errors.is_empty()).then(|| multi(&errors))
}

/// go-multierror's `ListFormatFunc`.
pub(super) fn multi(errors: &[String]) -> String {
    if let [one] = errors {
        return format!("1 error occurred:\n\t* {one}\n\n");
    }
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!(
        "{} errors occurred:\n\t{}\n\n",
        errors.len(),
        points.join("\n\t")
    )
}

fn nanos(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// Go's `time.Duration` `String()` for the whole and sub-second values used here.
pub(super) fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns.abs() < 1_000_000_000 {
        return match ns {
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}µs", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    let (h, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let (s, frac) = (rest / 1_000_000_000, rest % 1_000_000_000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:09}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{sign}{secs}"),
        (0, m) => format!("{sign}{m}m{secs}"),
        (h, m) => format!("{sign}{h}h{m}m{secs}"),
    }
}

fn group(g: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let name = g["Name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errors.push("Missing task group name".to_owned());
    }
    if g["Count"].as_i64().is_some_and(|c| c < 0) {
        errors.push("Task group count can't be negative".to_owned());
    }
    if g["Tasks"].as_array().is_none_or(Vec::is_empty) {
        errors.push("Missing tasks for task group".to_owned());
    }
    if g["RestartPolicy"].is_object() {
        errors.extend(restart_policy(&g["RestartPolicy"]));
    }
    if g["Update"].is_object() {
        errors.extend(update(&g["Update"]));
    }
    let services: Vec<String> = g["Services"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, s)| {
            let errs = service(s);
            (!errs.is_empty()).then(|| {
                let name = s["Name"].as_str().unwrap_or_default();
                format!("Service[{i}] {name} validation failed: {}", multi(&errs))
            })
        })
        .collect();
    if !services.is_empty() {
        errors.push(format!(
            "Task group service validation failed: {}",
            multi(&services)
        ));
    }
    errors
}

/// `RestartPolicy.Validate` (`RestartPolicyMinInterval` is 5 s).
fn restart_policy(r: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mode = r["Mode"].as_str().unwrap_or_default();
    if mode != "delay" && mode != "fail" {
        errors.push(format!("Unsupported restart mode: {mode:?}"));
    }
    let attempts = r["Attempts"].as_i64().unwrap_or(0);
    if attempts == 0 && mode != "fail" {
        errors.push(format!(
            "Restart policy {mode:?} with {attempts} attempts is ambiguous"
        ));
    }
    let interval = nanos(&r["Interval"]).unwrap_or(0);
    let delay = nanos(&r["Delay"]).unwrap_or(0);
    if interval < 5_000_000_000 {
        errors.push(format!(
            "Interval can not be less than 5s (got {})",
            go_duration(interval)
        ));
    }
    if attempts.saturating_mul(delay) > interval {
        errors.push(format!(
            "Nomad can't restart the TaskGroup {attempts} times in an interval of {} with a delay of {}",
            go_duration(interval),
            go_duration(delay)
        ));
    }
    errors
}

/// `UpdateStrategy.Validate`, after the agent filled the defaults of `DefaultUpdateStrategy`.
fn update(u: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let ns = |key: &str, default: i64| nanos(&u[key]).unwrap_or(default);
    let health_check = u["HealthCheck"].as_str().unwrap_or("checks");
    let max_parallel = u["MaxParallel"].as_i64().unwrap_or(1);
    let canary = u["Canary"].as_i64().unwrap_or(0);
    let auto_promote = u["AutoPromote"].as_bool().unwrap_or(false);
    let min_healthy = ns("MinHealthyTime", 10_000_000_000);
    let healthy_deadline = ns("HealthyDeadline", 300_000_000_000);
    let progress_deadline = ns("ProgressDeadline", 600_000_000_000);
    let stagger = ns("Stagger", 30_000_000_000);
    if !matches!(health_check, "checks" | "task_states" | "manual") {
        errors.push(format!("Invalid health check given: {health_check:?}"));
    }
    if max_parallel < 0 {
        errors.push(format!(
            "Max parallel can not be less than zero: {max_parallel} < 0"
        ));
    }
    if canary < 0 {
        errors.push(format!(
            "Canary count can not be less than zero: {canary} < 0"
        ));
    }
    if canary == 0 && auto_promote {
        errors.push("Auto Promote requires a Canary count greater than zero".to_owned());
    }
    if min_healthy < 0 {
        errors.push(format!(
            "Minimum healthy time may not be less than zero: {}",
            go_duration(min_healthy)
        ));
    }
    if healthy_deadline <= 0 {
        errors.push(format!(
            "Healthy deadline must be greater than zero: {}",
            go_duration(healthy_deadline)
        ));
    }
    if progress_deadline < 0 {
        errors.push(format!(
            "Progress deadline must be zero or greater: {}",
            go_duration(progress_deadline)
        ));
    }
    if min_healthy >= healthy_deadline {
        errors.push(format!(
            "Minimum healthy time must be less than healthy deadline: {} > {}",
            go_duration(min_healthy),
            go_duration(healthy_deadline)
        ));
    }
    if progress_deadline != 0 && healthy_deadline >= progress_deadline {
        errors.push(format!(
            "Healthy deadline must be less than progress deadline: {} > {}",
            go_duration(healthy_deadline),
            go_duration(progress_deadline)
        ));
    }
    if stagger <= 0 {
        errors.push(format!(
            "Stagger must be greater than zero: {}",
            go_duration(stagger)
        ));
    }
    errors
}

/// A group service with the Nomad provider: each check through `validateNomad`, which stops at
/// a check's first error.
fn service(s: &Value) -> Vec<String> {
    s["Checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(check)
        .collect()
}

/// `ServiceCheck.validateCommon` with the Nomad provider's types (`tcp`, `http`).
fn check(c: &Value) -> Option<String> {
    let kind = c["Type"].as_str().unwrap_or_default().to_lowercase();
    if kind != "tcp" && kind != "http" {
        return Some(format!(
            "invalid check type ({kind:?}), must be one of tcp, http"
        ));
    }
    if kind == "http" {
        let path = c["Path"].as_str().unwrap_or_default();
        if path.is_empty() {
            return Some("http type must have http path".into());
        }
        if has_scheme(path) {
            return Some("http type must have relative http path".into());
        }
    }
    let interval = nanos(&c["Interval"]).unwrap_or(0);
    if interval == 0 {
        return Some("missing required value interval. Interval cannot be less than 1s".into());
    }
    if interval < 1_000_000_000 {
        return Some(format!(
            "interval ({}) cannot be lower than 1s",
            go_duration(interval)
        ));
    }
    let timeout = nanos(&c["Timeout"]).unwrap_or(0);
    if timeout == 0 {
        return Some("missing required value timeout. Timeout cannot be less than 1s".into());
    }
    if timeout < 1_000_000_000 {
        return Some(format!(
            "timeout ({}) is lower than required minimum timeout 1s",
            go_duration(timeout)
        ));
    }
    None
}

/// Go's `url.Parse(path).IsAbs()`: the path starts with a scheme (`letter *(letter / digit /
/// "+" / "-" / ".") ":"`).
fn has_scheme(path: &str) -> bool {
    let Some((scheme, _)) = path.split_once(':') else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::{go_duration, multi};

    #[test]
    fn go_durations_print_as_go_does() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(10_000_000_000), "10s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(300_000_000_000), "5m0s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn multierrors_print_as_go_multierror_does() {
        assert_eq!(multi(&["a".into()]), "1 error occurred:\n\t* a\n\n");
        assert_eq!(
            multi(&["a".into(), "b".into()]),
            "2 errors occurred:\n\t* a\n\t* b\n\n"
        );
    }
}
