use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// How an app is built and started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Language {
    Rust,
    Go,
    Node,
    Python,
    /// A site of static files served as they are.
    Static,
    /// The repository brings its own Containerfile or Dockerfile.
    Containerfile,
}

impl Language {
    pub const ALL: [Language; 6] = [
        Language::Rust,
        Language::Go,
        Language::Node,
        Language::Python,
        Language::Static,
        Language::Containerfile,
    ];

    /// Detects the language from the files at the top of a checkout.
    ///
    /// A Containerfile/Dockerfile wins, because a repository that ships one states how it wants
    /// to be built; then the language manifests; `index.html` last, since many apps also have one.
    pub fn detect(dir: &Path) -> Option<Language> {
        Self::detect_by(|f| dir.join(f).is_file(), || has_python_file(dir))
    }

    /// [`Language::detect`] from the names of the files at the top of a tree (as a look at a
    /// remote branch gives them, before any checkout).
    pub fn detect_in<S: AsRef<str>>(files: &[S]) -> Option<Language> {
        let has = |f: &str| files.iter().any(|n| n.as_ref() == f);
        Self::detect_by(has, || {
            files
                .iter()
                .any(|n| Path::new(n.as_ref()).extension().is_some_and(|x| x == "py"))
        })
    }

    fn detect_by(
        has: impl Fn(&str) -> bool,
        python_file: impl FnOnce() -> bool,
    ) -> Option<Language> {
        if has("Containerfile") || has("Dockerfile") {
            Some(Language::Containerfile)
        } else if has("Cargo.toml") {
            Some(Language::Rust)
        } else if has("go.mod") {
            Some(Language::Go)
        } else if has("package.json") {
            Some(Language::Node)
        } else if has("requirements.txt") || has("pyproject.toml") || python_file() {
            Some(Language::Python)
        } else if has("index.html") {
            Some(Language::Static)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "RUST",
            Language::Go => "GO",
            Language::Node => "NODE",
            Language::Python => "PYTHON",
            Language::Static => "STATIC",
            Language::Containerfile => "CONTAINERFILE",
        }
    }
}

fn has_python_file(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "py") && e.path().is_file())
    })
}

impl FromStr for Language {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.to_ascii_uppercase();
        match upper.as_str() {
            "DOCKERFILE" => Ok(Language::Containerfile),
            _ => Language::ALL
                .into_iter()
                .find(|l| l.as_str() == upper)
                .ok_or_else(|| {
                    ValidationError::Language(format!(
                        "{} is not a known language",
                        super::validation::quote(s)
                    ))
                }),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `Procfile` of a checkout: its `web:` line overrides the language's start command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Procfile {
    pub web: Option<String>,
}

impl Procfile {
    /// Reads `Procfile` from a checkout; a missing file is an empty Procfile.
    pub fn read(dir: &Path) -> std::io::Result<Procfile> {
        match std::fs::read_to_string(dir.join("Procfile")) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    pub fn parse(text: &str) -> Procfile {
        let web = text.lines().find_map(|line| {
            let (kind, cmd) = line.split_once(':')?;
            (kind.trim() == "web" && !cmd.trim().is_empty()).then(|| cmd.trim().to_owned())
        });
        Procfile { web }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        for f in files {
            std::fs::write(d.path().join(f), "x").expect("write");
        }
        d
    }

    #[test]
    fn detection_table() {
        let cases: &[(&[&str], Option<Language>)] = &[
            (&["Cargo.toml"], Some(Language::Rust)),
            (&["go.mod"], Some(Language::Go)),
            (&["package.json", "index.html"], Some(Language::Node)),
            (&["requirements.txt"], Some(Language::Python)),
            (&["pyproject.toml"], Some(Language::Python)),
            (&["app.py"], Some(Language::Python)),
            (&["index.html"], Some(Language::Static)),
            (
                &["Dockerfile", "package.json"],
                Some(Language::Containerfile),
            ),
            (&["Containerfile"], Some(Language::Containerfile)),
            (&["README.md"], None),
        ];
        for (files, want) in cases {
            let d = dir_with(files);
            assert_eq!(Language::detect(d.path()), *want, "{files:?}");
            assert_eq!(Language::detect_in(files), *want, "names {files:?}");
        }
    }

    #[test]
    fn procfile_web_line() {
        let p = Procfile::parse("release: ./migrate\nweb: python3 app.py --port $PORT\n");
        assert_eq!(p.web.as_deref(), Some("python3 app.py --port $PORT"));
        assert_eq!(Procfile::parse("worker: x").web, None);
    }

    #[test]
    fn names_parse() {
        assert_eq!("python".parse::<Language>(), Ok(Language::Python));
        assert_eq!(
            "Dockerfile".parse::<Language>(),
            Ok(Language::Containerfile)
        );
        assert!("cobol".parse::<Language>().is_err());
    }
}
