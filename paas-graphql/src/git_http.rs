//! `git push` over smart HTTP: `GET /git/<app>.git/info/refs?service=git-receive-pack` and
//! `POST /git/<app>.git/git-receive-pack`, with the user's API token as the basic-auth password
//! (any user name). `git receive-pack --stateless-rpc` stores the push in the app's repository
//! (see `paas_core`'s `git_push` flow); the deploy it starts is told back to the pusher as
//! `remote:` lines (side-band progress) until it runs or fails.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use paas_core::flow::{PushDeploy, PushTarget, RefUpdate};
use paas_core::model::{AppName, Secret, User};
use paas_core::{Error, Platform};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::server::AppState;

/// How long one push may take to be received (its deploy is followed beyond).
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(serde::Deserialize)]
pub(crate) struct Service {
    service: Option<String>,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

fn unauthorized() -> Response {
    let mut r = plain(StatusCode::UNAUTHORIZED, "a paas API token is the password");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"paas\""),
    );
    r
}

/// The basic-auth password, whatever the user name.
fn password(headers: &HeaderMap) -> Option<Secret> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, pass) = text.split_once(':')?;
    (!pass.is_empty()).then(|| Secret::new(pass))
}

/// The pusher and where the push goes, or the answer that refuses it.
async fn target(
    platform: &Platform,
    headers: &HeaderMap,
    repo: &str,
) -> Result<(User, PushTarget), Response> {
    let Some(token) = password(headers) else {
        return Err(unauthorized());
    };
    let user = match crate::auth::authenticate(platform, &token).await {
        Ok(u) => u,
        Err(Error::Unauthenticated) => return Err(unauthorized()),
        Err(e) => return Err(plain(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())),
    };
    let not_found = || plain(StatusCode::NOT_FOUND, "no such application");
    let name =
        AppName::parse(repo.strip_suffix(".git").unwrap_or(repo)).map_err(|_| not_found())?;
    match platform.push_target(&user, &name).await {
        Ok(t) => Ok((user, t)),
        Err(Error::NotFound(_)) => Err(not_found()),
        Err(e) => Err(plain(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())),
    }
}

fn pkt(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:04x}", data.len() + 4).into_bytes();
    out.extend_from_slice(data);
    out
}

/// `GET /git/{repo}/info/refs?service=git-receive-pack`: the refs a push starts from.
pub(crate) async fn info_refs(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    Query(q): Query<Service>,
    headers: HeaderMap,
) -> Response {
    if q.service.as_deref() != Some("git-receive-pack") {
        return plain(StatusCode::FORBIDDEN, "this repository takes pushes only");
    }
    let (_, target) = match target(&state.platform, &headers, &repo).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let dir = match state.platform.open_push_repository(target.name()).await {
        Ok(d) => d,
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let out = Command::new("git")
        .args(["receive-pack", "--stateless-rpc", "--advertise-refs"])
        .arg(&dir)
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => {
            let mut body = pkt(b"# service=git-receive-pack\n");
            body.extend_from_slice(b"0000");
            body.extend_from_slice(&o.stdout);
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/x-git-receive-pack-advertisement",
                    ),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response()
        }
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR, "git receive-pack failed"),
    }
}

