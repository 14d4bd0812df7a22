//! A page of the user's repositories, newest update first, over however the host pages them.
//!
//! Expected flow: read the host's pages in order, keep the repositories that match the search,
//! stop once there are enough (only when the host answers newest first, as GitHub does with
//! `sort=updated`), or at the last page (Gitea lists by name: all its pages are read and sorted
//! here), or at [`GitHostsConfig::max_pages`](super::GitHostsConfig).
//!
//! Our cursor is the position in that ordered, filtered list; opaque to clients. A repository
//! updated between two pages moves to the front, so a client may see it twice or miss it, as
//! with any offset cursor over a list that changes.

use base64::Engine;

use super::{HostBranch, HostRepo, RepoHost};
use crate::error::Result;

/// A page of the ordered list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoPage {
    pub repos: Vec<HostRepo>,
    /// The position of the first repository of this page.
    pub offset: usize,
    pub has_next: bool,
}

const CURSOR_PREFIX: &str = "repos:";

/// The cursor after the repository at `position`.
pub fn cursor(position: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{position}"))
}

/// The position a cursor of [`cursor`] stands after; `None` for anything else.
pub fn position(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix(CURSOR_PREFIX)?
        .parse()
        .ok()
}

/// Whether `repo` matches a search: the words of `search` each in its name (or full name),
/// ignoring case.
pub fn matches(repo: &HostRepo, search: Option<&str>) -> bool {
    let Some(search) = search else {
        return true;
    };
    let name = repo.full_name.to_lowercase();
    search
        .split_whitespace()
        .all(|word| name.contains(&word.to_lowercase()))
}

/// Newest update first; ties by full name, so pages do not shuffle.
pub fn order(repos: &mut [HostRepo]) {
    repos.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.full_name.cmp(&b.full_name))
    });
}

