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
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.push(Self::text(std::mem::take(&mut self.partial)));
            } else {
                self.partial.push(b);
                if self.partial.len() >= MAX_LINE {
                    out.push(Self::text(std::mem::take(&mut self.partial)));
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

/// Reads the lines appended to a file since the last read. Its position counts only complete
/// lines, so a reader started again from it re-reads a line that was cut mid-write.
#[derive(Debug)]
pub struct FileTail {
    path: std::path::PathBuf,
    read: u64,
    splitter: LineSplitter,
}

impl FileTail {
    /// Reads `path` from byte `position` on.
    pub fn new(path: impl Into<std::path::PathBuf>, position: u64) -> Self {
        Self {
            path: path.into(),
            read: position,
            splitter: LineSplitter::default(),
        }
    }

    /// The complete lines written since the last call. A missing file has none yet.
    pub fn read(&mut self) -> std::io::Result<Vec<String>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        f.seek(SeekFrom::Start(self.read))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        self.read += buf.len() as u64;
        Ok(self.splitter.push(&buf))
    }

    /// The last line if it has no line end (when the writer is done).
    pub fn finish(&mut self) -> Option<String> {
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
}
