//! What log followers wait on: one watch per followed app in this process, shared by all its
//! followers, so that idle followers cost nothing per follower.
//!
//! Expected flow: the first follower of an app makes its watch and starts its poller; one bus
//! listener per process moves each app's head forward on every nudge (`LogsWritten`). Followers
//! sleep on the watch and read the store only when the head moved past what they last saw. The
//! poller is the safety net for nudges the bus lost: it reads the app (gone?) and its log head
//! once every `log_poll` for all the app's followers together, at once when the bus says it may
//! have dropped events, and every second while the app is being deleted. The watch and its poller
//! go when the last follower does.
//!
//! Guarantees: a follower is woken after every line committed after it subscribed (a nudge or a
//! poll moves the head past it); exactness stays with the follower's own cursor on the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, watch};

use crate::error::Result;
use crate::events::{Event, LogsWritten};
use crate::logs::LogTime;
use crate::model::AppId;
use crate::platform::Platform;
use crate::status::AppStatus;

/// How often the poller looks while the app is being deleted (its followers end once it is gone).
const WHILE_DELETING: Duration = Duration::from_secs(1);

/// What followers of an app know about its log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    /// The newest line known to be stored.
    pub last: Option<LogTime>,
    /// The app was deleted: its followers end.
    pub gone: bool,
}

/// The shared watch of one app's log. Followers hold it; when the last one drops it, its poller
/// ends.
pub(crate) struct AppWatch {
    head: watch::Sender<Head>,
    /// Asks the poller to look now.
    poke: Arc<Notify>,
}

impl AppWatch {
    pub(crate) fn subscribe(&self) -> watch::Receiver<Head> {
        self.head.subscribe()
    }

    /// Moves the head forward to `last` (never back), waking the followers if it moved.
    pub(crate) fn advance(&self, last: Option<LogTime>) {
        self.head.send_if_modified(|h| {
            let newer = last > h.last;
            if newer {
                h.last = last;
            }
            newer
        });
    }
}

/// Every app followed in this process.
#[derive(Default)]
pub(crate) struct LogWatches {
    apps: Mutex<HashMap<AppId, Weak<AppWatch>>>,
    /// Whether this process's bus listener runs.
    listening: AtomicBool,
}

impl LogWatches {
    fn get(&self, app: AppId) -> Option<Arc<AppWatch>> {
        self.lock().get(&app).and_then(Weak::upgrade)
    }

    fn all(&self) -> Vec<Arc<AppWatch>> {
        self.lock().values().filter_map(Weak::upgrade).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AppId, Weak<AppWatch>>> {
        self.apps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets `app`'s watch if it is still `mine` (a newer one may have replaced it).
    fn forget(&self, app: AppId, mine: &Weak<AppWatch>) {
        let mut apps = self.lock();
        if apps.get(&app).is_some_and(|w| w.ptr_eq(mine)) {
            apps.remove(&app);
        }
    }
}

impl Platform {
    /// The shared watch of `app`'s log, made (with its poller) for its first follower.
    pub(crate) async fn watch_log(&self, app: AppId) -> Result<Arc<AppWatch>> {
        self.listen_for_nudges().await?;
        let watches = self.log_watches();
        let mut apps = watches.lock();
        if let Some(w) = apps.get(&app).and_then(Weak::upgrade) {
            return Ok(w);
        }
        let w = Arc::new(AppWatch {
            head: watch::channel(Head::default()).0,
            poke: Arc::new(Notify::new()),
        });
        apps.insert(app, Arc::downgrade(&w));
        drop(apps);
        tokio::spawn(
            self.clone()
                .poll_log(app, Arc::downgrade(&w), w.poke.clone()),
        );
        Ok(w)
    }

    /// Starts this process's bus listener, once; subscribed before it returns, so no nudge
    /// after it is missed.
    async fn listen_for_nudges(&self) -> Result<()> {
        let watches = self.log_watches();
        if watches.listening.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut events = match self.bus().subscribe().await {
            Ok(events) => events,
            Err(e) => {
                watches.listening.store(false, Ordering::Release);
                return Err(e);
            }
        };
        let platform = self.clone();
        tokio::spawn(async move {
            let watches = platform.log_watches();
            while let Some(event) = events.next().await {
                match event {
                    Event::Logs(LogsWritten { app_id, last }) => {
                        if let Some(w) = watches.get(app_id) {
                            w.advance(Some(last));
                        }
                    }
                    // Nudges may have been lost: every poller looks now.
                    Event::Missed => watches.all().iter().for_each(|w| w.poke.notify_one()),
                    Event::Status(s) if s.status == AppStatus::Deleting => {
                        if let Some(w) = watches.get(s.app_id) {
                            w.poke.notify_one();
                        }
                    }
                    Event::Status(_)
                    | Event::RouteChanged(_)
                    | Event::Drain(_)
                    | Event::Load(_)
                    | Event::Recorded(_) => {}
                }
            }
            // The bus ended: the pollers go on; the next follower starts a listener again.
            watches.listening.store(false, Ordering::Release);
        });
        Ok(())
    }

    /// Looks at `app` and its log head for all its followers, until they are gone.
    async fn poll_log(self, app: AppId, mine: Weak<AppWatch>, poke: Arc<Notify>) {
        let mut every = self.config().log_poll;
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = poke.notified() => {}
            }
            let Some(w) = mine.upgrade() else { break };
            match self.store().app(app).await {
                Ok(None) => {
                    w.head.send_modify(|h| h.gone = true);
                    break;
                }
                Ok(Some(a)) if a.status == AppStatus::Deleting => every = WHILE_DELETING,
                Ok(Some(_)) => every = self.config().log_poll,
                Err(e) => {
                    tracing::debug!(app_id = %app, error = %e, "log poll failed");
                    continue;
                }
            }
            match self.store().log_head(app).await {
                Ok(head) => w.advance(head.last),
                Err(e) => tracing::debug!(app_id = %app, error = %e, "log poll failed"),
            }
        }
        self.log_watches().forget(app, &mine);
    }
}
