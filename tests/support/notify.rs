//! What receives the platform's notifications in the tests: a real SMTP server (Debian's
//! `aiosmtpd`, writing each message into a maildir) and an HTTP receiver for notification
//! webhooks that can be told to fail its first deliveries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::eventually;

/// A free TCP port on 127.0.0.1 (bound and released: nothing listens on it afterwards).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A mail as received: its recipient, subject and decoded text.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// `aiosmtpd` on a port of its own (plain SMTP), killed on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

/// Reads a maildir's messages (by their keys, which start with the time received) as JSON, decoded by Python's `email` package.
const READ_MAILDIR: &str = r#"
import email, email.policy, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
out = []
for key in sorted(box.keys()):
    with box.get_file(key) as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    out.append({"to": str(m["To"]), "subject": str(m["Subject"]), "body": m.get_body().get_content()})
print(json.dumps(out))
"#;

impl SmtpServer {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let maildir = dir.path().join("maildir");
        let port = free_port()?;
        let child = Command::new("aiosmtpd")
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "aiosmtpd (Debian's python3-aiosmtpd, scripts/setup-services.sh): {e}"
                )
            })?;
        eventually(Duration::from_secs(20), || async {
            Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
                .then_some(()))
        })
        .await?;
        Ok(Self {
            child,
            port,
            maildir,
            _dir: dir,
        })
    }

    /// The `smtp_url` of this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message received so far.
    pub async fn mails(&self) -> anyhow::Result<Vec<ReceivedMail>> {
        if !self.maildir.join("new").exists() {
            return Ok(Vec::new());
        }
        let out = Command::new("python3")
            .args(["-c", READ_MAILDIR])
            .arg(&self.maildir)
            .output()
            .await?;
        anyhow::ensure!(
            out.status.success(),
            "reading the maildir: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all: Vec<Value> = serde_json::from_slice(&out.stdout)?;
        let field = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_owned();
        Ok(all
            .iter()
            .map(|m| ReceivedMail {
                to: field(m, "to"),
                subject: field(m, "subject"),
                body: field(m, "body"),
            })
            .collect())
    }

    /// Waits until at least `n` messages arrived; returns them all.
    pub async fn until_mails(&self, n: usize) -> anyhow::Result<Vec<ReceivedMail>> {
        eventually(Duration::from_secs(60), || async {
            let mails = self.mails().await?;
            Ok((mails.len() >= n).then_some(mails))
        })
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct ReceivedPost {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status it was answered.
    pub answered: u16,
}

#[derive(Default)]
struct ReceiverState {
    posts: Mutex<Vec<ReceivedPost>>,
    /// How many of the first posts are answered 500.
    fail_first: usize,
}

/// An HTTP server taking notification webhook POSTs on `/hook`.
pub struct WebhookReceiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut posts = state.posts.lock().unwrap_or_else(|p| p.into_inner());
    let status = if posts.len() < state.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    posts.push(ReceivedPost {
        headers,
        body,
        answered: status.as_u16(),
    });
    status
}

impl WebhookReceiver {
    /// A receiver answering 500 to its first `fail_first` posts, 200 after.
    pub async fn start(fail_first: usize) -> anyhow::Result<Self> {
        let state = Arc::new(ReceiverState {
            posts: Mutex::default(),
            fail_first,
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn posts(&self) -> Vec<ReceivedPost> {
        self.state
            .posts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until at least `n` posts arrived.
    pub async fn until_posts(&self, n: usize) -> anyhow::Result<Vec<ReceivedPost>> {
        eventually(Duration::from_secs(60), || async {
            let posts = self.posts();
            Ok((posts.len() >= n).then_some(posts))
        })
        .await
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A post's body as JSON.
pub fn json_of(post: &ReceivedPost) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(&post.body)?)
}
