//! Bytes into lines: a splitter for streams (runtime output) and a reader of growing files
//! (build logs, local processes' output).

/// Splits a stream of bytes into lines. A line longer than `max` is cut into pieces; a
/// carriage return at the end of a line is dropped; invalid UTF-8 is replaced.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

/// The longest line kept whole.
pub const MAX_LINE: usize = 16 * 1024;

impl LineSplitter {
    /// The complete lines in what was read so far.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let line = if self.partial.is_empty() {
                        window[..end].to_vec()
                    } else {
                        self.partial.extend_from_slice(&window[..end]);
                        std::mem::take(&mut self.partial)
                    };
                    out.push(Self::text(line));
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.partial.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.partial.len() >= MAX_LINE {
                        out.push(Self::text(std::mem::take(&mut self.partial)));
                    }
                }
            }
        }
        out
    }

    /// What is left without a line end (at the end of the source).
    pub fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| Self::text(std::mem::take(&mut self.partial)))
    }

    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    fn text(mut bytes: Vec<u8>) -> String {
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The most a [`FileTail`] reads at once: a fast writer's output is stored in batches of about
/// this size, so its first lines reach the log's followers after one small batch's store, not
/// after everything it wrote meanwhile.
pub const READ_AT_MOST: u64 = 128 * 1024;

/// Reads the lines appended to a file since the last read. Its position counts only complete
/// lines, so a reader started again from it re-reads a line that was cut mid-write.
#[derive(Debug)]
pub struct FileTail {
    path: std::path::PathBuf,
    read: u64,
    splitter: LineSplitter,
    /// The last read stopped at [`READ_AT_MOST`]: more may be waiting.
    more: bool,
}

impl FileTail {
    /// Reads `path` from byte `position` on.
    pub fn new(path: impl Into<std::path::PathBuf>, position: u64) -> Self {
        Self {
            path: path.into(),
            read: position,
            splitter: LineSplitter::default(),
            more: false,
        }
    }

    /// The complete lines written since the last call, at most [`READ_AT_MOST`] bytes of them
    /// ([`FileTail::more`] says whether it stopped there). A missing file has none yet.
    pub fn read(&mut self) -> std::io::Result<Vec<String>> {
        use std::io::{Read, Seek, SeekFrom};
        self.more = false;
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        f.seek(SeekFrom::Start(self.read))?;
        let mut buf = Vec::new();
        f.take(READ_AT_MOST).read_to_end(&mut buf)?;
        self.read += buf.len() as u64;
        self.more = buf.len() as u64 == READ_AT_MOST;
        Ok(self.splitter.push(&buf))
    }

    /// Whether the last read stopped at [`READ_AT_MOST`] (read again at once).
    pub fn more(&self) -> bool {
        self.more
    }

    /// The last line if it has no line end (when the writer is done and everything was read:
    /// nothing while [`FileTail::more`]).
    pub fn finish(&mut self) -> Option<String> {
        if self.more {
            return None;
        }
        self.splitter.finish()
    }

    /// Where the complete lines end: a new `FileTail` from here goes on after them.
    pub fn position(&self) -> u64 {
        self.read - self.splitter.pending() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_keeps_partial_lines_until_their_end() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"one\ntw"), vec!["one"]);
        assert_eq!(s.push(b"o\r\nthree"), vec!["two"]);
        assert_eq!(s.finish().as_deref(), Some("three"));
        assert_eq!(s.finish(), None);
        let long = vec![b'x'; MAX_LINE + 10];
        let lines = s.push(&long);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(s.pending(), 10);
        assert_eq!(s.push(&[0xff, b'\n']), vec!["xxxxxxxxxx\u{fffd}"]);
    }

    #[test]
    fn a_file_is_read_in_bounded_pieces_and_whole_in_the_end() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.log");
        let line = "a line of a fast writer's output, of some length\n";
        let count = 2 * READ_AT_MOST as usize / line.len() + 10;
        std::fs::write(&path, format!("{}unfinished", line.repeat(count)))?;
        let mut tail = FileTail::new(&path, 0);
        let mut lines = Vec::new();
        let mut reads = 0;
        loop {
            let got = tail.read()?;
            reads += 1;
            assert!(got.len() as u64 <= READ_AT_MOST / line.len() as u64 + 1);
            lines.extend(got);
            if !tail.more() {
                break;
            }
            assert_eq!(
                tail.finish(),
                None,
                "nothing unfinished while more is waiting"
            );
        }
        assert_eq!(reads, 3);
        assert_eq!(lines.len(), count);
        assert!(lines.iter().all(|l| format!("{l}\n") == line));
        assert_eq!(tail.position(), (count * line.len()) as u64);
        assert_eq!(tail.finish().as_deref(), Some("unfinished"));
        Ok(())
    }
}
