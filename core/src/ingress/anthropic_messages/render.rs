//! Unified responses and chunks in Anthropic's shapes: a `message` object,
//! and the event sequence its SDKs parse (`message_start`, per content block
//! `content_block_start` / deltas / `content_block_stop`, `message_delta`
//! with the stop reason and usage, `message_stop`), each with its `event:`
//! line — the SDKs skip data without one.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::codec::anthropic::wire::{self, Block, Event, EventDelta, Response};
use crate::codec::anthropic::{stop_reason, usage_to_wire};
use crate::error::GatewayError;
use crate::stream::Renderer;
use crate::unified::{ChatChunk, ChatResponse, FinishReason, Part, Usage};

fn empty_object() -> &'static RawValue {
    serde_json::from_str("{}").unwrap_or(RawValue::NULL)
}

/// Tool arguments as the `input` object Anthropic clients expect.
fn tool_input(arguments: &str) -> &RawValue {
    match serde_json::from_str::<&RawValue>(arguments) {
        Ok(raw) if raw.get().trim_start().starts_with('{') => raw,
        _ => empty_object(),
    }
}

fn message_id(id: &str) -> Cow<'_, str> {
    if id.is_empty() {
        Cow::Borrowed("msg_dx")
    } else {
        Cow::Borrowed(id)
    }
}

