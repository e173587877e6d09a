//! Ollama NDJSON stream lines → unified chunks. The last line has
//! `done: true`, the finish reason and the token counts; a line with `error`
//! means the model failed after the 200 was sent.

use crate::codec::openai_chat::stream_error;
use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::ndjson;
use crate::unified::{ChatChunk, ChunkChoice, Delta, Role, ToolCallDelta};

use super::{finish_reason, response_id, tool_calls, unix_seconds, Line};

#[derive(Default)]
pub struct StreamDecoder {
    lines: ndjson::Decoder,
    id: String,
    created: u64,
    /// For lines that name no model.
    model: String,
    started: bool,
    tool_calls: u32,
    done: bool,
}

impl StreamDecoder {
    pub fn new(ctx: &DecodeContext<'_>) -> Self {
        StreamDecoder {
            created: ctx.created(),
            model: ctx.model.to_owned(),
            ..StreamDecoder::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        self.lines.push(bytes);
        let mut out = Vec::new();
        while let Some(line) = self.lines.next_line() {
            self.line(&line, &mut out)?;
        }
        Ok(out)
    }

    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        let mut out = Vec::new();
        if let Some(line) = self.lines.finish() {
            self.line(&line, &mut out)?;
        }
        Ok(out)
    }

    /// The `done: true` line arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn line(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        let line: Line = serde_json::from_slice(bytes)
            .map_err(|e| stream_error(format!("The upstream sent malformed stream data ({e}).")))?;
        if let Some(error) = line.error.as_deref() {
            return Err(stream_error(format!(
                "The upstream model failed mid-stream: {error}"
            )));
        }
        let first = !self.started;
        if first {
            self.started = true;
            self.id = response_id(&line);
            if let Some(created) = line.created_at.as_deref().and_then(unix_seconds) {
                self.created = created;
            }
        }
        let calls: Vec<ToolCallDelta> = tool_calls(&line, self.tool_calls)
            .into_iter()
            .enumerate()
            .map(|(i, (id, name, arguments))| ToolCallDelta {
                index: self.tool_calls + i as u32,
                id: Some(id),
                name: Some(name),
                arguments: Some(arguments),
            })
            .collect();
        self.tool_calls += calls.len() as u32;
        let delta = Delta {
            role: first.then_some(Role::Assistant),
            text: line.text().map(str::to_owned),
            reasoning: line.thinking().map(str::to_owned),
            tool_calls: calls,
            ..Delta::default()
        };
        let finish = line.done.then(|| {
            self.done = true;
            finish_reason(line.done_reason.as_deref(), self.tool_calls > 0)
        });
        if delta == Delta::default() && finish.is_none() {
            return Ok(());
        }
        out.push(ChatChunk {
            id: self.id.clone(),
            created: self.created,
            model: if line.model.is_empty() {
                self.model.clone()
            } else {
                line.model.clone()
            },
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }],
            usage: if line.done { line.usage() } else { None },
        });
        Ok(())
    }
}
