//! The Anthropic Messages codec: requests to `{api_base}/v1/messages` (or to
//! Vertex AI's `:rawPredict` for Claude on Google Cloud), responses, stream
//! events and error bodies back into the unified types.

mod encode;
pub mod limits;
mod stream;
pub mod wire;

pub use encode::{effort_budget, render_request, Options, Target};
pub use stream::StreamDecoder;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::codec::{openai_chat, DecodeContext, EncodeContext};
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::unified::{ChatRequest, ChatResponse, Choice, FinishReason, Part, Usage};

/// The API version every request names (`anthropic-version`).
pub const API_VERSION: &str = "2023-06-01";
/// The body field Vertex AI wants instead of the header.
pub const VERTEX_VERSION: &str = "vertex-2023-10-16";

/// The unified request for an Anthropic-family deployment.
pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
    ctx: &EncodeContext,
    target: Target,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = render_request(
        req,
        &Options {
            model: &deployment.upstream_model,
            target,
            auto_cache: deployment.params.auto_cache,
        },
    )?;
    build_request(
        deployment,
        body,
        req.stream,
        target,
        ctx.access_token.as_ref(),
        &req.anthropic_beta,
    )
}

/// Builds the upstream request around an already-rendered body: Anthropic's
/// API with `x-api-key`, or Vertex AI with a bearer token (the one minted
/// for this request, else the deployment's key holding a pre-minted token).
pub fn build_request(
    deployment: &Deployment,
    body: Vec<u8>,
    stream: bool,
    target: Target,
    access_token: Option<&Secret>,
    betas: &[String],
) -> Result<http::Request<Bytes>, GatewayError> {
    let url = match target {
        Target::Anthropic => messages_url(&deployment.api_base),
        Target::Vertex => vertex_url(deployment, stream, "")?,
    };
    let mut builder = http::Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(CONTENT_TYPE, "application/json")
        .header(
            ACCEPT,
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        );
    match target {
        Target::Anthropic => {
            builder = builder.header("anthropic-version", API_VERSION);
            if let Some(key) = &deployment.api_key {
                builder = builder.header("x-api-key", header_value(key.expose(), deployment)?);
            }
        }
        Target::Vertex => {
            let token = access_token
                .or(deployment.api_key.as_ref())
                .ok_or_else(|| {
                    GatewayError::provider_not_configured(
                        deployment.provider.id,
                        format!(
                            "No access token for provider `{}`: set vertex_credentials or api_key.",
                            deployment.provider.id
                        ),
                    )
                })?;
            builder = builder.header(
                AUTHORIZATION,
                header_value(&format!("Bearer {}", token.expose()), deployment)?,
            );
        }
    }
    if !betas.is_empty() {
        builder = builder.header(
            "anthropic-beta",
            header_value(&betas.join(","), deployment)?,
        );
    }
    for (name, value) in &deployment.params.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Bytes::from(body)).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!("invalid api_base for provider `{}`", deployment.provider.id),
        )
        .with_code("config_error")
    })
}

/// `{base}/v1/messages`, accepting bases given with or without `/v1` (or the
/// whole endpoint, as LiteLLM configs write it).
pub fn messages_url(api_base: &str) -> String {
    endpoint_url(api_base, "messages")
}

/// `{base}/v1/messages/count_tokens`.
pub fn count_tokens_url(api_base: &str) -> String {
    endpoint_url(api_base, "messages/count_tokens")
}

fn endpoint_url(api_base: &str, endpoint: &str) -> String {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix("/messages").unwrap_or(base);
    match base.strip_suffix("/v1") {
        Some(root) => format!("{root}/v1/{endpoint}"),
        None => format!("{base}/v1/{endpoint}"),
    }
}

/// `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict`;
/// `model_override` replaces the deployment's model (`count-tokens`).
pub fn vertex_url(
    deployment: &Deployment,
    stream: bool,
    model_override: &str,
) -> Result<String, GatewayError> {
    let params = &deployment.params;
    let project = params.vertex_project.as_deref().ok_or_else(|| {
        GatewayError::provider_not_configured(
            deployment.provider.id,
            format!(
                "Provider `{}` needs vertex_project (or VERTEXAI_PROJECT).",
                deployment.provider.id
            ),
        )
    })?;
    let location = params.vertex_location.as_deref().unwrap_or("global");
    // The global endpoint has no region in its host name.
    let host = if location == "global" {
        deployment.api_base.replace("{location}-", "")
    } else {
        deployment.api_base.replace("{location}", location)
    };
    let host = host.trim_end_matches('/');
    let host = host.strip_suffix("/v1").unwrap_or(host);
    let model = if model_override.is_empty() {
        deployment.upstream_model.as_str()
    } else {
        model_override
    };
    let method = if stream {
        "streamRawPredict"
    } else {
        "rawPredict"
    };
    Ok(format!(
        "{host}/v1/projects/{}/locations/{}/publishers/anthropic/models/{}:{method}",
        path_segment(project),
        path_segment(location),
        path_segment(model)
    ))
}

