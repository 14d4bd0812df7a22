//! Containerfiles the builder writes for each language: a build stage where the language
//! compiles, a run stage from a small base, a non-root user, the start command (Procfile `web:`
//! or the language default) run by `sh -c` so `$PORT` expands, and `EXPOSE` of the app's port.

use std::path::Path;

use paas_core::model::Language;
use paas_core::{Error, Result};

/// The user apps run as inside their containers: not root, and numeric so no base image needs
/// a passwd entry for it.
pub const APP_UID: u32 = 10001;

/// Base images per language. The defaults name the usual public images; offline installs and
/// tests point them at locally built ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseImages {
    pub rust_build: String,
    pub go_build: String,
    /// Run stage of compiled languages (Rust, Go): needs `/bin/sh` and libc.
    pub native_run: String,
    pub node: String,
    pub python: String,
    /// Serves static sites with busybox `httpd`.
    pub static_site: String,
}

impl Default for BaseImages {
    fn default() -> Self {
        Self {
            rust_build: "docker.io/library/rust:1-slim-bookworm".into(),
            go_build: "docker.io/library/golang:1-bookworm".into(),
            native_run: "docker.io/library/debian:bookworm-slim".into(),
            node: "docker.io/library/node:22-bookworm-slim".into(),
            python: "docker.io/library/python:3.12-slim-bookworm".into(),
            static_site: "docker.io/library/busybox:stable".into(),
        }
    }
}

/// `CMD` running `command` with a shell, as JSON (exec form, so signals reach the shell).
fn shell_cmd(command: &str) -> String {
    let quoted = serde_json::to_string(command).unwrap_or_else(|_| "\"false\"".into());
    format!("CMD [\"/bin/sh\", \"-c\", {quoted}]")
}

/// The run-stage lines every generated Containerfile ends with.
fn run_tail(port: u16, command: &str) -> String {
    format!(
        "ENV PORT={port}\nEXPOSE {port}\nUSER {APP_UID}\n{}\n",
        shell_cmd(&format!("exec {command}"))
    )
}

/// The Containerfile for `language`, or `None` for a repository that brings its own.
///
/// `start` is the Procfile's `web:` command, if any; `dir` is the checkout (to find the Rust
/// binary's name and the Python entry file).
pub fn generate(
    language: Language,
    images: &BaseImages,
    dir: &Path,
    port: u16,
    start: Option<&str>,
) -> Result<Option<String>> {
    let missing = |what: &str| {
        Error::BuildFailed(format!(
            "no start command for this {language} app ({what}): add a Procfile with a `web:` line"
        ))
    };
    let text = match language {
        Language::Containerfile => return Ok(None),
        Language::Python => {
            let start = match start {
                Some(s) => s.to_owned(),
                None => crate::local::python_entry(dir)
                    .map(|f| format!("python3 {f}"))
                    .ok_or_else(|| missing("no app.py, main.py or server.py"))?,
            };
            format!(
                "FROM {base}\nWORKDIR /app\nCOPY --chown={APP_UID} . /app\n\
                 RUN if [ -f requirements.txt ]; then python3 -m pip install --no-cache-dir -r requirements.txt; fi\n{tail}",
                base = images.python,
                tail = run_tail(port, &start)
            )
        }
        Language::Node => format!(
            "FROM {base} AS build\nWORKDIR /app\nCOPY . /app\n\
             RUN npm install --no-audit --no-fund && npm run build --if-present\n\
             FROM {base}\nWORKDIR /app\nCOPY --from=build --chown={APP_UID} /app /app\n{tail}",
            base = images.node,
            tail = run_tail(port, start.unwrap_or("npm start"))
        ),
        Language::Go => format!(
            "FROM {build} AS build\nWORKDIR /src\nCOPY . /src\n\
             RUN CGO_ENABLED=0 go build -o /out/app .\n\
             FROM {run}\nWORKDIR /app\nCOPY --from=build /out/app /app/app\n{tail}",
            build = images.go_build,
            run = images.native_run,
            tail = run_tail(port, start.unwrap_or("/app/app"))
        ),
        Language::Rust => {
            let bin = crate::local::rust_binary(dir)
                .ok_or_else(|| missing("no package name in Cargo.toml"))?;
            format!(
                "FROM {build} AS build\nWORKDIR /src\nCOPY . /src\nRUN cargo build --release\n\
                 FROM {run}\nWORKDIR /app\nCOPY --from=build /src/target/release/{bin} /app/{bin}\n{tail}",
                build = images.rust_build,
                run = images.native_run,
                tail = run_tail(
                    port,
                    start
                        .map_or_else(|| format!("/app/{bin}"), str::to_owned)
                        .as_str()
                )
            )
        }
        Language::Static => format!(
            "FROM {base}\nCOPY --chown={APP_UID} . /www\n{tail}",
            base = images.static_site,
            tail = run_tail(port, start.unwrap_or("httpd -f -p \"$PORT\" -h /www"))
        ),
    };
    Ok(Some(text))
}

