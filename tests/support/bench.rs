//! What every benchmark reports: a set of samples summarised as count, min, median, p99 and max,
//! so a figure always says how many samples it stands on and how far they spread.

use std::fmt;
use std::time::Duration;

/// Samples of one measure, in milliseconds (or any one unit the caller names).
#[derive(Clone, Debug, Default)]
pub struct Samples {
    values: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.values.push(value);
    }

    pub fn push_duration(&mut self, d: Duration) {
        self.push(d.as_secs_f64() * 1e3);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The value below which a fraction `p` (0 to 1) of the samples lie (nearest rank); NaN
    /// when there are none.
    pub fn percentile(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = (p * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn median(&self) -> f64 {
        self.percentile(0.5)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    pub fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }
}

/// `n=…, min …, median …, p99 …, max …` with two decimals.
impl fmt::Display for Samples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={}, min {:.2}, median {:.2}, p99 {:.2}, max {:.2}",
            self.len(),
            self.min(),
            self.median(),
            self.percentile(0.99),
            self.max()
        )
    }
}

/// Whether the benches run few samples (`BENCH_QUICK=1`, or `--quick` among the
/// arguments): to check that every measure runs end to end, not for figures.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1") || std::env::args().any(|a| a == "--quick")
}

/// `full` samples, or `few` in a quick run.
pub fn samples(full: usize, few: usize) -> usize {
    if quick() { few } else { full }
}

/// One row of the performance table.
#[derive(Clone, Debug)]
pub struct Row {
    pub measure: String,
    pub unit: String,
    /// The figure (a median, a rate, a count).
    pub value: f64,
    /// What it is compared with: a floor (the same work done directly), a peer, or the target.
    pub against: Option<(String, f64)>,
    /// The target, in words (`≤ 1.15`).
    pub target: Option<String>,
    pub samples: Samples,
}

impl Row {
    pub fn new(measure: impl Into<String>, unit: impl Into<String>, value: f64) -> Self {
        Self {
            measure: measure.into(),
            unit: unit.into(),
            value,
            against: None,
            target: None,
            samples: Samples::default(),
        }
    }
    /// The median of `samples` as the figure.
    pub fn of(measure: impl Into<String>, unit: impl Into<String>, samples: &Samples) -> Self {
        Self {
            samples: samples.clone(),
            ..Self::new(measure, unit, samples.median())
        }
    }
    pub fn against(mut self, what: impl Into<String>, value: f64) -> Self {
        self.against = Some((what.into(), value));
        self
    }
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    pub fn with_samples(mut self, samples: &Samples) -> Self {
        self.samples = samples.clone();
        self
    }
    /// value / the floor or peer.
    pub fn ratio(&self) -> Option<f64> {
        self.against
            .as_ref()
            .filter(|(_, v)| *v != 0.0)
            .map(|(_, v)| self.value / v)
    }

    fn json(&self) -> serde_json::Value {
        let num = |v: f64| {
            if v.is_finite() {
                serde_json::json!((v * 1e4).round() / 1e4)
            } else {
                serde_json::Value::Null
            }
        };
        let s = &self.samples;
        serde_json::json!({
            "measure": self.measure,
            "unit": self.unit,
            "value": num(self.value),
            "floor_or_peer": self.against.as_ref().map(|(w, _)| w.clone()),
            "floor_or_peer_value": self.against.as_ref().map(|(_, v)| num(*v)),
            "ratio": self.ratio().map(num),
            "target": self.target,
            "samples": s.len(),
            "min": (!s.is_empty()).then(|| num(s.min())),
            "median": (!s.is_empty()).then(|| num(s.median())),
            "p99": (!s.is_empty()).then(|| num(s.percentile(0.99))),
            "max": (!s.is_empty()).then(|| num(s.max())),
        })
    }

