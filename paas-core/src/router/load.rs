//! What a router tells the scaler: per app, the requests in flight (sampled ten times a period
//! and averaged) and how long since the last request, published on the bus once a period as a
//! [`LoadReport`] for every app with recent activity. The scaler adds the reports of every
//! router up ([`crate::scaler::Activity`]), so a request on one router keeps an app awake that
//! another router never saw.

use std::collections::HashMap;
use std::time::Duration;

use crate::events::{Event, LoadReport};
use crate::model::AppId;

/// Samples per report.
pub const SAMPLES: u32 = 10;

/// In-flight samples per app since the last report.
#[derive(Default)]
pub(crate) struct LoadSampler {
    sums: HashMap<AppId, (u64, u32)>,
    samples: u32,
}

/// One app as a sample sees it: requests in flight now, and how long since one began or ended.
pub(crate) struct AppSample {
    pub app: AppId,
    pub in_flight: usize,
    pub idle: Duration,
}

impl LoadSampler {
    /// Adds one sample of every app; once [`SAMPLES`] are in, returns the reports of the apps
    /// active within `recent` (and starts over).
    pub(crate) fn sample(
        &mut self,
        router: &str,
        apps: impl IntoIterator<Item = AppSample>,
        recent: Duration,
    ) -> Vec<Event> {
        let mut last = Vec::new();
        for a in apps {
            let entry = self.sums.entry(a.app).or_insert((0, 0));
            entry.0 += u64::try_from(a.in_flight).unwrap_or(u64::MAX);
            entry.1 += 1;
            last.push(a);
        }
        self.samples += 1;
        if self.samples < SAMPLES {
            return Vec::new();
        }
        self.samples = 0;
        let sums = std::mem::take(&mut self.sums);
        last.into_iter()
            .filter(|a| a.in_flight > 0 || a.idle < recent)
            .map(|a| {
                let (sum, n) = sums.get(&a.app).copied().unwrap_or((0, 1));
                Event::Load(LoadReport {
                    router: router.to_owned(),
                    app: a.app,
                    in_flight: sum as f64 / f64::from(n.max(1)),
                    open: u32::try_from(a.in_flight).unwrap_or(u32::MAX),
                    idle_ms: u64::try_from(a.idle.as_millis()).unwrap_or(u64::MAX),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_mean_of_active_apps_once_a_period() {
        let busy = AppId::new();
        let quiet = AppId::new();
        let mut s = LoadSampler::default();
        let recent = Duration::from_secs(2);
        for i in 0..SAMPLES {
            let apps = [
                AppSample {
                    app: busy,
                    in_flight: if i % 2 == 0 { 4 } else { 0 },
                    idle: Duration::ZERO,
                },
                AppSample {
                    app: quiet,
                    in_flight: 0,
                    idle: Duration::from_secs(60),
                },
            ];
            let out = s.sample("r1", apps, recent);
            if i + 1 < SAMPLES {
                assert!(out.is_empty());
            } else {
                assert_eq!(out.len(), 1, "only the active app is reported");
                let Event::Load(r) = &out[0] else {
                    panic!("a load report")
                };
                assert_eq!(r.app, busy);
                assert!(
                    (r.in_flight - 2.0).abs() < 1e-9,
                    "mean of 4 and 0: {}",
                    r.in_flight
                );
                assert_eq!(r.open, 0);
            }
        }
    }

    #[test]
    fn a_request_in_flight_is_reported_however_long_ago_it_began() {
        // A long request (or an open websocket) began a minute ago: no request began or ended
        // since, yet the app is busy, and reported so every period.
        let app = AppId::new();
        let mut s = LoadSampler::default();
        for period in 0..3 {
            let mut out = Vec::new();
            for _ in 0..SAMPLES {
                let sample = AppSample {
                    app,
                    in_flight: 1,
                    idle: Duration::from_secs(60 + period),
                };
                out = s.sample("r1", [sample], Duration::from_secs(2));
            }
            let [Event::Load(r)] = out.as_slice() else {
                panic!("one report each period: {out:?}")
            };
            assert_eq!((r.open, r.idle_ms), (1, (60 + period) * 1000));
            assert!((r.in_flight - 1.0).abs() < 1e-9);
        }
    }
}
