//! Locks that separate processes share: a row per key in the database, taken and given back by
//! compare-and-set on the row's `version`, held under a lease that the holder renews.
//!
//! Keys: `app:<id>` keeps two tasks off one app; `task:<kind>` keeps two runs of a platform-wide
//! task (reconcile, supervise) apart. Tasks on different keys never wait for each other.
//!
//! Guarantees:
//! - At most one holder per key at a time, as long as holders renew within their lease: every
//!   change of a row (acquire, renew, release, take-over) writes only if the row still has the
//!   version its writer read, so of two racing writers exactly one wins.
//! - A holder that dies (crash, `kill -9`, lost network) stops renewing, and its lock can be
//!   taken once its lease has run out. Nothing waits on a dead holder for longer than the lease.
//! - A process that stops gracefully gives back every lock it still holds
//!   ([`Locks::release_all`]), so the next server does not wait out a lease for work that was
//!   cut short by the shutdown.
//! - A holder whose lock was taken from it (a forced task, or a lease that ran out while it was
//!   stalled) finds out at its next renewal: [`Locks::hold`] stops its work there with
//!   [`Error::LockLost`].
//!
//! Assumptions: the clocks of the processes sharing a database agree to well within a lease
//! (NTP). Leases are seconds long; renewals come every third of a lease.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::AppId;

/// What a lock guards.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// One task at a time on an app.
    App(AppId),
    /// One run at a time of a platform-wide task.
    Task(&'static str),
    /// One decision at a time about the new commits of an app's branch (held briefly, apart
    /// from the app's lock, which a build holds for its whole length).
    Push(AppId),
    /// One decision at a time about an app's previews (which exist, which go).
    Previews(AppId),
}

impl std::fmt::Display for LockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockKey::App(id) => write!(f, "app:{id}"),
            LockKey::Task(kind) => write!(f, "task:{kind}"),
            LockKey::Push(id) => write!(f, "push:{id}"),
            LockKey::Previews(id) => write!(f, "previews:{id}"),
        }
    }
}

/// A lock row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRecord {
    pub key: String,
    /// Who holds it; `None` when free.
    pub holder: Option<String>,
    /// What the holder is doing, shown to whoever has to wait.
    pub purpose: Option<String>,
    /// When the holder's lease runs out.
    pub expires_at: Option<DateTime<Utc>>,
    /// Bumped by every write; writes compare-and-set on it.
    pub version: i64,
}

impl LockRecord {
    /// Whether someone holds the lock at `now` (a lapsed lease holds nothing).
    pub fn held_at(&self, now: DateTime<Utc>) -> bool {
        self.holder.is_some() && self.expires_at.is_some_and(|e| e > now)
    }
}

/// The storage side of locks, with the other roles of the store.
pub use crate::store::LockStore;

/// Takes and gives back locks for this process. Cheap to clone.
#[derive(Clone)]
pub struct Locks {
    store: Arc<dyn LockStore>,
    /// How long a lock stays held without renewal.
    lease: Duration,
    /// Names this process in holder ids (`<host>:<pid>:<uuid>`), for people reading a busy answer.
    process: Arc<str>,
    /// The leases this process took and has not given back, by holder id: given back at
    /// shutdown, when the work holding them is dropped unfinished.
    held: Arc<std::sync::Mutex<std::collections::HashMap<String, Lease>>>,
    /// Rung when this process gives a lock back: its waiters look again at once instead of at
    /// their next poll (a release in another process is seen at the next poll).
    released: Arc<tokio::sync::Notify>,
    /// How often a waiting acquire looks again.
    poll: Duration,
}

/// How often a waiting acquire looks again.
const POLL: Duration = Duration::from_millis(50);

