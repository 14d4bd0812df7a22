//! The apps the tests deploy: one small Python HTTP server, varied by what it does before it
//! serves, what it answers and what it does while it serves. Only the standard library, so it
//! runs as a local process and in the Python base image alike.

/// A Python app serving `GET` on `0.0.0.0:$PORT` (reachable through a container's published
/// port too), quiet about requests.
///
/// ```
/// let app = paas_tests::apps::PythonApp::new().body("'v1'").source();
/// assert!(app.contains("int(os.environ[\"PORT\"])"));
/// ```
#[derive(Clone, Debug)]
pub struct PythonApp {
    prelude: String,
    body: String,
    then: Option<String>,
    host: &'static str,
}

impl Default for PythonApp {
    fn default() -> Self {
        Self::new()
    }
}

impl PythonApp {
    /// Answers `$GREETING`, or `hello`.
    pub fn new() -> Self {
        Self {
            prelude: String::new(),
            body: "os.environ.get(\"GREETING\", \"hello\")".into(),
            then: None,
            host: "0.0.0.0",
        }
    }

    /// Python run once before the server starts (after the imports: `os`, `sys`, `threading`,
    /// `time`, `http.server`).
    pub fn prelude(mut self, code: &str) -> Self {
        self.prelude.push_str(code);
        if !code.ends_with('\n') {
            self.prelude.push('\n');
        }
        self
    }

    /// A Python expression (a `str`) answered to every request, evaluated per request.
    pub fn body(mut self, expression: &str) -> Self {
        self.body = expression.into();
        self
    }

    /// Python run in the main thread while the server serves from another.
    pub fn then(mut self, code: &str) -> Self {
        self.then = Some(code.into());
        self
    }

    /// Listens on `127.0.0.1` only.
    pub fn local_only(mut self) -> Self {
        self.host = "127.0.0.1";
        self
    }

    /// The program, as `app.py`.
    pub fn source(&self) -> String {
        let serve = match &self.then {
            None => "server.serve_forever()\n".to_owned(),
            Some(code) => format!(
                "threading.Thread(target=server.serve_forever, daemon=True).start()\n{code}\n"
            ),
        };
        format!(
            r#"import http.server, os, sys, threading, time
{prelude}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ({body}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("{host}", int(os.environ["PORT"])), H)
{serve}"#,
            prelude = self.prelude,
            body = self.body,
            host = self.host,
        )
    }
}

/// Answers `$GREETING` (or `hello`).
pub fn hello() -> String {
    PythonApp::new().source()
}

/// Answers the content of `version.txt` (tells deployments apart).
pub fn versioned() -> String {
    PythonApp::new()
        .prelude("version = open(\"version.txt\").read().strip()")
        .body("version")
        .source()
}

/// A Node app whose build step fails with a syntax error (the app's fault, never retried).
pub const BROKEN_BUILD: &[(&str, &str)] = &[(
    "package.json",
    r#"{ "name": "broken", "version": "1.0.0",
         "scripts": { "build": "echo 'SyntaxError: unexpected token in app.js' >&2; exit 2" } }"#,
)];

#[cfg(test)]
mod tests {
    use super::PythonApp;

    #[tokio::test]
    async fn the_app_serves_its_body() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let app = PythonApp::new()
            .prelude("n = 41")
            .body("str(n + 1)")
            .then("time.sleep(600)")
            .local_only();
        std::fs::write(dir.path().join("app.py"), app.source())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let _python = tokio::process::Command::new("python3")
            .arg("app.py")
            .current_dir(dir.path())
            .env("PORT", port.to_string())
            .kill_on_drop(true)
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}/");
        let body = crate::eventually(std::time::Duration::from_secs(10), || async {
            Ok(match reqwest::get(&url).await {
                Ok(r) => Some(r.text().await?),
                Err(_) => None,
            })
        })
        .await?;
        assert_eq!(body, "42");
        Ok(())
    }
}
