//! Logs: every line of every build and instance of an app, and the platform's own words about it
//! (`system` lines), kept per app in the store and read by pages or followed live.
//!
//! Each line has a timestamp in nanoseconds that is **strictly greater** than the one before it
//! in the same app, in the order lines were committed. So a timestamp names exactly one line of
//! an app, and the reader's cursor (`from` + `lastNano`, the design's protocol) is exact: a
//! client never sees a line twice and never misses one, even for lines printed in the same
//! nanosecond. The store assigns the timestamps ([`LogStore::append_logs`]): the line's own
//! time (when the runtime gives one) or the time it was read, raised where needed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AppId, DeploymentId, ValidationError};

mod lines;
pub use lines::{FileTail, LineSplitter, MAX_LINE};

/// A point in time in nanoseconds since the Unix epoch; the identity of a line within its app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogTime(i64);

impl LogTime {
    pub const MIN: LogTime = LogTime(i64::MIN);
    pub const MAX: LogTime = LogTime(i64::MAX);

    pub fn now() -> Self {
        Self::from(Utc::now())
    }
    pub fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }
    pub fn nanos(self) -> i64 {
        self.0
    }
    /// The next nanosecond.
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }
}

impl From<DateTime<Utc>> for LogTime {
    fn from(t: DateTime<Utc>) -> Self {
        // Out of i64 nanoseconds (before 1677 or after 2262): clamp.
        Self(t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
            i64::MIN
        } else {
            i64::MAX
        }))
    }
}

/// RFC 3339 with all nine digits of the nanoseconds, in UTC: `2026-11-23T17:14:47.123456789Z`.
impl fmt::Display for LogTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::Nanos, true),
        )
    }
}

/// Any RFC 3339 timestamp (any number of fractional digits, any offset).
impl FromStr for LogTime {
    type Err = ValidationError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
            ValidationError::Timestamp(format!(
                "{} is not an RFC 3339 timestamp ({e}); e.g. 2026-11-23T17:14:47.123456789Z",
                crate::model::quote(s)
            ))
        })?;
        t.timestamp_nanos_opt().map(Self).ok_or_else(|| {
            ValidationError::Timestamp(format!("{} is out of range", crate::model::quote(s)))
        })
    }
}

/// Where a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Build output: clone, build steps, errors.
    Build,
    /// The platform's own lines: status changes, retries, restarts, exit codes.
    System,
    /// The router's access lines (off unless the operator turns them on).
    Router,
}

impl LogStream {
    pub const ALL: [LogStream; 5] = [
        Self::Stdout,
        Self::Stderr,
        Self::Build,
        Self::System,
        Self::Router,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::Build => "build",
            Self::System => "system",
            Self::Router => "router",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A stored line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub app: AppId,
    pub at: LogTime,
    pub stream: LogStream,
    pub deployment: Option<DeploymentId>,
    pub text: String,
}

/// A line to store. `at` is its own time if known; the store may raise it (never lower it) to
/// keep the app's timestamps strictly increasing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLine {
    pub stream: LogStream,
    pub deployment: Option<DeploymentId>,
    pub text: String,
    pub at: Option<LogTime>,
}

impl NewLine {
    pub fn new(
        stream: LogStream,
        deployment: Option<DeploymentId>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            stream,
            deployment,
            text: text.into(),
            at: None,
        }
    }
}

/// Where a source (an instance's output, a build log) was read up to, written in the same
/// transaction as its lines so that a restarted reader goes on where the last one stopped,
/// repeating nothing. Compare-and-set: if the stored position is not `expected`, another reader
/// follows the source and the append is refused with [`crate::Error::LockLost`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePosition {
    pub source: String,
    pub expected: Option<String>,
    pub next: String,
}

/// Which way a page goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first, from `from` on.
    #[default]
    Forward,
    /// Newest first, from `from` (or the newest line) back.
    Backward,
}

/// The most lines one page may hold.
pub const MAX_PAGE: u64 = 5000;
/// Lines in a page when the client names no limit.
pub const DEFAULT_PAGE: u64 = 100;

/// A page request: the design's `logs(app, from, lastNano, limit)` with filters and a direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    pub app: AppId,
    pub deployment: Option<DeploymentId>,
    /// Empty: every stream.
    pub streams: Vec<LogStream>,
    /// Lines at or after `from` (at or before, going backward). `None`: from the start (end).
    pub from: Option<LogTime>,
    /// The line at exactly this timestamp is skipped: the client has it.
    pub last: Option<LogTime>,
    pub limit: u64,
    pub direction: Direction,
}

impl LogQuery {
    /// Every line of an app, oldest first, a default page at a time.
    pub fn app(app: AppId) -> Self {
        Self {
            app,
            deployment: None,
            streams: Vec::new(),
            from: None,
            last: None,
            limit: DEFAULT_PAGE,
            direction: Direction::Forward,
        }
    }

    /// Refuses a limit outside `1..=MAX_PAGE`.
    pub fn with_limit(mut self, limit: Option<i64>) -> std::result::Result<Self, ValidationError> {
        self.limit = match limit {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE as i64).contains(&n) => n as u64,
            Some(n) => {
                return Err(ValidationError::Limit(format!(
                    "{n} is not between 1 and {MAX_PAGE}"
                )));
            }
        };
        Ok(self)
    }

    /// Whether a line passes the filters (not the cursor).
    pub fn matches(&self, line: &LogLine) -> bool {
        line.app == self.app
            && self.deployment.is_none_or(|d| line.deployment == Some(d))
            && (self.streams.is_empty() || self.streams.contains(&line.stream))
    }
}

/// A page of lines and the cursor to continue from: pass `last` back as both `from` and `last`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// The timestamp of the page's last line; the request's own cursor for an empty page.
    pub last: Option<LogTime>,
}

/// What an app's stored log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogHead {
    /// The newest line's timestamp.
    pub last: Option<LogTime>,
    pub lines: u64,
    pub bytes: u64,
}

/// Storage of lines, with the other roles of the store.
pub use crate::store::LogStore;

/// How long and how much of an app's log is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub max_age: std::time::Duration,
    pub max_bytes_per_app: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: std::time::Duration::from_secs(7 * 24 * 3600),
            max_bytes_per_app: 64 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_with_nanoseconds() {
        let t: LogTime = "2026-11-23T17:14:47.123456789Z".parse().expect("valid");
        assert_eq!(t.to_string(), "2026-11-23T17:14:47.123456789Z");
        assert_eq!(t.next().to_string(), "2026-11-23T17:14:47.123456790Z");
        let offset: LogTime = "2026-11-23T18:14:47.5+01:00".parse().expect("valid");
        assert_eq!(offset.to_string(), "2026-11-23T17:14:47.500000000Z");
        let err = "yesterday".parse::<LogTime>().expect_err("refused");
        assert_eq!(err.code(), crate::ErrorCode::InvalidTimestamp);
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        let q = LogQuery::app(AppId::new());
        assert_eq!(
            q.clone().with_limit(None).expect("accepted").limit,
            DEFAULT_PAGE
        );
        assert_eq!(
            q.clone().with_limit(Some(1000)).expect("accepted").limit,
            1000
        );
        for bad in [0, -1, MAX_PAGE as i64 + 1] {
            assert_eq!(
                q.clone().with_limit(Some(bad)).expect_err("refused").code(),
                crate::ErrorCode::InvalidLimit
            );
        }
    }
}
