//! The platform's metrics, in one place: every series name is written here once, with the
//! helpers the code calls to move it. `GET /metrics` renders them as Prometheus text
//! ([`render`]).
//!
//! Recorded through the `metrics` facade into a render-only Prometheus recorder (installed once
//! per process by [`install`], which [`crate::Platform::builder`]'s `build` calls): no listener
//! of its own, no store write. Counters and histograms are moved where things happen; the few
//! gauges that are state (apps by status, queue depth) and the router's per-app series are read
//! at scrape time: a `GROUP BY` count, the queue's length, the route table's in-memory counters.
//!
//! Cardinality is bounded: labels take values from closed sets (statuses, topics, error codes,
//! the API's route patterns, the schema's root fields), except the router's `app` label, one
//! value per app this router knows (an app's series go when its route goes).

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppStatus;
use crate::logs::LogStream;
use crate::queue::Topic;
use crate::router::{RouteTable, Traffic};

/// API requests (everything on the API listener), by route pattern and status class.
pub const HTTP_REQUESTS: &str = "paas_http_requests_total";
/// GraphQL requests over HTTP, by operation (the root field) and outcome (`ok` or an error code).
pub const GRAPHQL_OPERATIONS: &str = "paas_graphql_operations_total";
/// Builds of deployments (all attempts of one build), by outcome.
pub const BUILD_DURATION: &str = "paas_build_duration_seconds";
/// Built deployment to live (or failed): every replica started and the route switched.
pub const DEPLOY_DURATION: &str = "paas_deploy_duration_seconds";
/// One instance's start, until it accepts connections (or fails), by outcome.
pub const START_DURATION: &str = "paas_instance_start_duration_seconds";
/// Messages waiting or in work on a queue topic (`builds`, `results`), read at scrape time.
pub const QUEUE_DEPTH: &str = "paas_queue_depth";
/// Messages delivered again (a consumer died or failed before acking).
pub const QUEUE_REDELIVERIES: &str = "paas_queue_redeliveries_total";
/// Messages moved aside after too many deliveries.
pub const QUEUE_DEAD_LETTERS: &str = "paas_queue_dead_letters_total";
/// Apps by status, across users, read at scrape time.
pub const APPS: &str = "paas_apps";
/// Lock acquisitions that had to wait for another holder, by outcome (`acquired`, `busy`).
pub const LOCK_WAITS: &str = "paas_lock_waits_total";
/// How long those waited.
pub const LOCK_WAIT: &str = "paas_lock_wait_seconds";
/// Cache lookups answered from the cache, by kind of lookup.
pub const CACHE_HITS: &str = "paas_cache_hits_total";
/// Cache lookups the store answered, by kind of lookup.
pub const CACHE_MISSES: &str = "paas_cache_misses_total";
/// 1 while a Redis circuit breaker is open (Redis skipped), by user (`cache`, `queue`, `events`).
pub const REDIS_BREAKER_OPEN: &str = "paas_redis_breaker_open";
/// Redis calls skipped because the breaker was open.
pub const REDIS_SKIPPED: &str = "paas_redis_skipped_calls_total";
/// Times a breaker opened.
pub const REDIS_TRIPS: &str = "paas_redis_breaker_trips_total";
/// Log lines stored, by stream.
pub const LOG_LINES: &str = "paas_log_lines_stored_total";
/// Health checks of instances, by result.
pub const HEALTH_CHECKS: &str = "paas_health_checks_total";
/// Requests through this process's router, by app and status class.
pub const ROUTER_REQUESTS: &str = "paas_router_requests_total";
/// Their time to the response head, by app.
pub const ROUTER_DURATION: &str = "paas_router_request_duration_seconds";

const BUILD_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
const START_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0];
const LOCK_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Upper bounds of the router's latency buckets, in seconds.
pub const ROUTER_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process (later calls do nothing). `None` when another
/// recorder was installed first (a program embedding paas with its own): then `/metrics`
/// shows only what is read at scrape time.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for (name, buckets) in [
                (BUILD_DURATION, BUILD_BUCKETS),
                (DEPLOY_DURATION, START_BUCKETS),
                (START_DURATION, START_BUCKETS),
                (LOCK_WAIT, LOCK_BUCKETS),
            ] {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                    .ok()?;
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "API requests by route and status class");
    describe_counter!(
        GRAPHQL_OPERATIONS,
        "GraphQL operations by root field and outcome"
    );
    describe_histogram!(BUILD_DURATION, "Builds of deployments, all attempts");
    describe_histogram!(DEPLOY_DURATION, "Built deployment to live or failed");
    describe_histogram!(
        START_DURATION,
        "Instance starts until they accept connections"
    );
    describe_gauge!(QUEUE_DEPTH, "Messages waiting or in work per queue topic");
    describe_counter!(QUEUE_REDELIVERIES, "Queue messages delivered again");
    describe_counter!(QUEUE_DEAD_LETTERS, "Queue messages moved aside");
    describe_gauge!(APPS, "Apps by status");
    describe_counter!(
        LOCK_WAITS,
        "Lock acquisitions that waited for another holder"
    );
    describe_histogram!(LOCK_WAIT, "Time spent waiting for a lock");
    describe_counter!(CACHE_HITS, "Cache lookups answered by the cache");
    describe_counter!(CACHE_MISSES, "Cache lookups answered by the store");
    describe_gauge!(REDIS_BREAKER_OPEN, "1 while Redis is skipped");
    describe_counter!(REDIS_SKIPPED, "Redis calls skipped by an open breaker");
    describe_counter!(REDIS_TRIPS, "Times a Redis breaker opened");
    describe_counter!(LOG_LINES, "Log lines stored by stream");
    describe_counter!(HEALTH_CHECKS, "Instance health checks by result");
}

