//! Log types: lines, pages, the lag marker, and the arguments shared by the query and the
//! subscriptions.

use async_graphql::{Enum, ID, SimpleObject, Union};
use paas_core::flow::LogItem;
use paas_core::logs::{self, Direction, LogQuery, LogTime};
use paas_core::model::{AppId, DeploymentId};

use crate::error::{GqlResult, OrGql};

/// Where a line came from.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::logs::LogStream")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Build output: clone, build steps, errors.
    Build,
    /// The platform's own lines: status changes, retries, restarts, exit codes.
    System,
    /// The router's access lines, where the operator turned them on (`router_access_log`).
    Router,
}

/// Which way a page goes.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogDirection {
    /// Oldest first, from `from` on.
    #[default]
    Forward,
    /// Newest first, from `from` (default: the newest line) back: the tail first.
    Backward,
}

/// One line of an app's log.
#[derive(SimpleObject, Clone)]
pub struct LogLine {
    /// RFC 3339 with nanoseconds, unique within the app: the line's cursor.
    pub timestamp: String,
    pub stream: LogStream,
    pub deployment: Option<ID>,
    pub text: String,
}

impl From<logs::LogLine> for LogLine {
    fn from(l: logs::LogLine) -> Self {
        Self {
            timestamp: l.at.to_string(),
            stream: l.stream.into(),
            deployment: l.deployment.map(|d| ID(d.to_string())),
            text: l.text,
        }
    }
}

/// A page of lines. To continue, pass `lastNano` back as both `from` and `lastNano`.
#[derive(SimpleObject)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// The timestamp of the page's last line (the request's cursor for an empty page).
    pub last_nano: Option<String>,
}

impl From<logs::LogPage> for LogPage {
    fn from(p: logs::LogPage) -> Self {
        Self {
            lines: p.lines.into_iter().map(LogLine::from).collect(),
            last_nano: p.last.map(|t| t.to_string()),
        }
    }
}

/// Live lines were dropped for this subscriber because it read slower than the app wrote.
/// They are stored: `logs(from: first)` pages through them.
#[derive(SimpleObject)]
pub struct LogsLagged {
    pub skipped: u64,
    pub first: String,
    pub last: String,
}

/// What a log subscription delivers.
#[derive(Union)]
pub enum LogEvent {
    Line(LogLine),
    Lagged(LogsLagged),
}

impl From<LogItem> for LogEvent {
    fn from(item: LogItem) -> Self {
        match item {
            LogItem::Line(l) => LogEvent::Line(l.into()),
            LogItem::Lagged {
                skipped,
                first,
                last,
            } => LogEvent::Lagged(LogsLagged {
                skipped,
                first: first.to_string(),
                last: last.to_string(),
            }),
        }
    }
}

/// Most lines in one [`LogBatch`].
pub const MAX_BATCH: usize = 1000;

/// Lines of a log subscription that were ready together, in order. `lagged`, when there, came
/// before them: the live lines dropped just before `lines[0]`.
#[derive(SimpleObject, Default)]
pub struct LogBatch {
    pub lagged: Option<LogsLagged>,
    pub lines: Vec<LogLine>,
}

impl LogBatch {
    /// `items` (in order) as batches: a lagged marker starts a new batch, the lines after it
    /// join it, at most [`MAX_BATCH`] lines a batch.
    pub fn split(items: Vec<LogItem>) -> Vec<LogBatch> {
        let mut out: Vec<LogBatch> = Vec::new();
        let mut current = LogBatch::default();
        for item in items {
            match LogEvent::from(item) {
                LogEvent::Lagged(l) => {
                    if current.lagged.is_some() || !current.lines.is_empty() {
                        out.push(std::mem::take(&mut current));
                    }
                    current.lagged = Some(l);
                }
                LogEvent::Line(l) => {
                    if current.lines.len() >= MAX_BATCH {
                        out.push(std::mem::take(&mut current));
                    }
                    current.lines.push(l);
                }
            }
        }
        if current.lagged.is_some() || !current.lines.is_empty() {
            out.push(current);
        }
        out
    }
}

/// Parses an optional RFC 3339 timestamp argument.
pub fn timestamp(value: Option<&str>) -> GqlResult<Option<LogTime>> {
    value.map(str::parse::<LogTime>).transpose().gql()
}

/// Builds a query from the API's arguments, refusing bad ones with their codes.
pub fn query(
    app: &ID,
    deployment: Option<&ID>,
    streams: Option<Vec<LogStream>>,
    from: Option<&str>,
    last_nano: Option<&str>,
    limit: Option<i64>,
    direction: LogDirection,
) -> GqlResult<LogQuery> {
    let app: AppId = app.parse().gql()?;
    let mut q = LogQuery::app(app).with_limit(limit).gql()?;
    q.deployment = deployment
        .map(|d| d.parse::<DeploymentId>())
        .transpose()
        .gql()?;
    q.streams = streams
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect();
    q.from = timestamp(from)?;
    q.last = timestamp(last_nano)?;
    q.direction = match direction {
        LogDirection::Forward => Direction::Forward,
        LogDirection::Backward => Direction::Backward,
    };
    Ok(q)
}
