//! Preview deployments: an app's settings for them ([`PreviewSettings`]), and what makes an app
//! a preview of another ([`PreviewOf`]: its parent and the branch or pull request it shows).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AppId, AppName, Branch, ValidationError};

/// The most previews an app may keep.
pub const MAX_PREVIEWS: u32 = 50;

/// How many previews an app keeps unless told otherwise.
pub const DEFAULT_MAX_PREVIEWS: u32 = 5;

/// Whether an app gets a preview app per branch and pull request, and how many it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewSettings {
    pub enabled: bool,
    /// Past it, the oldest preview is removed to make room (1 to [`MAX_PREVIEWS`]).
    pub max_previews: u32,
    /// Pull requests from forks get previews too: they run someone else's code with this
    /// app's env (its secrets), so off unless asked for.
    #[serde(default)]
    pub forks: bool,
}

impl Default for PreviewSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            max_previews: DEFAULT_MAX_PREVIEWS,
            forks: false,
        }
    }
}

impl PreviewSettings {
    /// Settings within bounds, or why not.
    pub fn new(enabled: bool, max_previews: i64, forks: bool) -> Result<Self, ValidationError> {
        let max = u32::try_from(max_previews)
            .ok()
            .filter(|m| (1..=MAX_PREVIEWS).contains(m))
            .ok_or_else(|| {
                ValidationError::Previews(format!(
                    "maxPreviews {max_previews} is not within 1 to {MAX_PREVIEWS}"
                ))
            })?;
        Ok(Self {
            enabled,
            max_previews: max,
            forks,
        })
    }
}

/// What a preview shows: a pushed branch, or a pull (merge) request by its number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PreviewKey {
    Branch(Branch),
    PullRequest(u64),
}

impl PreviewKey {
    /// As stored: `branch:<name>` or `pr:<number>`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(b) = s.strip_prefix("branch:") {
            return Branch::parse(b).ok().map(Self::Branch);
        }
        s.strip_prefix("pr:")?.parse().ok().map(Self::PullRequest)
    }

    /// The start of the preview's name: the branch made a DNS label, or `pr-<n>`.
    fn label(&self) -> String {
        match self {
            Self::PullRequest(n) => format!("pr-{n}"),
            Self::Branch(b) => {
                let mut label = String::new();
                for c in b.as_str().chars() {
                    let c = c.to_ascii_lowercase();
                    let keep = c.is_ascii_lowercase() || c.is_ascii_digit();
                    // Runs of anything else become one `-`.
                    if keep {
                        label.push(c);
                    } else if !label.ends_with('-') {
                        label.push('-');
                    }
                }
                let label = label.trim_matches('-');
                if label.is_empty() {
                    "branch".to_owned()
                } else {
                    label.to_owned()
                }
            }
        }
    }

    /// The preview app's name for `parent`: `<branch or pr-N>--<parent>`, cut to a DNS label
    /// with a short hash of the whole when it is too long (so two long branches stay apart).
    pub fn app_name(&self, parent: &AppName) -> AppName {
        let full = format!("{}--{parent}", self.label());
        if let Ok(name) = AppName::parse(&full) {
            return name;
        }
        let hash = hex::encode(Sha256::digest(format!("{self}/{parent}").as_bytes()));
        let cut: String = full.chars().take(63 - 7).collect();
        let name = format!("{}-{}", cut.trim_end_matches('-'), &hash[..6]);
        AppName::parse(&name).unwrap_or_else(|_| {
            // Unreachable: lowercase letters, digits and inner `-`, 63 bytes at most.
            AppName::parse(&format!("preview-{}", &hash[..12])).unwrap_or_else(|_| parent.clone())
        })
    }
}

impl fmt::Display for PreviewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Branch(b) => write!(f, "branch:{b}"),
            Self::PullRequest(n) => write!(f, "pr:{n}"),
        }
    }
}

/// What makes an app a preview: the app it previews and what of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewOf {
    pub parent: AppId,
    pub key: PreviewKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AppName {
        AppName::parse(s).expect("a name")
    }

    fn branch(s: &str) -> PreviewKey {
        PreviewKey::Branch(Branch::parse(s).expect("a branch"))
    }

    #[test]
    fn names_are_dns_labels() {
        let app = name("shop");
        assert_eq!(branch("feature").app_name(&app).as_str(), "feature--shop");
        assert_eq!(
            branch("Feature/Login_Form").app_name(&app).as_str(),
            "feature-login-form--shop"
        );
        assert_eq!(branch("__").app_name(&app).as_str(), "branch--shop");
        assert_eq!(
            PreviewKey::PullRequest(42).app_name(&app).as_str(),
            "pr-42--shop"
        );
    }

    #[test]
    fn long_names_are_cut_with_a_hash_that_keeps_them_apart() {
        let app = name("shop");
        let a = branch(&format!("{}-a", "x".repeat(80))).app_name(&app);
        let b = branch(&format!("{}-b", "x".repeat(80))).app_name(&app);
        assert!(a.as_str().len() <= 63 && b.as_str().len() <= 63);
        assert_ne!(a, b);
        let long_app = name(&"y".repeat(63));
        assert!(branch("main").app_name(&long_app).as_str().len() <= 63);
    }

    #[test]
    fn keys_read_back() {
        for key in [branch("a/b"), PreviewKey::PullRequest(7)] {
            assert_eq!(PreviewKey::parse(&key.to_string()), Some(key));
        }
        assert_eq!(PreviewKey::parse("pr:x"), None);
        assert_eq!(PreviewKey::parse("tag:v1"), None);
    }

    #[test]
    fn settings_are_bounded() {
        assert!(PreviewSettings::new(true, 0, false).is_err());
        assert!(PreviewSettings::new(true, 51, false).is_err());
        assert_eq!(
            PreviewSettings::new(true, 50, false)
                .ok()
                .map(|s| s.max_previews),
            Some(50)
        );
    }
}
