//! Nomad: apps run as Nomad service jobs, one job per app (its id derived from the app's), a new
//! job version per deployment rolled out as a canary beside the live allocation, promoted when
//! healthy and reverted when not.
//!
//! Calls go through the maintained `nomad-client-rs` where it has them (register, read and
//! deregister jobs, read and restart allocations, read nodes), and through a small reqwest client
//! of ours ([`api`]) for what it lacks: blocking queries (`index`/`wait`), evaluations (placement
//! failures) and following allocation logs. The deprecated `nomad-client` crate speaks Nomad
//! 0.11's API, sends no ACL token and cannot follow logs.

pub mod api;
pub mod job;
mod logs;
mod rollout;
mod runtime;

pub use runtime::NomadRuntime;

/// Where the cluster is and how jobs are shaped.
#[derive(Clone, Debug)]
pub struct NomadSettings {
    /// `NOMAD_ADDR`, e.g. `http://127.0.0.1:4646`.
    pub address: String,
    /// `NOMAD_TOKEN`: the ACL token (sent as `X-Nomad-Token`).
    pub token: Option<paas_core::model::Secret>,
    /// `NOMAD_NAMESPACE`.
    pub namespace: Option<String>,
    /// `NOMAD_REGION`.
    pub region: Option<String>,
    /// The task driver: `podman` (the nomad-driver-podman plugin) or `docker`.
    pub driver: String,
    /// Datacenters the jobs may run in.
    pub datacenters: Vec<String>,
    /// MHz of CPU one whole core of an app's `cpuMillis` stands for.
    pub mhz_per_core: u32,
}

impl NomadSettings {
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into().trim_end_matches('/').to_owned(),
            token: None,
            namespace: None,
            region: None,
            driver: "podman".into(),
            datacenters: vec!["*".into()],
            mhz_per_core: 1000,
        }
    }
}
