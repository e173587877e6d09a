//! `google.rpc.Status` error bodies → the gateway's error, classified by the
//! canonical status string (and `ErrorInfo.reason`) more than by HTTP status:
//! an invalid API key is a 400 `INVALID_ARGUMENT` on the wire, but clients
//! must see an authentication error.

use http::{HeaderMap, StatusCode};

use crate::codec::openai_chat::retry_after;
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;

use super::wire::{ErrorEnvelope, Status};

pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    _deployment: &Deployment,
) -> GatewayError {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .and_then(ErrorEnvelope::into_status);
    let mut error = match parsed {
        Some(s) => status_to_error(s, Some(status)),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("Gemini returned HTTP {}", status.as_u16())
            } else {
                text.to_owned()
            };
            let kind = classify(status, None, false, &message);
            GatewayError::new(kind, message).with_status(client_status(kind, status))
        }
    };
    if error.retry_after.is_none() {
        error.retry_after = retry_after(headers).map(Into::into);
    }
    error
}

/// A status from an error body, or reported in-band (`http` is `None`: the
/// HTTP status was already 200).
pub(super) fn status_to_error(s: Status, http: Option<StatusCode>) -> GatewayError {
    let api_key_invalid = s
        .details
        .iter()
        .any(|d| d.reason.as_deref() == Some("API_KEY_INVALID"));
    let message = s.message.unwrap_or_default();
    let canonical = s.status.as_deref();
    let wire_status = http
        .or_else(|| {
            s.code
                .and_then(|c| u16::try_from(c).ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
        })
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let kind = classify(wire_status, canonical, api_key_invalid, &message);
    let message = match canonical {
        Some(c) if !message.is_empty() => format!("{message} ({c})"),
        Some(c) => c.to_owned(),
        None if message.is_empty() => format!("Gemini returned HTTP {}", wire_status.as_u16()),
        None => message,
    };
    let code = match kind {
        ErrorKind::Authentication => Some("invalid_api_key".to_owned()),
        ErrorKind::ContextWindowExceeded => Some("context_length_exceeded".to_owned()),
        _ => canonical.map(str::to_ascii_lowercase),
    };
    let mut error = GatewayError::new(kind, message).with_status(client_status(kind, wire_status));
    error.code = code.map(Into::into);
    error.retry_after = s
        .details
        .iter()
        .find_map(|d| d.retry_delay.as_deref().and_then(delay_seconds))
        .map(Into::into);
    error
}

fn classify(
    status: StatusCode,
    canonical: Option<&str>,
    api_key_invalid: bool,
    message: &str,
) -> ErrorKind {
    if api_key_invalid {
        return ErrorKind::Authentication;
    }
    match canonical {
        Some("UNAUTHENTICATED") => return ErrorKind::Authentication,
        Some("PERMISSION_DENIED") => return ErrorKind::PermissionDenied,
        Some("NOT_FOUND") => return ErrorKind::NotFound,
        Some("RESOURCE_EXHAUSTED") => return ErrorKind::RateLimited,
        Some("UNAVAILABLE") | Some("CANCELLED") => return ErrorKind::UpstreamUnavailable,
        Some("DEADLINE_EXCEEDED") => return ErrorKind::UpstreamTimeout,
        Some("INTERNAL") | Some("UNKNOWN") | Some("DATA_LOSS") => return ErrorKind::UpstreamServer,
        Some("INVALID_ARGUMENT") | Some("FAILED_PRECONDITION") | Some("OUT_OF_RANGE") => {
            return invalid_or_too_long(message)
        }
        _ => {}
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
        s if s >= 400 => invalid_or_too_long(message),
        _ => ErrorKind::UpstreamUnavailable,
    }
}

/// "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
fn invalid_or_too_long(message: &str) -> ErrorKind {
    if message.contains("exceeds the maximum number of tokens") {
        ErrorKind::ContextWindowExceeded
    } else {
        ErrorKind::InvalidRequest
    }
}

/// The status clients get: the upstream's, except where the kind says
/// otherwise (an invalid key arrives as 400) or the upstream's is not an error
/// status an SDK understands (499 CANCELLED, or a 200 carrying an error).
fn client_status(kind: ErrorKind, upstream: StatusCode) -> StatusCode {
    match kind {
        ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
        ErrorKind::ContextWindowExceeded => StatusCode::BAD_REQUEST,
        _ if upstream.as_u16() == 499 => StatusCode::BAD_GATEWAY,
        _ if upstream.is_client_error() || upstream.is_server_error() => upstream,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// `RetryInfo.retryDelay` (a protobuf Duration, `"34.4s"`) as whole seconds,
/// rounded up, for `Retry-After`.
fn delay_seconds(delay: &str) -> Option<String> {
    let secs: f64 = delay.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs.ceil() as u64).to_string())
}