    fn markdown(&self) -> String {
        let f = |v: f64| {
            if !v.is_finite() {
                String::new()
            } else if v.abs() >= 100.0 || v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        };
        let s = &self.samples;
        let spread = if s.is_empty() {
            " | | | |".to_owned()
        } else {
            format!(
                " {} | {} | {} | {} |",
                f(s.min()),
                f(s.median()),
                f(s.percentile(0.99)),
                f(s.max())
            )
        };
        format!(
            "| {} | {} | {} | {} | {} | {} |{spread}",
            self.measure,
            format!("{} {}", f(self.value), self.unit).trim_end(),
            self.against
                .as_ref()
                .map(|(w, v)| format!("{w}: {}", f(*v)))
                .unwrap_or_default(),
            self.ratio().map(|r| format!("{r:.2}")).unwrap_or_default(),
            self.target.clone().unwrap_or_default(),
            s.len(),
        )
    }
}

/// The header of the table [`Report`] rows make.
pub const TABLE_HEADER: &str = "| measure | value | floor or peer | ratio | target | samples | min | median | p99 | max |\n|---|---|---|---|---|---|---|---|---|---|";

/// What one bench reports: rows printed as it goes, and, when `BENCH_OUT` names a
/// directory (as `scripts/bench` does), appended to `results.jsonl` and `results.md` there, so
/// one run of every bench makes one table and one JSON file.
pub struct Report {
    bench: String,
}

impl Report {
    pub fn new(bench: impl Into<String>) -> Self {
        Self {
            bench: bench.into(),
        }
    }

    /// A count per operation (statements, transactions): the median of `samples`, beside its
    /// target when it has one.
    pub fn add_count(&mut self, measure: &str, samples: &Samples, target: Option<f64>) {
        let mut row = Row::of(measure, "", samples);
        if let Some(t) = target {
            row = row.target(format!("≤ {t}"));
        }
        self.add(row);
    }

    /// Prints `row` and writes it where `BENCH_OUT` says.
    pub fn add(&mut self, row: Row) {
        println!("{}", row.markdown());
        if let Err(e) = self.write(&row) {
            eprintln!("could not write a bench result: {e}");
        }
    }

    fn write(&self, row: &Row) -> std::io::Result<()> {
        use std::io::Write;
        let Some(dir) = std::env::var_os("BENCH_OUT") else {
            return Ok(());
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
        };
        let mut json = row.json();
        json["bench"] = serde_json::json!(self.bench);
        writeln!(open("results.jsonl")?, "{json}")?;
        writeln!(open("results.md")?, "{}", row.markdown())?;
        Ok(())
    }
}

/// The port the benches' container apps listen on inside (given as `$PORT`).
pub const CONTAINER_PORT: u16 = 8080;

/// The floor of the Podman benches: libpod's create and start of `image` as a container named
/// `name`, published on 127.0.0.1:`port`, with the spec paas gives an app's container (init,
/// no restart, labels, stop timeout). Returns the container's id; the caller removes it.
pub async fn start_plain_container(
    podman: &podman_api::Podman,
    image: &str,
    name: &str,
    port: u16,
) -> anyhow::Result<String> {
    use podman_api::opts::{ContainerCreateOpts, ContainerRestartPolicy};
    let ports = vec![serde_json::from_value(serde_json::json!({
        "container_port": CONTAINER_PORT,
        "host_port": port,
        "host_ip": "127.0.0.1",
        "protocol": "tcp",
    }))?];
    let opts = ContainerCreateOpts::builder()
        .image(image)
        .name(name)
        .env([("PORT", CONTAINER_PORT.to_string())])
        .portmappings(ports)
        .init(true)
        .labels([("paas.app", "bench"), ("paas.deployment", "bench")])
        .restart_policy(ContainerRestartPolicy::No)
        .stop_timeout(10)
        .build();
    let containers = podman.containers();
    let id = containers.create(&opts).await?.id;
    containers.get(&id).start(None).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::Samples;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Samples::default();
        for v in 1..=100 {
            s.push(f64::from(v));
        }
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.median(), 50.0);
        assert_eq!(s.percentile(0.99), 99.0);
        assert_eq!(s.max(), 100.0);
        assert!(Samples::default().median().is_nan());
    }
}
