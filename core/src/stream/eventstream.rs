//! AWS event stream framing (`application/vnd.amazon.eventstream`), the binary
//! format of Bedrock's ConverseStream and every other AWS streaming API.
//!
//! A message is `total_len:u32 headers_len:u32 prelude_crc:u32 headers payload
//! message_crc:u32`, big-endian, both CRCs CRC-32 (IEEE): the prelude one over
//! the first 8 bytes, the message one over everything before it. Bytes arrive
//! split anywhere; [`FrameDecoder`] buffers until a whole message is there and
//! hands it out borrowed, without copying headers or payload.

mod crc32;

use std::fmt;

const PRELUDE_LEN: usize = 12;
const CRC_LEN: usize = 4;
/// The smallest message: a prelude and a message CRC, nothing else.
const MIN_MESSAGE_LEN: usize = PRELUDE_LEN + CRC_LEN;
/// The protocol's own limits (the AWS SDKs refuse larger messages too).
const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
const MAX_HEADERS_LEN: usize = 128 * 1024;

/// Why a byte sequence is not a valid event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    PreludeChecksum {
        expected: u32,
        computed: u32,
    },
    MessageChecksum {
        expected: u32,
        computed: u32,
    },
    /// The prelude announces a length the protocol does not allow.
    BadLength {
        total: u32,
        headers: u32,
    },
    /// The headers block does not parse (truncated, unknown value type, bad UTF-8).
    BadHeader(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::PreludeChecksum { expected, computed } => write!(
                f,
                "Prelude checksum mismatch (expected {expected:#010x}, computed {computed:#010x})"
            ),
            FrameError::MessageChecksum { expected, computed } => write!(
                f,
                "Message checksum mismatch (expected {expected:#010x}, computed {computed:#010x})"
            ),
            FrameError::BadLength { total, headers } => write!(
                f,
                "Invalid message length (total {total} bytes, headers {headers} bytes)"
            ),
            FrameError::BadHeader(why) => write!(f, "Invalid message header: {why}"),
        }
    }
}

/// A header value, by the wire type tags 0..=9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Bytes(&'a [u8]),
    String(&'a str),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// One decoded message, borrowing the decoder's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    headers: &'a [u8],
    pub payload: &'a [u8],
    pub prelude_crc: u32,
    pub message_crc: u32,
}

impl<'a> Frame<'a> {
    /// The headers in wire order (already validated when the frame was decoded).
    pub fn headers(&self) -> Headers<'a> {
        Headers { rest: self.headers }
    }

    /// A string header's value, e.g. `:event-type`.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.headers().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s),
            _ => None,
        })
    }

    /// The length of the message on the wire.
    pub fn total_len(&self) -> usize {
        PRELUDE_LEN + self.headers.len() + self.payload.len() + CRC_LEN
    }

    pub fn headers_len(&self) -> usize {
        self.headers.len()
    }
}

