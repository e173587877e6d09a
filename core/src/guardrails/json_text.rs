//! The strings of a JSON document that a model reads or writes, found and
//! replaced in place without building a tree: the request view the input
//! guard uses on any ingress's body (the bytes forwarded as they are), and
//! the view the output guard uses on answers and stream events. Values under
//! keys that hold identifiers, media or signed data are left alone.

use std::borrow::Cow;

use super::Blocked;

/// Keys whose values (and everything under them) are not text a model
/// reads: ids, names, enums, media and signed blocks. Anything else is
/// scanned, so an unknown field is guarded rather than missed.
const NOT_TEXT: &[&str] = &[
    "model",
    "role",
    "type",
    "id",
    "object",
    "tool_call_id",
    "tool_use_id",
    "call_id",
    "name",
    "signature",
    "data",
    "url",
    "media_type",
    "mime_type",
    "file_id",
    "file_data",
    "format",
    "detail",
    "encrypted_content",
    "finish_reason",
    "stop_reason",
    "stop_sequence",
    "stop",
    "service_tier",
    "user",
    "reasoning_effort",
    "tool_choice",
    "system_fingerprint",
    "cache_control",
    "metadata",
    "image_url",
    "input_audio",
    "logit_bias",
    "modalities",
    "inference_geo",
    "anthropic_version",
    "anthropic_beta",
    "status",
];

/// Which run of text a string belongs to in a stream: its key path, with
/// the `index` of each enclosing object that has one (choice, tool call,
/// content block), hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel(pub u64);

struct Frame {
    object: bool,
    expect_key: bool,
    key: Option<(usize, usize)>,
    skipped: bool,
    /// Hash of the path down to this container.
    path: u64,
    index: Option<u64>,
}

fn mix(h: u64, bytes: &[u8]) -> u64 {
    let mut h = h ^ 0x9e37_79b9_7f4a_7c15;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What the walker calls with each text string: its replacement, if any,
/// or the refusal that stops the walk.
pub type Visit<'a> = dyn FnMut(Channel, &str) -> Result<Option<String>, Blocked> + 'a;

/// Why a document could not be read: the guard cannot vouch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable;

/// Calls `f` with each text string of `doc` (decoded) and its channel; when
/// `f` returns a replacement, the string is re-encoded in its place.
/// `thinking` says whether `thinking` values count as text (they do in
/// answers; in requests they are signed history that must not change).
///
/// One instantiation for every caller (`dyn`): the walker is the largest
/// part of the guard in the Worker.
pub fn rewrite_strings(
    doc: &[u8],
    thinking: bool,
    f: &mut Visit<'_>,
) -> Result<Result<Option<Vec<u8>>, Unreadable>, Blocked> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut stack: Vec<Frame> = Vec::with_capacity(8);
    let mut i = 0;
    let b = doc;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\n' | b'\r' | b'\t' => i += 1,
            b'{' | b'[' => {
                let (skipped, path) = value_context(&stack, b, thinking);
                stack.push(Frame {
                    object: c == b'{',
                    expect_key: c == b'{',
                    key: None,
                    skipped,
                    path,
                    index: None,
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.expect_key = top.object;
                }
                i += 1;
            }
            b':' => {
                if let Some(top) = stack.last_mut() {
                    top.expect_key = false;
                }
                i += 1;
            }
            b'"' => {
                let Some((end, escaped)) = string_end(b, i + 1) else {
                    return Ok(Err(Unreadable));
                };
                let is_key = stack.last().is_some_and(|t| t.object && t.expect_key);
                if is_key {
                    if let Some(top) = stack.last_mut() {
                        top.key = Some((i + 1, end));
                    }
                } else {
                    let (skipped, path) = value_context(&stack, b, thinking);
                    if !skipped {
                        let raw = &b[i + 1..end];
                        let text: Cow<'_, str> = if escaped {
                            match serde_json::from_slice::<String>(&b[i..=end]) {
                                Ok(s) => Cow::Owned(s),
                                Err(_) => return Ok(Err(Unreadable)),
                            }
                        } else {
                            String::from_utf8_lossy(raw)
                        };
                        if let Some(new) = f(Channel(path), &text)? {
                            let o = out.get_or_insert_with(|| Vec::with_capacity(b.len() + 32));
                            o.extend_from_slice(&b[copied..i]);
                            let encoded = serde_json::to_string(&new).unwrap_or_default();
                            o.extend_from_slice(encoded.as_bytes());
                            copied = end + 1;
                        }
                    }
                }
                i = end + 1;
            }
            _ => {
                // A number or a literal: only an `index` number is kept.
                let start = i;
                while i < b.len()
                    && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                {
                    i += 1;
                }
                if let Some(top) = stack.last_mut() {
                    if top.object && top.key.is_some_and(|(s, e)| &b[s..e] == b"index") {
                        top.index = std::str::from_utf8(&b[start..i])
                            .ok()
                            .and_then(|n| n.parse().ok());
                    }
                }
                if i == start {
                    return Ok(Err(Unreadable));
                }
            }
        }
    }
    if let Some(o) = &mut out {
        o.extend_from_slice(&b[copied..]);
    }
    Ok(Ok(out))
}

