//! The AWS Bedrock Converse codec: `POST {endpoint}/model/{modelId}/converse`
//! (and `/converse-stream`, answered in AWS event stream frames), signed with
//! SigV4 or sent with a Bedrock API key as a bearer token.
//!
//! The endpoint is `https://bedrock-runtime.{region}.amazonaws.com` unless
//! the deployment's `api_base` says otherwise; the region also scopes the
//! signature. A deployment's `api_key` (or `AWS_BEARER_TOKEN_BEDROCK`) wins over
//! access keys, as in the AWS SDKs.

mod encode;
mod stream;
pub mod wire;

pub use encode::{is_claude, render_request};
pub use stream::StreamDecoder;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::aws::sigv4::{sign_request, Credentials};
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::unified::{ChatRequest, ChatResponse, Choice, FinishReason, Part, Usage};

use super::{DecodeContext, EncodeContext};

/// SigV4 signs Bedrock Runtime requests for the `bedrock` service name.
const SIGNING_SERVICE: &str = "bedrock";
pub const EVENTSTREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The unified request as a signed Converse (or ConverseStream) request.
pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
    ctx: &EncodeContext,
) -> Result<http::Request<Bytes>, GatewayError> {
    let model_id = model_id(&deployment.upstream_model);
    let body = render_request(req, model_id)?;
    build_request(deployment, model_id, body, req.stream, ctx.now_ms)
}

/// `converse/<id>` is LiteLLM's way to name the Converse route explicitly.
fn model_id(upstream_model: &str) -> &str {
    upstream_model
        .strip_prefix("converse/")
        .unwrap_or(upstream_model)
}

/// Percent-encodes a model id for one path segment: inference profile ids
/// carry `:`, ARNs carry `:` and `/`.
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The region in a standard endpoint host (`bedrock-runtime.eu-west-1.amazonaws.com`).
fn region_from_base(api_base: &str) -> Option<&str> {
    let host = api_base.split("://").nth(1)?.split(['/', ':']).next()?;
    let rest = host
        .strip_prefix("bedrock-runtime.")
        .or_else(|| host.strip_prefix("bedrock-runtime-fips."))?;
    let region = rest.split('.').next()?;
    (!region.is_empty() && region != "{region}").then_some(region)
}

fn config_error(message: String) -> GatewayError {
    GatewayError::new(ErrorKind::Configuration, message).with_code("config_error")
}

pub fn build_request(
    deployment: &Deployment,
    model_id: &str,
    body: Vec<u8>,
    stream: bool,
    now_ms: u64,
) -> Result<http::Request<Bytes>, GatewayError> {
    let action = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    request_to(deployment, model_id, action, body, stream, now_ms)
}

