//! Keeping PostgreSQL's statistics of `log_lines` up with a log that grows fast.
//!
//! A log page is `WHERE app_id = ? AND at >= ? ORDER BY at LIMIT n`. Read in the primary key's
//! order it costs the `n` rows it returns. But the planner picks the plan by how many rows it
//! expects for the app, and an app it has no statistics for (a new table, or an app that grew
//! since the last `ANALYZE`: autovacuum waits for 10 % of the table to change) is expected to
//! have a handful, so it reads every line of the app past the cursor and sorts them instead:
//! 200 ms for a page of 500 000 lines, where the index takes 0.3 ms. So when an app's log
//! crosses 10 000 lines, and every time it grows fourfold after that, the store has the table
//! analyzed in the background (at most one `ANALYZE` at a time and one per [`COOLDOWN`] per
//! process; a crossing in between runs when the cool-down is over). Once the app is in the
//! statistics its share of the table is known, and estimates grow with the table. A smaller
//! log gets the sort, of at most a few thousand lines: a few milliseconds.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};

/// An app's log size at which the table is first analyzed; then at every fourfold of it.
const FIRST: u64 = 10_000;
/// The least time between two `ANALYZE` runs of one process.
const COOLDOWN: Duration = Duration::from_secs(30);

/// How many of the sizes `FIRST`, `4 × FIRST`, `16 × FIRST`… are at or below `lines`.
fn level(lines: u64) -> u32 {
    let mut level = 0;
    let mut mark = FIRST;
    while lines >= mark {
        level += 1;
        match mark.checked_mul(4) {
            Some(next) => mark = next,
            None => break,
        }
    }
    level
}

/// Whether a log that went from `before` to `after` lines crossed one of the sizes.
pub(super) fn crossed(before: u64, after: u64) -> bool {
    level(after) > level(before)
}

/// The analyzer of one store (shared by its clones).
#[derive(Debug, Default)]
pub(super) struct LogStats {
    /// An `ANALYZE` is running.
    running: AtomicBool,
    /// A crossing asked for one that has not run yet.
    due: AtomicBool,
    /// When the last one started.
    last: Mutex<Option<Instant>>,
}

impl LogStats {
    /// Notes an append of `added` lines that took an app's log to `size` lines, and starts the
    /// `ANALYZE` that is due, if the cool-down allows. PostgreSQL only: SQLite reads pages in
    /// the key's order whatever it knows.
    pub(super) fn appended(self: &Arc<Self>, db: &DatabaseConnection, added: u64, size: u64) {
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return;
        }
        if crossed(size.saturating_sub(added), size) {
            self.due.store(true, Ordering::Release);
        }
        if !self.due.load(Ordering::Acquire) {
            return;
        }
        {
            let Ok(mut last) = self.last.lock() else {
                return;
            };
            if (*last).is_some_and(|t| t.elapsed() < COOLDOWN)
                || self.running.swap(true, Ordering::AcqRel)
            {
                return;
            }
            *last = Some(Instant::now());
        }
        self.due.store(false, Ordering::Release);
        let stats = Arc::clone(self);
        let db = db.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            match db.execute_unprepared("ANALYZE log_lines").await {
                Ok(_) => tracing::debug!(
                    took_ms = started.elapsed().as_millis() as u64,
                    "analyzed log_lines (an app's log grew)"
                ),
                // Not fatal: pages are still right, only slower to read.
                Err(e) => tracing::warn!(error = %e, "could not analyze log_lines"),
            }
            stats.running.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_crossed_at_ten_thousand_and_every_fourfold() {
        assert!(!crossed(0, 9_999));
        assert!(crossed(9_999, 10_000));
        assert!(crossed(0, 10_000));
        assert!(!crossed(10_000, 39_999));
        assert!(crossed(39_999, 40_000));
        assert!(crossed(100_000, 160_000));
        assert!(!crossed(160_000, 639_999));
        // Going down (pruned) crosses nothing.
        assert!(!crossed(50_000, 20_000));
        assert_eq!(level(u64::MAX), level(u64::MAX - 1));
    }
}
