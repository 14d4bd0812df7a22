//! Allocation logs through `fs/logs`: the framed stream (JSON objects back to back, `Data` in
//! base64, `{}` heartbeats every second) parsed into lines.
//!
//! Nomad does not end a followed log when the task dies (hashicorp/nomad#18369), so the
//! allocation is watched with a blocking query; once it is over, what is still in flight is
//! read until the stream has been quiet for a moment, and the follower ends.

use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use paas_core::logs::{LineSplitter, LogStream};
use paas_core::runtime::OutputLine;
use paas_core::{Error, Result};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use super::api::{NomadApi, WAIT};
use super::job::TASK;

/// How long a finished allocation's log must be quiet before its follower ends.
const DRAIN: Duration = Duration::from_millis(1500);

/// One frame of the framed log stream.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Frame {
    #[serde(default)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub file_event: Option<String>,
}

/// Parses frames out of the bytes of the stream, keeping an unfinished frame for later.
#[derive(Debug, Default)]
pub struct FrameParser {
    buf: Vec<u8>,
}

impl FrameParser {
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut used = 0;
        let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Frame>();
        loop {
            match it.next() {
                Some(Ok(frame)) => {
                    frames.push(frame);
                    used = it.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => {
                    return Err(Error::runtime_from("unreadable Nomad log frame", e));
                }
                None => break,
            }
        }
        self.buf.drain(..used);
        Ok(frames)
    }
}

/// The bytes of a frame's `Data`.
pub fn data(frame: &Frame) -> Result<Vec<u8>> {
    match &frame.data {
        None => Ok(Vec::new()),
        Some(d) => base64::engine::general_purpose::STANDARD
            .decode(d)
            .map_err(|e| Error::runtime_from("Nomad log data is not base64", e)),
    }
}

/// Lines of one frame, with the byte offset (of complete lines) after them.
pub struct FrameLines {
    pub stream: LogStream,
    pub lines: Vec<OutputLine>,
    pub offset: u64,
}

fn kind(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stderr => "stderr",
        _ => "stdout",
    }
}

/// Sets `done` once the allocation is over or gone.
pub async fn watch_allocation(api: NomadApi, alloc: String, done: watch::Sender<bool>) {
    let mut index = 0;
    loop {
        match api.allocation(&alloc, index, WAIT).await {
            Ok(None) => break,
            Ok(Some((stub, next))) => {
                if stub.client_status.is_over() {
                    break;
                }
                index = next;
            }
            Err(e) => {
                tracing::debug!(%alloc, error = %e, "watching an allocation");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if done.is_closed() {
            return;
        }
    }
    let _ = done.send(true);
}

/// Follows one of the task's logs from `offset` until the allocation is over.
pub async fn follow(
    api: NomadApi,
    alloc: String,
    stream: LogStream,
    mut offset: u64,
    done: watch::Receiver<bool>,
    tx: mpsc::Sender<FrameLines>,
) {
    loop {
        let resp = match api
            .logs(&alloc, TASK, kind(stream), "start", offset, true)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // Not started yet (404), or Nomad away: try again, unless it is over.
                if *done.borrow() {
                    return;
                }
                tracing::debug!(%alloc, error = %e, "allocation logs not ready");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut body = resp.bytes_stream();
        let mut parser = FrameParser::default();
        let mut splitter = LineSplitter::default();
        let mut read = offset;
        let mut quiet_since = Instant::now();
        let mut done_since: Option<Instant> = None;
        let ended = loop {
            if *done.borrow() {
                // Lines written just before the end may still be on their way.
                let since = *done_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= DRAIN && quiet_since.elapsed() >= DRAIN {
                    break true;
                }
            }
            let chunk = match tokio::time::timeout(Duration::from_millis(250), body.next()).await {
                Err(_) => continue,
                Ok(None) | Ok(Some(Err(_))) => break *done.borrow(),
                Ok(Some(Ok(chunk))) => chunk,
            };
            let Ok(frames) = parser.push(&chunk) else {
                break false;
            };
            for frame in frames {
                let Ok(bytes) = data(&frame) else { continue };
                if bytes.is_empty() {
                    continue; // a heartbeat or a file event
                }
                quiet_since = Instant::now();
                read += bytes.len() as u64;
                let lines: Vec<OutputLine> = splitter
                    .push(&bytes)
                    .into_iter()
                    .map(|text| OutputLine {
                        stream,
                        text,
                        at: None,
                    })
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                offset = read - splitter.pending() as u64;
                if tx
                    .send(FrameLines {
                        stream,
                        lines,
                        offset,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        };
        if ended {
            if let Some(text) = splitter.finish() {
                let line = OutputLine {
                    stream,
                    text,
                    at: None,
                };
                let _ = tx
                    .send(FrameLines {
                        stream,
                        lines: vec![line],
                        offset: read,
                    })
                    .await;
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The last `lines` lines of the task's stdout and stderr (for exit reasons).
pub async fn tail(api: &NomadApi, alloc: &str, lines: usize) -> String {
    let mut out = Vec::new();
    for stream in [LogStream::Stdout, LogStream::Stderr] {
        let Ok(resp) = api
            .logs(alloc, TASK, kind(stream), "end", 16 * 1024, false)
            .await
        else {
            continue;
        };
        let Ok(body) = resp.bytes().await else {
            continue;
        };
        let Ok(frames) = FrameParser::default().push(&body) else {
            continue;
        };
        let mut bytes = Vec::new();
        for f in &frames {
            bytes.extend(data(f).unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.trim_end().lines().collect();
        out.extend(
            all[all.len().saturating_sub(lines)..]
                .iter()
                .map(|l| l.to_string()),
        );
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_back_to_back_and_cut_anywhere() {
        let hello = base64::engine::general_purpose::STANDARD.encode("hello\nwor");
        let stream = format!(
            r#"{{"Offset":9,"Data":"{hello}","File":"alloc/logs/app.stdout.0"}}{{}}{{"FileEvent":"file truncated"}}"#
        );
        let bytes = stream.as_bytes();
        let mut p = FrameParser::default();
        let first = p.push(&bytes[..20]).expect("parsed");
        assert!(first.is_empty(), "an unfinished frame waits");
        let rest = p.push(&bytes[20..]).expect("parsed");
        assert_eq!(rest.len(), 3);
        assert_eq!(data(&rest[0]).expect("base64"), b"hello\nwor");
        assert_eq!(rest[1], Frame::default());
        assert_eq!(rest[2].file_event.as_deref(), Some("file truncated"));
        assert!(p.push(b"{not json").is_err() || p.push(b"}").is_err());
    }
}