/// A signed POST of `body` to the model's `action` (`converse`, `invoke`).
pub fn request_to(
    deployment: &Deployment,
    model_id: &str,
    action: &str,
    body: Vec<u8>,
    stream: bool,
    now_ms: u64,
) -> Result<http::Request<Bytes>, GatewayError> {
    let params = &deployment.params;
    let region = params
        .aws_region
        .as_deref()
        .filter(|r| !r.is_empty())
        .or_else(|| region_from_base(&deployment.api_base));
    let base = if deployment.api_base.contains("{region}") {
        let region = region.ok_or_else(|| {
            GatewayError::provider_not_configured(
                deployment.provider.id,
                format!(
                    "Bedrock model `{model_id}` needs an AWS region: set aws_region_name or AWS_REGION."
                ),
            )
        })?;
        deployment.api_base.replace("{region}", region)
    } else {
        deployment.api_base.clone()
    };
    let url = format!("{base}/model/{}/{action}", encode_path_segment(model_id));
    let mut builder = http::Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(CONTENT_TYPE, "application/json")
        .header(
            ACCEPT,
            if stream {
                EVENTSTREAM_CONTENT_TYPE
            } else {
                "application/json"
            },
        );
    for (name, value) in &params.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let mut request = builder
        .body(Bytes::from(body))
        .map_err(|_| config_error("invalid api_base for provider `bedrock`".into()))?;

    if let Some(key) = &deployment.api_key {
        let value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| config_error("the Bedrock API key is not a valid header value".into()))?;
        request.headers_mut().insert(AUTHORIZATION, value);
        return Ok(request);
    }
    let (Some(access_key_id), Some(secret)) =
        (&params.aws_access_key_id, &params.aws_secret_access_key)
    else {
        return Err(GatewayError::provider_not_configured(
            deployment.provider.id,
            "No AWS credentials for provider `bedrock`: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
             (or aws_access_key_id/aws_secret_access_key in the model_list entry), or a Bedrock API key \
             in AWS_BEARER_TOKEN_BEDROCK.",
        ));
    };
    let region = region.ok_or_else(|| {
        GatewayError::provider_not_configured(
            deployment.provider.id,
            format!(
                "Bedrock model `{model_id}` needs an AWS region to sign requests: set aws_region_name or AWS_REGION."
            ),
        )
    })?;
    sign_request(
        &mut request,
        &Credentials {
            access_key_id: access_key_id.expose(),
            secret_access_key: secret.expose(),
            session_token: params.aws_session_token.as_ref().map(|t| t.expose()),
        },
        region,
        SIGNING_SERVICE,
        now_ms,
    )
    .map_err(|e| {
        config_error(format!(
            "Could not sign the Bedrock request (SigV4): {}.",
            e.reason()
        ))
    })?;
    Ok(request)
}

pub fn usage_from_wire(u: &wire::TokenUsage) -> Usage {
    Usage {
        input_tokens: u.input_tokens + u.cache_read_input_tokens + u.cache_write_input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens,
        cache_write_tokens: u.cache_write_input_tokens,
        cache_write_1h_tokens: u.cache_write_1h_tokens.min(u.cache_write_input_tokens),
        ..Usage::default()
    }
}

pub fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Tool input as compact JSON text (the response may pretty-print it).
fn arguments_text(input: &serde_json::value::RawValue) -> String {
    match serde_json::from_str::<serde_json::Value>(input.get()) {
        Ok(v) => v.to_string(),
        Err(_) => input.get().to_owned(),
    }
}

/// A whole Converse response body. It names no id, model or time: those
/// come from the context.
pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let r: wire::ConverseResponse = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            ErrorKind::UpstreamUnavailable,
            format!("Bedrock returned a body that is not a Converse response: {e}"),
        )
        .with_code("invalid_upstream_response")
    })?;
    let blocks = r
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default();
    let mut content = Vec::with_capacity(blocks.len());
    for block in blocks {
        if let Some(text) = block.text {
            content.push(Part::Text {
                text,
                cache_control: None,
            });
        } else if let Some(tool) = block.tool_use {
            content.push(Part::ToolUse {
                id: tool.tool_use_id,
                name: tool.name,
                arguments: arguments_text(&tool.input),
                cache_control: None,
            });
        } else if let Some(reasoning) = block.reasoning_content {
            if let Some(t) = reasoning.reasoning_text {
                content.push(Part::Thinking {
                    text: t.text,
                    signature: t.signature,
                });
            } else if let Some(data) = reasoning.redacted_content {
                content.push(Part::RedactedThinking { data });
            }
        }
    }
    Ok(ChatResponse {
        id: ctx.new_id(),
        created: ctx.created(),
        model: ctx.model.to_owned(),
        choices: vec![Choice {
            index: 0,
            content,
            refusal: None,
            finish_reason: r.stop_reason.as_deref().map(finish_reason),
        }],
        usage: r.usage.as_ref().map(usage_from_wire),
        system_fingerprint: None,
    })
}

