//! What git prints about refs and trees: `git ls-remote --symref` read into a [`RepoCheck`],
//! `git ls-tree -z` read into the names of a tree's files.

use crate::git::RepoCheck;
use crate::model::{Branch, CommitId};

/// The listing of one `ls-remote`: `ref: <target>\tHEAD` for a symbolic `HEAD`, then
/// `<oid>\t<name>` per ref. Only exact names count (a pattern such as `HEAD` also matches
/// `refs/tags/x/HEAD`, which is not `HEAD`).
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// The ref `HEAD` points to, when it is symbolic and resolves.
    head_target: Option<String>,
    refs: Vec<(String, String)>,
}

impl Listing {
    pub(super) fn parse(out: &str) -> Self {
        let mut listing = Self::default();
        for line in out.lines() {
            let Some((left, name)) = line.split_once('\t') else {
                continue;
            };
            if let Some(target) = left.strip_prefix("ref: ") {
                if name == "HEAD" {
                    listing.head_target = Some(target.to_owned());
                }
            } else {
                listing.refs.push((name.to_owned(), left.to_owned()));
            }
        }
        listing
    }

    fn oid(&self, name: &str) -> Option<CommitId> {
        self.refs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, oid)| CommitId::parse(oid).ok())
    }

    /// Every branch the platform can use, with its head commit, in the listing's order.
    pub(super) fn branches(&self) -> Vec<(Branch, CommitId)> {
        self.refs
            .iter()
            .filter_map(|(name, oid)| {
                let branch = Branch::parse(name.strip_prefix("refs/heads/")?).ok()?;
                Some((branch, CommitId::parse(oid).ok()?))
            })
            .collect()
    }

    /// The default branch: the branch `HEAD` names, if it is one the platform can use (a
    /// detached, unborn or looping `HEAD`, or a name past the platform's rules, gives none).
    pub(super) fn default_branch(&self) -> Option<Branch> {
        self.head_target
            .as_deref()
            .and_then(|t| t.strip_prefix("refs/heads/"))
            .and_then(|b| Branch::parse(b).ok())
    }

    /// The check for `branch`, or for the default branch when none is asked.
    pub(super) fn check(&self, branch: Option<&Branch>) -> RepoCheck {
        let default_branch = self.default_branch();
        let head = match branch {
            Some(b) => self.oid(&format!("refs/heads/{b}")),
            // `HEAD` resolves to its branch's head; only trusted when it names a branch.
            None => default_branch.as_ref().and_then(|_| self.oid("HEAD")),
        };
        RepoCheck {
            exists: true,
            default_branch,
            branch_exists: head.is_some(),
            head,
        }
    }
}

/// The output of `git log -1 --format=%H%x00%an <%ae>%x00%B`: id, author, message (trimmed; an
/// empty one is `None`). Messages are shown, not parsed: bytes that are not UTF-8 are replaced.
pub(super) fn commit_info(out: &[u8]) -> Option<crate::git::HeadCommit> {
    let text = String::from_utf8_lossy(out);
    let mut parts = text.splitn(3, '\0');
    let commit = CommitId::parse(parts.next()?.trim()).ok()?;
    let author = parts
        .next()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "<>");
    let message = parts.next().map(str::trim).filter(|m| !m.is_empty());
    Some(crate::git::HeadCommit {
        commit,
        message: message.map(|m| bounded(m, 64 * 1024)),
        author: author.map(|a| bounded(a, 1024)),
    })
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn bounded(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn a_normal_head() -> Result<(), crate::model::ValidationError> {
        let l = Listing::parse(&format!(
            "ref: refs/heads/main\tHEAD\n{A}\tHEAD\n{B}\trefs/heads/dev\n{A}\trefs/tags/x/HEAD\n"
        ));
        let c = l.check(None);
        assert_eq!(c.default_branch.as_ref().map(Branch::as_str), Some("main"));
        assert_eq!(c.head.as_ref().map(CommitId::as_str), Some(A));
        let dev = Branch::parse("dev")?;
        assert_eq!(
            l.check(Some(&dev)).head.as_ref().map(CommitId::as_str),
            Some(B)
        );
        let nope = Branch::parse("nope")?;
        assert!(!l.check(Some(&nope)).branch_exists);
        let branches: Vec<(String, String)> = l
            .branches()
            .into_iter()
            .map(|(b, c)| (b.to_string(), c.to_string()))
            .collect();
        let dev = vec![("dev".to_owned(), B.to_owned())];
        assert_eq!(branches, dev, "tags and HEAD are no branches");
        Ok(())
    }

    #[test]
    fn detached_empty_and_odd_heads_have_no_default_branch() {
        for out in [
            format!("{A}\tHEAD\n"),
            String::new(),
            format!("ref: refs/tags/v1\tHEAD\n{A}\tHEAD\n"),
            format!("ref: refs/heads/{}\tHEAD\n{A}\tHEAD\n", "x".repeat(300)),
            "garbage without tabs\n".to_owned(),
        ] {
            let c = Listing::parse(&out).check(None);
            assert_eq!(c.default_branch, None, "{out}");
            assert!(!c.branch_exists && c.head.is_none() && c.exists, "{out}");
        }
    }
}

/// The names of the files (`blob` entries, links and submodules left out) of a
/// `git ls-tree -z` listing: `<mode> <type> <oid>\t<name>\0` per entry.
pub(super) fn blob_names(out: &[u8]) -> Vec<String> {
    out.split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = std::str::from_utf8(entry).ok()?;
            let (meta, name) = entry.split_once('\t')?;
            let mut meta = meta.split(' ');
            let mode = meta.next()?;
            let kind = meta.next()?;
            // 100644 and 100755 are files; 120000 is a link, which detection does not follow.
            (kind == "blob" && mode != "120000").then(|| name.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tree_tests {
    use super::blob_names;

    #[test]
    fn only_files_are_named() {
        let out = b"100644 blob aa\tapp.py\x00040000 tree bb\tsrc\x00120000 blob cc\tlink.txt\x00100755 blob dd\trun me.sh\x00160000 commit ee\tsub\x00";
        assert_eq!(blob_names(out), ["app.py", "run me.sh"]);
        assert!(blob_names(b"").is_empty());
    }
}

#[cfg(test)]
mod commit_tests {
    use super::commit_info;

    const A: &str = "1111111111111111111111111111111111111111";

    #[test]
    fn id_author_and_message_are_read() {
        let out = format!("{A}\0Ada <ada@example.org>\0Subject\n\nBody line\n\n");
        let c = commit_info(out.as_bytes()).expect("a commit");
        assert_eq!(c.commit.as_str(), A);
        assert_eq!(c.author.as_deref(), Some("Ada <ada@example.org>"));
        assert_eq!(c.message.as_deref(), Some("Subject\n\nBody line"));
    }

    #[test]
    fn empty_parts_are_none_and_odd_bytes_are_replaced() {
        let mut out = format!("{A}\0 <>\0").into_bytes();
        assert_eq!(commit_info(&out).and_then(|c| c.author), None);
        out.extend(b"caf\xe9");
        let c = commit_info(&out).expect("a commit");
        assert_eq!(c.message.as_deref(), Some("caf\u{fffd}"));
        assert!(commit_info(b"not a commit\0a\0b").is_none());
        let long = format!("{A}\0a\0{}", "é".repeat(40_000));
        let c = commit_info(long.as_bytes()).expect("a commit");
        assert!(c.message.is_some_and(|m| m.len() <= 64 * 1024));
    }
}
