//! OpenAI chat SSE → unified chunks, for translating to another ingress format.

use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::ChatChunk;

use super::decode_chunk;

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    done: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        StreamDecoder::default()
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
        if let Ok(err) = serde_json::from_slice::<super::wire::ErrorBody>(data) {
            let detail = match err.error {
                super::wire::ErrorDetail::Object { message, .. } => message,
                super::wire::ErrorDetail::Text(t) => Some(t),
            };
            return Err(super::stream_error(
                detail.unwrap_or_else(|| "upstream error".into()),
            ));
        }
        out.push(decode_chunk(data)?);
        Ok(())
    }
}