impl Locks {
    pub fn new(store: Arc<dyn LockStore>, lease: Duration) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".into());
        Self {
            store,
            lease,
            process: format!("{host}:{}", std::process::id()).into(),
            held: Arc::default(),
            released: Arc::default(),
            poll: POLL,
        }
    }

    /// These locks, a waiting acquire looking again every `poll` (50 ms by default).
    pub fn polling(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Lease>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives back every lock this process still holds; called once when it stops gracefully
    /// (its loops and tasks are stopped). Returns how many were still held.
    pub async fn release_all(&self) -> usize {
        let leases: Vec<Lease> = self.held().values().cloned().collect();
        let mut released = 0;
        for lease in leases {
            match self.release(&lease).await {
                Ok(()) => released += 1,
                Err(e) => tracing::warn!(key = %lease.key, error = %e, "could not release a lock"),
            }
        }
        released
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Takes the lock if it is free (or its lease ran out). `Err(holder)` says who has it.
    pub async fn try_acquire(
        &self,
        key: &LockKey,
        purpose: &str,
    ) -> Result<std::result::Result<Lease, LockRecord>> {
        let key = key.to_string();
        let holder = format!("{}:{}", self.process, uuid::Uuid::now_v7());
        let now = Utc::now();
        let mut record = LockRecord {
            key: key.clone(),
            holder: Some(holder),
            purpose: Some(purpose.to_owned()),
            expires_at: Some(self.expiry(now)),
            version: 1,
        };
        let won = match self.store.lock_record(&key).await? {
            None => self.store.insert_lock(&record).await?,
            Some(current) if current.held_at(now) => return Ok(Err(current)),
            Some(current) => {
                record.version = current.version + 1;
                self.store.swap_lock(current.version, &record).await?
            }
        };
        if won {
            return Ok(Ok(self.lease_of(record)));
        }
        // Someone else wrote the row between our read and our write: they hold it now.
        Ok(Err(self.store.lock_record(&key).await?.unwrap_or(record)))
    }

    /// Takes the lock, waiting up to `wait` for its holder to give it back (or die). A lock
    /// still held after that is [`Error::Busy`], naming what the holder is doing.
    pub async fn acquire(&self, key: &LockKey, purpose: &str, wait: Duration) -> Result<Lease> {
        let started = tokio::time::Instant::now();
        let deadline = started + wait;
        let mut waited = false;
        loop {
            // Listening before looking, so a release between the look and the wait is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            match self.try_acquire(key, purpose).await? {
                Ok(lease) => {
                    if waited {
                        crate::metrics::lock_waited(started.elapsed(), true);
                    }
                    return Ok(lease);
                }
                Err(held) => {
                    if tokio::time::Instant::now() >= deadline {
                        crate::metrics::lock_waited(started.elapsed(), false);
                        return Err(Error::Busy(busy_reason(&held)));
                    }
                }
            }
            waited = true;
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                () = released => {}
            }
        }
    }

    /// Takes the lock whoever holds it: for a forced task that must not wait on a stuck one.
    /// The holder loses it at its next renewal.
    pub async fn take_over(&self, key: &LockKey, purpose: &str) -> Result<Lease> {
        loop {
            match self.try_acquire(key, purpose).await? {
                Ok(lease) => return Ok(lease),
                Err(held) => {
                    let holder = format!("{}:{}", self.process, uuid::Uuid::now_v7());
                    let record = LockRecord {
                        key: held.key.clone(),
                        holder: Some(holder),
                        purpose: Some(purpose.to_owned()),
                        expires_at: Some(self.expiry(Utc::now())),
                        version: held.version + 1,
                    };
                    if self.store.swap_lock(held.version, &record).await? {
                        tracing::warn!(key = %held.key, from = ?held.holder, purpose, "lock taken over");
                        return Ok(self.lease_of(record));
                    }
                }
            }
        }
    }

    /// The lock's row, if it was ever taken.
    pub async fn record(&self, key: &LockKey) -> Result<Option<LockRecord>> {
        self.store.lock_record(&key.to_string()).await
    }

    /// Runs `work` while renewing `lease`, then releases it. If the lock is lost meanwhile the
    /// work is dropped at that point and the answer is [`Error::LockLost`].
    pub async fn hold<T>(&self, lease: Lease, work: impl Future<Output = Result<T>>) -> Result<T> {
        let renew = async {
            let mut every = tokio::time::interval(self.lease / 3);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = self.renew(&lease).await {
                    return e;
                }
            }
        };
        let out = tokio::select! {
            out = work => out,
            lost = renew => Err(lost),
        };
        if let Err(e) = self.release(&lease).await {
            tracing::warn!(key = %lease.key, error = %e, "could not release a lock");
        }
        out
    }

    /// Extends the lease. [`Error::LockLost`] if the lock is no longer ours.
    pub async fn renew(&self, lease: &Lease) -> Result<()> {
        let version = lease.version.load(Ordering::SeqCst);
        let record = LockRecord {
            key: lease.key.clone(),
            holder: Some(lease.holder.clone()),
            purpose: Some(lease.purpose.clone()),
            expires_at: Some(self.expiry(Utc::now())),
            version: version + 1,
        };
        if self.store.swap_lock(version, &record).await? {
            lease.version.store(version + 1, Ordering::SeqCst);
            Ok(())
        } else {
            Err(Error::LockLost(lease.key.clone()))
        }
    }

    /// Gives the lock back (a no-op if it was taken from us).
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        self.held().remove(&lease.holder);
        let version = lease.version.load(Ordering::SeqCst);
        let record = LockRecord {
            key: lease.key.clone(),
            holder: None,
            purpose: None,
            expires_at: None,
            version: version + 1,
        };
        if self.store.swap_lock(version, &record).await? {
            lease.version.store(version + 1, Ordering::SeqCst);
            self.released.notify_waiters();
        }
        Ok(())
    }

    fn expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    fn lease_of(&self, record: LockRecord) -> Lease {
        let lease = Lease {
            key: record.key,
            holder: record.holder.unwrap_or_default(),
            purpose: record.purpose.unwrap_or_default(),
            version: Arc::new(AtomicI64::new(record.version)),
        };
        self.held().insert(lease.holder.clone(), lease.clone());
        lease
    }
}

/// What a waiting task is told about the holder.
pub fn busy_reason(held: &LockRecord) -> String {
    format!(
        "waiting for {} ({}, lease until {})",
        held.purpose.as_deref().unwrap_or("another task"),
        held.key,
        held.expires_at
            .map_or_else(|| "-".to_owned(), |e| e.to_rfc3339())
    )
}

/// A held lock. Give it to [`Locks::hold`], or release it with [`Locks::release`]; a lease that
/// is dropped unreleased simply runs out.
#[derive(Clone, Debug)]
pub struct Lease {
    pub key: String,
    pub holder: String,
    pub purpose: String,
    /// The row's version as last written by us.
    version: Arc<AtomicI64>,
}

impl Lease {
    /// The row's version as last written by this holder.
    pub fn version(&self) -> i64 {
        self.version.load(Ordering::SeqCst)
    }
}
