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

/// Serves on `$PORT`, then dies with code 3 after a second: always, or (with `CRASH=once`) only
/// the first time.
pub fn crashing() -> String {
    PythonApp::new()
        .prelude(
            "def die():\n    time.sleep(1)\n    print(\"boom\", flush=True)\n    os._exit(3)\nif os.environ.get(\"CRASH\") != \"once\" or not os.path.exists(\"crashed-once\"):\n    open(\"crashed-once\", \"w\").close()\n    threading.Thread(target=die, daemon=True).start()",
        )
        .body("\"ok\"")
        .source()
}

/// Answers the content of `version.txt` (tells deployments apart).
pub fn versioned() -> String {
    PythonApp::new()
        .prelude("version = open(\"version.txt\").read().strip()")
        .body("version")
        .source()
}

/// An app that shows the router's tests what reached it, over HTTP/1.1 with keep-alive:
/// - every request is recorded (method, path, host) before its body is read, except the
///   test's own questions below; `GET /seen` answers the record as JSON;
/// - `/headers` answers the request's method, path, version, headers and the port of the
///   connection it came on (the router's side) as JSON;
/// - `POST /upload` reads the body (chunked or sized) as it comes, counting it (`GET
///   /progress` answers the count so far) and answers `{"bytes": n}`;
/// - `GET /stream` sends `first` at once, then `last` only after `GET /release`;
/// - `/once` on a connection that already served a request closes it without an answer (a
///   keep-alive connection the app closed as the next request arrived);
/// - anything else answers `hello`.
pub fn inspector() -> String {
    INSPECTOR.to_owned()
}

const INSPECTOR: &str = r#"import http.server, json, os, threading
seen, lock = [], threading.Lock()
progress = {"bytes": 0}
release = threading.Event()
OWN = ("/seen", "/progress", "/release")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        self.served = 0
    def take(self, left, total):
        # Reads `left` body bytes as they come, counting them in `progress`; None if the
        # client went away first.
        while left:
            got = self.rfile.read1(left) if hasattr(self.rfile, "read1") else self.rfile.read(left)
            if not got:
                self.close_connection = True
                return None
            left -= len(got)
            total += len(got)
            progress["bytes"] = total
        return total
    def answer(self, code, body, kind="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
    def any(self):
        self.served += 1
        if self.path.split("?")[0] not in OWN:
            with lock:
                seen.append({"method": self.command, "path": self.path, "host": self.headers.get("Host")})
        if self.path == "/once" and self.served > 1:
            self.close_connection = True
            return
        if self.path == "/seen":
            with lock:
                return self.answer(200, json.dumps(seen))
        if self.path == "/progress":
            return self.answer(200, json.dumps(progress))
        if self.path == "/release":
            release.set()
            return self.answer(200, "{}")
        if self.path == "/headers":
            headers = {}
            for k, v in self.headers.items():
                headers.setdefault(k.lower(), []).append(v)
            return self.answer(200, json.dumps({"method": self.command, "path": self.path, "version": self.request_version, "peer_port": self.client_address[1], "headers": headers}))
        if self.path == "/upload":
            total = 0
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    total = self.take(size, total)
                    if total is None:
                        return
                    self.rfile.readline()
            else:
                total = self.take(int(self.headers.get("Content-Length", "0")), total)
                if total is None:
                    return
            return self.answer(200, json.dumps({"bytes": total}))
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk(b"first\n")
            release.wait(60)
            self.chunk(b"last\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        return self.answer(200, "hello", "text/plain")
    do_GET = do_POST = do_PUT = do_DELETE = any
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H)
server.daemon_threads = True
server.serve_forever()
"#;

/// A Node app whose build step fails with a syntax error (the app's fault, never retried).
pub const BROKEN_BUILD: &[(&str, &str)] = &[(
    "package.json",
    r#"{ "name": "broken", "version": "1.0.0",
         "scripts": { "build": "echo 'SyntaxError: unexpected token in app.js' >&2; exit 2" } }"#,
)];

/// An app with a health endpoint: `GET /health` answers `ok`, or `500` with
/// `boom: database unreachable` once sick; `GET /toggle` makes it sick; it starts sick when the
/// file `sick` is in its checkout. Anything else answers the content of `version.txt`.
pub fn health() -> String {
    HEALTH.to_owned()
}

const HEALTH: &str = r#"import http.server, os
version = open("version.txt").read().strip()
state = {"sick": os.path.exists("sick")}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = 200, version
        if self.path == "/toggle":
            state["sick"], body = True, "sick now"
        elif self.path == "/health":
            code, body = (500, "boom: database unreachable") if state["sick"] else (200, "ok")
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H)
server.serve_forever()
"#;

#[cfg(test)]
mod tests {
    use super::PythonApp;

    /// Runs `app` as a plain python3 process in `dir` on a free port (no platform).
    fn run_here(
        app: &PythonApp,
        dir: &std::path::Path,
    ) -> anyhow::Result<(tokio::process::Child, u16)> {
        std::fs::write(dir.join("app.py"), app.source())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let python = tokio::process::Command::new("python3")
            .arg("app.py")
            .current_dir(dir)
            .env("PORT", port.to_string())
            .kill_on_drop(true)
            .spawn()?;
        Ok((python, port))
    }

    #[tokio::test]
    async fn the_app_serves_its_body() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let app = PythonApp::new()
            .prelude("n = 41")
            .body("str(n + 1)")
            .then("time.sleep(600)")
            .local_only();
        let (_python, port) = run_here(&app, dir.path())?;
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
        let (_python, port) = run_here(&app, dir.path())?;
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
