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
    /// Websocket upgrade requests are answered with an echo (every message sent back).
    websocket: bool,
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
            websocket: false,
        }
    }

    /// Answers `GET` like [`PythonApp::new`], and a websocket upgrade with an echo: each text or
    /// binary message comes back as it was sent (pings get pongs, a close is returned).
    pub fn websocket_echo() -> Self {
        Self::new().websocket()
    }

    /// Adds the websocket echo to this app ([`PythonApp::websocket_echo`]).
    pub fn websocket(mut self) -> Self {
        self.websocket = true;
        self
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
        let websocket = if self.websocket { WEBSOCKET_ECHO } else { "" };
        format!(
            r#"import http.server, os, sys, threading, time
{prelude}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
{websocket}        body = ({body}).encode()
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
            websocket = websocket,
        )
    }
}

/// The start of `do_GET` of an app with [`PythonApp::websocket`]: the handshake
/// (`base64(sha1(key + GUID))`), then frames read (masked, from the client) and written back
/// unmasked until a close or the end of the socket. Standard library only.
const WEBSOCKET_ECHO: &str = r#"        if self.headers.get("Upgrade", "").lower() == "websocket":
            import base64, hashlib, struct
            key = self.headers["Sec-WebSocket-Key"].strip()
            accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
            self.wfile.flush()
            self.close_connection = True
            def read(n):
                data = b""
                while len(data) < n:
                    chunk = self.rfile.read(n - len(data))
                    if not chunk:
                        raise EOFError
                    data += chunk
                return data
            def send(opcode, payload):
                head = bytes([0x80 | opcode])
                if len(payload) < 126:
                    head += bytes([len(payload)])
                elif len(payload) < 65536:
                    head += bytes([126]) + struct.pack("!H", len(payload))
                else:
                    head += bytes([127]) + struct.pack("!Q", len(payload))
                self.wfile.write(head + payload)
                self.wfile.flush()
            try:
                while True:
                    b0, b1 = read(2)
                    opcode, length = b0 & 0x0F, b1 & 0x7F
                    if length == 126:
                        length = struct.unpack("!H", read(2))[0]
                    elif length == 127:
                        length = struct.unpack("!Q", read(8))[0]
                    mask = read(4) if b1 & 0x80 else b"\0\0\0\0"
                    payload = bytes(c ^ mask[i % 4] for i, c in enumerate(read(length)))
                    if opcode == 8:
                        send(8, payload[:2])
                        return
                    if opcode == 9:
                        send(10, payload)
                    elif opcode in (1, 2):
                        send(opcode, payload)
            except (EOFError, ConnectionError, OSError):
                return
"#;

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

    #[tokio::test]
    async fn the_websocket_echo_answers_messages() -> anyhow::Result<()> {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let dir = tempfile::tempdir()?;
        let app = PythonApp::websocket_echo().local_only();
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
        let url = format!("ws://127.0.0.1:{port}/");
        let mut ws = crate::eventually(std::time::Duration::from_secs(10), || async {
            Ok(tokio_tungstenite::connect_async(url.as_str()).await.ok())
        })
        .await?
        .0;
        let big = "x".repeat(70_000);
        for text in ["one", "two", big.as_str()] {
            ws.send(Message::text(text)).await?;
            match ws.next().await {
                Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), text),
                other => anyhow::bail!("no echo: {other:?}"),
            }
        }
        ws.close(None).await?;
        Ok(())
    }
}
