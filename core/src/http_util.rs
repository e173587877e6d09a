//! Small response builders and body readers shared by the routes.

use bytes::Bytes;
use futures::StreamExt;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};

use crate::error::{ErrorKind, GatewayError};
use crate::gateway::{Body, GatewayResponse};
use crate::ports::{with_timeout, ByteStream, Sleep};
use crate::stream::Joiner;

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> GatewayResponse {
    let mut resp = http::Response::new(Body::Full(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// An error in the shape of the ingress API `path` belongs to: Anthropic's
/// on `/v1/messages…`, OpenAI's everywhere else. For the shells too, when
/// they answer before a gateway exists (a config that does not load).
pub fn error_response(path: &str, e: &GatewayError) -> GatewayResponse {
    let body = if crate::ingress::anthropic_messages::is_messages_path(path) {
        e.to_anthropic_json()
    } else {
        e.to_openai_json()
    };
    let mut resp = json(e.status, body);
    if let Some(v) = e
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
    resp
}

/// Reads a whole upstream body, failing if it takes longer than `timeout_ms`
/// in all or grows past `max`. One timer for the whole read: a non-streamed
/// body is complete upstream before its headers are sent, so it arrives at
/// network speed.
pub async fn read_body<S: Sleep>(
    sleep: &S,
    body: ByteStream,
    timeout_ms: u64,
    max: usize,
) -> Result<Bytes, GatewayError> {
    with_timeout(sleep, timeout_ms, collect(body, max))
        .await
        .unwrap_or_else(|| {
            Err(GatewayError::new(
                ErrorKind::UpstreamTimeout,
                format!("The upstream did not finish sending its response within {timeout_ms} ms."),
            )
            .with_code("upstream_timeout"))
        })
}

async fn collect(mut body: ByteStream, max: usize) -> Result<Bytes, GatewayError> {
    let mut out = Joiner::default();
    while let Some(next) = body.next().await {
        let chunk = next.map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamUnavailable,
                format!("The upstream response broke off: {e}."),
            )
            .with_code("upstream_interrupted")
        })?;
        if out.len() + chunk.len() > max {
            return Err(GatewayError::new(
                ErrorKind::UpstreamUnavailable,
                format!("The upstream response exceeds {max} bytes."),
            )
            .with_code("upstream_response_too_large"));
        }
        out.push(chunk);
    }
    Ok(out.finish().unwrap_or_default())
}