/// `ok` or `failed`.
fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}

/// `1xx` … `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        0 | 1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

fn topic(t: Topic) -> &'static str {
    match t {
        Topic::Builds => "builds",
        Topic::Results => "results",
    }
}

/// One API request answered.
pub fn http_request(route: &str, status: u16) {
    metrics::counter!(HTTP_REQUESTS, "route" => route.to_owned(), "class" => status_class(status))
        .increment(1);
}

/// One GraphQL operation answered: `operation` a root field of the schema (or `anonymous`),
/// `outcome` `ok` or the first error's code.
pub fn graphql_operation(operation: &str, outcome: &str) {
    metrics::counter!(
        GRAPHQL_OPERATIONS,
        "operation" => operation.to_owned(),
        "outcome" => outcome.to_owned()
    )
    .increment(1);
}

/// A build ended.
pub fn build_finished(took: Duration, ok: bool) {
    metrics::histogram!(BUILD_DURATION, "outcome" => outcome(ok)).record(took.as_secs_f64());
}

/// A built deployment went live, or failed to.
pub fn deploy_finished(took: Duration, ok: bool) {
    metrics::histogram!(DEPLOY_DURATION, "outcome" => outcome(ok)).record(took.as_secs_f64());
}

/// An instance's start ended: it answers, or it failed.
pub fn instance_started(took: Duration, ok: bool) {
    metrics::histogram!(START_DURATION, "outcome" => outcome(ok)).record(took.as_secs_f64());
}

/// A message was delivered again.
pub fn redelivered(t: Topic) {
    metrics::counter!(QUEUE_REDELIVERIES, "topic" => topic(t)).increment(1);
}

/// A message was moved aside.
pub fn dead_lettered(t: Topic) {
    metrics::counter!(QUEUE_DEAD_LETTERS, "topic" => topic(t)).increment(1);
}

/// A lock acquisition waited `took` for another holder, and got it (or gave up busy).
pub fn lock_waited(took: Duration, acquired: bool) {
    let outcome = if acquired { "acquired" } else { "busy" };
    metrics::counter!(LOCK_WAITS, "outcome" => outcome).increment(1);
    metrics::histogram!(LOCK_WAIT, "outcome" => outcome).record(took.as_secs_f64());
}

/// A cache lookup of kind `op` (`app`, `app_by_name`, `app_list`, `user`, `token`).
pub fn cache_lookup(op: &'static str, hit: bool) {
    if hit {
        metrics::counter!(CACHE_HITS, "op" => op).increment(1);
    } else {
        metrics::counter!(CACHE_MISSES, "op" => op).increment(1);
    }
}

/// A breaker opened (`true`) or closed.
pub fn breaker_open(user: &'static str, open: bool) {
    metrics::gauge!(REDIS_BREAKER_OPEN, "user" => user).set(if open { 1.0 } else { 0.0 });
    if open {
        metrics::counter!(REDIS_TRIPS, "user" => user).increment(1);
    }
}

/// A Redis call skipped by an open breaker.
pub fn redis_skipped(user: &'static str) {
    metrics::counter!(REDIS_SKIPPED, "user" => user).increment(1);
}

/// Lines stored in an app's log.
pub fn log_lines_stored(stream: LogStream, n: usize) {
    metrics::counter!(LOG_LINES, "stream" => stream.as_str()).increment(n as u64);
}

/// What one health check of an instance found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthCheckResult {
    /// The instance answered as its check asks.
    Passed,
    /// It answered wrong (an HTTP status out of range, a refused connection).
    Failed,
    /// It did not answer within the check's timeout.
    TimedOut,
}

impl HealthCheckResult {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheckResult::Passed => "passed",
            HealthCheckResult::Failed => "failed",
            HealthCheckResult::TimedOut => "timed_out",
        }
    }
}