/// The repository's own Containerfile (or Dockerfile), relative to the checkout.
pub fn own(dir: &Path) -> Option<&'static str> {
    ["Containerfile", "Dockerfile"]
        .into_iter()
        .find(|f| dir.join(f).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        for (f, c) in files {
            std::fs::write(d.path().join(f), c).expect("write");
        }
        d
    }

    #[test]
    fn python_runs_as_non_root_with_port_and_start() {
        let d = dir_with(&[("main.py", "")]);
        let text = generate(
            Language::Python,
            &BaseImages::default(),
            d.path(),
            8080,
            None,
        )
        .expect("generated")
        .expect("some");
        assert!(text.starts_with("FROM docker.io/library/python"), "{text}");
        assert!(
            text.contains("EXPOSE 8080\n") && text.contains("ENV PORT=8080\n"),
            "{text}"
        );
        assert!(text.contains(&format!("USER {APP_UID}\n")), "{text}");
        assert!(
            text.ends_with("CMD [\"/bin/sh\", \"-c\", \"exec python3 main.py\"]\n"),
            "{text}"
        );
    }

    #[test]
    fn procfile_start_is_quoted_as_json() {
        let d = dir_with(&[("app.py", "")]);
        let text = generate(
            Language::Python,
            &BaseImages::default(),
            d.path(),
            5000,
            Some("gunicorn -b \"0.0.0.0:$PORT\" app"),
        )
        .expect("generated")
        .expect("some");
        assert!(
            text.contains(r#"CMD ["/bin/sh", "-c", "exec gunicorn -b \"0.0.0.0:$PORT\" app"]"#),
            "{text}"
        );
    }

    #[test]
    fn compiled_languages_have_two_stages() {
        let d = dir_with(&[(
            "Cargo.toml",
            "[package]\nname = \"web\"\nversion = \"0.1.0\"\n",
        )]);
        let text = generate(Language::Rust, &BaseImages::default(), d.path(), 3000, None)
            .expect("generated")
            .expect("some");
        assert_eq!(text.matches("FROM ").count(), 2, "{text}");
        assert!(text.contains("/src/target/release/web /app/web"), "{text}");
        let go = generate(Language::Go, &BaseImages::default(), d.path(), 3000, None)
            .expect("generated")
            .expect("some");
        assert_eq!(go.matches("FROM ").count(), 2, "{go}");
    }

    #[test]
    fn own_containerfile_is_used_as_is() {
        let d = dir_with(&[("Dockerfile", "FROM scratch")]);
        assert_eq!(own(d.path()), Some("Dockerfile"));
        assert_eq!(
            generate(
                Language::Containerfile,
                &BaseImages::default(),
                d.path(),
                80,
                None
            )
            .ok(),
            Some(None)
        );
    }

    #[test]
    fn python_without_entry_needs_a_procfile() {
        let d = dir_with(&[("lib.py", "")]);
        let r = generate(Language::Python, &BaseImages::default(), d.path(), 80, None);
        assert!(matches!(r, Err(Error::BuildFailed(m)) if m.contains("Procfile")));
    }
}
