//! The OpenAI Responses API codec: requests to `{api_base}/responses`, its
//! response objects and typed stream events back into the unified types.
//!
//! Used for the models OpenAI serves only there (see `quirks::RESPONSES_ONLY`)
//! and for deployments with `api_mode = "responses"`. Errors have the same
//! shape as Chat Completions', so `openai_chat::decode_error` reads them.
//!
//! Azure OpenAI serves the same format under its own URL and auth header:
//! [`encode_to`] takes both, so the Azure provider reuses everything here.

mod encode;
mod stream;
pub mod wire;

pub use encode::render_request;
pub use stream::StreamDecoder;

use bytes::Bytes;

use crate::codec::DecodeContext;
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::unified::{ChatRequest, ChatResponse, Choice, FinishReason, Part, Usage};

pub use super::request::Auth;

/// The unified request as a Responses call to `{api_base}/responses`.
pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
) -> Result<http::Request<Bytes>, GatewayError> {
    let url = format!("{}/responses", deployment.api_base);
    encode_to(req, deployment, &url, Auth::Bearer)
}

/// The same, to an explicit URL with an explicit auth scheme.
pub fn encode_to(
    req: &ChatRequest,
    deployment: &Deployment,
    url: &str,
    auth: Auth,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = render_request(req, &deployment.upstream_model);
    let accept = if req.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    super::request::post_json(deployment, url, accept, auth, body)
}

/// A client's own Responses body, sent on as it is (the same-format path).
pub fn build_request(
    deployment: &Deployment,
    body: Vec<u8>,
    stream: bool,
) -> Result<http::Request<Bytes>, GatewayError> {
    let url = format!("{}/responses", deployment.api_base);
    let accept = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    super::request::post_json(deployment, &url, accept, Auth::Bearer, body)
}

/// A whole (non-streamed) response object.
pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let r: wire::Response = serde_json::from_slice(body).map_err(invalid_upstream)?;
    if r.status.as_deref() == Some("failed") {
        return Err(upstream_error(r.error.unwrap_or_default()));
    }
    let mut content = Vec::new();
    let mut text = String::new();
    let mut refusal = String::new();
    let mut called = false;
    for item in r.output {
        match item {
            wire::OutputItem::Message { content: parts } => {
                // Separate messages (a preamble, then the answer) stay
                // separate paragraphs in the one chat message.
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                for part in parts {
                    match part {
                        wire::OutputContent::OutputText { text: t } => text.push_str(&t),
                        wire::OutputContent::Refusal { refusal: r } => refusal.push_str(&r),
                        wire::OutputContent::Other => {}
                    }
                }
            }
            wire::OutputItem::FunctionCall {
                call_id,
                name,
                arguments,
            } => {
                called = true;
                content.push(Part::ToolUse {
                    id: call_id,
                    name,
                    arguments,
                    cache_control: None,
                });
            }
            wire::OutputItem::Reasoning {
                id,
                summary,
                encrypted_content,
            } => {
                let summary: Vec<String> = summary.into_iter().map(|s| s.text).collect();
                let signature = encrypted_content.map(|e| reasoning_signature(&id, &e));
                match (summary.is_empty(), signature) {
                    (true, Some(data)) => content.push(Part::RedactedThinking { data }),
                    (true, None) => {}
                    (false, signature) => content.push(Part::Thinking {
                        text: summary.join("\n\n"),
                        signature,
                    }),
                }
            }
            wire::OutputItem::Other => {}
        }
    }
    if !text.is_empty() {
        // Text goes after reasoning, before the calls: the order a chat turn has.
        let at = content
            .iter()
            .position(|p| matches!(p, Part::ToolUse { .. }))
            .unwrap_or(content.len());
        content.insert(
            at,
            Part::Text {
                text,
                cache_control: None,
            },
        );
    }
    let finish = finish_reason(r.status.as_deref(), r.incomplete_details.as_ref(), called);
    Ok(ChatResponse {
        id: ctx.id_or_new(r.id),
        created: ctx.created_or_now(r.created_at.unwrap_or(0.0) as u64),
        model: ctx.model_or_called(r.model),
        choices: vec![Choice {
            index: 0,
            content,
            refusal: (!refusal.is_empty()).then_some(refusal),
            finish_reason: Some(finish),
        }],
        usage: r.usage.as_ref().map(usage_from_wire),
        system_fingerprint: None,
    })
}

pub fn usage_from_wire(u: &wire::Usage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.input_tokens_details.map_or(0, |d| d.cached_tokens),
        reasoning_tokens: u.output_tokens_details.map_or(0, |d| d.reasoning_tokens),
        ..Usage::default()
    }
}

/// `completed` (or no status) ends with the calls it made or a stop;
/// `incomplete` says why it was cut.
fn finish_reason(
    status: Option<&str>,
    incomplete: Option<&wire::IncompleteDetails>,
    called: bool,
) -> FinishReason {
    if status == Some("incomplete") {
        return match incomplete.and_then(|d| d.reason.as_deref()) {
            Some("max_output_tokens") | None => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            Some(other) => FinishReason::Other(other.to_owned()),
        };
    }
    if called {
        FinishReason::ToolCalls
    } else {
        FinishReason::Stop
    }
}

/// Reasoning items travel in the unified `Thinking.signature` as
/// `<item id>:<encrypted_content>`: the API needs both to accept the item
/// back, and neither part can hold a `:`.
pub fn reasoning_signature(id: &str, encrypted_content: &str) -> String {
    format!("{id}:{encrypted_content}")
}

/// The item id and encrypted content of a signature this codec wrote;
/// `None` for anything else (another provider's thinking signature).
pub fn reasoning_item(signature: &str) -> Option<(&str, &str)> {
    let (id, encrypted) = signature.split_once(':')?;
    (id.starts_with("rs_") && !encrypted.is_empty()).then_some((id, encrypted))
}

/// An `error` event or a failed response → the gateway's error, classified
/// by its code like an HTTP error would be by its status.
pub fn upstream_error(e: wire::ErrorObject) -> GatewayError {
    let code = e.code.and_then(json_scalar);
    let kind = match code.as_deref().or(e.kind.as_deref()) {
        Some("insufficient_quota" | "rate_limit_exceeded" | "rate_limit_error") => {
            ErrorKind::RateLimited
        }
        Some("context_length_exceeded") => ErrorKind::ContextWindowExceeded,
        Some("content_filter" | "content_policy_violation") => ErrorKind::ContentFiltered,
        Some("invalid_prompt" | "invalid_request_error" | "invalid_image" | "invalid_value") => {
            ErrorKind::InvalidRequest
        }
        Some("authentication_error" | "invalid_api_key") => ErrorKind::Authentication,
        _ => ErrorKind::UpstreamServer,
    };
    let message = e
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "The upstream reported an error mid-response.".into());
    let mut err = GatewayError::new(kind, message);
    err.code = Some(code.as_deref().unwrap_or("upstream_stream_error").into());
    err.param = e.param.and_then(json_scalar).map(Into::into);
    err.upstream_type = e.kind.map(Into::into);
    err
}

fn json_scalar(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn invalid_upstream(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("upstream returned a body that is not a valid Responses API object: {e}"),
    )
    .with_code("invalid_upstream_response")
}

#[cfg(test)]
mod tests;
