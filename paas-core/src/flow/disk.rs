//! The data directory's free space, watched: below
//! [`crate::PlatformConfig::disk_low_percent`] every admin is notified (`DiskLow`, once while it
//! lasts); back above, the notification is cleared.

use std::future::Future;
use std::path::Path;

use chrono::Utc;

use crate::error::{Error, Result};
use crate::notify::{Notification, NotificationKind};
use crate::platform::Platform;

/// The share of the disk under `path` that is free for unprivileged users, in percent.
pub fn free_percent(path: &Path) -> Result<f64> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(|e| {
        Error::runtime(format!(
            "cannot read the free space of {}: {e}",
            path.display()
        ))
    })?;
    #[allow(clippy::useless_conversion)]
    let (total, free) = (u64::from(stat.blocks()), u64::from(stat.blocks_available()));
    if total == 0 {
        return Ok(100.0);
    }
    Ok(free as f64 * 100.0 / total as f64)
}

/// Whether `free` percent is low against `threshold` percent.
pub fn disk_low(free: f64, threshold: u8) -> bool {
    free < f64::from(threshold)
}

impl Platform {
    /// Looks at the data directory's free space once: notifies the admins when it is low,
    /// clears their notification when it is not. Returns the free percentage.
    pub async fn check_disk(&self) -> Result<f64> {
        let dir = &self.config().data_dir;
        let free = free_percent(dir)?;
        let low = disk_low(free, self.config().disk_low_percent);
        for admin in self.store().admins().await? {
            if low {
                self.notify(Notification {
                    user: admin,
                    kind: NotificationKind::DiskLow,
                    app: None,
                    app_name: None,
                    message: format!(
                        "the data directory {} has {free:.1}% of its disk free (the threshold is {}%)",
                        dir.display(),
                        self.config().disk_low_percent
                    ),
                    at: Utc::now(),
                })
                .await;
            } else {
                self.clear_notification(admin, NotificationKind::DiskLow, None)
                    .await;
            }
        }
        Ok(free)
    }

    /// Checks the free space at start and every [`crate::PlatformConfig::disk_check`] until
    /// `shutdown` completes.
    pub async fn run_disk_check(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.check_disk().await {
                tracing::warn!(error = %e, "disk space check failed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.config().disk_check) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_below_the_threshold_only() {
        assert!(disk_low(4.9, 5));
        assert!(!disk_low(5.0, 5));
        assert!(!disk_low(50.0, 5));
        assert!(!disk_low(0.0, 0));
        assert!(disk_low(99.0, 100));
    }

    #[test]
    fn free_space_of_a_real_directory() -> Result<()> {
        let free = free_percent(Path::new("."))?;
        assert!((0.0..=100.0).contains(&free));
        Ok(())
    }
}
