//! Azure's chat stream is OpenAI's plus content-filter annotations: chunks
//! with an empty `id` that carry only `prompt_filter_results`, or a choice
//! with `content_filter_results` / `content_filter_offsets` and no delta.
//! Translation drops what carries nothing for the client and gives the rest
//! (notably the final `finish_reason: content_filter`) the stream's real id.

use crate::codec::{openai_chat, DecodeContext};
use crate::error::GatewayError;
use crate::unified::ChatChunk;

#[derive(Default)]
pub struct StreamDecoder {
    inner: openai_chat::StreamDecoder,
    id: String,
    model: String,
    created: u64,
}

impl StreamDecoder {
    pub fn new(ctx: &DecodeContext<'_>) -> Self {
        StreamDecoder {
            inner: openai_chat::StreamDecoder::new(ctx),
            ..StreamDecoder::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        let chunks = self.inner.push(bytes)?;
        Ok(self.clean(chunks))
    }

    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        let chunks = self.inner.finish()?;
        Ok(self.clean(chunks))
    }

    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    fn clean(&mut self, mut chunks: Vec<ChatChunk>) -> Vec<ChatChunk> {
        chunks.retain_mut(|chunk| {
            chunk.choices.retain(|c| {
                let d = &c.delta;
                c.finish_reason.is_some()
                    || d.role.is_some()
                    || d.text.is_some()
                    || d.reasoning.is_some()
                    || d.refusal.is_some()
                    || !d.tool_calls.is_empty()
            });
            if chunk.choices.is_empty() && chunk.usage.is_none() {
                return false;
            }
            if chunk.id.is_empty() {
                chunk.id.clone_from(&self.id);
                chunk.model.clone_from(&self.model);
                chunk.created = self.created;
            } else if self.id.is_empty() {
                self.id.clone_from(&chunk.id);
                self.model.clone_from(&chunk.model);
                self.created = chunk.created;
            }
            true
        });
        chunks
    }
}
