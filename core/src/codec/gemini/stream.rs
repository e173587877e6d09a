//! `streamGenerateContent?alt=sse` → unified chunks. Every event is a whole
//! `GenerateContentResponse` holding that event's increment; usage is
//! cumulative and the last event carries the finish reason.
//!
//! Gemini sends no end-of-stream marker, so [`StreamDecoder::is_done`] stays
//! false and completeness is judged by finish reasons when the body ends: a
//! finish reason may still be followed by an error.
//!
//! Errors arrive in-band in two shapes: `data: {"error": {...}}`, or a bare
//! (pretty-printed) `google.rpc.Status` JSON object outside any `data:` line.

use crate::codec::DecodeContext;
use crate::error::GatewayError;
use crate::stream::sse;
use crate::unified::{ChatChunk, ChunkChoice, Delta, FinishReason, Role, ToolCallDelta};

use super::decode::{
    arguments, blocked, finish_reason, id_seed, invalid_upstream, response_id, tool_call_id, usage,
};
use super::error::status_to_error;
use super::wire::{self, ErrorEnvelope};

/// A bare error body larger than this is not waited for any longer.
const MAX_RAW_ERROR: usize = 64 * 1024;

#[derive(Default)]
pub struct StreamDecoder {
    sse: sse::Decoder,
    /// Bytes of a bare JSON error object, once one has started.
    raw_error: Option<Vec<u8>>,
    /// Set by the first event; later events may omit them.
    id: Option<String>,
    /// The context's until an event names the model version.
    model: String,
    model_named: bool,
    created: u64,
    seed: u64,
    candidates: Vec<CandidateState>,
    /// An error found after chunks that were still returned: reported next.
    failed: Option<GatewayError>,
}

#[derive(Default, Clone, Copy)]
struct CandidateState {
    role_sent: bool,
    tool_calls: u32,
}

impl StreamDecoder {
    /// Gemini's events carry no time stamp: the context's clock gives one.
    pub fn new(ctx: &DecodeContext<'_>) -> Self {
        StreamDecoder {
            model: ctx.model.to_owned(),
            created: ctx.created(),
            ..StreamDecoder::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        let mut out = Vec::new();
        let result = self.push_into(bytes, &mut out);
        self.deliver(result, out)
    }

    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        let mut out = Vec::new();
        let result = self.finish_into(&mut out);
        self.deliver(result, out)
    }

    /// Chunks decoded before an error still reach the client; the error follows.
    fn deliver(
        &mut self,
        result: Result<(), GatewayError>,
        out: Vec<ChatChunk>,
    ) -> Result<Vec<ChatChunk>, GatewayError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match result {
            Ok(()) => Ok(out),
            Err(e) if out.is_empty() => Err(e),
            Err(e) => {
                self.failed = Some(e);
                Ok(out)
            }
        }
    }

    fn push_into(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if let Some(raw) = &mut self.raw_error {
            raw.extend_from_slice(bytes);
            return self.check_raw_error(false);
        }
        self.sse.push(bytes);
        while let Some(event) = self.sse.next_event() {
            self.event(event, out)?;
            if self.raw_error.is_some() {
                // Whatever follows belongs to the error object.
                if let Some(rest) = self.sse.finish() {
                    self.raw_error
                        .get_or_insert_with(Vec::new)
                        .extend_from_slice(&rest.raw);
                }
                return self.check_raw_error(false);
            }
        }
        Ok(())
    }

    fn finish_into(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if self.raw_error.is_none() {
            if let Some(event) = self.sse.finish() {
                self.event(event, out)?;
            }
        }
        if self.raw_error.is_some() {
            self.check_raw_error(true)?;
        }
        Ok(())
    }

    /// Never: Gemini has no in-band end marker (see the module docs).
    pub fn is_done(&self) -> bool {
        false
    }

    fn event(&mut self, event: sse::Event, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if event.data.is_empty() {
            let first = event.raw.iter().find(|b| !b.is_ascii_whitespace());
            if matches!(first, Some(b'{') | Some(b'[')) {
                self.raw_error = Some(event.raw.to_vec());
            }
            return Ok(());
        }
        let r: wire::Response = serde_json::from_slice(&event.data).map_err(invalid_upstream)?;
        if let Some(status) = r.error {
            return Err(stream_failure(status));
        }
        out.push(self.chunk(r, &event.data));
        Ok(())
    }

    fn chunk(&mut self, r: wire::Response<'_>, data: &[u8]) -> ChatChunk {
        if self.id.is_none() {
            self.seed = id_seed(r.response_id.as_deref(), data);
            self.id = Some(response_id(r.response_id.as_deref(), self.seed));
        }
        if let (Some(model), false) = (&r.model_version, self.model_named) {
            self.model = model.clone().into_owned();
            self.model_named = true;
        }
        let mut choices = Vec::with_capacity(r.candidates.len());
        for (i, candidate) in r.candidates.into_iter().enumerate() {
            let index = candidate.index.unwrap_or(i as u32);
            let slot = index as usize;
            if self.candidates.len() <= slot {
                self.candidates.resize(slot + 1, CandidateState::default());
            }
            let mut delta = Delta::default();
            let state = &mut self.candidates[slot];
            if !state.role_sent {
                delta.role = Some(Role::Assistant);
                state.role_sent = true;
            }
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    let id = tool_call_id(
                        self.seed,
                        index,
                        state.tool_calls,
                        &call,
                        part.thought_signature.as_deref(),
                    );
                    delta.tool_calls.push(ToolCallDelta {
                        index: state.tool_calls,
                        id: Some(id),
                        arguments: Some(arguments(call.args)),
                        name: Some(call.name.into_owned()),
                    });
                    state.tool_calls += 1;
                } else if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                    let slot = if part.thought {
                        &mut delta.reasoning
                    } else {
                        &mut delta.text
                    };
                    match slot {
                        Some(s) => s.push_str(&text),
                        None => *slot = Some(text.into_owned()),
                    }
                }
            }
            choices.push(ChunkChoice {
                index,
                delta,
                finish_reason: candidate
                    .finish_reason
                    .as_deref()
                    .map(|f| finish_reason(f, state.tool_calls > 0)),
            });
        }
        if choices.is_empty() && blocked(r.prompt_feedback.as_ref()) {
            choices.push(ChunkChoice {
                index: 0,
                delta: Delta {
                    role: Some(Role::Assistant),
                    ..Delta::default()
                },
                finish_reason: Some(FinishReason::ContentFilter),
            });
        }
        ChatChunk {
            id: self.id.clone().unwrap_or_default(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage: r.usage_metadata.as_ref().map(usage),
        }
    }

    /// Fails with the bare error object once it is complete (or, at the end
    /// of the body, with whatever arrived of it).
    fn check_raw_error(&mut self, at_end: bool) -> Result<(), GatewayError> {
        let Some(raw) = &self.raw_error else {
            return Ok(());
        };
        if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(raw) {
            if let Some(status) = envelope.into_status() {
                return Err(stream_failure(status));
            }
        }
        if at_end || raw.len() > MAX_RAW_ERROR {
            return Err(crate::codec::openai_chat::stream_error(
                "Gemini interrupted the stream with a malformed error.".into(),
            ));
        }
        Ok(())
    }
}

/// An in-band error: whatever its class, the stream is broken for the client.
fn stream_failure(status: wire::Status) -> GatewayError {
    let e = status_to_error(status, None);
    crate::codec::openai_chat::stream_error(format!("Gemini stream failed: {}", e.message))
}