/// Iterates over a validated headers block.
pub struct Headers<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, HeaderValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_header(self.rest) {
            Ok((name, value, rest)) => {
                self.rest = rest;
                Some((name, value))
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

fn take(buf: &[u8], n: usize) -> Result<(&[u8], &[u8]), FrameError> {
    if buf.len() < n {
        return Err(FrameError::BadHeader("truncated"));
    }
    Ok(buf.split_at(n))
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// One header off the front of `buf`: name, value and what follows.
fn parse_header(buf: &[u8]) -> Result<(&str, HeaderValue<'_>, &[u8]), FrameError> {
    let (len, rest) = take(buf, 1)?;
    let (name, rest) = take(rest, usize::from(len[0]))?;
    let name = std::str::from_utf8(name).map_err(|_| FrameError::BadHeader("name is not UTF-8"))?;
    if name.is_empty() {
        return Err(FrameError::BadHeader("empty name"));
    }
    let (tag, rest) = take(rest, 1)?;
    let (value, rest) = match tag[0] {
        0 => (HeaderValue::Bool(true), rest),
        1 => (HeaderValue::Bool(false), rest),
        2 => {
            let (b, rest) = take(rest, 1)?;
            (HeaderValue::Byte(b[0] as i8), rest)
        }
        3 => {
            let (b, rest) = take(rest, 2)?;
            (HeaderValue::Int16(be_u16(b) as i16), rest)
        }
        4 => {
            let (b, rest) = take(rest, 4)?;
            (HeaderValue::Int32(be_u32(b) as i32), rest)
        }
        5 => {
            let (b, rest) = take(rest, 8)?;
            (HeaderValue::Int64(be_i64(b)), rest)
        }
        6 | 7 => {
            let (len, rest) = take(rest, 2)?;
            let (bytes, rest) = take(rest, usize::from(be_u16(len)))?;
            if tag[0] == 6 {
                (HeaderValue::Bytes(bytes), rest)
            } else {
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| FrameError::BadHeader("string value is not UTF-8"))?;
                (HeaderValue::String(s), rest)
            }
        }
        8 => {
            let (b, rest) = take(rest, 8)?;
            (HeaderValue::Timestamp(be_i64(b)), rest)
        }
        9 => {
            let (b, rest) = take(rest, 16)?;
            let mut uuid = [0u8; 16];
            uuid.copy_from_slice(b);
            (HeaderValue::Uuid(uuid), rest)
        }
        _ => return Err(FrameError::BadHeader("unknown value type")),
    };
    Ok((name, value, rest))
}

/// Incremental decoder: push bytes as they come, take whole frames out.
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the first byte not yet handed out as part of a frame.
    pos: usize,
}

impl FrameDecoder {
    pub fn new() -> Self {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            // Frames already handed out are no longer borrowed: reclaim their space.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next complete frame, `None` when more bytes are needed. After an
    /// error the stream is unusable: framing cannot be recovered.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let avail = &self.buf[self.pos..];
        if avail.len() < PRELUDE_LEN {
            return Ok(None);
        }
        let total = be_u32(&avail[0..4]);
        let headers_len = be_u32(&avail[4..8]);
        let expected = be_u32(&avail[8..12]);
        let computed = crc32::hash(&avail[0..8]);
        // The lengths are only trusted once the prelude checksum vouches for them.
        if expected != computed {
            return Err(FrameError::PreludeChecksum { expected, computed });
        }
        let (total_us, headers_us) = (total as usize, headers_len as usize);
        if !(MIN_MESSAGE_LEN..=MAX_MESSAGE_LEN).contains(&total_us)
            || headers_us > MAX_HEADERS_LEN
            || headers_us > total_us - MIN_MESSAGE_LEN
        {
            return Err(FrameError::BadLength {
                total,
                headers: headers_len,
            });
        }
        if avail.len() < total_us {
            return Ok(None);
        }
        let message = &avail[..total_us];
        let crc_at = total_us - CRC_LEN;
        let expected = be_u32(&message[crc_at..]);
        let computed = crc32::hash(&message[..crc_at]);
        if expected != computed {
            return Err(FrameError::MessageChecksum { expected, computed });
        }
        let headers = &message[PRELUDE_LEN..PRELUDE_LEN + headers_us];
        let mut rest = headers;
        while !rest.is_empty() {
            rest = parse_header(rest)?.2;
        }
        let prelude_crc = be_u32(&message[8..12]);
        self.pos += total_us;
        Ok(Some(Frame {
            headers,
            payload: &message[PRELUDE_LEN + headers_us..crc_at],
            prelude_crc,
            message_crc: expected,
        }))
    }
}

/// Encodes one message (tests, benches and the fleet's counterpart use this).
pub fn encode_frame(headers: &[(&str, HeaderValue<'_>)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        match value {
            HeaderValue::Bool(true) => h.push(0),
            HeaderValue::Bool(false) => h.push(1),
            HeaderValue::Byte(v) => {
                h.push(2);
                h.push(*v as u8);
            }
            HeaderValue::Int16(v) => {
                h.push(3);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int32(v) => {
                h.push(4);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int64(v) => {
                h.push(5);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Bytes(b) => {
                h.push(6);
                h.extend_from_slice(&(b.len() as u16).to_be_bytes());
                h.extend_from_slice(b);
            }
            HeaderValue::String(s) => {
                h.push(7);
                h.extend_from_slice(&(s.len() as u16).to_be_bytes());
                h.extend_from_slice(s.as_bytes());
            }
            HeaderValue::Timestamp(v) => {
                h.push(8);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Uuid(u) => {
                h.push(9);
                h.extend_from_slice(u);
            }
        }
    }
    let total = PRELUDE_LEN + h.len() + payload.len() + CRC_LEN;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests;
