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
