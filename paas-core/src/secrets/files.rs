//! The data dir is the server's alone: the directory 0700, the files in it 0600 (SQLite database
//! and its `-wal`/`-shm`, the key file, logs). Created so from the start, and tightened at start
//! for data dirs made by older versions.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::SecretsError;

/// Mode of the data dir and the directories the server keeps to itself.
pub const PRIVATE_DIR: u32 = 0o700;
/// Mode of the files in them.
pub const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` (and parents) if needed and sets it to 0700.
pub fn private_dir(dir: &Path) -> Result<(), SecretsError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SecretsError::io(format!("creating {}", dir.display()), e))?;
    chmod(dir, PRIVATE_DIR)
}

/// Sets `path` to `mode` if it exists.
pub fn chmod(path: &Path, mode: u32) -> Result<(), SecretsError> {
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SecretsError::io(
            format!("setting the mode of {}", path.display()),
            e,
        )),
        _ => Ok(()),
    }
}

/// Creates a new file 0600 (never readable by others, not even for a moment); fails if it
/// exists.
pub fn create_private(path: &Path) -> Result<File, SecretsError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)
        .map_err(|e| SecretsError::io(format!("creating {}", path.display()), e))
}

/// Opens a file for appending, creating it 0600 (logs).
pub fn append_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE_FILE)
        .open(path)
}

/// Writes a whole file (replacing it), created 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE)
        .open(path)?;
    f.write_all(bytes)
}

/// The file of a `sqlite://` URL, if it is one (not in memory).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Makes the SQLite database of `url` 0600 before it is opened: creates it empty with that mode
/// if missing (SQLite gives its `-wal` and `-shm` the mode of the database), and tightens an
/// existing one and its companions.
pub fn private_sqlite(url: &str) -> Result<(), SecretsError> {
    let Some(db) = sqlite_file(url) else {
        return Ok(());
    };
    if !db.exists() {
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| SecretsError::io(format!("creating {}", parent.display()), e))?;
        }
        match create_private(&db) {
            Ok(_) => {}
            // Created meanwhile by another process: tightened below.
            Err(SecretsError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = db.clone().into_os_string();
        file.push(suffix);
        chmod(Path::new(&file), PRIVATE_FILE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
    }

    #[test]
    fn data_dir_and_database_are_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        private_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        let url = format!("sqlite://{}/paas.db?mode=rwc", dir.display());
        private_sqlite(&url).expect("db");
        assert_eq!(mode(&dir.join("paas.db")), 0o600);
        // An older, world-readable file is tightened.
        let wal = dir.join("paas.db-wal");
        std::fs::write(&wal, b"").expect("wal");
        chmod(&wal, 0o644).expect("chmod");
        private_sqlite(&url).expect("again");
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(sqlite_file("postgres://x/y"), None);
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