/// Whether the value about to start is skipped, and its path hash.
fn value_context(stack: &[Frame], b: &[u8], thinking: bool) -> (bool, u64) {
    let Some(top) = stack.last() else {
        return (false, 0);
    };
    let mut path = top.path;
    if let Some(ix) = top.index {
        path = mix(path, &ix.to_le_bytes());
    }
    if !top.object {
        return (top.skipped, path);
    }
    let Some((s, e)) = top.key else {
        return (top.skipped, path);
    };
    let key = &b[s..e];
    let not_text =
        NOT_TEXT.iter().any(|k| k.as_bytes() == key) || (!thinking && key == b"thinking");
    (top.skipped || not_text, mix(path, key))
}

/// The closing quote of a string whose content starts at `from`, and
/// whether the string holds escapes.
fn string_end(b: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut i = from;
    let mut escaped = false;
    loop {
        let off = memchr::memchr2(b'"', b'\\', &b[i..])?;
        i += off;
        if b[i] == b'\\' {
            escaped = true;
            i += 2;
            if i > b.len() {
                return None;
            }
        } else {
            return Some((i, escaped));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(doc: &str, thinking: bool) -> Vec<String> {
        let mut seen = Vec::new();
        let r = rewrite_strings(doc.as_bytes(), thinking, &mut |_, t| {
            seen.push(t.to_owned());
            Ok(None)
        });
        assert_eq!(r, Ok(Ok(None)));
        seen
    }

    #[test]
    fn text_values_are_seen_ids_media_and_signed_blocks_are_not() {
        let doc = r#"{"model":"gpt-4o","messages":[{"role":"system","content":"be \"nice\""},{"role":"user","content":[{"type":"text","text":"hi é"},{"type":"image_url","image_url":{"url":"data:xx"}}]},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"}]}],"metadata":{"k":"v"},"stop":["x"]}"#;
        assert_eq!(texts(doc, false), ["be \"nice\"", "hi é", "{\"a\":1}"]);
        assert_eq!(
            texts(doc, true),
            ["be \"nice\"", "hi é", "{\"a\":1}", "hmm"]
        );
    }

    #[test]
    fn replacements_keep_everything_else_byte_for_byte() {
        let doc = br#"{"a" : "x secret y", "n": [1, 2.5e3, true, null], "b":"keep"}"#;
        let r = rewrite_strings(doc, true, &mut |_, t| {
            Ok(t.contains("secret").then(|| t.replace("secret", "[S]\n")))
        });
        assert_eq!(
            r.unwrap().unwrap().unwrap(),
            br#"{"a" : "x [S]\n y", "n": [1, 2.5e3, true, null], "b":"keep"}"#
        );
    }

    #[test]
    fn channels_follow_the_enclosing_index() {
        let mut ch = Vec::new();
        for doc in [
            r#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"b"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"c"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"d"}}]}}]}"#,
        ] {
            let _ = rewrite_strings(doc.as_bytes(), true, &mut |c, _| {
                ch.push(c);
                Ok(None)
            });
        }
        assert_eq!(ch[0], ch[2]);
        assert_ne!(ch[0], ch[1]);
        assert_ne!(ch[0], ch[3]);
    }

    #[test]
    fn a_cut_string_is_unreadable() {
        let r = rewrite_strings(br#"{"a":"unterminated"#, true, &mut |_, _| Ok(None));
        assert_eq!(r, Ok(Err(Unreadable)));
    }
}
