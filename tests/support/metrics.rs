//! `GET /metrics` read as a Prometheus scraper reads it: the text format parsed strictly (every
//! sample of a declared family, label values unescaped, histogram buckets cumulative), and
//! values looked up by name and labels.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail, ensure};

/// A series' labels but `le`, in order.
type Labels = Vec<(String, String)>;

/// One sample: `name{labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// Family name → type (`counter`, `gauge`, `histogram`, `summary`, `untyped`).
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Parses the text format (version 0.0.4).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut scrape = Scrape::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('#') {
                let mut words = rest.split_whitespace();
                if words.next() == Some("TYPE") {
                    let name = words.next().context("TYPE without a name")?;
                    let ty = words.next().context("TYPE without a type")?;
                    ensure!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                        "line {}: unknown type {ty}",
                        i + 1
                    );
                    let before = scrape.types.insert(name.to_owned(), ty.to_owned());
                    ensure!(before.is_none(), "line {}: {name} typed twice", i + 1);
                }
                continue;
            }
            let sample = sample(line).with_context(|| format!("line {}: {line}", i + 1))?;
            let family = family_of(&sample.name, &scrape.types);
            ensure!(
                scrape.types.contains_key(&family),
                "line {}: {} has no TYPE line before it",
                i + 1,
                sample.name
            );
            scrape.samples.push(sample);
        }
        scrape.check_histograms()?;
        Ok(scrape)
    }

    /// The sum of the samples named `name` whose labels include `labels` (0 when none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// Whether some sample named `name` has `labels`.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_some()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// Every histogram's buckets grow with `le`, end at `+Inf`, which equals `_count`.
    fn check_histograms(&self) -> anyhow::Result<()> {
        for (family, ty) in &self.types {
            if ty != "histogram" {
                continue;
            }
            let bucket = format!("{family}_bucket");
            let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self.samples.iter().filter(|s| s.name == bucket) {
                let le = s.labels.get("le").context("a bucket without le")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse()?
                };
                let rest = s
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "le")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                series.entry(rest).or_default().push((le, s.value));
            }
            for (labels, mut buckets) in series {
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                ensure!(
                    buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                    "{family}{labels:?}: buckets are not cumulative"
                );
                let (last_le, last) = buckets.last().copied().unwrap_or_default();
                ensure!(last_le.is_infinite(), "{family}{labels:?}: no +Inf bucket");
                let refs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let count = self.value(&format!("{family}_count"), &refs);
                ensure!(
                    count == last,
                    "{family}{labels:?}: +Inf {last} but count {count}"
                );
            }
        }
        Ok(())
    }
}

/// The family a sample belongs to (`x_bucket` → `x` when `x` is a histogram).
fn family_of(name: &str, types: &HashMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base.to_owned();
        }
    }
    name.to_owned()
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn sample(line: &str) -> anyhow::Result<Sample> {
    let name_end = line.find(['{', ' ']).context("a sample without a value")?;
    let name = &line[..name_end];
    ensure!(valid_name(name), "bad metric name {name:?}");
    let mut labels = BTreeMap::new();
    let rest = &line[name_end..];
    let Some(inner) = rest.strip_prefix('{') else {
        return finish(name, labels, rest);
    };
    // Labels: `key="value"` separated by commas (one may end the list), then `}`.
    let chars: Vec<char> = inner.chars().collect();
    let mut at = 0;
    loop {
        match chars.get(at) {
            Some('}') => {
                at += 1;
                break;
            }
            Some(_) => {}
            None => bail!("unterminated labels"),
        }
        let eq = chars[at..]
            .iter()
            .position(|c| *c == '=')
            .context("a label without =")?
            + at;
        let key: String = chars[at..eq].iter().collect();
        ensure!(valid_name(&key), "bad label name {key:?}");
        ensure!(chars.get(eq + 1) == Some(&'"'), "an unquoted label value");
        let mut value = String::new();
        at = eq + 2;
        loop {
            match *chars.get(at).context("unterminated label value")? {
                '\\' => {
                    value.push(match *chars.get(at + 1).context("a dangling escape")? {
                        'n' => '\n',
                        '\\' => '\\',
                        '"' => '"',
                        other => bail!("bad escape \\{other}"),
                    });
                    at += 2;
                }
                '"' => {
                    at += 1;
                    break;
                }
                c => {
                    value.push(c);
                    at += 1;
                }
            }
        }
        ensure!(labels.insert(key, value).is_none(), "a label given twice");
        match chars.get(at) {
            Some(',') => at += 1,
            Some('}') => {}
            _ => bail!("labels not separated by a comma"),
        }
    }
    let rest: String = chars[at..].iter().collect();
    finish(name, labels, &rest)
}

fn finish(name: &str, labels: BTreeMap<String, String>, rest: &str) -> anyhow::Result<Sample> {
    let mut parts = rest.split_whitespace();
    let value = parts.next().context("a sample without a value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().with_context(|| format!("bad value {v:?}"))?,
    };
    if let Some(ts) = parts.next() {
        ts.parse::<i64>().context("bad timestamp")?;
    }
    ensure!(parts.next().is_none(), "text after the value");
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}
