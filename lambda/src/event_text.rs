//! Function URL events whose header bytes are not UTF-8.
//!
//! HTTP lets a header carry any byte; a Lambda event is JSON, which cannot.
//! AWS's fronts have been seen writing such bytes as `\xNN` escapes (not
//! JSON) and a runtime may meet raw invalid UTF-8 or lone surrogate escapes
//! (`\udcff`) too. `lambda_http` then refuses the whole event and the client
//! gets a 502 before the gateway runs. [`repair`] rewrites each such byte as
//! U+FFFD, so the event parses and the gateway answers a 400 naming the
//! header ([`undecodable_header`]).

use std::borrow::Cow;

/// The event with every undecodable byte replaced by U+FFFD, or `None` when
/// it is already valid UTF-8 without bad escapes (the normal case: one pass,
/// no allocation).
pub fn repair(event: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok();
    if text.is_some_and(|t| !has_bad_escape(t)) {
        return None;
    }
    let text = match text {
        Some(t) => Cow::Borrowed(t),
        None => String::from_utf8_lossy(event),
    };
    Some(fix_escapes(&text).into_bytes())
}

/// The first header whose value holds U+FFFD: bytes that were not text.
pub fn undecodable_header(headers: &http::HeaderMap) -> Option<&http::HeaderName> {
    const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();
    headers.iter().find_map(|(name, value)| {
        let v = value.as_bytes();
        (!v.is_ascii() && v.windows(3).any(|w| w == REPLACEMENT)).then_some(name)
    })
}

/// Escapes JSON does not have (`\x`) or cannot decode (a lone surrogate).
fn has_bad_escape(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = b[i..].iter().position(|&c| c == b'\\') {
        let at = i + at;
        match b.get(at + 1) {
            Some(b'x') => return true,
            Some(b'u') => {
                let (ok, len) = unicode_escape(&text[at..]);
                if !ok {
                    return true;
                }
                i = at + len;
            }
            Some(_) => i = at + 2,
            None => return false,
        }
    }
    false
}

/// For a text starting with `\u`: whether the escape (with its low half,
/// for a high surrogate) decodes, and how many bytes it spans.
fn unicode_escape(s: &str) -> (bool, usize) {
    let unit = |at: usize| {
        s.get(at..at + 6)
            .filter(|e| e.starts_with("\\u"))
            .and_then(|e| u16::from_str_radix(&e[2..], 16).ok())
    };
    match unit(0) {
        Some(0xD800..=0xDBFF) => match unit(6) {
            Some(0xDC00..=0xDFFF) => (true, 12),
            _ => (false, 6),
        },
        Some(0xDC00..=0xDFFF) => (false, 6),
        Some(_) => (true, 6),
        // Malformed: serde_json reports it; nothing for us to repair.
        None => (true, 2),
    }
}

fn fix_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match tail.as_bytes().get(1) {
            Some(b'x') => {
                let hex = tail[2..]
                    .bytes()
                    .take(2)
                    .take_while(u8::is_ascii_hexdigit)
                    .count();
                out.push_str("\\ufffd");
                rest = &tail[2 + hex..];
            }
            Some(b'u') => {
                let (ok, len) = unicode_escape(tail);
                if ok {
                    out.push_str(&tail[..len]);
                } else {
                    out.push_str("\\ufffd");
                }
                rest = &tail[len..];
            }
            Some(_) => {
                let len = 1 + tail[1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&tail[..len]);
                rest = &tail[len..];
            }
            None => {
                out.push('\\');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(event: &[u8]) -> String {
        let fixed = repair(event).expect("needs a repair");
        let v: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        v["headers"]["x-probe"].as_str().unwrap().to_owned()
    }

    #[test]
    fn valid_events_are_left_alone() {
        let event = br#"{"headers":{"a":"caf\u00e9 \ud83d\ude00 \\x41 \"q\""},"body":"\\\\x"}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(event).is_ok());
        assert_eq!(repair(event), None);
        assert_eq!(repair("{\"a\":\"café\"}".as_bytes()), None);
    }

    #[test]
    fn every_spelling_of_a_bad_byte_becomes_a_replacement_character() {
        assert_eq!(
            header_of(br#"{"headers":{"x-probe":"a\xffb"}}"#),
            "a\u{FFFD}b"
        );
        assert_eq!(
            header_of(br#"{"headers":{"x-probe":"a\udcffb"}}"#),
            "a\u{FFFD}b"
        );
        assert_eq!(
            header_of(br#"{"headers":{"x-probe":"\ud83db"}}"#),
            "\u{FFFD}b"
        );
        assert_eq!(
            header_of(b"{\"headers\":{\"x-probe\":\"a\xffb\"}}"),
            "a\u{FFFD}b"
        );
        // An escaped backslash before an x is text, and stays.
        assert_eq!(
            header_of(br#"{"headers":{"x-probe":"\\x41 \xee"}}"#),
            "\\x41 \u{FFFD}"
        );
    }

    #[test]
    fn the_header_that_held_it_is_named() {
        let mut h = http::HeaderMap::new();
        h.insert("ok", "café".parse().unwrap());
        assert_eq!(undecodable_header(&h), None);
        h.insert("x-probe", "a\u{FFFD}".parse().unwrap());
        assert_eq!(undecodable_header(&h).map(|n| n.as_str()), Some("x-probe"));
    }
}
