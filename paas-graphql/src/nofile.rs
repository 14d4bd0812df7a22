//! The open-file limit. Every connection, app process pipe, log file and database handle is a
//! file descriptor; the usual soft limit (1024) is reached by a thousand idle clients, after which
//! `/healthz`, the API and app supervision all fail with "Too many open files". The hard limit is
//! usually far higher and a process may raise its soft limit up to it.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft limit of open files to the hard limit where allowed; returns the soft limit
/// in force afterwards (`None` when it cannot be read).
pub fn raise() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                tracing::info!(from = soft, to = hard, "raised the open-file limit");
                return Some(hard);
            }
            Err(e) => tracing::warn!(soft, hard, error = %e, "could not raise the open-file limit"),
        }
    }
    Some(soft)
}

/// Files kept free for everything but client connections (apps, logs, the database).
const RESERVED: u64 = 256;

/// The connection cap that fits under `file_limit`, warning when `wanted` does not.
pub fn fit_connections(wanted: usize, file_limit: Option<u64>) -> usize {
    let Some(limit) = file_limit else {
        return wanted;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED).max(16)).unwrap_or(usize::MAX);
    if wanted > room {
        tracing::warn!(
            wanted,
            allowed = room,
            file_limit = limit,
            "the connection cap is above what the open-file limit allows; lowered"
        );
        room
    } else {
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_rest() {
        assert_eq!(fit_connections(4096, Some(1024)), 768);
        assert_eq!(fit_connections(100, Some(1024)), 100);
        assert_eq!(fit_connections(100, None), 100);
        assert_eq!(fit_connections(100, Some(10)), 16);
    }

    #[test]
    fn raising_ends_at_the_hard_limit() {
        // Any process may raise its soft limit up to the hard one.
        let after = raise();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("readable");
        assert_eq!(after, Some(soft));
        assert_eq!(soft, hard);
    }
}
