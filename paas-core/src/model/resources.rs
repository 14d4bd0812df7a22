use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{EnvKey, Port, ValidationError};

/// Hard limits of an app's instance. CPU is a quota (a hard cap, not relative shares): 500
/// millicpus is half a core however idle the machine is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Thousandths of a CPU core: 10–64000.
    pub cpu_millis: Option<u32>,
    /// Memory limit in MiB: 16–1048576.
    pub memory_mb: Option<u32>,
}

impl Resources {
    pub fn parse(cpu_millis: Option<i64>, memory_mb: Option<i64>) -> Result<Self, ValidationError> {
        let within = |v: Option<i64>, lo: i64, hi: i64, what: &str| {
            v.map(|n| {
                if (lo..=hi).contains(&n) {
                    u32::try_from(n).map_err(|_| ValidationError::Resources(what.into()))
                } else {
                    Err(ValidationError::Resources(format!(
                        "{what} must be between {lo} and {hi}"
                    )))
                }
            })
            .transpose()
        };
        Ok(Self {
            cpu_millis: within(cpu_millis, 10, 64_000, "cpuMillis")?,
            memory_mb: within(memory_mb, 16, 1_048_576, "memoryMb")?,
        })
    }

    /// Memory limit in bytes.
    pub fn memory_bytes(&self) -> Option<u64> {
        self.memory_mb.map(|mb| u64::from(mb) * 1024 * 1024)
    }
}

/// Transport of a published port.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// An extra port an app needs besides its HTTP port: `count` consecutive host ports from
/// `host_port`, published with the same numbers inside the instance. The app finds the first
/// one in the env var `env`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub env: EnvKey,
    pub host_port: Port,
    pub count: u16,
    pub protocol: Protocol,
}

impl PortBinding {
    /// The host ports this binding takes.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.count).map(|i| self.host_port.get() + i)
    }
}

/// Checks a set of bindings: counts 1–100, ranges within 65535, no port and no env var twice.
pub fn validate_port_bindings(bindings: &[PortBinding]) -> Result<(), ValidationError> {
    let mut envs = BTreeSet::new();
    let mut taken = BTreeSet::new();
    for b in bindings {
        if !(1..=100).contains(&b.count) {
            return Err(ValidationError::Ports(format!(
                "count of {} must be 1 to 100",
                b.env
            )));
        }
        if u32::from(b.host_port.get()) + u32::from(b.count) - 1 > 65535 {
            return Err(ValidationError::Ports(format!(
                "ports of {} go past 65535",
                b.env
            )));
        }
        if !envs.insert(b.env.clone()) {
            return Err(ValidationError::Ports(format!("{} is bound twice", b.env)));
        }
        for p in b.ports() {
            if !taken.insert((p, b.protocol)) {
                return Err(ValidationError::Ports(format!(
                    "port {p}/{} is bound twice",
                    b.protocol.as_str()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(env: &str, port: i64, count: u16) -> PortBinding {
        PortBinding {
            env: EnvKey::parse(env).expect("key"),
            host_port: Port::parse(port).expect("port"),
            count,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn resources_bounds() {
        assert!(Resources::parse(Some(500), Some(256)).is_ok());
        assert!(Resources::parse(Some(5), None).is_err());
        assert!(Resources::parse(None, Some(8)).is_err());
        assert_eq!(
            Resources::parse(None, Some(1)).map_err(|e| e.code()),
            Err(crate::ErrorCode::InvalidResources)
        );
        assert_eq!(
            Resources::parse(None, Some(64)).map(|r| r.memory_bytes()),
            Ok(Some(64 << 20))
        );
    }

    #[test]
    fn bindings_do_not_overlap() {
        assert!(validate_port_bindings(&[binding("A", 9000, 2), binding("B", 9002, 1)]).is_ok());
        assert!(validate_port_bindings(&[binding("A", 9000, 2), binding("B", 9001, 1)]).is_err());
        assert!(validate_port_bindings(&[binding("A", 9000, 1), binding("A", 9005, 1)]).is_err());
        assert!(validate_port_bindings(&[binding("A", 65535, 2)]).is_err());
        assert!(validate_port_bindings(&[binding("A", 9000, 0)]).is_err());
    }
}