/// Percent-encodes what may not stand in a URL path segment. Model ids keep
/// their `@` (`claude-sonnet-4-5@20250929`); a `:` would end the model name.
fn path_segment(s: &str) -> std::borrow::Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@');
    if s.bytes().all(plain) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    std::borrow::Cow::Owned(out)
}

fn header_value(value: &str, deployment: &Deployment) -> Result<HeaderValue, GatewayError> {
    HeaderValue::from_str(value).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!(
                "a credential or header for provider `{}` is not a valid header value",
                deployment.provider.id
            ),
        )
    })
}

pub fn usage_from_wire(u: &wire::Usage) -> Usage {
    let cache_write = u.cache_creation_input_tokens.unwrap_or(0);
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    Usage {
        // Unified input counts every prompt token, cached or not, like
        // OpenAI's prompt_tokens; Anthropic reports the three apart.
        input_tokens: u.input_tokens + cache_write + cache_read,
        output_tokens: u.output_tokens,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        cache_write_1h_tokens: u
            .cache_creation
            .map_or(0, |c| c.ephemeral_1h_input_tokens.min(cache_write)),
        reasoning_tokens: u.output_tokens_details.map_or(0, |d| d.thinking_tokens),
        // Anthropic says `not_available` where it does not know: no geo.
        inference_geo: u
            .inference_geo
            .filter(|g| !matches!(g.as_str(), "" | "not_available")),
        ..Usage::default()
    }
}

/// Folds `message_delta` usage into what `message_start` said. The delta's
/// counts are cumulative; some hosts repeat the input side there with a
/// larger (final) count, others leave it out or send 0: the larger wins.
pub fn merge_usage(total: &mut wire::Usage, u: &wire::Usage) {
    total.output_tokens = u.output_tokens;
    total.input_tokens = total.input_tokens.max(u.input_tokens);
    let max = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    total.cache_creation_input_tokens = max(
        total.cache_creation_input_tokens,
        u.cache_creation_input_tokens,
    );
    total.cache_read_input_tokens = max(total.cache_read_input_tokens, u.cache_read_input_tokens);
    if u.cache_creation.is_some() {
        total.cache_creation = u.cache_creation;
    }
    if u.output_tokens_details.is_some() {
        total.output_tokens_details = u.output_tokens_details;
    }
    if u.inference_geo.is_some() {
        total.inference_geo = u.inference_geo;
    }
}

/// Unified usage in Anthropic's terms (input without the cached parts).
pub fn usage_to_wire(u: &Usage) -> wire::Usage {
    let cached = u.cache_read_tokens + u.cache_write_tokens;
    wire::Usage {
        input_tokens: u.input_tokens.saturating_sub(cached),
        output_tokens: u.output_tokens,
        cache_creation_input_tokens: Some(u.cache_write_tokens),
        cache_read_input_tokens: Some(u.cache_read_tokens),
        // Without the split every write is a 5-minute one, as Anthropic
        // reads it; the split is said only when some write is not.
        cache_creation: (u.cache_write_1h_tokens > 0).then(|| wire::CacheCreation {
            ephemeral_5m_input_tokens: u.cache_write_tokens.saturating_sub(u.cache_write_1h_tokens),
            ephemeral_1h_input_tokens: u.cache_write_1h_tokens,
        }),
        output_tokens_details: None,
        inference_geo: u.inference_geo,
    }
}

pub fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The unified finish reason as Anthropic's `stop_reason`.
pub fn stop_reason(finish: &FinishReason) -> &str {
    match finish {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(s) => s,
    }
}

