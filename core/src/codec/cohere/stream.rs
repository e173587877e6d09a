//! Cohere v2 SSE events → unified chunks. The event type is the `event:` line
//! when present, so each payload is parsed once, straight into the one shape
//! its type has (`content` is an array in `message-start` and an object in
//! `content-delta`: no single shape fits); without the line, the payload's
//! `type` is read first.

use std::borrow::Cow;

use serde::Deserialize;

use crate::codec::openai_chat::stream_error;
use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::{ChatChunk, ChunkChoice, Delta, FinishReason, Role, ToolCallDelta};

use super::{finish_reason, usage_from_wire, WireUsage};

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    id: String,
    /// Cohere's events name neither: the context's.
    model: String,
    created: u64,
    done: bool,
}

/// What an event is, when no `event:` line said it.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    /// Only error payloads have a top-level message.
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Payload<T> {
    #[serde(default)]
    index: Option<u32>,
    delta: T,
}

#[derive(Deserialize)]
struct Start {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct Wrapped<T> {
    message: T,
}

#[derive(Deserialize)]
struct ContentDelta {
    content: ContentPiece,
}

#[derive(Deserialize)]
struct ContentPiece {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
}

#[derive(Deserialize)]
struct PlanDelta {
    tool_plan: String,
}

#[derive(Deserialize)]
struct CallDelta {
    tool_calls: CallPiece,
}

#[derive(Deserialize)]
struct CallPiece {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionPiece>,
}

#[derive(Deserialize)]
struct FunctionPiece {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct EndDelta {
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<String>,
}

impl StreamDecoder {
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

    /// `message-end` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn event(&mut self, event: &sse::Event, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        let data = &event.data[..];
        if data.is_empty() || self.done || data == b"[DONE]" {
            return Ok(());
        }
        let from_line = event
            .event
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .filter(|k| !k.is_empty());
        let head: Option<Head> = match from_line {
            Some(_) => None,
            None => Some(parse(data)?),
        };
        let kind = from_line
            .or_else(|| head.as_ref().and_then(|h| h.kind.as_deref()))
            .unwrap_or("");
        let delta = match kind {
            "message-start" => {
                if let Some(id) = parse::<Start>(data)?.id {
                    self.id = id;
                }
                Delta {
                    role: Some(Role::Assistant),
                    ..Delta::default()
                }
            }
            "content-delta" => {
                let content = parse::<Payload<Wrapped<ContentDelta>>>(data)?
                    .delta
                    .message
                    .content;
                Delta {
                    text: content.text,
                    reasoning: content.thinking,
                    ..Delta::default()
                }
            }
            "tool-plan-delta" => Delta {
                reasoning: Some(
                    parse::<Payload<Wrapped<PlanDelta>>>(data)?
                        .delta
                        .message
                        .tool_plan,
                ),
                ..Delta::default()
            },
            "tool-call-start" | "tool-call-delta" => {
                let d: Payload<Wrapped<CallDelta>> = parse(data)?;
                let call = d.delta.message.tool_calls;
                let (name, arguments) = match call.function {
                    Some(f) => (f.name, f.arguments),
                    None => (None, None),
                };
                Delta {
                    tool_calls: vec![ToolCallDelta {
                        index: d.index.unwrap_or(0),
                        id: call.id,
                        name,
                        arguments,
                    }],
                    ..Delta::default()
                }
            }
            "message-end" => {
                let end = parse::<Payload<EndDelta>>(data)?.delta;
                if let Some(error) = end.error.filter(|e| !e.is_empty()) {
                    return Err(stream_error(error));
                }
                self.done = true;
                let finish = end
                    .finish_reason
                    .as_deref()
                    .map_or(FinishReason::Stop, finish_reason);
                out.push(self.chunk(Delta::default(), Some(finish)));
                if let Some(last) = out.last_mut() {
                    last.usage = end.usage.as_ref().map(usage_from_wire);
                }
                return Ok(());
            }
            "" => {
                return Err(stream_error(head.and_then(|h| h.message).unwrap_or_else(
                    || "The upstream sent an event without a type.".into(),
                )))
            }
            // content-start/-end, tool-call-end, citations, debug: nothing to relay.
            _ => return Ok(()),
        };
        out.push(self.chunk(delta, None));
        Ok(())
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
            }],
            usage: None,
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(data: &'a [u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(data)
        .map_err(|e| stream_error(format!("The upstream sent malformed stream data ({e}).")))
}