/// Latest commit first; branches whose date is unknown last, by name.
pub fn order_branches(branches: &mut [HostBranch]) {
    branches.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// The `first` repositories after position `after` (`None`: from the start).
pub async fn page(
    host: &dyn RepoHost,
    search: Option<&str>,
    first: usize,
    after: Option<usize>,
    max_pages: usize,
) -> Result<RepoPage> {
    let offset = after.map_or(0, |a| a + 1);
    // One more than the page, to know whether there is a next one.
    let wanted = offset + first + 1;
    let mut found = Vec::new();
    let mut next: Option<String> = None;
    for read in 0..max_pages {
        let page = host.repos_page(next.as_deref()).await?;
        found.extend(page.repos.into_iter().filter(|r| matches(r, search)));
        next = page.next;
        if next.is_none() || (host.newest_first() && found.len() >= wanted) {
            break;
        }
        if read + 1 == max_pages {
            tracing::warn!(host = %host.kind(), max_pages, "repository listing cut at the page bound");
        }
    }
    order(&mut found);
    let has_next = found.len() > offset + first;
    let repos = found.into_iter().skip(offset).take(first).collect();
    Ok(RepoPage {
        repos,
        offset,
        has_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn repo(full: &str, day: u32) -> HostRepo {
        HostRepo {
            name: full.rsplit('/').next().unwrap_or(full).into(),
            full_name: full.into(),
            clone_url: format!("https://h/{full}.git"),
            private: false,
            default_branch: Some("main".into()),
            updated_at: Utc
                .with_ymd_and_hms(2026, 1, day, 0, 0, 0)
                .single()
                .expect("a date"),
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_strangers() {
        for p in [0, 1, 99, 12345] {
            assert_eq!(position(&cursor(p)), Some(p));
        }
        for bad in ["", "abc", "cmVwb3M6", "eDox", "repos:1"] {
            assert_eq!(position(bad), None, "{bad}");
        }
    }

    #[test]
    fn newest_first_ties_by_name() {
        let mut r = vec![repo("a/old", 1), repo("b/new", 9), repo("a/new", 9)];
        order(&mut r);
        let names: Vec<_> = r.iter().map(|r| r.full_name.as_str()).collect();
        assert_eq!(names, ["a/new", "b/new", "a/old"]);
    }

    #[test]
    fn branches_latest_commit_first_unknown_last() {
        let at = |d| Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).single();
        let b = |n: &str, t| HostBranch {
            name: n.into(),
            commit: "c".into(),
            updated_at: t,
        };
        let mut v = vec![b("x", None), b("old", at(1)), b("new", at(5)), b("a", None)];
        order_branches(&mut v);
        let names: Vec<_> = v.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["new", "old", "a", "x"]);
    }

    /// Pages of `per_page` out of `repos` in the order given; counts the pages read.
    struct Pages {
        repos: Vec<HostRepo>,
        per_page: usize,
        newest_first: bool,
        read: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl RepoHost for Pages {
        fn kind(&self) -> crate::model::GitHostKind {
            crate::model::GitHostKind::Gitea
        }
        fn newest_first(&self) -> bool {
            self.newest_first
        }
        async fn repos_page(&self, next: Option<&str>) -> Result<super::super::HostPage> {
            self.read.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let page: usize = next.map_or(Ok(0), str::parse).unwrap_or(0);
            let start = page * self.per_page;
            let end = (start + self.per_page).min(self.repos.len());
            Ok(super::super::HostPage {
                repos: self.repos[start..end].to_vec(),
                next: (end < self.repos.len()).then(|| (page + 1).to_string()),
            })
        }
        async fn branches(&self, _: &str) -> Result<Vec<HostBranch>> {
            Ok(Vec::new())
        }
    }

    fn pages(count: u32, newest_first: bool) -> Pages {
        let mut repos: Vec<HostRepo> = (1..=count)
            .map(|d| repo(&format!("o/r{d:02}"), d))
            .collect();
        if newest_first {
            order(&mut repos);
        }
        Pages {
            repos,
            per_page: 3,
            newest_first,
            read: 0.into(),
        }
    }

    fn full_names(page: &RepoPage) -> Vec<&str> {
        page.repos.iter().map(|r| r.full_name.as_str()).collect()
    }

    #[tokio::test]
    async fn a_host_in_any_order_is_read_whole_and_sorted() {
        let host = pages(10, false);
        let p = page(&host, None, 4, None, 20).await.expect("a page");
        assert_eq!(full_names(&p), ["o/r10", "o/r09", "o/r08", "o/r07"]);
        assert!(p.has_next);
        assert_eq!(host.read.load(std::sync::atomic::Ordering::SeqCst), 4);
        let p = page(&host, None, 4, Some(7), 20).await.expect("a page");
        assert_eq!(full_names(&p), ["o/r02", "o/r01"]);
        assert!(!p.has_next);
        assert_eq!(p.offset, 8);
    }

    #[tokio::test]
    async fn a_newest_first_host_is_read_only_as_far_as_needed() {
        let host = pages(10, true);
        let p = page(&host, None, 2, Some(1), 20).await.expect("a page");
        assert_eq!(full_names(&p), ["o/r08", "o/r07"]);
        assert!(p.has_next);
        // Five are needed (two skipped, two shown, one to know there is more): two pages.
        assert_eq!(host.read.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn listing_stops_at_the_page_bound() {
        let host = pages(10, false);
        let p = page(&host, Some("o/r"), 100, None, 2)
            .await
            .expect("a page");
        assert_eq!(p.repos.len(), 6);
        assert!(!p.has_next);
        assert_eq!(host.read.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn search_matches_every_word_in_the_full_name() {
        let r = repo("acme/Web-Shop", 1);
        assert!(matches(&r, None));
        assert!(matches(&r, Some("shop")));
        assert!(matches(&r, Some("acme web")));
        assert!(!matches(&r, Some("api")));
    }
}