/// The ref updates at the head of a receive-pack request, and whether it asked for side-band.
fn commands(head: &[u8]) -> Option<(Vec<RefUpdate>, bool)> {
    let mut at = 0;
    let mut updates = Vec::new();
    let mut sideband = false;
    loop {
        let len =
            usize::from_str_radix(std::str::from_utf8(head.get(at..at + 4)?).ok()?, 16).ok()?;
        if len == 0 {
            return Some((updates, sideband));
        }
        let line = head.get(at + 4..at + len)?;
        at += len;
        let (cmd, caps) = match line.iter().position(|b| *b == 0) {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        if String::from_utf8_lossy(caps).contains("side-band") {
            sideband = true;
        }
        let text = String::from_utf8_lossy(cmd);
        let mut parts = text.trim_end().splitn(3, ' ');
        if let (Some(old), Some(new), Some(refname)) = (parts.next(), parts.next(), parts.next()) {
            updates.push(RefUpdate {
                old: old.into(),
                new: new.into(),
                refname: refname.into(),
            });
        }
    }
}

/// `POST /git/{repo}/git-receive-pack`: stores the push, then streams its deploy.
pub(crate) async fn receive_pack(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let platform = state.platform.clone();
    let (user, target) = match target(&platform, &headers, &repo).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if headers.contains_key(header::CONTENT_ENCODING) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the pack uncompressed",
        );
    }
    let dir = match platform.open_push_repository(target.name()).await {
        Ok(d) => d,
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let max = platform.config().git_push.max_body;
    let received = tokio::time::timeout(RECEIVE_TIMEOUT, receive(&dir, body, max)).await;
    let (out, head) = match received {
        Ok(Ok(r)) => r,
        Ok(Err(r)) => return r,
        Err(_) => return plain(StatusCode::REQUEST_TIMEOUT, "the push took too long"),
    };
    let Some((updates, sideband)) = commands(&head) else {
        return plain(StatusCode::BAD_REQUEST, "not a receive-pack request");
    };
    // What was stored: only the updates whose ref now points at the pushed commit.
    let mut stored = Vec::new();
    for u in updates {
        let now = Command::new("git")
            .arg("--git-dir")
            .arg(&dir)
            .args(["rev-parse", "--verify", "--quiet", &u.refname])
            .output()
            .await
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        let deleted = u.new.bytes().all(|b| b == b'0');
        if now.as_deref() == Some(u.new.as_str()) || (deleted && now.as_deref() == Some("")) {
            stored.push(u);
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(256);
    tokio::spawn(follow_deploy(platform, user, target, stored, tx));
    let mut first = out;
    // The trailing flush ends the side-band stream: the deploy's lines go before it.
    if sideband && first.ends_with(b"0000") {
        first.truncate(first.len() - 4);
    }
    let progress = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |line| {
        let mut data = vec![2u8];
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(if sideband { pkt(&data) } else { Vec::new() }))
    });
    let tail = futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from_static(if sideband { b"0000" } else { b"" }))
    });
    let stream = futures::stream::once(async move { Ok(Bytes::from(first)) })
        .chain(progress)
        .chain(tail);
    (
        [
            (
                header::CONTENT_TYPE,
                "application/x-git-receive-pack-result",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Runs `git receive-pack` on the request body (at most `max` bytes); answers its output and
/// the first bytes of the request (its commands).
async fn receive(
    dir: &std::path::Path,
    body: Body,
    max: u64,
) -> Result<(Vec<u8>, Vec<u8>), Response> {
    let failed = |e: std::io::Error| plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    let mut child = Command::new("git")
        .args(["receive-pack", "--stateless-rpc"])
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(failed)?;
    let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(plain(StatusCode::INTERNAL_SERVER_ERROR, "no pipes to git"));
    };
    let feed = async move {
        let mut head = Vec::new();
        let mut total = 0u64;
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| plain(StatusCode::BAD_REQUEST, &e.to_string()))?;
            total += chunk.len() as u64;
            if total > max {
                return Err(plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("a push may send at most {max} bytes"),
                ));
            }
            if head.len() < 65536 {
                head.extend_from_slice(&chunk[..chunk.len().min(65536 - head.len())]);
            }
            if stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
        drop(stdin);
        Ok(head)
    };
    let read = async move {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).await.map(|_| out)
    };
    let (head, out) = tokio::join!(feed, read);
    let head = head?;
    let out = out.map_err(failed)?;
    let status = child.wait().await.map_err(failed)?;
    if !status.success() && out.is_empty() {
        return Err(plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "git receive-pack failed",
        ));
    }
    Ok((out, head))
}

/// Deploys what the push stored and sends the pusher its progress.
async fn follow_deploy(
    platform: Platform,
    user: User,
    target: PushTarget,
    updates: Vec<RefUpdate>,
    tx: tokio::sync::mpsc::Sender<String>,
) {
    let created = matches!(target, PushTarget::New(_));
    let name = target.name().clone();
    let deploy = platform.deploy_git_push(&user, target, &updates).await;
    let (app, deployment) = match deploy {
        Ok(PushDeploy::Deploying {
            app,
            deployment,
            forced,
        }) => {
            let _ = tx
                .send(format!(
                    "paas: {} {name}{}, deployment {deployment}",
                    if created { "created" } else { "deploying" },
                    if forced { " (forced update)" } else { "" },
                ))
                .await;
            (app, deployment)
        }
        Ok(PushDeploy::Nothing(why)) => {
            let _ = tx.send(format!("paas: nothing deployed: {why}")).await;
            return;
        }
        Err(e) => {
            let _ = tx.send(format!("paas: deploy FAILED: {e}")).await;
            return;
        }
    };
    match platform.push_progress(&user, deployment).await {
        Ok(mut lines) => {
            while let Some(line) = lines.next().await {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
            let _ = tx
                .send(format!("paas: {} is at {}", app.name, app.id))
                .await;
        }
        Err(e) => {
            let _ = tx.send(format!("paas: cannot follow the build: {e}")).await;
        }
    }
}
