//! Helpers for the output files of builds and instances.

use std::path::Path;

/// How many lines of output are quoted to the user in an error.
const TAIL_LINES: usize = 15;

/// The last lines of an output file, for error messages.
pub fn tail(path: &Path) -> String {
    paas_core::builder::tail(path, TAIL_LINES)
}