/// The error type per AWS restJson1: the `x-amzn-errortype` header, else the
/// body's `code`, else its `__type`; a namespace before `#` and a URI after
/// `:` are dropped (`aws.protocoltests.restjson#FooError:http://…` → `FooError`).
pub fn error_type(headers: &HeaderMap, body: &wire::ErrorBody) -> Option<String> {
    let raw = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| body.code.clone())
        .or_else(|| body.dunder_type.clone())?;
    let no_uri = raw.split(':').next().unwrap_or("");
    let name = no_uri.rsplit('#').next().unwrap_or("").trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Bedrock's messages for a prompt over the model's context window.
fn is_context_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "input is too long",
        "prompt is too long",
        "too many input tokens",
        "context window",
        "context length",
        "maximum context",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// What each Bedrock error type means to a client, whatever status carried it.
fn classify(kind: &str, status: StatusCode, message: &str) -> (ErrorKind, StatusCode) {
    use ErrorKind as K;
    let s = |n: u16| StatusCode::from_u16(n).unwrap_or(StatusCode::BAD_GATEWAY);
    match kind {
        "ThrottlingException" | "ServiceQuotaExceededException" | "TooManyRequestsException" => {
            (K::RateLimited, s(429))
        }
        "AccessDeniedException" => (K::PermissionDenied, s(403)),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "MissingAuthenticationTokenException" => (K::Authentication, s(401)),
        "ValidationException" | "SerializationException" | "ConflictException"
            if is_context_overflow(message) =>
        {
            (K::ContextWindowExceeded, s(400))
        }
        "ValidationException" | "SerializationException" | "ConflictException" => {
            (K::InvalidRequest, s(400))
        }
        "ResourceNotFoundException" | "UnknownOperationException" => (K::NotFound, s(404)),
        "ModelNotReadyException" | "ServiceUnavailableException" => {
            (K::UpstreamUnavailable, s(503))
        }
        "ModelTimeoutException" => (K::UpstreamTimeout, s(504)),
        "InternalServerException" | "InternalFailure" => (K::UpstreamServer, s(500)),
        "ModelErrorException" | "ModelStreamErrorException" => (K::UpstreamServer, s(502)),
        _ => match status.as_u16() {
            401 => (K::Authentication, status),
            403 => (K::PermissionDenied, status),
            404 => (K::NotFound, status),
            408 | 504 => (K::UpstreamTimeout, s(504)),
            413 => (K::PayloadTooLarge, status),
            429 => (K::RateLimited, status),
            400 if is_context_overflow(message) => (K::ContextWindowExceeded, status),
            400..=499 => (K::InvalidRequest, status),
            502 | 503 => (K::UpstreamUnavailable, status),
            500..=599 => (K::UpstreamServer, status),
            _ => (K::UpstreamUnavailable, s(502)),
        },
    }
}

/// The error a Bedrock error type stands for, with the message Bedrock gave.
pub fn error_for(
    kind_name: Option<&str>,
    status: StatusCode,
    message: Option<String>,
) -> GatewayError {
    let message = message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| match kind_name {
            Some(k) => format!("Bedrock returned {k} (HTTP {}).", status.as_u16()),
            None => format!("Bedrock returned HTTP {}.", status.as_u16()),
        });
    let (kind, status) = classify(kind_name.unwrap_or(""), status, &message);
    let code = match kind {
        ErrorKind::ContextWindowExceeded => Some("context_length_exceeded".into()),
        _ => kind_name.map(Into::into),
    };
    GatewayError {
        kind,
        status,
        message,
        param: None,
        code,
        upstream_type: None,
        retry_after: None,
        operator_note: None,
    }
}

/// An upstream error response → the gateway's error.
pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    _deployment: &Deployment,
) -> GatewayError {
    let parsed: wire::ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let kind = error_type(headers, &parsed);
    let message = parsed.message.or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        (!text.is_empty() && !text.starts_with('{')).then(|| text.to_owned())
    });
    let mut err = error_for(kind.as_deref(), status, message);
    err.retry_after = super::openai_chat::retry_after(headers).map(Into::into);
    err
}

#[cfg(test)]
mod tests;
