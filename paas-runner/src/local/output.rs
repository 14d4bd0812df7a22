//! Helpers for the output files of builds and instances.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much of the end of an output file is shown to the user in an error.
const TAIL_BYTES: u64 = 2048;
const TAIL_LINES: usize = 15;

/// The last lines of a file (at most ~2 KiB), for error messages. Missing file: empty.
pub fn tail(path: &Path) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    // The first line may be cut in the middle when we started mid-file.
    let skip = usize::from(start > 0 && lines.len() > 1);
    let from = lines.len().saturating_sub(TAIL_LINES).max(skip);
    lines[from..].join("\n")
}
