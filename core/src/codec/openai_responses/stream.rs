//! Responses API stream events → unified chunks.
//!
//! The events are typed (`response.output_text.delta`, ...) and addressed by
//! `output_index`; chat chunks are addressed by tool-call index. Each
//! `*.done` event repeats the whole text of its part: what the deltas did not
//! already carry is sent then, so a stream that skipped deltas still adds up.

use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::{ChatChunk, ChunkChoice, Delta, FinishReason, Role, ToolCallDelta, Usage};

use super::wire::{ErrorObject, Event, ResponseHead};
use super::{finish_reason, invalid_upstream, upstream_error, usage_from_wire};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Text,
    Refusal,
    Reasoning,
    Arguments,
}

/// One streamed part: its kind, `output_index` and content/summary index.
type PartKey = (PartKind, u32, u32);

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    id: String,
    model: String,
    created: u64,
    done: bool,
    /// Function-call items in order of appearance: (output_index, announced id/name).
    calls: Vec<(u32, bool)>,
    /// The part the last delta belonged to, and what its deltas carried.
    current: Option<PartKey>,
    carried: String,
    /// Parts that had deltas, so a late `.done` never repeats them.
    finished: Vec<PartKey>,
    /// Last `output_index` that produced text / reasoning, for paragraph breaks.
    last_text_item: Option<u32>,
    last_reasoning: Option<(u32, u32)>,
}

