//! What the router counts per app: requests, status classes, bytes and latency, in one-second
//! buckets over the last [`WINDOW_SECS`] seconds, in memory. A request costs one short lock and
//! no store write; a summary over any window up to that is read from the buckets.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::metrics::{ROUTER_BUCKETS, TrafficTotals, router_bucket};

/// How far back the buckets go.
pub const WINDOW_SECS: usize = 300;

/// Latency buckets: bucket `i` holds latencies below `FIRST_US * GROWTH^i` microseconds
/// (about 19% wide: a percentile is read to within that).
const LATENCY_BUCKETS: usize = 80;
const FIRST_US: f64 = 50.0;
const GROWTH: f64 = 1.189_207_115; // 2^(1/4)

#[derive(Clone, Copy)]
struct Second {
    /// Seconds since the traffic's start this bucket counts; a bucket of another second is
    /// stale and read as empty.
    at: u64,
    requests: u64,
    /// Responses by class: 1xx..5xx.
    classes: [u64; 5],
    bytes_in: u64,
    bytes_out: u64,
    latency: [u32; LATENCY_BUCKETS],
}

impl Second {
    const EMPTY: Second = Second {
        at: u64::MAX,
        requests: 0,
        classes: [0; 5],
        bytes_in: 0,
        bytes_out: 0,
        latency: [0; LATENCY_BUCKETS],
    };
}

/// One app's counters.
pub struct Traffic {
    start: Instant,
    seconds: Mutex<Vec<Second>>,
    /// When the last request began or ended, in nanoseconds since `start` (the scaler's
    /// idleness, later): an atomic, since every request writes it.
    last: AtomicU64,
    /// Counts since the start, for `GET /metrics` (atomics: no lock).
    classes: [AtomicU64; 5],
    latency: [AtomicU64; ROUTER_BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
}

impl std::fmt::Debug for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traffic").finish_non_exhaustive()
    }
}

impl Default for Traffic {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TrafficSummary {
    pub window_secs: u64,
    pub requests: u64,
    /// Answers with a 5xx status (the app's or the router's: 502, 503, 504).
    pub errors: u64,
    /// Answers by class, 1xx to 5xx.
    pub classes: [u64; 5],
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Latency to the response head, in milliseconds; `None` without requests.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Traffic {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            seconds: Mutex::new(vec![Second::EMPTY; WINDOW_SECS]),
            last: AtomicU64::new(0),
            classes: Default::default(),
            latency: Default::default(),
            latency_sum_us: AtomicU64::new(0),
        }
    }

    /// Counts since the start ([`crate::metrics`] renders them).
    pub fn totals(&self) -> TrafficTotals {
        TrafficTotals {
            classes: self.classes.each_ref().map(|n| n.load(Ordering::Relaxed)),
            latency: self.latency.each_ref().map(|n| n.load(Ordering::Relaxed)),
            latency_sum: Duration::from_micros(self.latency_sum_us.load(Ordering::Relaxed)),
        }
    }

    /// Counts one answered request: its status, the bytes of its bodies and the time to its
    /// response head.
    pub fn record(&self, status: u16, bytes_in: u64, bytes_out: u64, latency: Duration) {
        let now = Instant::now();
        let at = now.duration_since(self.start).as_secs();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        let bucket = latency_bucket(latency);
        if let Ok(mut seconds) = self.seconds.lock() {
            let slot = &mut seconds[(at % WINDOW_SECS as u64) as usize];
            if slot.at != at {
                *slot = Second::EMPTY;
                slot.at = at;
            }
            slot.requests += 1;
            slot.classes[class] += 1;
            slot.bytes_in += bytes_in;
            slot.bytes_out += bytes_out;
            slot.latency[bucket] = slot.latency[bucket].saturating_add(1);
        }
        self.classes[class].fetch_add(1, Ordering::Relaxed);
        self.latency[router_bucket(latency)].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
        self.touch();
    }

    /// Notes activity without a finished request (a request begins, a websocket frame).
    pub fn touch(&self) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.fetch_max(nanos, Ordering::Relaxed);
    }

    /// How long since the last activity.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_nanos(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Counts over the last `window` (at most [`WINDOW_SECS`] seconds).
    pub fn summary(&self, window: Duration) -> TrafficSummary {
        let secs = window.as_secs().clamp(1, WINDOW_SECS as u64);
        let now = Instant::now().duration_since(self.start).as_secs();
        let mut sum = TrafficSummary {
            window_secs: secs,
            ..TrafficSummary::default()
        };
        let mut latency = [0u64; LATENCY_BUCKETS];
        if let Ok(seconds) = self.seconds.lock() {
            for s in seconds.iter() {
                if s.at == u64::MAX || s.at > now || now - s.at >= secs {
                    continue;
                }
                sum.requests += s.requests;
                for (c, n) in sum.classes.iter_mut().zip(s.classes) {
                    *c += n;
                }
                sum.bytes_in += s.bytes_in;
                sum.bytes_out += s.bytes_out;
                for (l, n) in latency.iter_mut().zip(s.latency) {
                    *l += u64::from(n);
                }
            }
        }
        sum.errors = sum.classes[4];
        sum.p50_ms = percentile(&latency, 0.50);
        sum.p99_ms = percentile(&latency, 0.99);
        sum
    }
}

fn latency_bucket(latency: Duration) -> usize {
    let us = latency.as_secs_f64() * 1e6;
    if us < FIRST_US {
        return 0;
    }
    let i = ((us / FIRST_US).ln() / GROWTH.ln()).floor() as usize + 1;
    i.min(LATENCY_BUCKETS - 1)
}

/// The upper bound of the bucket holding the `q` quantile, in milliseconds.
fn percentile(buckets: &[u64; LATENCY_BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let upper_us = FIRST_US * GROWTH.powi(i as i32);
            return Some((upper_us / 1000.0 * 1000.0).round() / 1000.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_classes_bytes_and_percentiles() {
        let t = Traffic::new();
        for _ in 0..98 {
            t.record(200, 10, 100, Duration::from_millis(2));
        }
        t.record(404, 0, 5, Duration::from_millis(2));
        t.record(502, 0, 5, Duration::from_millis(400));
        let s = t.summary(Duration::from_secs(60));
        assert_eq!(s.requests, 100);
        assert_eq!(s.classes, [0, 98, 0, 1, 1]);
        assert_eq!(s.errors, 1);
        assert_eq!((s.bytes_in, s.bytes_out), (980, 9810));
        let p50 = s.p50_ms.expect("a p50");
        assert!((2.0..2.5).contains(&p50), "{p50}");
        let p99 = s.p99_ms.expect("a p99");
        assert!((2.0..2.5).contains(&p99), "{p99}");
        assert_eq!(Traffic::new().summary(Duration::from_secs(60)).p50_ms, None);
    }

    #[test]
    fn slow_tail_shows_in_p99() {
        let t = Traffic::new();
        for i in 0..1000 {
            let ms = if i % 50 == 0 { 300 } else { 1 };
            t.record(200, 0, 0, Duration::from_millis(ms));
        }
        let s = t.summary(Duration::from_secs(10));
        assert!(s.p99_ms.expect("a p99") >= 300.0, "{s:?}");
        assert!(s.p50_ms.expect("a p50") < 1.3, "{s:?}");
    }
}
