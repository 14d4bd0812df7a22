//! [`LogStore`]: the lines of [`crate::logs`], with each app's head and each source's position.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::logs::{LogHead, LogLine, LogQuery, LogTime, NewLine, SourcePosition};
use crate::model::AppId;

/// Storage of lines. Guarantees every adapter gives:
/// - [`LogStore::append_logs`] stamps every line of an app with a timestamp strictly greater than
///   that of every line committed before it in the app (at least the line's own `at`), and
///   commits lines, timestamps and the source position together: a reader that sees a line sees
///   every line of the app with a smaller timestamp.
/// - Reads are exact on the cursor (see [`LogQuery`]).
#[async_trait]
pub trait LogStore: Send + Sync {
    async fn append_logs(
        &self,
        app: AppId,
        lines: &[NewLine],
        position: Option<&SourcePosition>,
    ) -> Result<Vec<LogLine>>;
    /// Where a source was read up to.
    async fn log_position(&self, source: &str) -> Result<Option<String>>;
    async fn read_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>>;
    async fn log_head(&self, app: AppId) -> Result<LogHead>;
    /// Apps that have lines.
    async fn apps_with_logs(&self) -> Result<Vec<AppId>>;
    /// Removes an app's lines older than `before` and, past that, its oldest lines until the
    /// rest holds at most `max_bytes` of text. Returns how many lines went.
    async fn prune_logs(&self, app: AppId, before: LogTime, max_bytes: u64) -> Result<u64>;
    /// Removes every line and source position of an app.
    async fn delete_logs(&self, app: AppId) -> Result<()>;
}

#[async_trait]
impl<T: Delegate> LogStore for T {
    async fn append_logs(
        &self,
        app: AppId,
        lines: &[NewLine],
        position: Option<&SourcePosition>,
    ) -> Result<Vec<LogLine>> {
        self.log_store().append_logs(app, lines, position).await
    }
    async fn log_position(&self, source: &str) -> Result<Option<String>> {
        self.log_store().log_position(source).await
    }
    async fn read_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>> {
        self.log_store().read_logs(query).await
    }
    async fn log_head(&self, app: AppId) -> Result<LogHead> {
        self.log_store().log_head(app).await
    }
    async fn apps_with_logs(&self) -> Result<Vec<AppId>> {
        self.log_store().apps_with_logs().await
    }
    async fn prune_logs(&self, app: AppId, before: LogTime, max_bytes: u64) -> Result<u64> {
        self.log_store().prune_logs(app, before, max_bytes).await
    }
    async fn delete_logs(&self, app: AppId) -> Result<()> {
        self.log_store().delete_logs(app).await
    }
}
