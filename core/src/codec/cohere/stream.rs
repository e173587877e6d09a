//! Cohere v2 SSE events → unified chunks. The event type is the `event:` line
//! when present, else the payload's `type`; each payload's `delta` is read
//! with the one shape that event type has (`content` is an array in
//! `message-start` and an object in `content-delta`, so no single shape fits).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::codec::openai_chat::stream_error;
use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::{ChatChunk, ChunkChoice, Delta, Role, ToolCallDelta};

use super::{finish_reason, usage_from_wire, WireUsage};

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    id: String,
    done: bool,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    delta: Option<&'a RawValue>,
    /// Only error payloads have a top-level message.
    #[serde(default)]
    message: Option<String>,
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
    pub fn new() -> Self {
        StreamDecoder::default()
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
        let ev: Event = serde_json::from_slice(data)
            .map_err(|e| stream_error(format!("The upstream sent malformed stream data ({e}).")))?;
        let from_line = event
            .event
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok());
        let kind = ev.kind.as_deref().or(from_line).unwrap_or("");
        let delta = ev.delta.map(RawValue::get).unwrap_or("null");
        let index = ev.index.unwrap_or(0);
        let choice = match kind {
            "message-start" => {
                if let Some(id) = ev.id {
                    self.id = id;
                }
                Delta {
                    role: Some(Role::Assistant),
                    ..Delta::default()
                }
            }
            "content-delta" => {
                let d: Wrapped<ContentDelta> = parse(delta)?;
                Delta {
                    text: d.message.content.text,
                    reasoning: d.message.content.thinking,
                    ..Delta::default()
                }
            }
            "tool-plan-delta" => {
                let d: Wrapped<PlanDelta> = parse(delta)?;
                Delta {
                    reasoning: Some(d.message.tool_plan),
                    ..Delta::default()
                }
            }
            "tool-call-start" | "tool-call-delta" => {
                let d: Wrapped<CallDelta> = parse(delta)?;
                let call = d.message.tool_calls;
                let (name, arguments) = match call.function {
                    Some(f) => (f.name, f.arguments),
                    None => (None, None),
                };
                Delta {
                    tool_calls: vec![ToolCallDelta {
                        index,
                        id: call.id,
                        name,
                        arguments,
                    }],
                    ..Delta::default()
                }
            }
            "message-end" => {
                let d: EndDelta = parse(delta)?;
                if let Some(error) = d.error.filter(|e| !e.is_empty()) {
                    return Err(stream_error(error));
                }
                self.done = true;
                out.push(ChatChunk {
                    id: self.id.clone(),
                    created: 0,
                    model: String::new(),
                    choices: vec![ChunkChoice {
                        index: 0,
                        delta: Delta::default(),
                        finish_reason: Some(
                            d.finish_reason
                                .as_deref()
                                .map_or(crate::unified::FinishReason::Stop, finish_reason),
                        ),
                    }],
                    usage: d.usage.as_ref().map(usage_from_wire),
                });
                return Ok(());
            }
            "" => {
                return Err(stream_error(ev.message.unwrap_or_else(|| {
                    "The upstream sent an event without a type.".into()
                })))
            }
            // content-start/-end, tool-call-end, citations, debug: nothing to relay.
            _ => return Ok(()),
        };
        out.push(ChatChunk {
            id: self.id.clone(),
            created: 0,
            model: String::new(),
            choices: vec![ChunkChoice {
                index: 0,
                delta: choice,
                finish_reason: None,
            }],
            usage: None,
        });
        Ok(())
    }
}

fn parse<'a, T: Deserialize<'a>>(delta: &'a str) -> Result<T, GatewayError> {
    serde_json::from_str(delta).map_err(|e| {
        stream_error(format!(
            "The upstream sent an unexpected stream event ({e})."
        ))
    })
}
