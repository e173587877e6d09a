//! The OpenAI Chat Completions codec: requests to `{api_base}/chat/completions`,
//! responses, stream chunks and error bodies back into the unified types.
//! Shared by OpenAI itself and every provider that imitates its API.

mod encode;
mod stream;
pub mod wire;

pub use encode::render_request;
pub use stream::StreamDecoder;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::codec::DecodeContext;
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::unified::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, Part, Role, ToolCallDelta,
    Usage,
};

/// Builds the upstream request around an already-rendered JSON body.
pub fn build_request(
    deployment: &Deployment,
    body: Vec<u8>,
    stream: bool,
) -> Result<http::Request<Bytes>, GatewayError> {
    let url = format!("{}/chat/completions", deployment.api_base);
    let accept = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    super::request::post_json(deployment, &url, accept, super::request::Auth::Bearer, body)
}

/// The usage in an OpenAI-format whole answer (chat, text completions,
/// embeddings), if it has one.
pub fn usage_of(body: &[u8]) -> Result<Option<Usage>, GatewayError> {
    let usage = super::usage_in::<wire::Usage>(body)?;
    Ok(usage.as_ref().map(usage_from_wire))
}

pub fn usage_from_wire(u: &wire::Usage) -> Usage {
    let prompt = u.prompt_tokens_details.unwrap_or_default();
    let completion = u.completion_tokens_details.unwrap_or_default();
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cache_read_tokens: prompt.cached_tokens,
        cache_write_tokens: prompt.cache_creation_tokens,
        reasoning_tokens: completion.reasoning_tokens,
        input_audio_tokens: prompt.audio_tokens,
        output_audio_tokens: completion.audio_tokens,
        ..Usage::default()
    }
}

/// OpenAI's usage object has no place for 1-hour cache writes: they are
/// among `cache_creation_tokens`.
pub fn usage_to_wire(u: &Usage) -> wire::Usage {
    wire::Usage {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.total(),
        prompt_tokens_details: Some(wire::PromptDetails {
            cached_tokens: u.cache_read_tokens,
            cache_creation_tokens: u.cache_write_tokens,
            audio_tokens: u.input_audio_tokens,
        }),
        completion_tokens_details: Some(wire::CompletionDetails {
            reasoning_tokens: u.reasoning_tokens,
            audio_tokens: u.output_audio_tokens,
        }),
    }
}

/// A whole (non-streamed) response body; what a compatible server leaves
/// out of it (id, model, time) comes from the context.
pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let r: wire::Response = serde_json::from_slice(body).map_err(invalid_upstream)?;
    let choices = r
        .choices
        .into_iter()
        .map(|c| {
            let mut content = Vec::new();
            // Signed blocks say all `reasoning_content` says, and more.
            let blocks = c.message.thinking_blocks.unwrap_or_default();
            if !blocks.is_empty() {
                content.extend(
                    blocks
                        .into_iter()
                        .filter_map(wire::ThinkingBlock::into_part),
                );
            } else if let Some(reasoning) = c.message.reasoning_content.filter(|s| !s.is_empty()) {
                content.push(Part::Thinking {
                    text: reasoning,
                    signature: None,
                });
            }
            if let Some(text) = c.message.content {
                content.push(Part::Text {
                    text,
                    cache_control: None,
                });
            }
            for call in c.message.tool_calls.unwrap_or_default() {
                content.push(Part::ToolUse {
                    id: call.id,
                    name: call.function.name,
                    arguments: call.function.arguments,
                    cache_control: None,
                });
            }
            Choice {
                index: c.index,
                content,
                refusal: c.message.refusal,
                finish_reason: c.finish_reason.as_deref().map(FinishReason::from_openai),
            }
        })
        .collect();
    Ok(ChatResponse {
        id: ctx.id_or_new(r.id),
        created: ctx.created_or_now(r.created),
        model: ctx.model_or_called(r.model),
        choices,
        usage: r.usage.as_ref().map(usage_from_wire),
        system_fingerprint: r.system_fingerprint,
    })
}

