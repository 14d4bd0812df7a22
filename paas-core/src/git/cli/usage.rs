//! Disk used by a directory tree, for the bound on what a clone may write.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes of disk the tree under `root` occupies (allocated blocks, so a million empty files
/// count as what they cost), without following symbolic links. Stops counting once past
/// `stop_after`, so measuring a runaway checkout costs no more than the bound.
pub(super) fn disk_usage(root: &Path, stop_after: u64) -> u64 {
    let mut used = 0u64;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            used = used.saturating_add(meta.blocks().saturating_mul(512));
            if used > stop_after {
                return used;
            }
            if meta.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_and_stops_past_the_bound() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 100_000])?;
        let used = disk_usage(dir.path(), u64::MAX);
        assert!(used >= 100_000, "{used}");
        assert!(disk_usage(dir.path(), 10) > 10);
        assert_eq!(disk_usage(&dir.path().join("missing"), u64::MAX), 0);
        Ok(())
    }
}
