//! The `Link` header (RFC 8288) GitHub and Gitea page their lists with:
//! `<https://api.github.com/user/repos?page=2>; rel="next", <…?page=5>; rel="last"`.

/// The target of the link whose `rel` names `rel` (a `rel` may list several, space-separated),
/// or `None`. Malformed parts are skipped, never guessed at.
pub fn find(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        // The parameters run up to the next link, which starts with `<` after a comma.
        let end = after.find('<').unwrap_or(after.len());
        let params = &after[..end];
        if params.split(';').any(|p| names_rel(p, rel)) {
            return Some(target.trim().to_owned());
        }
        rest = &after[end..];
    }
}

/// Whether one `name=value` parameter is `rel` and lists `rel`.
fn names_rel(param: &str, rel: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    if !name.trim().eq_ignore_ascii_case("rel") {
        return false;
    }
    let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
    value
        .split_ascii_whitespace()
        .any(|r| r.eq_ignore_ascii_case(rel))
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn githubs_header() {
        let h = r#"<https://api.github.com/user/repos?sort=updated&per_page=2&page=2>; rel="next", <https://api.github.com/user/repos?sort=updated&per_page=2&page=5>; rel="last""#;
        assert_eq!(
            find(h, "next").as_deref(),
            Some("https://api.github.com/user/repos?sort=updated&per_page=2&page=2")
        );
        assert_eq!(
            find(h, "last").as_deref(),
            Some("https://api.github.com/user/repos?sort=updated&per_page=2&page=5")
        );
        assert_eq!(find(h, "prev"), None);
    }

    #[test]
    fn last_page_has_no_next() {
        let h = r#"<https://api.github.com/user/repos?page=1>; rel="prev", <https://api.github.com/user/repos?page=1>; rel="first""#;
        assert_eq!(find(h, "next"), None);
    }

    #[test]
    fn order_spacing_and_shared_rels() {
        let h = r#"<http://g/x?page=3>;rel=last,<http://g/x?page=2>; title="n"; rel="prev next""#;
        assert_eq!(find(h, "next").as_deref(), Some("http://g/x?page=2"));
        assert_eq!(find(h, "last").as_deref(), Some("http://g/x?page=3"));
    }

    #[test]
    fn malformed_headers_find_nothing() {
        for h in [
            "",
            "rel=\"next\"",
            "<http://x; rel=\"next\"",
            "http://x>; rel=next",
        ] {
            assert_eq!(find(h, "next"), None, "{h}");
        }
    }
}
