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

/// A commit on `branch` (created from `main` if missing) with `version.txt` = `version`,
/// leaving `main` and `HEAD` alone: a push of another branch. Returns the commit id.
pub fn commit_on_branch(repo: &Path, branch: &str, version: &str) -> anyhow::Result<String> {
    let r = Repository::open(repo)?;
    let main = r.find_reference("refs/heads/main")?.peel_to_commit()?;
    let parent = match r.find_branch(branch, git2::BranchType::Local) {
        Ok(b) => b.get().peel_to_commit()?,
        Err(_) => main,
    };
    let oid = child_commit(&r, &parent, version, "on another branch")?;
    r.reference(&format!("refs/heads/{branch}"), oid, true, "test")?;
    Ok(oid.to_string())
}

/// A commit over `parent` with `version.txt` = `version`, on no branch.
pub fn child_commit(
    r: &Repository,
    parent: &git2::Commit<'_>,
    version: &str,
    message: &str,
) -> anyhow::Result<git2::Oid> {
    let blob = r.blob(version.as_bytes())?;
    let mut tree = r.treebuilder(Some(&parent.tree()?))?;
    tree.insert("version.txt", blob, 0o100644)?;
    let tree = r.find_tree(tree.write()?)?;
    let sig = Signature::now("paas test", "test@paas.invalid")?;
    Ok(r.commit(None, &sig, &sig, message, &tree, &[parent])?)
}

/// Deletes `branch`: a push that removes it.
pub fn delete_branch(repo: &Path, branch: &str) -> anyhow::Result<()> {
    let r = Repository::open(repo)?;
    r.find_branch(branch, git2::BranchType::Local)?.delete()?;
    Ok(())
}
