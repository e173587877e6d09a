//! Upstream error responses of formats whose bodies say little more than a
//! message: status → error kind, `Retry-After` kept, credentials redacted.

use http::{HeaderMap, StatusCode};

use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;

/// The gateway error for an upstream that answered `status` with `message`.
/// The status is kept (so the SDK raises the same class it would against the
/// provider), except where a provider uses a non-standard one.
pub fn from_status(
    status: StatusCode,
    headers: &HeaderMap,
    message: String,
    deployment: &Deployment,
) -> GatewayError {
    let (kind, status) = match status.as_u16() {
        400 | 422 => (ErrorKind::InvalidRequest, status),
        // Cohere's "invalid token".
        401 | 498 => (ErrorKind::Authentication, StatusCode::UNAUTHORIZED),
        402 | 403 => (ErrorKind::PermissionDenied, status),
        404 => (ErrorKind::NotFound, status),
        408 | 504 => (ErrorKind::UpstreamTimeout, status),
        413 => (ErrorKind::PayloadTooLarge, status),
        429 => (ErrorKind::RateLimited, status),
        502 | 503 => (ErrorKind::UpstreamUnavailable, status),
        s if (500..=599).contains(&s) => (ErrorKind::UpstreamServer, status),
        s if (400..500).contains(&s) => (ErrorKind::InvalidRequest, status),
        _ => (ErrorKind::UpstreamUnavailable, StatusCode::BAD_GATEWAY),
    };
    let message = match &deployment.api_key {
        Some(key) => key.redact_in(&message),
        None => message,
    };
    let mut err = GatewayError::new(kind, message).with_status(status);
    err.retry_after = crate::codec::openai_chat::retry_after(headers).map(Into::into);
    err
}

/// The message of a body that is not the provider's JSON error shape.
pub fn raw_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream returned HTTP {}", status.as_u16());
    }
    match text.char_indices().nth(1000) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Whether an upstream's message says the prompt does not fit the model.
pub fn says_context_exceeded(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("too many tokens")
        || m.contains("context length")
        || m.contains("context window")
        || m.contains("maximum context")
        || m.contains("exceeds the context")
}

/// Marks an error as a context-window overflow the way OpenAI reports it.
pub fn context_exceeded(err: GatewayError) -> GatewayError {
    let mut err = err.with_code("context_length_exceeded");
    err.kind = ErrorKind::ContextWindowExceeded;
    err
}