/// A whole (non-streamed) response body; it names no creation time.
pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let r: wire::Response<'_> = serde_json::from_slice(body).map_err(invalid_upstream)?;
    let mut content = Vec::with_capacity(r.content.len());
    for block in r.content {
        match block.kind.as_ref() {
            "text" => content.push(Part::Text {
                text: block.text.map(Into::into).unwrap_or_default(),
                cache_control: None,
            }),
            "tool_use" => content.push(Part::ToolUse {
                id: block.id.map(Into::into).unwrap_or_default(),
                name: block.name.map(Into::into).unwrap_or_default(),
                arguments: block
                    .input
                    .map_or_else(|| "{}".to_owned(), |i| i.get().to_owned()),
                cache_control: None,
            }),
            "thinking" => content.push(Part::Thinking {
                text: block.thinking.map(Into::into).unwrap_or_default(),
                signature: block.signature.map(Into::into),
            }),
            "redacted_thinking" => content.push(Part::RedactedThinking {
                data: block.data.map(Into::into).unwrap_or_default(),
            }),
            // Server tool calls and their results were handled upstream.
            _ => {}
        }
    }
    Ok(ChatResponse {
        id: ctx.id_or_new(r.id.into_owned()),
        created: ctx.created(),
        model: ctx.model_or_called(r.model.into_owned()),
        choices: vec![Choice {
            index: 0,
            content,
            refusal: None,
            finish_reason: r.stop_reason.as_deref().map(finish_reason),
        }],
        usage: Some(usage_from_wire(&r.usage)),
        system_fingerprint: None,
    })
}

/// Anthropic's `error.type` → the gateway's kind, and the status to keep when
/// the type implies one the HTTP status line may not carry (a stream error
/// arrives under 200).
fn classify(error_type: &str, message: &str, status: StatusCode) -> (ErrorKind, Option<u16>) {
    match error_type {
        "invalid_request_error" if is_context_overflow(message) => {
            (ErrorKind::ContextWindowExceeded, Some(400))
        }
        "invalid_request_error" => (ErrorKind::InvalidRequest, Some(400)),
        "authentication_error" => (ErrorKind::Authentication, Some(401)),
        "permission_error" | "billing_error" => (ErrorKind::PermissionDenied, Some(403)),
        "not_found_error" => (ErrorKind::NotFound, Some(404)),
        "request_too_large" => (ErrorKind::PayloadTooLarge, Some(413)),
        "rate_limit_error" => (ErrorKind::RateLimited, Some(429)),
        "overloaded_error" => (ErrorKind::UpstreamServer, Some(529)),
        "api_error" => (ErrorKind::UpstreamServer, Some(500)),
        "timeout_error" => (ErrorKind::UpstreamTimeout, Some(504)),
        _ => match status.as_u16() {
            401 => (ErrorKind::Authentication, None),
            403 => (ErrorKind::PermissionDenied, None),
            404 => (ErrorKind::NotFound, None),
            413 => (ErrorKind::PayloadTooLarge, None),
            429 => (ErrorKind::RateLimited, None),
            408 | 504 => (ErrorKind::UpstreamTimeout, None),
            s if s >= 500 => (ErrorKind::UpstreamServer, None),
            s if s >= 400 => (ErrorKind::InvalidRequest, None),
            _ => (ErrorKind::UpstreamUnavailable, None),
        },
    }
}

fn is_context_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("prompt is too long")
        || m.contains("exceed context limit")
        || m.contains("context window")
}

/// An upstream error response → the gateway's error, status preserved.
pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    deployment: &Deployment,
) -> GatewayError {
    let parsed = serde_json::from_slice::<wire::ErrorBody<'_>>(body)
        .ok()
        .filter(|b| !b.error.kind.is_empty());
    let Some(wire::ErrorBody { error }) = parsed else {
        // Vertex AI answers auth and quota failures in Google's shape, which
        // the OpenAI reader already understands (`error.message`, status).
        return openai_chat::decode_error(status, headers, body, deployment);
    };
    let (kind, implied) = classify(&error.kind, &error.message, status);
    let status = if status.is_client_error() || status.is_server_error() {
        status
    } else {
        implied
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_GATEWAY)
    };
    let mut e = GatewayError::new(kind, error.message.into_owned()).with_status(status);
    e.upstream_type = Some(error.kind.as_ref().into());
    e.retry_after = openai_chat::retry_after(headers).map(Into::into);
    if kind == ErrorKind::ContextWindowExceeded {
        e = e.with_code("context_length_exceeded");
    }
    e
}

/// An `event: error` inside an already-started stream.
pub fn stream_error(error_type: &str, message: &str) -> GatewayError {
    let (kind, implied) = classify(error_type, message, StatusCode::OK);
    let message = if message.is_empty() {
        format!("The upstream stream failed ({error_type}).")
    } else {
        message.to_owned()
    };
    let mut e = GatewayError::new(kind, message).with_code("upstream_stream_error");
    if let Some(status) = implied.and_then(|s| StatusCode::from_u16(s).ok()) {
        e = e.with_status(status);
    }
    if !error_type.is_empty() {
        e.upstream_type = Some(error_type.into());
    }
    e
}

fn invalid_upstream(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("upstream returned a body that is not a valid Anthropic message: {e}"),
    )
    .with_code("invalid_upstream_response")
}

#[cfg(test)]
mod tests;