/// The `data:` payload of one stream event (not `[DONE]`).
pub fn decode_chunk(data: &[u8]) -> Result<ChatChunk, GatewayError> {
    let c: wire::Chunk = serde_json::from_slice(data).map_err(invalid_upstream)?;
    let choices = c
        .choices
        .into_iter()
        .map(|ch| {
            let d = ch.delta.unwrap_or_default();
            let mut reasoning = d.reasoning_content;
            let (mut signature, mut redacted) = (None, None);
            for b in d.thinking_blocks.unwrap_or_default() {
                match b.kind.as_str() {
                    "thinking" => {
                        if reasoning.is_none() {
                            reasoning = b.thinking.filter(|t| !t.is_empty());
                        }
                        signature = b.signature.filter(|s| !s.is_empty()).or(signature);
                    }
                    "redacted_thinking" => redacted = b.data,
                    _ => {}
                }
            }
            ChunkChoice {
                index: ch.index,
                delta: Delta {
                    role: d.role.as_deref().and_then(role_from_openai),
                    text: d.content,
                    reasoning,
                    reasoning_signature: signature,
                    redacted_reasoning: redacted,
                    refusal: d.refusal,
                    tool_calls: d
                        .tool_calls
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| {
                            let f = t.function;
                            ToolCallDelta {
                                index: t.index,
                                id: t.id,
                                name: f.as_ref().and_then(|f| f.name.clone()),
                                arguments: f.and_then(|f| f.arguments),
                            }
                        })
                        .collect(),
                },
                finish_reason: ch.finish_reason.as_deref().map(FinishReason::from_openai),
            }
        })
        .collect();
    Ok(ChatChunk {
        id: c.id,
        created: c.created,
        model: c.model,
        choices,
        usage: c.usage.as_ref().map(usage_from_wire),
    })
}

/// The speaker of an OpenAI message or delta; `None` for `tool` and
/// `function`, whose messages are tool results rather than a role.
pub fn role_from_openai(role: &str) -> Option<Role> {
    Some(match role {
        "system" => Role::System,
        "developer" => Role::Developer,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    })
}

/// What the passthrough relay needs from each chunk, read without building it.
#[derive(Debug, Deserialize)]
pub struct ChunkProbe {
    #[serde(default)]
    pub choices: Option<Vec<ChoiceProbe>>,
    #[serde(default)]
    pub usage: Option<wire::Usage>,
    #[serde(default)]
    pub error: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
pub struct ChoiceProbe {
    #[serde(default)]
    pub finish_reason: Option<IgnoredAny>,
}

/// What the passthrough path needs from a whole response body.
#[derive(Debug, Deserialize)]
pub struct ResponseProbe {
    #[serde(default)]
    pub usage: Option<wire::Usage>,
}

/// An upstream error response → the gateway's error, status preserved.
pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    _deployment: &Deployment,
) -> GatewayError {
    let parsed: Option<wire::ErrorBody> = serde_json::from_slice(body).ok();
    let (message, kind_s, param, code) = match parsed.map(|b| b.error) {
        Some(wire::ErrorDetail::Object {
            message,
            kind,
            param,
            code,
        }) => (
            message,
            kind,
            param.and_then(json_scalar),
            code.and_then(json_scalar),
        ),
        Some(wire::ErrorDetail::Text(t)) => (Some(t), None, None, None),
        None => (None, None, None, None),
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("upstream returned HTTP {}", status.as_u16())
        } else {
            text.to_owned()
        }
    });
    let kind = classify(status, code.as_deref(), kind_s.as_deref());
    let status = if status.is_client_error() || status.is_server_error() {
        status
    } else {
        StatusCode::BAD_GATEWAY
    };
    GatewayError {
        kind,
        status,
        message,
        param: param.map(Into::into),
        code: code.map(Into::into),
        upstream_type: kind_s.map(Into::into),
        retry_after: retry_after(headers).map(Into::into),
        operator_note: None,
    }
}

fn classify(status: StatusCode, code: Option<&str>, kind: Option<&str>) -> ErrorKind {
    if code == Some("context_length_exceeded") {
        return ErrorKind::ContextWindowExceeded;
    }
    if code == Some("content_filter") || code == Some("content_policy_violation") {
        return ErrorKind::ContentFiltered;
    }
    match status.as_u16() {
        401 => ErrorKind::Authentication,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::UpstreamTimeout,
        413 => ErrorKind::PayloadTooLarge,
        429 => ErrorKind::RateLimited,
        502 | 503 => ErrorKind::UpstreamUnavailable,
        s if s >= 500 => ErrorKind::UpstreamServer,
        _ if kind == Some("overloaded_error") => ErrorKind::UpstreamServer,
        s if s >= 400 => ErrorKind::InvalidRequest,
        _ => ErrorKind::UpstreamUnavailable,
    }
}

/// `Retry-After` verbatim, or `retry-after-ms` rounded up to whole seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.to_owned());
    }
    let ms: f64 = headers.get("retry-after-ms")?.to_str().ok()?.parse().ok()?;
    Some(((ms / 1000.0).ceil() as u64).to_string())
}

fn json_scalar(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The unified request as an OpenAI chat request to `deployment`.
pub fn encode(
    req: &crate::unified::ChatRequest,
    deployment: &Deployment,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = render_request(req, &deployment.upstream_model);
    build_request(deployment, body, req.stream)
}

/// An error the upstream reported inside an already-started stream.
pub fn stream_error(message: String) -> GatewayError {
    GatewayError::new(ErrorKind::UpstreamUnavailable, message).with_code("upstream_stream_error")
}

fn invalid_upstream(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("upstream returned a body that is not a valid chat completion: {e}"),
    )
    .with_code("invalid_upstream_response")
}

#[cfg(test)]
mod tests;
