//! Incremental newline-delimited JSON framing (`application/x-ndjson`): feed
//! bytes as they arrive, take complete lines out. Blank lines are skipped and
//! a trailing `\r` is dropped, so CRLF senders work too.

use bytes::{Bytes, BytesMut};

#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    /// Bytes before this offset hold no `\n`: a long line arriving in many
    /// pieces is scanned once, not once per piece.
    scan_from: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes received that do not yet form a complete line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete, non-blank line, without its terminator.
    pub fn next_line(&mut self) -> Option<Bytes> {
        loop {
            let offset = self.buf[self.scan_from..].iter().position(|&b| b == b'\n');
            let Some(offset) = offset else {
                self.scan_from = self.buf.len();
                return None;
            };
            let end = self.scan_from + offset;
            let mut line = self.buf.split_to(end + 1);
            self.scan_from = 0;
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some(line.freeze());
            }
        }
    }

    /// What is left when the stream ends: a last line without its `\n`.
    pub fn finish(&mut self) -> Option<Bytes> {
        self.scan_from = 0;
        let rest = self.buf.split();
        let trimmed = rest.strip_suffix(b"\r").unwrap_or(&rest);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some(Bytes::copy_from_slice(trimmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for p in pieces {
            d.push(p);
            while let Some(line) = d.next_line() {
                out.push(line.to_vec());
            }
        }
        out.extend(d.finish().map(|b| b.to_vec()));
        out
    }

    #[test]
    fn splits_lines_across_arbitrary_chunks() {
        let wire = b"{\"a\":1}\n\n{\"b\":\"x\\ny\"}\r\n{\"c\":3}\n";
        for split in 0..=wire.len() {
            let lines = all(&[&wire[..split], &wire[split..]]);
            assert_eq!(
                lines,
                vec![
                    b"{\"a\":1}".to_vec(),
                    b"{\"b\":\"x\\ny\"}".to_vec(),
                    b"{\"c\":3}".to_vec()
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn byte_by_byte() {
        let wire = b"one\ntwo\n";
        let pieces: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(all(&pieces), vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn unterminated_last_line_comes_out_of_finish() {
        let mut d = Decoder::new();
        d.push(b"{\"done\":true}\n{\"partial\"");
        assert_eq!(d.next_line().as_deref(), Some(&b"{\"done\":true}"[..]));
        assert!(d.next_line().is_none());
        assert_eq!(d.pending(), 10);
        assert_eq!(d.finish().as_deref(), Some(&b"{\"partial\""[..]));
        assert!(d.finish().is_none());
    }

    #[test]
    fn blank_tail_is_nothing() {
        let mut d = Decoder::new();
        d.push(b"x\n \r\n\n  ");
        assert_eq!(d.next_line().as_deref(), Some(&b"x"[..]));
        assert!(d.next_line().is_none());
        assert!(d.finish().is_none());
    }
}
