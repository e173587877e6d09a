//! Cohere Chat v2: requests to `{api_base}/v2/chat` (bearer key), responses
//! and SSE events (`message-start` … `message-end`) into the unified types,
//! and Cohere's `{"message": …}` error bodies into the gateway's errors.
//!
//! Cohere's `tool_plan` (what the model means to do with its tool calls) is
//! carried as reasoning: clients see it as `reasoning_content`, and when they
//! send it back on an assistant turn with tool calls it becomes `tool_plan` again.

mod encode;
mod stream;

pub use encode::render_request;
pub use stream::StreamDecoder;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::codec::{upstream_error, DecodeContext};
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::unified::{ChatRequest, ChatResponse, Choice, FinishReason, Part, Usage};

pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = render_request(req, &deployment.upstream_model)?;
    let base = deployment.api_base.trim_end_matches('/');
    let base = base.strip_suffix("/v2").unwrap_or(base);
    let accept = if req.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let url = format!("{base}/v2/chat");
    super::request::post_json(deployment, &url, accept, super::request::Auth::Bearer, body)
}

// ---- responses ------------------------------------------------------------

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    id: String,
    message: AssistantMessage,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    tool_plan: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum ContentBlock {
    #[serde(rename = "text")]
    Text { text: String },
    #[serde(rename = "thinking")]
    Thinking { thinking: String },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct ToolCall {
    #[serde(default)]
    id: String,
    function: Function,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct WireUsage {
    #[serde(default)]
    billed_units: Option<Units>,
    #[serde(default)]
    tokens: Option<Units>,
    #[serde(default)]
    cached_tokens: Option<f64>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct Units {
    #[serde(default)]
    input_tokens: Option<f64>,
    #[serde(default)]
    output_tokens: Option<f64>,
}

/// `tokens` is what the model processed (system preamble and cached prefix
/// included), which is what "input tokens" means everywhere else in the
/// gateway; `billed_units` is only used when `tokens` is missing.
pub(crate) fn usage_from_wire(u: &WireUsage) -> Usage {
    let units = u.tokens.or(u.billed_units).unwrap_or_default();
    let n = |v: Option<f64>| v.map_or(0, |v| v.max(0.0) as u64);
    Usage {
        input_tokens: n(units.input_tokens),
        output_tokens: n(units.output_tokens),
        cache_read_tokens: n(u.cached_tokens),
        ..Usage::default()
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" | "ERROR_LIMIT" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        "ERROR_TOXIC" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

/// A whole response; Cohere names no model or creation time.
pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let r: Response = serde_json::from_slice(body).map_err(invalid_upstream)?;
    let mut content = Vec::new();
    let mut thinking = String::new();
    let mut text = String::new();
    if let Some(plan) = r.message.tool_plan.filter(|p| !p.is_empty()) {
        thinking.push_str(&plan);
    }
    for block in r.message.content.unwrap_or_default() {
        match block {
            ContentBlock::Text { text: t } => text.push_str(&t),
            ContentBlock::Thinking { thinking: t } => thinking.push_str(&t),
            ContentBlock::Other => {}
        }
    }
    if !thinking.is_empty() {
        content.push(Part::Thinking {
            text: thinking,
            signature: None,
        });
    }
    if !text.is_empty() {
        content.push(Part::Text {
            text,
            cache_control: None,
        });
    }
    for call in r.message.tool_calls.unwrap_or_default() {
        content.push(Part::ToolUse {
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
            cache_control: None,
        });
    }
    Ok(ChatResponse {
        id: ctx.id_or_new(r.id),
        created: ctx.created(),
        model: ctx.model.to_owned(),
        choices: vec![Choice {
            index: 0,
            content,
            refusal: None,
            finish_reason: r.finish_reason.as_deref().map(finish_reason),
        }],
        usage: r.usage.as_ref().map(usage_from_wire),
        system_fingerprint: None,
    })
}

// ---- errors ---------------------------------------------------------------

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// Cohere answers errors with `{"id": …, "message": …}` and the HTTP status.
pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    _deployment: &Deployment,
) -> GatewayError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if !b.message.is_empty() => b.message,
        _ => upstream_error::raw_message(status, body),
    };
    let context =
        status == StatusCode::BAD_REQUEST && upstream_error::says_context_exceeded(&message);
    let err = upstream_error::from_status(status, headers, message);
    if context {
        return upstream_error::context_exceeded(err);
    }
    err
}

fn invalid_upstream(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("upstream returned a body that is not a valid Cohere chat response: {e}"),
    )
    .with_code("invalid_upstream_response")
}

#[cfg(test)]
mod tests;
