//! A stream held back until it shows content, so that a failure before the
//! first token can go to another deployment without the client seeing two
//! answers. Preamble events (OpenAI's role chunk, Anthropic's
//! `message_start`, Responses' `response.created`) are held with it; the
//! first text, reasoning, refusal or tool-call delta, or a finish, releases
//! everything held, in one piece, followed by the rest as it comes.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::codec::{DecodeContext, StreamDecoder};
use crate::error::{ErrorKind, GatewayError};
use crate::ports::{with_timeout, ByteStream, Ports};
use crate::providers::Codec;
use crate::unified::ChatChunk;

/// Most bytes held while waiting for content: past this, the stream is
/// released as it is (a preamble this long is not one).
const MAX_HELD: usize = 1024 * 1024;

/// Reads `body` until it shows content, within `ttft_ms` in all. The
/// stream comes back whole (held bytes first); a failure before content
/// is an error the plan may fall over on: the upstream's in-stream error,
/// a cut, garbage, or no content in time.
pub async fn hold<P: Ports>(
    ports: &P,
    codec: Codec,
    mut body: ByteStream,
    ctx: &DecodeContext<'_>,
    ttft_ms: u64,
    provider: &str,
) -> Result<ByteStream, GatewayError> {
    let mut decoder = StreamDecoder::new(codec, ctx)?;
    let deadline = ports.now_ms().saturating_add(ttft_ms);
    let mut held = BytesMut::new();
    loop {
        let left = deadline.saturating_sub(ports.now_ms()).max(1);
        let next = match with_timeout(ports, left, body.next()).await {
            None => {
                return Err(GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("The upstream ({provider}) sent no content within {ttft_ms} ms."),
                )
                .with_code("upstream_ttft_timeout"))
            }
            Some(next) => next,
        };
        match next {
            Some(Ok(bytes)) => {
                let chunks = decoder.push(&bytes)?;
                held.extend_from_slice(&bytes);
                if chunks.iter().any(shows_content) || held.len() > MAX_HELD {
                    break;
                }
            }
            Some(Err(e)) => {
                return Err(GatewayError::new(
                    ErrorKind::UpstreamUnavailable,
                    format!("The upstream ({provider}) stream broke before any content: {e}."),
                )
                .with_code("upstream_stream_cut"))
            }
            None => {
                let chunks = decoder.finish()?;
                if decoder.is_done() || chunks.iter().any(shows_content) {
                    // A complete answer without content (an empty
                    // completion) is still an answer.
                    break;
                }
                return Err(GatewayError::new(
                    ErrorKind::UpstreamUnavailable,
                    format!("The upstream ({provider}) ended the stream before any content."),
                )
                .with_code("upstream_stream_cut"));
            }
        }
    }
    let first = futures::stream::iter([Ok::<Bytes, _>(held.freeze())]);
    Ok(Box::pin(first.chain(body)))
}

fn shows_content(c: &ChatChunk) -> bool {
    c.choices.iter().any(|ch| {
        let d = &ch.delta;
        ch.finish_reason.is_some()
            || d.text.as_deref().is_some_and(|t| !t.is_empty())
            || d.reasoning.as_deref().is_some_and(|t| !t.is_empty())
            || d.refusal.as_deref().is_some_and(|t| !t.is_empty())
            || d.redacted_reasoning.is_some()
            || !d.tool_calls.is_empty()
    })
}
