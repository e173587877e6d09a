//! OpenAI chat SSE → unified chunks, for translating to another ingress format.

use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::ChatChunk;

use super::decode_chunk;

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    done: bool,
    /// For chunks of servers that leave out the model or time.
    model: String,
    created: u64,
}

impl StreamDecoder {
    pub fn new(ctx: &DecodeContext<'_>) -> Self {
        StreamDecoder {
            model: ctx.model.to_owned(),
            created: ctx.created(),
            ..StreamDecoder::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        self.sse.push(bytes);
        let mut out = Vec::new();
        while let Some(event) = self.sse.next_event() {
            self.event(event, &mut out)?;
        }
        Ok(out)
    }

    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        let mut out = Vec::new();
        if let Some(event) = self.sse.finish() {
            self.event(event, &mut out)?;
        }
        Ok(out)
    }

    /// `[DONE]` arrived: nothing more is expected.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn event(&mut self, event: sse::Event, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        let data = &event.data[..];
        if data.is_empty() || self.done {
            return Ok(());
        }
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        // Only probe for an error body when one can be there: a failed probe
        // parses the whole chunk once more and allocates its error message.
        let may_be_error = memchr_str(data, b"\"error\"");
        if let Some(err) = may_be_error
            .then(|| serde_json::from_slice::<super::wire::ErrorBody>(data).ok())
            .flatten()
        {
            let detail = match err.error {
                super::wire::ErrorDetail::Object { message, .. } => message,
                super::wire::ErrorDetail::Text(t) => Some(t),
            };
            return Err(super::stream_error(
                detail.unwrap_or_else(|| "upstream error".into()),
            ));
        }
        let mut chunk = decode_chunk(data)?;
        if chunk.model.is_empty() {
            chunk.model.clone_from(&self.model);
        }
        if chunk.created == 0 {
            chunk.created = self.created;
        }
        out.push(chunk);
        Ok(())
    }
}

fn memchr_str(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