impl StreamDecoder {
    /// The context's id, model and time stand until `response.created` names its own.
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
            self.event(&event.data, &mut out)?;
        }
        Ok(out)
    }

    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        let mut out = Vec::new();
        if let Some(event) = self.sse.finish() {
            self.event(&event.data, &mut out)?;
        }
        Ok(out)
    }

    /// `response.completed` or `response.incomplete` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One event's `data` payload.
    pub fn event(&mut self, data: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if data.is_empty() || self.done {
            return Ok(());
        }
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        let ev: Event = serde_json::from_slice(data).map_err(invalid_upstream)?;
        match ev.kind.as_ref() {
            "response.created" => {
                if let Some(r) = &ev.response {
                    self.head(r);
                }
                out.push(self.chunk(
                    Delta {
                        role: Some(Role::Assistant),
                        ..Delta::default()
                    },
                    None,
                    None,
                ));
            }
            "response.output_text.delta" => {
                if let Some(d) = ev.delta.as_deref() {
                    self.text(PartKind::Text, ev.output_index, ev.content_index, d, out);
                }
            }
            "response.output_text.done" => {
                if let Some(t) = ev.text.as_deref() {
                    self.done_part(PartKind::Text, ev.output_index, ev.content_index, t, out);
                }
            }
            "response.refusal.delta" => {
                if let Some(d) = ev.delta.as_deref() {
                    self.text(PartKind::Refusal, ev.output_index, ev.content_index, d, out);
                }
            }
            "response.refusal.done" => {
                if let Some(t) = ev.refusal.as_deref() {
                    self.done_part(PartKind::Refusal, ev.output_index, ev.content_index, t, out);
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(d) = ev.delta.as_deref() {
                    self.text(
                        PartKind::Reasoning,
                        ev.output_index,
                        ev.summary_index.max(ev.content_index),
                        d,
                        out,
                    );
                }
            }
            "response.reasoning_summary_text.done" | "response.reasoning_text.done" => {
                if let Some(t) = ev.text.as_deref() {
                    let sub = ev.summary_index.max(ev.content_index);
                    self.done_part(PartKind::Reasoning, ev.output_index, sub, t, out);
                }
            }
            "response.output_item.added" => {
                if let Some(item) = ev.item.filter(|i| i.kind == "function_call") {
                    let index = self.call_index(ev.output_index);
                    self.calls[index as usize].1 = true;
                    let arguments = item.arguments.unwrap_or_default();
                    let key = (PartKind::Arguments, ev.output_index, 0);
                    if self.current != Some(key) {
                        self.switch_to(key);
                    }
                    self.carried.push_str(&arguments);
                    out.push(self.chunk(
                        tool_delta(ToolCallDelta {
                            index,
                            id: item.call_id,
                            name: item.name,
                            arguments: Some(arguments),
                        }),
                        None,
                        None,
                    ));
                }
            }
            "response.function_call_arguments.delta" => {
                if let Some(d) = ev.delta.as_deref() {
                    self.text(PartKind::Arguments, ev.output_index, 0, d, out);
                }
            }
            "response.function_call_arguments.done" => {
                if let Some(a) = ev.arguments.as_deref() {
                    self.done_part(PartKind::Arguments, ev.output_index, 0, a, out);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = ev.item.filter(|i| i.kind == "function_call") {
                    let index = self.call_index(ev.output_index);
                    if !self.calls[index as usize].1 {
                        // Never announced: the whole call arrives now.
                        self.calls[index as usize].1 = true;
                        out.push(self.chunk(
                            tool_delta(ToolCallDelta {
                                index,
                                id: item.call_id,
                                name: item.name,
                                arguments: Some(String::new()),
                            }),
                            None,
                            None,
                        ));
                    }
                    if let Some(a) = item.arguments.as_deref() {
                        self.done_part(PartKind::Arguments, ev.output_index, 0, a, out);
                    }
                }
            }
            "response.completed" | "response.incomplete" => {
                let status = if ev.kind == "response.completed" {
                    "completed"
                } else {
                    "incomplete"
                };
                let (finish, usage) = match &ev.response {
                    Some(r) => (
                        finish_reason(
                            Some(status),
                            r.incomplete_details.as_ref(),
                            !self.calls.is_empty(),
                        ),
                        r.usage.as_ref().map(usage_from_wire),
                    ),
                    None => (
                        finish_reason(Some(status), None, !self.calls.is_empty()),
                        None,
                    ),
                };
                self.done = true;
                out.push(self.chunk(Delta::default(), Some(finish), usage));
            }
            "response.failed" => {
                let e = ev.response.and_then(|r| r.error).unwrap_or_default();
                return Err(upstream_error(e));
            }
            "error" => {
                let e = ev.error.unwrap_or(ErrorObject {
                    kind: None,
                    code: ev.code,
                    message: ev.message,
                    param: ev.param,
                });
                return Err(upstream_error(e));
            }
            _ => {}
        }
        Ok(())
    }

    fn head(&mut self, r: &ResponseHead) {
        if !r.id.is_empty() {
            self.id.clone_from(&r.id);
        }
        if !r.model.is_empty() {
            self.model.clone_from(&r.model);
        }
        if let Some(at) = r.created_at.filter(|at| *at >= 1.0) {
            self.created = at as u64;
        }
    }

    /// The tool-call index of the function call at `output_index`.
    fn call_index(&mut self, output_index: u32) -> u32 {
        match self.calls.iter().position(|(o, _)| *o == output_index) {
            Some(i) => i as u32,
            None => {
                self.calls.push((output_index, false));
                (self.calls.len() - 1) as u32
            }
        }
    }

    fn switch_to(&mut self, key: PartKey) {
        if let Some(prev) = self.current.replace(key) {
            if !self.finished.contains(&prev) {
                self.finished.push(prev);
            }
        }
        self.carried.clear();
    }

    fn text(&mut self, kind: PartKind, item: u32, sub: u32, delta: &str, out: &mut Vec<ChatChunk>) {
        let key = (kind, item, sub);
        if self.current != Some(key) {
            self.switch_to(key);
        }
        self.carried.push_str(delta);
        let text = self.with_break(kind, item, sub, delta);
        out.push(self.part_chunk(kind, item, text));
    }

    /// The whole text of a part: send what its deltas did not.
    fn done_part(
        &mut self,
        kind: PartKind,
        item: u32,
        sub: u32,
        full: &str,
        out: &mut Vec<ChatChunk>,
    ) {
        let key = (kind, item, sub);
        let rest = if self.current == Some(key) {
            full.strip_prefix(self.carried.as_str())
        } else if self.finished.contains(&key) {
            None
        } else {
            self.switch_to(key);
            Some(full)
        };
        let Some(rest) = rest.filter(|r| !r.is_empty()) else {
            return;
        };
        let rest = rest.to_owned();
        self.carried.push_str(&rest);
        let text = self.with_break(kind, item, sub, &rest);
        out.push(self.part_chunk(kind, item, text));
    }

    /// Separate message items (and reasoning summary parts) become
    /// paragraphs, as the non-stream decoder joins them.
    fn with_break(&mut self, kind: PartKind, item: u32, sub: u32, text: &str) -> String {
        let new_paragraph = match kind {
            PartKind::Text => {
                let prev = self.last_text_item.replace(item);
                prev.is_some_and(|p| p != item)
            }
            PartKind::Reasoning => {
                let prev = self.last_reasoning.replace((item, sub));
                prev.is_some_and(|p| p != (item, sub))
            }
            PartKind::Refusal | PartKind::Arguments => false,
        };
        if new_paragraph {
            let mut s = String::with_capacity(text.len() + 2);
            s.push_str("\n\n");
            s.push_str(text);
            s
        } else {
            text.to_owned()
        }
    }

    fn part_chunk(&mut self, kind: PartKind, item: u32, text: String) -> ChatChunk {
        let delta = match kind {
            PartKind::Text => Delta {
                text: Some(text),
                ..Delta::default()
            },
            PartKind::Refusal => Delta {
                refusal: Some(text),
                ..Delta::default()
            },
            PartKind::Reasoning => Delta {
                reasoning: Some(text),
                ..Delta::default()
            },
            PartKind::Arguments => tool_delta(ToolCallDelta {
                index: self.call_index(item),
                id: None,
                name: None,
                arguments: Some(text),
            }),
        };
        self.chunk(delta, None, None)
    }

    fn chunk(&self, delta: Delta, finish: Option<FinishReason>, usage: Option<Usage>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }],
            usage,
        }
    }
}

fn tool_delta(call: ToolCallDelta) -> Delta {
    Delta {
        tool_calls: vec![call],
        ..Delta::default()
    }
}
