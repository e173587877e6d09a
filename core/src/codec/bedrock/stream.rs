//! ConverseStream → unified chunks: event stream frames in, one chunk per
//! content event out.
//!
//! Event order on the wire: `messageStart`, then per content block
//! `contentBlockStart` (tool use only), `contentBlockDelta`s and
//! `contentBlockStop`, then `messageStop` (stop reason) and `metadata` (usage).
//! The answer is complete once both of the last two arrived, in either order.
//! An `exception` message ends the stream with the error it names.

use http::StatusCode;

use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::eventstream::{Frame, FrameDecoder};
use crate::unified::{ChatChunk, ChunkChoice, Delta, Role, ToolCallDelta};

use super::wire;

#[derive(Default)]
pub struct StreamDecoder {
    frames: FrameDecoder,
    id: String,
    model: String,
    created: u64,
    /// (content block index, tool call index) of each tool use block so far.
    tools: Vec<(u32, u32)>,
    saw_stop: bool,
    saw_metadata: bool,
}

impl StreamDecoder {
    /// The stream names no id, model or creation time: every chunk reports
    /// the context's.
    pub fn new(ctx: &DecodeContext<'_>) -> Self {
        StreamDecoder {
            id: ctx.new_id(),
            model: ctx.model.to_owned(),
            created: ctx.created(),
            ..StreamDecoder::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        self.frames.push(bytes);
        let mut out = Vec::new();
        loop {
            let frame = match self.frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return Err(framing_error(&e.to_string())),
            };
            // The frame borrows the buffer; what it yields is owned.
            let event = Event::read(&frame)?;
            if let Some(chunk) = apply(
                event,
                &mut self.tools,
                &mut self.saw_stop,
                &mut self.saw_metadata,
            )? {
                out.push(ChatChunk {
                    id: self.id.clone(),
                    created: self.created,
                    model: self.model.clone(),
                    ..chunk
                });
            }
        }
        Ok(out)
    }

    /// A partial frame left at the end is not an error here: without the
    /// final events [`is_done`](Self::is_done) stays false and the stream
    /// counts as cut.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        Ok(Vec::new())
    }

    pub fn is_done(&self) -> bool {
        self.saw_stop && self.saw_metadata
    }
}

/// One decoded message, detached from the frame buffer.
enum Event {
    MessageStart,
    BlockStart(wire::ContentBlockStart),
    BlockDelta(wire::ContentBlockDelta),
    MessageStop(wire::MessageStop),
    Metadata(wire::Metadata),
    /// `contentBlockStop` and event types this codec does not know.
    Ignored,
}

impl Event {
    fn read(frame: &Frame<'_>) -> Result<Event, GatewayError> {
        match frame.header_str(":message-type").unwrap_or("event") {
            "event" => {}
            "exception" => {
                let kind = frame.header_str(":exception-type").unwrap_or("exception");
                let body: wire::ErrorBody =
                    serde_json::from_slice(frame.payload).unwrap_or_default();
                return Err(exception_error(kind, body.message));
            }
            _ => {
                // `error` messages carry their details in headers.
                let code = frame.header_str(":error-code").unwrap_or("InternalFailure");
                let message = frame.header_str(":error-message").map(str::to_owned);
                return Err(exception_error(code, message));
            }
        }
        let payload = frame.payload;
        Ok(match frame.header_str(":event-type").unwrap_or("") {
            "messageStart" => Event::MessageStart,
            "contentBlockStart" => Event::BlockStart(json(payload)?),
            "contentBlockDelta" => Event::BlockDelta(json(payload)?),
            "messageStop" => Event::MessageStop(json(payload)?),
            "metadata" => Event::Metadata(json(payload)?),
            _ => Event::Ignored,
        })
    }
}

fn json<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(payload)
        .map_err(|e| framing_error(&format!("an event's JSON does not parse: {e}")))
}

fn chunk(delta: Delta, finish: Option<crate::unified::FinishReason>) -> ChatChunk {
    ChatChunk {
        id: String::new(),
        created: 0,
        model: String::new(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
        }],
        usage: None,
    }
}

fn tool_index(tools: &mut Vec<(u32, u32)>, block: u32) -> (u32, bool) {
    if let Some(&(_, i)) = tools.iter().find(|(b, _)| *b == block) {
        return (i, false);
    }
    let i = tools.len() as u32;
    tools.push((block, i));
    (i, true)
}

fn apply(
    event: Event,
    tools: &mut Vec<(u32, u32)>,
    saw_stop: &mut bool,
    saw_metadata: &mut bool,
) -> Result<Option<ChatChunk>, GatewayError> {
    Ok(match event {
        Event::MessageStart => Some(chunk(
            Delta {
                role: Some(Role::Assistant),
                ..Delta::default()
            },
            None,
        )),
        Event::BlockStart(start) => {
            let Some(tool) = start.start.and_then(|s| s.tool_use) else {
                return Ok(None);
            };
            let (index, _) = tool_index(tools, start.content_block_index);
            Some(chunk(
                Delta {
                    tool_calls: vec![ToolCallDelta {
                        index,
                        id: Some(tool.tool_use_id),
                        name: Some(tool.name),
                        arguments: Some(String::new()),
                    }],
                    ..Delta::default()
                },
                None,
            ))
        }
        Event::BlockDelta(d) => {
            let block = d.content_block_index;
            let d = d.delta;
            if let Some(text) = d.text.filter(|t| !t.is_empty()) {
                Some(chunk(
                    Delta {
                        text: Some(text),
                        ..Delta::default()
                    },
                    None,
                ))
            } else if let Some(tool) = d.tool_use {
                let (index, _) = tool_index(tools, block);
                Some(chunk(
                    Delta {
                        tool_calls: vec![ToolCallDelta {
                            index,
                            arguments: Some(tool.input),
                            ..ToolCallDelta::default()
                        }],
                        ..Delta::default()
                    },
                    None,
                ))
            } else if let Some(r) = d.reasoning_content {
                let text = r.text.filter(|t| !t.is_empty());
                if text.is_none() && r.signature.is_none() {
                    None
                } else {
                    Some(chunk(
                        Delta {
                            reasoning: text,
                            reasoning_signature: r.signature,
                            ..Delta::default()
                        },
                        None,
                    ))
                }
            } else {
                None
            }
        }
        Event::MessageStop(stop) => {
            *saw_stop = true;
            let reason = stop.stop_reason.as_deref().unwrap_or("end_turn");
            Some(chunk(Delta::default(), Some(super::finish_reason(reason))))
        }
        Event::Metadata(meta) => {
            *saw_metadata = true;
            meta.usage.map(|u| ChatChunk {
                id: String::new(),
                created: 0,
                model: String::new(),
                choices: Vec::new(),
                usage: Some(super::usage_from_wire(&u)),
            })
        }
        Event::Ignored => None,
    })
}

/// `throttlingException` → `ThrottlingException`: the HTTP error's name.
fn exception_error(kind: &str, message: Option<String>) -> GatewayError {
    let mut name = String::with_capacity(kind.len());
    let mut chars = kind.chars();
    if let Some(first) = chars.next() {
        name.extend(first.to_uppercase());
        name.extend(chars);
    }
    let mut err = super::error_for(Some(&name), StatusCode::BAD_GATEWAY, message);
    err.message = format!("Bedrock stream failed: {}", err.message);
    err
}

fn framing_error(detail: &str) -> GatewayError {
    super::super::openai_chat::stream_error(format!(
        "Bedrock sent a malformed event stream: {detail}."
    ))
}
