//! Following an app's log live: the lines from a cursor, then new ones as they are written.
//!
//! Followers read the store, never the bus: the bus only says "app X has lines up to T". One
//! cursor goes from the replay into the live part, so the seam has no gap and no duplicate,
//! whichever process wrote the lines (appends commit in timestamp order, see
//! [`crate::logs::LogStore`]). Each subscriber has a bounded buffer; history is replayed at the
//! subscriber's pace, while live lines that find its buffer full are dropped for it and
//! replaced by one [`LogItem::Lagged`] marker naming the range, which `logs_for` still serves.
//! A slow subscriber never slows the app or the platform: the lines go to the store either way.
//!
//! An idle follower costs no reads: it sleeps on its app's shared watch (`log_watch`), which
//! the bus's nudges and one shared poll per app move forward, and reads the store only when the
//! head moved past what it saw before its last read. A build follower also looks every second
//! whether its build ended (one small read while the build runs).

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::log_watch::{AppWatch, Head};
use crate::error::{Error, Result};
use crate::logs::{Direction, LogLine, LogQuery, LogStream, LogTime};
use crate::model::{DeploymentId, DeploymentStatus, User};
use crate::platform::Platform;

/// Lines read from the store at a time while following.
const FOLLOW_PAGE: u64 = 1000;
/// How often a build follower with nothing new looks whether its build ended.
const BUILD_END_CHECK: Duration = Duration::from_secs(1);

/// What a log subscriber receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogItem {
    Line(LogLine),
    /// `skipped` live lines, from `first` to `last`, were dropped because this subscriber's
    /// buffer was full. They are stored: a page query from `first` reads them.
    Lagged {
        skipped: u64,
        first: LogTime,
        last: LogTime,
    },
}

impl Platform {
    /// Follows an app's log for its owner: lines from `query.from` (or the start), then live
    /// ones as they are written, until the app is deleted or the stream is dropped.
    pub async fn follow_logs(
        &self,
        user: &User,
        query: LogQuery,
    ) -> Result<BoxStream<'static, LogItem>> {
        self.check_log_query(user, &query).await?;
        self.follow(query, None).await
    }

    /// Follows a deployment's build log (its `build` and `system` lines) for the app's owner;
    /// ends once the build has ended and every line of it was delivered.
    pub async fn follow_build(
        &self,
        user: &User,
        deployment: DeploymentId,
    ) -> Result<BoxStream<'static, LogItem>> {
        let dep = self
            .store()
            .deployment(deployment)
            .await?
            .ok_or(Error::NotFound("deployment"))?;
        let mut query = LogQuery::app(dep.app_id);
        query.deployment = Some(deployment);
        query.streams = vec![LogStream::Build, LogStream::System];
        self.check_log_query(user, &query)
            .await
            .map_err(|_| Error::NotFound("deployment"))?;
        self.follow(query, Some(deployment)).await
    }

    async fn follow(
        &self,
        query: LogQuery,
        build: Option<DeploymentId>,
    ) -> Result<BoxStream<'static, LogItem>> {
        // Watching before the first read, so no nudge falls between the two.
        let watch = self.watch_log(query.app).await?;
        let head = self.store().log_head(query.app).await?.last;
        watch.advance(head);
        let (tx, rx) = mpsc::channel(self.config().log_buffer.max(1));
        let platform = self.clone();
        tokio::spawn(async move {
            let app = query.app;
            if let Err(e) = platform.feed(query, build, head, watch, tx).await {
                tracing::warn!(app_id = %app, error = %e, "a log subscription ended early");
            }
        });
        Ok(ReceiverStream::new(rx).boxed())
    }

    /// Feeds one subscriber. `history_until`: lines up to it are history, delivered at the
    /// subscriber's pace; later ones are live.
    async fn feed(
        &self,
        mut q: LogQuery,
        build: Option<DeploymentId>,
        history_until: Option<LogTime>,
        watch: Arc<AppWatch>,
        tx: mpsc::Sender<LogItem>,
    ) -> Result<()> {
        q.direction = Direction::Forward;
        q.limit = FOLLOW_PAGE;
        let mut heads = watch.subscribe();
        let mut lag: Option<(u64, LogTime, LogTime)> = None;
        let mut ending = false;
        // What the shared watch said before the last read: that read saw every line up to it.
        let mut seen = *heads.borrow_and_update();
        loop {
            let page = self.store().read_logs(&q).await?;
            let full = page.len() as u64 == q.limit;
            for line in page {
                q.from = Some(line.at);
                q.last = Some(line.at);
                if history_until.is_some_and(|h| line.at <= h) {
                    if tx.send(LogItem::Line(line)).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                if let Some((skipped, first, last)) = lag {
                    match tx.try_send(LogItem::Lagged {
                        skipped,
                        first,
                        last,
                    }) {
                        Ok(()) => lag = None,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            lag = Some((skipped + 1, first, line.at));
                            continue;
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                    }
                }
                let at = line.at;
                match tx.try_send(LogItem::Line(line)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => lag = Some((1, at, at)),
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                }
            }
            if full {
                continue;
            }
            // Caught up with the store: the marker waits for room (newer lines wait in the
            // store meanwhile, not in memory).
            if let Some((skipped, first, last)) = lag.take() {
                let marker = LogItem::Lagged {
                    skipped,
                    first,
                    last,
                };
                if tx.send(marker).await.is_err() {
                    return Ok(());
                }
            }
            if ending {
                return Ok(());
            }
            if let Some(dep) = build
                && self.build_ended(dep).await?
            {
                // Every build line was committed before the build's end was: one more read.
                ending = true;
                continue;
            }
            loop {
                match wait_for_more(&mut heads, seen, build.is_some(), &tx).await {
                    Wake::More(head) => {
                        seen = head;
                        break;
                    }
                    Wake::BuildCheck => {
                        if let Some(dep) = build
                            && self.build_ended(dep).await?
                        {
                            ending = true;
                            break;
                        }
                    }
                    Wake::End => return Ok(()),
                }
            }
        }
    }

    async fn build_ended(&self, dep: DeploymentId) -> Result<bool> {
        Ok(match self.store().deployment(dep).await? {
            Some(d) => !matches!(
                d.status,
                DeploymentStatus::Queued | DeploymentStatus::Building
            ),
            None => true,
        })
    }
}

/// Why a follower with nothing new woke up.
enum Wake {
    /// The head moved past what it saw: read again.
    More(Head),
    /// Time for a build follower to look whether its build ended.
    BuildCheck,
    /// The app is gone, or the subscriber went away.
    End,
}

/// Sleeps until the app's head moves past `seen` (or the app goes, or the subscriber does).
async fn wait_for_more(
    heads: &mut watch::Receiver<Head>,
    seen: Head,
    build: bool,
    tx: &mpsc::Sender<LogItem>,
) -> Wake {
    let build_check = async {
        if build {
            tokio::time::sleep(BUILD_END_CHECK).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(build_check);
    if seen.gone {
        return Wake::End;
    }
    loop {
        tokio::select! {
            changed = heads.changed() => {
                if changed.is_err() {
                    return Wake::End;
                }
                let head = *heads.borrow_and_update();
                if head.gone {
                    return Wake::End;
                }
                if head.last > seen.last {
                    return Wake::More(head);
                }
            }
            () = &mut build_check => return Wake::BuildCheck,
            () = tx.closed() => return Wake::End,
        }
    }
}
