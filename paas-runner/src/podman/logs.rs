//! Following a container's output: Podman's logs endpoint with `follow` and `timestamps`,
//! demultiplexed into stdout and stderr, lines keeping Podman's own times, batched (512 lines or
//! 50 ms) for the store. The position is the last stored line's timestamp; a follower started
//! again asks Podman `since` then and skips what it already has.

use futures::StreamExt;
use futures::stream::BoxStream;
use paas_core::Result;
use paas_core::logs::{LogStream, LogTime};
use paas_core::runtime::{OutputBatch, OutputLine};
use podman_api::conn::TtyChunk;
use podman_api::opts::ContainerLogsOpts;

use super::{Podman, platform, status};

/// Followed output is stored in batches of at most this many lines, or what came within
/// [`BATCH_WAIT`].
const BATCH_LINES: usize = 512;
const BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Follows container `instance` from `position` until it stops.
pub fn follow(
    podman: Podman,
    instance: &str,
    position: Option<String>,
) -> BoxStream<'static, Result<OutputBatch>> {
    let after = position.as_deref().and_then(|p| p.parse::<LogTime>().ok());
    let (tx, rx) = tokio::sync::mpsc::channel(4 * BATCH_LINES);
    tokio::spawn(follow_container(podman, instance.to_owned(), after, tx));
    let mut last = after;
    let batches = tokio_stream::StreamExt::chunks_timeout(
        tokio_stream::wrappers::ReceiverStream::new(rx),
        BATCH_LINES,
        BATCH_WAIT,
    );
    batches
        .map(move |chunk| {
            let mut lines = Vec::with_capacity(chunk.len());
            for line in chunk {
                let line = line?;
                last = line.at.or(last);
                lines.push(line);
            }
            let position = last.map(|t| t.to_string()).unwrap_or_default();
            Ok(OutputBatch { lines, position })
        })
        .boxed()
}

/// Splits a record of `podman logs --timestamps` into its time and its text.
fn timestamped(record: &[u8]) -> (Option<LogTime>, &[u8]) {
    let Some(space) = record.iter().position(|b| *b == b' ') else {
        return (None, record);
    };
    match std::str::from_utf8(&record[..space])
        .ok()
        .and_then(|t| t.parse::<LogTime>().ok())
    {
        Some(at) => (Some(at), &record[space + 1..]),
        None => (None, record),
    }
}

/// Lines of one stream of a container's log, read with timestamps. Each record Podman sends
/// starts with its timestamp; a line the program wrote in parts comes as several records (the
/// first ones without a line end), which are joined, the line keeping its first record's time.
#[derive(Default)]
struct Records {
    partial: Vec<u8>,
    at: Option<LogTime>,
}

impl Records {
    fn push(&mut self, frame: &[u8]) -> Vec<(Option<LogTime>, String)> {
        let mut lines = Vec::new();
        for record in frame.split_inclusive(|b| *b == b'\n') {
            let (at, body) = timestamped(record);
            if self.partial.is_empty() {
                self.at = at;
            }
            match body.strip_suffix(b"\n") {
                Some(end) => {
                    self.partial.extend_from_slice(end);
                    lines.push(self.take());
                }
                None => {
                    self.partial.extend_from_slice(body);
                    if self.partial.len() >= paas_core::logs::MAX_LINE {
                        lines.push(self.take());
                    }
                }
            }
        }
        lines
    }

    fn take(&mut self) -> (Option<LogTime>, String) {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        (self.at.take(), String::from_utf8_lossy(&bytes).into_owned())
    }

    fn finish(&mut self) -> Option<(Option<LogTime>, String)> {
        (!self.partial.is_empty()).then(|| self.take())
    }
}

/// Reads a container's log (Podman's logs endpoint, following, with timestamps) into lines,
/// skipping those at or before `after` (already stored).
async fn follow_container(
    podman: Podman,
    id: String,
    after: Option<LogTime>,
    tx: tokio::sync::mpsc::Sender<Result<OutputLine>>,
) {
    let mut opts = ContainerLogsOpts::builder()
        .stdout(true)
        .stderr(true)
        .follow(true)
        .timestamps(true);
    if let Some(after) = after {
        opts = opts.since(after.to_string());
    }
    let opts = opts.build();
    let container = podman.containers().get(&id);
    let mut logs = container.logs(&opts);
    let (mut out, mut err) = (Records::default(), Records::default());
    let emit = |stream: LogStream, lines: Vec<(Option<LogTime>, String)>| {
        lines
            .into_iter()
            .filter(|(at, _)| !at.is_some_and(|at| after.is_some_and(|a| at <= a)))
            .map(|(at, text)| OutputLine { stream, text, at })
            .collect::<Vec<_>>()
    };
    while let Some(chunk) = logs.next().await {
        let lines = match chunk {
            Ok(TtyChunk::StdOut(b)) => emit(LogStream::Stdout, out.push(&b)),
            Ok(TtyChunk::StdErr(b)) => emit(LogStream::Stderr, err.push(&b)),
            Ok(TtyChunk::StdIn(_)) => Vec::new(),
            Err(e) if status(&e) == Some(404) => break,
            Err(e) => {
                let _ = tx.send(Err(platform(&podman, "logs", e))).await;
                return;
            }
        };
        for line in lines {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
    }
    let rest = [
        (LogStream::Stdout, out.finish()),
        (LogStream::Stderr, err.finish()),
    ];
    for (stream, line) in rest {
        for line in emit(stream, line.into_iter().collect()) {
            let _ = tx.send(Ok(line)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Records;

    #[test]
    fn a_line_written_in_parts_is_one_line_with_its_first_time() {
        let mut r = Records::default();
        assert!(r.push(b"2026-11-23T17:57:19Z out 0").is_empty());
        let lines = r.push(
            b"2026-11-23T17:57:19.5Z \n2026-11-23T17:57:20Z out 1\n2026-11-23T17:57:21Z tail",
        );
        let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["out 0", "out 1"]);
        assert_eq!(
            lines[0].0.map(|t| t.to_string()).as_deref(),
            Some("2026-11-23T17:57:19.000000000Z")
        );
        let last = r.finish().map(|(_, t)| t);
        assert_eq!(last.as_deref(), Some("tail"));
    }
}
