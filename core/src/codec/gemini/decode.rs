//! `GenerateContentResponse` → unified response; the pieces the stream
//! decoder shares (usage, finish reasons, tool-call ids).

use std::borrow::Cow;

use crate::codec::DecodeContext;
use crate::error::{ErrorKind, GatewayError};
use crate::unified::{ChatResponse, Choice, FinishReason, Part, Usage};

use super::tool_call_id_with_signature;
use super::wire::{self, UsageMetadata};

/// A whole response; Gemini names no creation time.
pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let r: wire::Response = serde_json::from_slice(body).map_err(invalid_upstream)?;
    if let Some(status) = r.error {
        return Err(super::error::status_to_error(status, None));
    }
    let seed = id_seed(r.response_id.as_deref(), body);
    let mut choices = Vec::with_capacity(r.candidates.len().max(1));
    for (i, candidate) in r.candidates.into_iter().enumerate() {
        let index = candidate.index.unwrap_or(i as u32);
        let mut content = Vec::new();
        let mut calls = 0u32;
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(call) = part.function_call {
                content.push(Part::ToolUse {
                    id: tool_call_id(seed, index, calls, &call, part.thought_signature.as_deref()),
                    arguments: arguments(call.args),
                    name: call.name.into_owned(),
                    cache_control: None,
                });
                calls += 1;
            } else if let Some(text) = part.text {
                let text = text.into_owned();
                if part.thought {
                    content.push(Part::Thinking {
                        text,
                        signature: None,
                    });
                } else {
                    content.push(Part::Text {
                        text,
                        cache_control: None,
                    });
                }
            }
        }
        choices.push(Choice {
            index,
            content,
            refusal: None,
            finish_reason: candidate
                .finish_reason
                .as_deref()
                .map(|f| finish_reason(f, calls > 0)),
        });
    }
    if choices.is_empty() && blocked(r.prompt_feedback.as_ref()) {
        choices.push(Choice {
            index: 0,
            content: Vec::new(),
            refusal: None,
            finish_reason: Some(FinishReason::ContentFilter),
        });
    }
    Ok(ChatResponse {
        id: response_id(r.response_id.as_deref(), seed),
        created: ctx.created(),
        model: ctx.model_or_called(r.model_version.map(Cow::into_owned).unwrap_or_default()),
        choices,
        usage: r.usage_metadata.as_ref().map(usage),
        system_fingerprint: None,
    })
}

/// The prompt itself was refused (`promptFeedback.blockReason`): no candidates come.
pub(super) fn blocked(feedback: Option<&wire::PromptFeedback>) -> bool {
    feedback.is_some_and(|f| f.block_reason.is_some())
}

pub(super) fn usage(u: &UsageMetadata) -> Usage {
    Usage {
        // Cached tokens are part of `promptTokenCount`, as the unified usage wants.
        input_tokens: u.prompt_token_count + u.tool_use_prompt_token_count,
        // Thinking is billed as output; `candidatesTokenCount` leaves it out.
        output_tokens: u.candidates_token_count + u.thoughts_token_count,
        cache_read_tokens: u.cached_content_token_count,
        reasoning_tokens: u.thoughts_token_count,
        input_audio_tokens: u.prompt_audio_tokens,
        output_audio_tokens: u.candidates_audio_tokens,
        ..Usage::default()
    }
}

/// Gemini says `STOP` after function calls too; OpenAI clients look for `tool_calls`.
pub(super) fn finish_reason(reason: &str, called_tool: bool) -> FinishReason {
    match reason {
        "STOP" if called_tool => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The id clients see for the `n`th call of a candidate: Gemini's own when it
/// sends one, else made up from the response; the thought signature rides along.
pub(super) fn tool_call_id(
    seed: u64,
    candidate: u32,
    n: u32,
    call: &wire::FunctionCall<'_>,
    signature: Option<&str>,
) -> String {
    let base = match call.id.as_deref() {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("call_{seed:016x}_{candidate}_{n}"),
    };
    tool_call_id_with_signature(&base, signature)
}

/// Seeds made-up ids: the response id when there is one, else the bytes.
pub(super) fn id_seed(response_id: Option<&str>, body: &[u8]) -> u64 {
    fnv1a(response_id.map_or(body, str::as_bytes))
}

pub(super) fn response_id(response_id: Option<&str>, seed: u64) -> String {
    match response_id {
        Some(id) => id.to_owned(),
        None => format!("gemini-{seed:016x}"),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Function-call arguments as compact JSON text (Gemini sends an object,
/// sometimes pretty-printed); `{}` when there are none.
pub(super) fn arguments(args: Option<&serde_json::value::RawValue>) -> String {
    match args {
        Some(raw) => compact_json(raw.get()),
        None => "{}".to_owned(),
    }
}

/// Drops insignificant whitespace from valid JSON, keeping key order.
fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

pub(super) fn invalid_upstream(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("Gemini returned a body that is not a valid GenerateContentResponse: {e}"),
    )
    .with_code("invalid_upstream_response")
}