/// A whole response as an Anthropic `message`.
pub fn render_response(r: &ChatResponse) -> Vec<u8> {
    let choice = r.choices.first();
    let mut content = Vec::new();
    if let Some(c) = choice {
        for part in &c.content {
            match part {
                Part::Text { text, .. } if !text.is_empty() => {
                    content.push(Block::text(text.as_str()))
                }
                Part::Thinking { text, signature } => content.push(Block {
                    kind: Cow::Borrowed("thinking"),
                    thinking: Some(Cow::Borrowed(text)),
                    // Reasoning from other providers is unsigned; the field is required.
                    signature: Some(Cow::Borrowed(signature.as_deref().unwrap_or(""))),
                    ..Block::default()
                }),
                Part::RedactedThinking { data } => content.push(Block {
                    kind: Cow::Borrowed("redacted_thinking"),
                    data: Some(Cow::Borrowed(data)),
                    ..Block::default()
                }),
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => content.push(Block {
                    kind: Cow::Borrowed("tool_use"),
                    id: Some(Cow::Borrowed(id)),
                    name: Some(Cow::Borrowed(name)),
                    input: Some(tool_input(arguments)),
                    ..Block::default()
                }),
                _ => {}
            }
        }
        if let Some(refusal) = &c.refusal {
            content.push(Block::text(refusal.as_str()));
        }
    }
    let finish = choice.and_then(|c| match (&c.finish_reason, &c.refusal) {
        (_, Some(_)) => Some(FinishReason::ContentFilter),
        (f, None) => f.clone(),
    });
    let out = Response {
        id: message_id(&r.id),
        kind: Cow::Borrowed("message"),
        role: Cow::Borrowed("assistant"),
        model: Cow::Borrowed(&r.model),
        content,
        stop_reason: Some(Cow::Borrowed(
            finish.as_ref().map_or("end_turn", stop_reason),
        )),
        stop_sequence: None,
        usage: usage_to_wire(&r.usage.unwrap_or_default()),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

fn write_event<T: Serialize>(out: &mut Vec<u8>, name: &str, data: &T) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing these types into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// An error inside a started stream, as Anthropic sends it: the SDKs raise
/// on `event: error`.
pub fn error_event(e: &GatewayError) -> Bytes {
    let overloaded =
        e.status.as_u16() == 529 || e.upstream_type.as_deref() == Some("overloaded_error");
    let kind = if overloaded {
        "overloaded_error"
    } else {
        "api_error"
    };
    let ev = Event {
        kind: Cow::Borrowed("error"),
        error: Some(wire::ErrorDetail {
            kind: Cow::Borrowed(kind),
            message: Cow::Borrowed(&e.message),
        }),
        ..Event::default()
    };
    let mut out = Vec::with_capacity(128 + e.message.len());
    write_event(&mut out, "error", &ev);
    Bytes::from(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its unified index.
    Tool(u32),
}

/// Unified chunks as Anthropic events. Content blocks open and close as the
/// kind of delta changes; the stop reason and usage wait for the end, since
/// OpenAI-style upstreams send usage after the finish reason.
#[derive(Default)]
pub struct EventRenderer {
    started: bool,
    id: String,
    model: String,
    open: Option<(Open, u32)>,
    next_index: u32,
    /// Anthropic block index of each unified tool call.
    tool_blocks: Vec<(u32, u32)>,
    finish: Option<FinishReason>,
    pinged: bool,
}

impl EventRenderer {
    /// `model` names the answer until the upstream says otherwise.
    pub fn new(model: &str) -> Self {
        EventRenderer {
            model: model.to_owned(),
            ..EventRenderer::default()
        }
    }

    fn start(&mut self, out: &mut Vec<u8>, chunk: Option<&ChatChunk>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(c) = chunk {
            if !c.id.is_empty() {
                self.id = c.id.clone();
            }
            if !c.model.is_empty() {
                self.model = c.model.clone();
            }
        }
        let usage = chunk.and_then(|c| c.usage).unwrap_or_default();
        let ev = Event {
            kind: Cow::Borrowed("message_start"),
            message: Some(Response {
                id: message_id(&self.id),
                kind: Cow::Borrowed("message"),
                role: Cow::Borrowed("assistant"),
                model: Cow::Borrowed(&self.model),
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                usage: usage_to_wire(&usage),
            }),
            ..Event::default()
        };
        write_event(out, "message_start", &ev);
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write_event(
                out,
                "content_block_stop",
                &Event {
                    kind: Cow::Borrowed("content_block_stop"),
                    index: Some(index),
                    ..Event::default()
                },
            );
        }
    }

    /// Makes `kind` the open block, closing another one first.
    fn open(&mut self, out: &mut Vec<u8>, kind: Open, block: Block<'_>) -> u32 {
        if let Some((open, index)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close(out);
        let index = self.start_block(out, block);
        self.open = Some((kind, index));
        index
    }

    /// A block that arrives whole (redacted thinking): opened and closed at once.
    fn whole_block(&mut self, out: &mut Vec<u8>, block: Block<'_>) {
        self.close(out);
        let index = self.start_block(out, block);
        self.open = Some((Open::Text, index));
        self.close(out);
    }

    fn start_block(&mut self, out: &mut Vec<u8>, block: Block<'_>) -> u32 {
        let index = self.next_index;
        self.next_index += 1;
        write_event(
            out,
            "content_block_start",
            &Event {
                kind: Cow::Borrowed("content_block_start"),
                index: Some(index),
                content_block: Some(block),
                ..Event::default()
            },
        );
        if !self.pinged {
            // Like the API: one ping after the first block opens.
            out.extend_from_slice(PING);
            self.pinged = true;
        }
        index
    }

    fn delta(out: &mut Vec<u8>, index: u32, delta: EventDelta<'_>) {
        write_event(
            out,
            "content_block_delta",
            &Event {
                kind: Cow::Borrowed("content_block_delta"),
                index: Some(index),
                delta: Some(delta),
                ..Event::default()
            },
        );
    }

    fn thinking_block() -> Block<'static> {
        Block {
            kind: Cow::Borrowed("thinking"),
            thinking: Some(Cow::Borrowed("")),
            signature: Some(Cow::Borrowed("")),
            ..Block::default()
        }
    }
}

impl Renderer for EventRenderer {
    fn chunk(&mut self, chunk: &ChatChunk) -> Option<Bytes> {
        let mut out = Vec::with_capacity(192);
        self.start(&mut out, Some(chunk));
        // Anthropic has one answer per request: only choice 0 is rendered.
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            if let Some(text) = d.reasoning.as_deref().filter(|t| !t.is_empty()) {
                let i = self.open(&mut out, Open::Thinking, Self::thinking_block());
                Self::delta(
                    &mut out,
                    i,
                    EventDelta {
                        kind: Some(Cow::Borrowed("thinking_delta")),
                        thinking: Some(Cow::Borrowed(text)),
                        ..EventDelta::default()
                    },
                );
            }
            if let Some(sig) = d.reasoning_signature.as_deref().filter(|s| !s.is_empty()) {
                let i = self.open(&mut out, Open::Thinking, Self::thinking_block());
                Self::delta(
                    &mut out,
                    i,
                    EventDelta {
                        kind: Some(Cow::Borrowed("signature_delta")),
                        signature: Some(Cow::Borrowed(sig)),
                        ..EventDelta::default()
                    },
                );
            }
            if let Some(data) = d.redacted_reasoning.as_deref() {
                let block = Block {
                    kind: Cow::Borrowed("redacted_thinking"),
                    data: Some(Cow::Borrowed(data)),
                    ..Block::default()
                };
                self.whole_block(&mut out, block);
            }
            for text in [d.text.as_deref(), d.refusal.as_deref()]
                .into_iter()
                .flatten()
            {
                if text.is_empty() {
                    continue;
                }
                let i = self.open(&mut out, Open::Text, Block::text(""));
                Self::delta(
                    &mut out,
                    i,
                    EventDelta {
                        kind: Some(Cow::Borrowed("text_delta")),
                        text: Some(Cow::Borrowed(text)),
                        ..EventDelta::default()
                    },
                );
            }
            for tc in &d.tool_calls {
                let known = self
                    .tool_blocks
                    .iter()
                    .find(|(t, _)| *t == tc.index)
                    .map(|(_, b)| *b);
                let index = match known {
                    Some(b) if tc.id.is_none() => b,
                    _ => {
                        let block = Block {
                            kind: Cow::Borrowed("tool_use"),
                            id: Some(Cow::Borrowed(tc.id.as_deref().unwrap_or(""))),
                            name: Some(Cow::Borrowed(tc.name.as_deref().unwrap_or(""))),
                            input: Some(empty_object()),
                            ..Block::default()
                        };
                        let b = self.open(&mut out, Open::Tool(tc.index), block);
                        self.tool_blocks.push((tc.index, b));
                        b
                    }
                };
                if let Some(args) = tc.arguments.as_deref().filter(|a| !a.is_empty()) {
                    Self::delta(
                        &mut out,
                        index,
                        EventDelta {
                            kind: Some(Cow::Borrowed("input_json_delta")),
                            partial_json: Some(Cow::Borrowed(args)),
                            ..EventDelta::default()
                        },
                    );
                }
            }
            if choice.finish_reason.is_some() {
                self.finish = choice.finish_reason.clone();
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    fn end(&mut self, usage: Option<Usage>) -> Bytes {
        let mut out = Vec::with_capacity(256);
        self.start(&mut out, None);
        self.close(&mut out);
        let stop = self.finish.as_ref().map_or("end_turn", stop_reason);
        let ev = Event {
            kind: Cow::Borrowed("message_delta"),
            delta: Some(EventDelta {
                stop_reason: Some(Cow::Borrowed(stop)),
                ..EventDelta::default()
            }),
            usage: Some(usage_to_wire(&usage.unwrap_or_default())),
            ..Event::default()
        };
        write_event(&mut out, "message_delta", &ev);
        out.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        Bytes::from(out)
    }

    fn error(&mut self, error: &GatewayError) -> Bytes {
        error_event(error)
    }
}