/// Counts one health check of an instance (`paas_health_checks_total{result}`): the health
/// checker calls this once per check it runs.
pub fn health_check(result: HealthCheckResult) {
    metrics::counter!(HEALTH_CHECKS, "result" => result.as_str()).increment(1);
}

/// Everything as Prometheus text: the recorded series, then what is read now (apps by status,
/// queue depth, the router's per-app series from `routes`).
pub async fn render(platform: &crate::Platform, routes: &dyn RouteTable) -> String {
    match platform.store().app_counts_by_status().await {
        Ok(counts) => {
            for status in AppStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!(APPS, "status" => status.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "apps by status not counted"),
    }
    for t in [Topic::Builds, Topic::Results] {
        match platform.queue().depth(t).await {
            Ok(n) => metrics::gauge!(QUEUE_DEPTH, "topic" => topic(t)).set(n as f64),
            Err(e) => tracing::debug!(error = %e, "queue depth not read"),
        }
    }
    let mut text = install().map(|h| h.render()).unwrap_or_default();
    let apps: Vec<_> = routes
        .routes()
        .into_iter()
        .filter_map(|r| routes.traffic(r.app).map(|t| (r.name.to_string(), t)))
        .collect();
    render_router(&mut text, &apps);
    text
}

/// Appends the router's series for `apps` (name, counters).
fn render_router(text: &mut String, apps: &[(String, std::sync::Arc<Traffic>)]) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.is_empty() {
        text.push('\n');
    }
    let _ = writeln!(
        text,
        "# HELP {ROUTER_REQUESTS} Requests through the router by app and status class"
    );
    let _ = writeln!(text, "# TYPE {ROUTER_REQUESTS} counter");
    for (name, traffic) in apps {
        let totals = traffic.totals();
        for (class, n) in ["1xx", "2xx", "3xx", "4xx", "5xx"]
            .iter()
            .zip(totals.classes)
        {
            let _ = writeln!(
                text,
                "{ROUTER_REQUESTS}{{app=\"{name}\",class=\"{class}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        text,
        "\n# HELP {ROUTER_DURATION} Router requests' time to the response head by app"
    );
    let _ = writeln!(text, "# TYPE {ROUTER_DURATION} histogram");
    for (name, traffic) in apps {
        let totals = traffic.totals();
        let mut cumulative = 0;
        for (le, n) in ROUTER_BUCKETS.iter().zip(totals.latency) {
            cumulative += n;
            let _ = writeln!(
                text,
                "{ROUTER_DURATION}_bucket{{app=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let count = totals.count();
        let _ = writeln!(
            text,
            "{ROUTER_DURATION}_bucket{{app=\"{name}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            text,
            "{ROUTER_DURATION}_sum{{app=\"{name}\"}} {}",
            totals.latency_sum.as_secs_f64()
        );
        let _ = writeln!(text, "{ROUTER_DURATION}_count{{app=\"{name}\"}} {count}");
    }
}

/// An app's counts through the router since it was first routed (cumulative, for
/// `GET /metrics`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficTotals {
    /// Answers by class, 1xx to 5xx.
    pub classes: [u64; 5],
    /// Requests per latency bucket ([`ROUTER_BUCKETS`]; the last one: above them all).
    pub latency: [u64; ROUTER_BUCKETS.len() + 1],
    pub latency_sum: Duration,
}

impl TrafficTotals {
    pub fn count(&self) -> u64 {
        self.latency.iter().sum()
    }
}

/// The bucket of [`TrafficTotals::latency`] a latency falls in.
pub fn router_bucket(latency: Duration) -> usize {
    let secs = latency.as_secs_f64();
    ROUTER_BUCKETS
        .iter()
        .position(|le| secs <= *le)
        .unwrap_or(ROUTER_BUCKETS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_series_are_prometheus_histograms() {
        let traffic = std::sync::Arc::new(Traffic::new());
        traffic.record(200, 0, 0, Duration::from_millis(3));
        traffic.record(503, 0, 0, Duration::from_secs(20));
        let mut text = String::new();
        render_router(&mut text, &[("web".into(), traffic)]);
        assert!(text.contains("paas_router_requests_total{app=\"web\",class=\"2xx\"} 1\n"));
        assert!(text.contains("paas_router_requests_total{app=\"web\",class=\"5xx\"} 1\n"));
        assert!(text.contains("_bucket{app=\"web\",le=\"0.001\"} 0\n"));
        assert!(text.contains("_bucket{app=\"web\",le=\"0.005\"} 1\n"));
        assert!(text.contains("_bucket{app=\"web\",le=\"10\"} 1\n"));
        assert!(text.contains("_bucket{app=\"web\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("paas_router_request_duration_seconds_count{app=\"web\"} 2\n"));
    }
}
