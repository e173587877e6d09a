//! Stream framing on upstream bytes: SSE, NDJSON and the AWS eventstream.
//!
//! Input: framer byte, split byte, then the wire bytes. Besides not
//! panicking, each framer must find the same events however the bytes are
//! split, and eventstream frames must re-encode to the bytes they came from.

#![no_main]

use dx_core::stream::eventstream::{encode_frame, FrameDecoder, HeaderValue};
use dx_core::stream::{ndjson, sse};
use dx_fuzz::{pieces, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let framer = input.byte();
    let split = input.byte();
    let wire = input.rest();
    let chunks = pieces(wire, split);
    match framer % 4 {
        0 => {
            let whole = sse_events(&[wire]);
            assert_eq!(sse_events(&chunks), whole, "SSE events depend on the split");
            let raw: Vec<u8> = whole.iter().flat_map(|e| e.raw.to_vec()).collect();
            for e in &whole {
                // A relay forwards `raw`: each event must end its own line.
                assert!(
                    matches!(e.raw.last(), Some(b'\n' | b'\r')),
                    "an SSE event's raw bytes do not end with a line end"
                );
            }
            // Byte for byte, but for the blank line `finish` adds to a last
            // event the input left unterminated.
            let body = if wire.starts_with(&raw) {
                &raw[..]
            } else {
                assert!(raw.ends_with(b"\n\n"), "SSE raw bytes are not the input");
                &raw[..raw.len() - 2]
            };
            assert!(wire.starts_with(body), "SSE raw bytes are not the input");
            assert!(
                wire[body.len()..].iter().all(u8::is_ascii_whitespace),
                "SSE dropped bytes that were not blank"
            );
        }
        1 => {
            let whole = ndjson_lines(&[wire]);
            assert_eq!(
                ndjson_lines(&chunks),
                whole,
                "NDJSON lines depend on the split"
            );
            for line in &whole {
                assert!(!line.contains(&b'\n'), "an NDJSON line holds a newline");
            }
        }
        2 => {
            let whole = frames(&[wire]);
            assert_eq!(
                frames(&chunks),
                whole,
                "eventstream frames depend on the split"
            );
            let mut at = 0;
            for (raw, _) in &whole {
                assert_eq!(
                    &wire[at..at + raw.len()],
                    &raw[..],
                    "frame bytes out of place"
                );
                at += raw.len();
            }
        }
        _ => {
            // Frames the harness builds with valid checksums, so the header
            // and payload parsing behind the CRCs gets fuzzed too.
            let mut encoded = Vec::new();
            let mut built = Vec::new();
            for line in wire.split(|&b| b == b'\n') {
                let (headers, payload) = header_list(line);
                if encode_frame(&headers, b"").len() - 16 > 128 * 1024 {
                    continue; // over the decoder's documented header limit
                }
                let frame = encode_frame(&headers, payload);
                built.push(frame.clone());
                encoded.extend_from_slice(&frame);
            }
            let decoded = frames(&pieces(&encoded, split));
            assert_eq!(decoded.len(), built.len(), "a valid frame was refused");
            for ((raw, _), frame) in decoded.iter().zip(&built) {
                assert_eq!(raw, frame);
            }
        }
    }
});

fn sse_events(chunks: &[&[u8]]) -> Vec<sse::Event> {
    let mut d = sse::Decoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(e) = d.next_event() {
            out.push(e);
        }
    }
    out.extend(d.finish());
    out
}

fn ndjson_lines(chunks: &[&[u8]]) -> Vec<bytes::Bytes> {
    let mut d = ndjson::Decoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(line) = d.next_line() {
            out.push(line);
        }
    }
    out.extend(d.finish());
    out
}

/// Each frame re-encoded from what was decoded, and whether decoding failed
/// after it; stops at the first error, as the decoders do.
fn frames(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
    let mut d = FrameDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    let headers: Vec<_> = f.headers().collect();
                    assert_eq!(
                        f.headers_len(),
                        encode_frame(&headers, b"").len() - 16,
                        "headers do not re-encode to their length"
                    );
                    let raw = encode_frame(&headers, f.payload);
                    assert_eq!(raw.len(), f.total_len());
                    out.push((raw, false));
                }
                Ok(None) => break,
                Err(_) => {
                    out.push((Vec::new(), true));
                    return out;
                }
            }
        }
    }
    out
}

/// `name=type:value;name=type:value|payload` read loosely: every line gives
/// some headers and a payload.
fn header_list(line: &[u8]) -> (Vec<(&str, HeaderValue<'_>)>, &[u8]) {
    let (head, payload) = match line.iter().position(|&b| b == b'|') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (&line[..0], line),
    };
    let mut headers = Vec::new();
    for item in head.split(|&b| b == b';') {
        let Some(eq) = item.iter().position(|&b| b == b'=') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&item[..eq]) else {
            continue;
        };
        if name.is_empty() || name.len() > 255 {
            continue;
        }
        let value = &item[eq + 1..];
        let (kind, v) = value.split_first().unwrap_or((&b's', &[]));
        let num = |n: usize| {
            let mut b = [0u8; 8];
            let len = v.len().min(n);
            b[..len].copy_from_slice(&v[..len]);
            i64::from_le_bytes(b)
        };
        let hv = match kind {
            b't' => HeaderValue::Bool(true),
            b'f' => HeaderValue::Bool(false),
            b'1' => HeaderValue::Byte(num(1) as i8),
            b'2' => HeaderValue::Int16(num(2) as i16),
            b'4' => HeaderValue::Int32(num(4) as i32),
            b'8' => HeaderValue::Int64(num(8)),
            b'T' => HeaderValue::Timestamp(num(8)),
            b'u' => {
                let mut u = [0u8; 16];
                let len = v.len().min(16);
                u[..len].copy_from_slice(&v[..len]);
                HeaderValue::Uuid(u)
            }
            b'b' => HeaderValue::Bytes(&v[..v.len().min(u16::MAX as usize)]),
            _ => match std::str::from_utf8(v) {
                Ok(s) => HeaderValue::String(s),
                Err(_) => continue,
            },
        };
        headers.push((name, hv));
    }
    (headers, payload)
}
