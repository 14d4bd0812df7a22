use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A TCP port an app listens on: 1–65535 (0 would mean "any", which an app cannot promise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u16")]
pub struct Port(u16);

impl Port {
    /// Parses a port from any integer, refusing 0 and anything above 65535.
    pub fn parse(n: i64) -> Result<Self, ValidationError> {
        match u16::try_from(n) {
            Ok(p) if p > 0 => Ok(Self(p)),
            _ => Err(ValidationError::Port(format!(
                "{n} is not between 1 and 65535"
            ))),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for Port {
    type Error = ValidationError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::parse(n)
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> Self {
        p.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_1_to_65535() {
        assert_eq!(Port::parse(1).map(Port::get), Ok(1));
        assert_eq!(Port::parse(65535).map(Port::get), Ok(65535));
        for bad in [0, -1, 65536, i64::MAX] {
            assert!(Port::parse(bad).is_err(), "{bad}");
        }
    }
}
