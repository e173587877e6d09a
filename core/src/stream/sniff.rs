//! What an upstream sent in answer to a stream request. Some OpenAI-compatible
//! servers ignore `stream: true` and answer with one JSON body; proxies in
//! front of them answer with HTML pages. Relayed as they are, both reach the
//! client as garbage in an event stream, so a same-format relay first looks:
//! at the content type, and unless it says `text/event-stream`, at the first
//! bytes (some servers stream with no or a wrong content type).

use bytes::Bytes;
use futures::StreamExt;

use crate::error::{ErrorKind, GatewayError};
use crate::ports::{with_timeout, ByteStream, Sleep};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamAnswer {
    /// Server-sent events: relay them.
    EventStream,
    /// One JSON document: a whole answer (or an error) to convert.
    Json,
    /// Anything else (HTML, plain text, nothing at all).
    Other,
}

/// SSE field names a stream may start with (a `:` comment also counts).
const SSE_STARTS: &[&[u8]] = &[b"data:", b"event:", b"id:", b"retry:", b":"];

/// Decides from the content type and the body's first bytes; `None` while
/// the bytes seen so far could still start either.
pub fn classify(content_type: Option<&[u8]>, head: &[u8]) -> Option<StreamAnswer> {
    let ct = content_type.unwrap_or_default();
    if starts_with_ignore_case(ct, b"text/event-stream") {
        return Some(StreamAnswer::EventStream);
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    match head[0] {
        b'{' | b'[' => return Some(StreamAnswer::Json),
        b'<' => return Some(StreamAnswer::Other),
        _ => {}
    }
    let mut undecided = false;
    for field in SSE_STARTS {
        let n = field.len().min(head.len());
        if head[..n] == field[..n] {
            if n == field.len() {
                return Some(StreamAnswer::EventStream);
            }
            undecided = true;
        }
    }
    (!undecided).then_some(StreamAnswer::Other)
}

/// Reads as little of `body` as [`classify`] needs (nothing when the content
/// type says `text/event-stream`), then gives the body back whole.
pub async fn sniff<S: Sleep>(
    sleep: &S,
    content_type: Option<&[u8]>,
    mut body: ByteStream,
    idle_ms: u64,
) -> Result<(StreamAnswer, ByteStream), GatewayError> {
    if let Some(answer) = classify(content_type, b"") {
        return Ok((answer, body));
    }
    let mut seen: Vec<Bytes> = Vec::new();
    let mut head: Vec<u8> = Vec::new();
    let answer = loop {
        let next = with_timeout(sleep, idle_ms, body.next())
            .await
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("The upstream sent nothing for {idle_ms} ms."),
                )
                .with_code("upstream_timeout")
            })?;
        match next {
            None => break StreamAnswer::Other,
            Some(Err(e)) => {
                return Err(GatewayError::new(
                    ErrorKind::UpstreamUnavailable,
                    format!("The upstream response broke off: {e}."),
                )
                .with_code("upstream_interrupted"))
            }
            Some(Ok(chunk)) => {
                head.extend_from_slice(&chunk[..chunk.len().min(64)]);
                seen.push(chunk);
                if let Some(answer) = classify(content_type, &head) {
                    break answer;
                }
            }
        }
    };
    let replay = futures::stream::iter(seen.into_iter().map(Ok));
    Ok((answer, Box::pin(replay.chain(body))))
}

/// The 502 for a stream request answered with neither events nor JSON.
pub fn not_a_stream(provider: &str, content_type: Option<&[u8]>) -> GatewayError {
    let ct = content_type
        .map(String::from_utf8_lossy)
        .filter(|c| !c.is_empty())
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!(
            "The upstream ({provider}) answered a stream request with neither an event stream nor JSON{ct}."
        ),
    )
    .with_code("invalid_upstream_response")
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use StreamAnswer::*;

    #[test]
    fn content_type_or_first_bytes() {
        let sse = Some(&b"text/event-stream; charset=utf-8"[..]);
        let json = Some(&b"application/json"[..]);
        assert_eq!(classify(sse, b""), Some(EventStream));
        assert_eq!(classify(Some(b"Text/Event-Stream"), b""), Some(EventStream));
        assert_eq!(classify(json, b""), None);
        assert_eq!(classify(json, b"  \n {\"id\""), Some(Json));
        assert_eq!(classify(None, b"\xEF\xBB\xBF[1]"), Some(Json));
        assert_eq!(classify(None, b"<!DOCTYPE html>"), Some(Other));
        assert_eq!(
            classify(Some(b"text/plain"), b"data: {}\n\n"),
            Some(EventStream)
        );
        assert_eq!(classify(None, b": keep-alive\n\n"), Some(EventStream));
        assert_eq!(classify(None, b"event: x\n"), Some(EventStream));
        assert_eq!(classify(None, b"da"), None);
        assert_eq!(classify(None, b"dat"), None);
        assert_eq!(classify(None, b"Internal Server Error"), Some(Other));
        assert_eq!(classify(None, b"   "), None);
    }

    struct NoSleep;
    impl Sleep for NoSleep {
        async fn sleep(&self, _ms: u64) {
            futures::future::pending::<()>().await
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let items: Vec<_> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures::stream::iter(items))
    }

    #[test]
    fn sniffing_gives_every_byte_back() {
        futures::executor::block_on(async {
            let (answer, body) = sniff(&NoSleep, None, chunks(&[b" ", b"da", b"ta: 1\n\n"]), 10)
                .await
                .unwrap();
            assert_eq!(answer, EventStream);
            let all: Vec<Bytes> = body.map(Result::unwrap).collect().await;
            assert_eq!(all.concat(), b" data: 1\n\n");
            let (answer, _) = sniff(&NoSleep, None, chunks(&[]), 10).await.unwrap();
            assert_eq!(answer, Other);
            let (answer, body) = sniff(&NoSleep, Some(b"text/event-stream"), chunks(&[b"x"]), 10)
                .await
                .unwrap();
            assert_eq!(answer, EventStream);
            assert_eq!(body.count().await, 1);
        });
    }
}
