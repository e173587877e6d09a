//! Small response builders and body readers shared by the routes.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};

use crate::error::{ErrorKind, GatewayError};
use crate::gateway::{Body, GatewayResponse};
use crate::ports::{with_timeout, ByteStream, Sleep};

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> GatewayResponse {
    let mut resp = http::Response::new(Body::Full(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub fn openai_error(e: &GatewayError) -> GatewayResponse {
    let mut resp = json(e.status, e.to_openai_json());
    if let Some(v) = e
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
    resp
}

/// Reads a whole upstream body, failing if it goes silent or grows past `max`.
pub async fn read_body<S: Sleep>(
    sleep: &S,
    mut body: ByteStream,
    idle_ms: u64,
    max: usize,
) -> Result<Bytes, GatewayError> {
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    loop {
        let next = with_timeout(sleep, idle_ms, body.next())
            .await
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("The upstream stopped sending its response for {idle_ms} ms."),
                )
                .with_code("upstream_timeout")
            })?;
        let chunk = match next {
            None => break,
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                return Err(GatewayError::new(
                    ErrorKind::UpstreamUnavailable,
                    format!("The upstream response broke off: {e}."),
                )
                .with_code("upstream_interrupted"))
            }
        };
        let len = first.as_ref().map_or(0, Bytes::len) + buf.as_ref().map_or(0, BytesMut::len);
        if len + chunk.len() > max {
            return Err(GatewayError::new(
                ErrorKind::UpstreamUnavailable,
                format!("The upstream response exceeds {max} bytes."),
            )
            .with_code("upstream_response_too_large"));
        }
        match (&mut buf, first.take()) {
            (Some(b), _) => b.extend_from_slice(&chunk),
            (None, Some(f)) => {
                let mut b = BytesMut::with_capacity(f.len() + chunk.len());
                b.extend_from_slice(&f);
                b.extend_from_slice(&chunk);
                buf = Some(b);
            }
            (None, None) => first = Some(chunk),
        }
    }
    Ok(match buf {
        Some(b) => b.freeze(),
        None => first.unwrap_or_default(),
    })
}
