//! "Did you mean": the closest known name to a misspelt one, when it is close.

/// ` (did you mean `x`?)` when a known name is close, else nothing.
pub(super) fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 6))
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance (names are short: the quadratic table is nothing).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_far_ones_not() {
        let known = ["redis_prefix", "redis_url", "lock_wait_secs"];
        assert_eq!(
            did_you_mean("redis_prefx", known.into_iter()),
            " (did you mean `redis_prefix`?)"
        );
        assert_eq!(did_you_mean("colour", known.into_iter()), "");
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
