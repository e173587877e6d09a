//! Anthropic's SSE events → unified chunks.
//!
//! Anthropic streams content blocks by index (text, thinking, tool_use, and
//! server-side blocks the client never sees); unified chunks number tool
//! calls from 0 among tool calls only, so the decoder keeps which index is
//! which kind of block.

use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::{ChatChunk, ChunkChoice, Delta, Role, ToolCallDelta, Usage};

use super::wire::{Event, EventDelta, Usage as WireUsage};
use super::{finish_reason, invalid_upstream, merge_usage, stream_error, usage_from_wire};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    /// A client tool call, with its position among the turn's tool calls.
    Tool(u32),
    /// Server tool use and results, citations, anything new: not forwarded.
    Skipped,
}

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    id: String,
    model: String,
    created: u64,
    usage: WireUsage,
    blocks: Vec<BlockKind>,
    tools: u32,
    done: bool,
}

impl StreamDecoder {
    /// Anthropic events carry no time stamp: the context's clock gives one
    /// (and an id and model, should `message_start` lack them).
    pub fn new(ctx: &DecodeContext<'_>) -> Self {
        StreamDecoder {
            id: ctx.new_id(),
            model: ctx.model.to_owned(),
            created: ctx.created(),
            ..StreamDecoder::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        self.sse.push(bytes);
        let mut out = Vec::new();
        while let Some(event) = self.sse.next_event() {
            self.event(&event, &mut out)?;
        }
        Ok(out)
    }

    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        let mut out = Vec::new();
        if let Some(event) = self.sse.finish() {
            self.event(&event, &mut out)?;
        }
        Ok(out)
    }

    /// `message_stop` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Usage as reported so far (input from `message_start`, the rest from
    /// `message_delta`).
    pub fn usage(&self) -> Usage {
        usage_from_wire(&self.usage)
    }

    fn event(&mut self, event: &sse::Event, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if event.data.is_empty() || self.done {
            return Ok(());
        }
        // The `event:` line names the type; its absence (some proxies strip
        // it) is covered by the `type` member of every payload.
        if event.event.as_deref() == Some(&b"ping"[..]) {
            return Ok(());
        }
        let ev: Event<'_> = serde_json::from_slice(&event.data).map_err(invalid_upstream)?;
        match ev.kind.as_ref() {
            "message_start" => {
                if let Some(m) = ev.message {
                    if !m.id.is_empty() {
                        self.id = m.id.into_owned();
                    }
                    if !m.model.is_empty() {
                        self.model = m.model.into_owned();
                    }
                    self.usage = m.usage;
                }
                let delta = Delta {
                    role: Some(Role::Assistant),
                    ..Delta::default()
                };
                out.push(self.chunk(Some(delta), None, Some(self.usage())));
            }
            "content_block_start" => {
                let Some(block) = ev.content_block else {
                    return Ok(());
                };
                let kind = match block.kind.as_ref() {
                    "text" => BlockKind::Text,
                    "thinking" | "redacted_thinking" => BlockKind::Thinking,
                    "tool_use" => {
                        self.tools += 1;
                        BlockKind::Tool(self.tools - 1)
                    }
                    _ => BlockKind::Skipped,
                };
                self.set_block(ev.index.unwrap_or(self.blocks.len() as u32), kind);
                let delta = match kind {
                    BlockKind::Text => Delta {
                        text: block.text.filter(|t| !t.is_empty()).map(Into::into),
                        ..Delta::default()
                    },
                    BlockKind::Thinking => Delta {
                        reasoning: block.thinking.filter(|t| !t.is_empty()).map(Into::into),
                        reasoning_signature: block
                            .signature
                            .filter(|s| !s.is_empty())
                            .map(Into::into),
                        redacted_reasoning: block.data.map(Into::into),
                        ..Delta::default()
                    },
                    BlockKind::Tool(index) => Delta {
                        tool_calls: vec![ToolCallDelta {
                            index,
                            id: block.id.map(Into::into),
                            name: block.name.map(Into::into),
                            arguments: Some(String::new()),
                        }],
                        ..Delta::default()
                    },
                    BlockKind::Skipped => return Ok(()),
                };
                if delta != Delta::default() {
                    out.push(self.chunk(Some(delta), None, None));
                }
            }
            "content_block_delta" => {
                let (Some(index), Some(d)) = (ev.index, ev.delta) else {
                    return Ok(());
                };
                let kind = self.blocks.get(index as usize).copied();
                if let Some(delta) = block_delta(kind, d) {
                    out.push(self.chunk(Some(delta), None, None));
                }
            }
            "message_delta" => {
                if let Some(u) = ev.usage {
                    merge_usage(&mut self.usage, &u);
                }
                let stop = ev.delta.and_then(|d| d.stop_reason);
                let finish = stop.as_deref().map(finish_reason);
                out.push(self.chunk(None, finish, Some(self.usage())));
            }
            "message_stop" => self.done = true,
            "error" => {
                let detail = ev.error.unwrap_or_default();
                return Err(stream_error(&detail.kind, &detail.message));
            }
            // ping, content_block_stop, and event types added later.
            _ => {}
        }
        Ok(())
    }

    fn set_block(&mut self, index: u32, kind: BlockKind) {
        let i = index as usize;
        if self.blocks.len() <= i {
            self.blocks.resize(i + 1, BlockKind::Skipped);
        }
        self.blocks[i] = kind;
    }

    fn chunk(
        &self,
        delta: Option<Delta>,
        finish: Option<crate::unified::FinishReason>,
        usage: Option<Usage>,
    ) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta: delta.unwrap_or_default(),
                finish_reason: finish,
            }],
            usage,
        }
    }
}

/// A `content_block_delta` as a unified delta; empty pieces (Anthropic opens
/// every tool input with `""`) carry nothing and are skipped.
fn block_delta(kind: Option<BlockKind>, d: EventDelta<'_>) -> Option<Delta> {
    let some =
        |s: Option<std::borrow::Cow<'_, str>>| s.filter(|s| !s.is_empty()).map(|s| s.into_owned());
    let delta = match (kind?, d.kind.as_deref()?) {
        (BlockKind::Text, "text_delta") => Delta {
            text: Some(some(d.text)?),
            ..Delta::default()
        },
        (BlockKind::Thinking, "thinking_delta") => Delta {
            reasoning: Some(some(d.thinking)?),
            ..Delta::default()
        },
        (BlockKind::Thinking, "signature_delta") => Delta {
            reasoning_signature: Some(some(d.signature)?),
            ..Delta::default()
        },
        (BlockKind::Tool(index), "input_json_delta") => Delta {
            tool_calls: vec![ToolCallDelta {
                index,
                arguments: Some(some(d.partial_json)?),
                ..ToolCallDelta::default()
            }],
            ..Delta::default()
        },
        _ => return None,
    };
    Some(delta)
}
