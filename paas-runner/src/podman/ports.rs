//! The host ports containers are published on: a range of their own, outside the kernel's
//! ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by default).
//!
//! Why a range of their own: Podman publishes a port with NAT rules that send every connection
//! to the container, and holds the port with a socket only while the container runs. When a
//! container stops, its rules outlive that socket for a moment (200 ms here, seconds on a busy
//! host). A port the kernel hands out in that moment to anything bound on port 0 (a router, a
//! database client, another app) then has its connections sent to the stopped container and
//! refused. Ports the kernel never hands out cannot be caught so.

use std::fmt;
use std::net::TcpListener;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An inclusive range of TCP ports, written `first-last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl Default for PortRange {
    /// 20000–29999: below the kernel's ephemeral range, above the usual services' ports.
    fn default() -> Self {
        Self {
            first: 20000,
            last: 29999,
        }
    }
}

impl PortRange {
    /// `first..=last`; refused when empty or starting at port 0.
    pub fn new(first: u16, last: u16) -> Result<Self, String> {
        if first == 0 {
            return Err("a port range starts at port 1 or above".into());
        }
        if first > last {
            return Err(format!(
                "{first}-{last} is empty: the first port is above the last"
            ));
        }
        Ok(Self { first, last })
    }

    /// How many ports the range holds.
    fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Whether the two ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// The kernel's ephemeral range on this host (Linux), where port 0 binds and outgoing
    /// connections take their ports.
    pub fn ephemeral() -> Option<PortRange> {
        let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
        let mut parts = text.split_whitespace().map(str::parse::<u16>);
        let (Some(Ok(first)), Some(Ok(last))) = (parts.next(), parts.next()) else {
            return None;
        };
        PortRange::new(first, last).ok()
    }

    /// A port of the range free on `address` now, looked for from a random place in the range
    /// (so a port just given up, whose NAT rules may linger, is seldom taken again at once).
    pub fn free_on(&self, address: &str) -> std::io::Result<u16> {
        let start = rand::random_range(0..self.len());
        for step in 0..self.len() {
            let offset = (start + step) % self.len();
            let Ok(port) = u16::try_from(u32::from(self.first) + offset) else {
                continue;
            };
            match TcpListener::bind((address, port)) {
                Ok(_) => return Ok(port),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("every port of {self} is taken on {address}"),
        ))
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (first, last) = s.split_once('-').ok_or_else(|| {
            format!("{s:?} is not a port range: write it first-last, e.g. 20000-29999")
        })?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} in {s:?} is not a port (1-65535)"))
        };
        PortRange::new(port(first)?, port(last)?)
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(r: PortRange) -> Self {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_refuse_what_is_not_one() {
        let r: PortRange = "20000-20009".parse().expect("a range");
        assert_eq!((r.first, r.last, r.len()), (20000, 20009, 10));
        assert_eq!(r.to_string(), "20000-20009");
        assert_eq!("7-7".parse::<PortRange>().map(|r| r.len()), Ok(1));
        for bad in ["", "20000", "a-b", "0-10", "30000-20000", "1-70000", "-5"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn overlaps_are_found_at_the_edges() {
        let r = PortRange::new(20000, 29999).expect("range");
        assert!(r.overlaps(&PortRange::new(29999, 40000).expect("range")));
        assert!(r.overlaps(&PortRange::new(1, 20000).expect("range")));
        assert!(!r.overlaps(&PortRange::new(32768, 60999).expect("range")));
        assert!(!r.overlaps(&PortRange::new(1, 19999).expect("range")));
    }

    #[test]
    fn a_free_port_is_in_the_range_and_never_a_taken_one() {
        let held = TcpListener::bind("127.0.0.1:0").expect("a port");
        let taken = held.local_addr().expect("addr").port();
        let r = PortRange::new(taken.saturating_sub(50).max(1025), taken.saturating_add(50))
            .expect("range");
        for _ in 0..200 {
            let port = r
                .free_on("127.0.0.1")
                .expect("some port of a hundred is free");
            assert!(
                (r.first..=r.last).contains(&port) && port != taken,
                "{port}"
            );
        }
        let only = PortRange::new(taken, taken).expect("range");
        let err = only
            .free_on("127.0.0.1")
            .expect_err("the only port is held");
        assert!(err.to_string().contains(&only.to_string()), "{err}");
    }

    #[test]
    fn the_default_range_is_outside_the_kernels_ephemeral_range() {
        let ephemeral = PortRange::ephemeral().expect("Linux names its ephemeral range");
        assert!(!PortRange::default().overlaps(&ephemeral), "{ephemeral}");
    }
}
