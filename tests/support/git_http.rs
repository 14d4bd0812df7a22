//! A git server for tests: git's own `git http-backend` (smart HTTP) behind a small Python CGI
//! bridge that demands HTTP basic auth with one token as the password (or, started with
//! [`PrivateGitServer::start_public`], serves anyone).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BRIDGE: &str = r#"
import base64, http.server, os, subprocess, sys
root, token = sys.argv[1], sys.argv[2]

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.cgi()

    def do_POST(self):
        self.cgi()

    def authorised(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return password == token

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def cgi(self):
        body = self.body()
        if token and not self.authorised():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   REQUEST_METHOD=self.command, QUERY_STRING=query, REMOTE_USER="paas",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
        head, _, rest = out.partition(sep)
        status, headers = 200, []
        for line in head.decode().splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A running private git server; stopped on drop.
pub struct PrivateGitServer {
    _child: Child,
    port: u16,
}

impl PrivateGitServer {
    /// Serves the repositories under `root` (e.g. `root/app.git`) to clients giving `token`.
    pub async fn start(root: &Path, token: &str) -> anyhow::Result<Self> {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(BRIDGE)
            .arg(root)
            .arg(token)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let line = tokio::time::timeout(
            Duration::from_secs(10),
            BufReader::new(stdout).lines().next_line(),
        )
        .await
        .context("the git server did not start")??
        .context("the git server exited")?;
        Ok(Self {
            _child: child,
            port: line.trim().parse()?,
        })
    }

    /// Serves the repositories under `root` to anyone, without credentials.
    pub async fn start_public(root: &Path) -> anyhow::Result<Self> {
        Self::start(root, "").await
    }

    /// URL of a repository directory under the root.
    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}
