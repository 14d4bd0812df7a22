//! Real git repositories on disk, made with git2.

use std::path::Path;

use git2::{Repository, Signature};

/// A repository in a temp dir with one commit on `main` holding `files`.
pub fn git_repo(files: &[(&str, &str)]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let repo = Repository::init_opts(
        dir.path(),
        git2::RepositoryInitOptions::new().initial_head("main"),
    )?;
    commit(&repo, dir.path(), files, "initial")?;
    Ok(dir)
}

/// Writes `files` and commits them on the current branch; returns the commit id.
pub fn commit(
    repo: &Repository,
    root: &Path,
    files: &[(&str, &str)],
    message: &str,
) -> anyhow::Result<String> {
    let mut index = repo.index()?;
    for (path, content) in files {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, content)?;
        index.add_path(Path::new(path))?;
    }
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = Signature::now("paas test", "test@paas.invalid")?;
    let parents = match repo.head() {
        Ok(head) => vec![head.peel_to_commit()?],
        Err(_) => vec![],
    };
    let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let oid = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parent_refs)?;
    Ok(oid.to_string())
}

/// `file://` URL of a directory.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}
