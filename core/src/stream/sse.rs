//! Incremental Server-Sent Events framing: feed bytes as they arrive, take
//! complete events out. Each event keeps its raw bytes so a passthrough relay
//! can forward it without re-encoding.

use bytes::{Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, if any.
    pub event: Option<Bytes>,
    /// The `data:` lines joined by `\n`.
    pub data: Bytes,
    /// The whole event as received, blank line included (added by
    /// [`Decoder::finish`] when the upstream ended without it).
    pub raw: Bytes,
}

#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    /// Where scanning resumes: everything before it holds no event end.
    scan_from: usize,
    /// Start of the line being scanned.
    line_start: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes received that do not yet form a complete event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete event, if one has arrived. Events without any
    /// `data:` line (comments, keep-alives) are returned too, with empty data.
    pub fn next_event(&mut self) -> Option<Event> {
        let end = self.find_event_end()?;
        let raw = self.buf.split_to(end).freeze();
        self.scan_from = 0;
        self.line_start = 0;
        Some(parse_event(raw))
    }

    /// What is left when the stream ends: a final event missing its blank line.
    pub fn finish(&mut self) -> Option<Event> {
        if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
            self.buf.clear();
            return None;
        }
        // The upstream ended without the blank line. A relay forwards `raw`
        // as it is, so the event is ended here, or the client would read it
        // glued to whatever the relay sends next (its own `[DONE]` or error).
        let mut raw = self.buf.split();
        while matches!(raw.last(), Some(b'\n' | b'\r')) {
            raw.truncate(raw.len() - 1);
        }
        raw.extend_from_slice(b"\n\n");
        self.scan_from = 0;
        self.line_start = 0;
        Some(parse_event(raw.freeze()))
    }

    /// Finds the end of the first event: a line terminator (`\n`, `\r\n` or `\r`)
    /// right after another one.
    fn find_event_end(&mut self) -> Option<usize> {
        let buf = &self.buf[..];
        let mut i = self.scan_from;
        while i < buf.len() {
            // Jump to the next line terminator: most bytes are line content.
            match memchr::memchr2(b'\n', b'\r', &buf[i..]) {
                Some(offset) => i += offset,
                None => {
                    i = buf.len();
                    break;
                }
            }
            let term_len = if buf[i] == b'\r' {
                match buf.get(i + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    // A trailing CR may be the first half of CRLF.
                    None => {
                        self.scan_from = i;
                        return None;
                    }
                }
            } else {
                1
            };
            let empty_line = i == self.line_start;
            i += term_len;
            self.line_start = i;
            // A blank line ends an event; leading blank lines before any field are skipped.
            if empty_line && i > term_len {
                return Some(i);
            }
        }
        self.scan_from = i;
        None
    }
}

fn parse_event(raw: Bytes) -> Event {
    let mut event = None;
    let mut data: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut pos = 0;
    let bytes = &raw[..];
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let line_len = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        let line = &rest[..line_len];
        let mut next = pos + line_len;
        if bytes.get(next) == Some(&b'\r') && bytes.get(next + 1) == Some(&b'\n') {
            next += 2;
        } else if next < bytes.len() {
            next += 1;
        }
        if !line.is_empty() && line[0] != b':' {
            let (name, value_start) = match line.iter().position(|&b| b == b':') {
                Some(c) => {
                    let skip = if line.get(c + 1) == Some(&b' ') { 2 } else { 1 };
                    (&line[..c], c + skip)
                }
                None => (line, line.len()),
            };
            let value = raw.slice(pos + value_start..pos + line_len);
            match name {
                b"data" => match (&mut joined, &data) {
                    (Some(j), _) => {
                        j.push(b'\n');
                        j.extend_from_slice(&value);
                    }
                    (None, Some(first)) => {
                        let mut j = first.to_vec();
                        j.push(b'\n');
                        j.extend_from_slice(&value);
                        joined = Some(j);
                    }
                    (None, None) => data = Some(value),
                },
                b"event" => event = Some(value),
                _ => {}
            }
        }
        pos = next;
    }
    let data = match joined {
        Some(j) => Bytes::from(j),
        None => data.unwrap_or_default(),
    };
    Event { event, data, raw }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[&[u8]]) -> Vec<Event> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in input {
            d.push(chunk);
            while let Some(e) = d.next_event() {
                out.push(e);
            }
        }
        out.extend(d.finish());
        out
    }

    #[test]
    fn splits_events_across_arbitrary_chunks() {
        let wire = b"data: {\"a\":1}\n\nevent: ping\ndata: x\n\ndata: [DONE]\n\n";
        for split in 1..wire.len() {
            let events = all(&[&wire[..split], &wire[split..]]);
            assert_eq!(events.len(), 3, "split at {split}");
            assert_eq!(&events[0].data[..], b"{\"a\":1}");
            assert_eq!(events[1].event.as_deref(), Some(&b"ping"[..]));
            assert_eq!(&events[2].data[..], b"[DONE]");
            assert_eq!(&events[0].raw[..], b"data: {\"a\":1}\n\n");
        }
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        let events = all(&[b"data: a\r\n\r\ndata: b\r\rdata: c\r\n", b"\r\n"]);
        let datas: Vec<&[u8]> = events.iter().map(|e| &e.data[..]).collect();
        assert_eq!(datas, vec![&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn multi_line_data_and_comments() {
        let events = all(&[b": keep-alive\n\ndata: one\ndata:two\n\n"]);
        assert_eq!(events.len(), 2);
        assert!(events[0].data.is_empty());
        assert_eq!(&events[1].data[..], b"one\ntwo");
    }

    #[test]
    fn unterminated_tail_is_returned_by_finish() {
        let mut d = Decoder::new();
        d.push(b"data: {\"partial\"");
        assert!(d.next_event().is_none());
        assert_eq!(d.pending(), 16);
        let e = d.finish().unwrap();
        assert_eq!(&e.data[..], b"{\"partial\"");
        assert!(d.finish().is_none());
    }
}
