//! The core's own HTTP types (a request as the shell hands it over, the
//! response it gets back), small response builders and the whole-body
//! reader. A leaf: it knows no format and no route.

use bytes::Bytes;
use futures::StreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};

use crate::error::{ErrorKind, GatewayError};
use crate::ports::{with_timeout, ByteStream, Sleep};

mod joiner;

pub use joiner::Joiner;

/// A request as the shell hands it over, body already read.
pub struct IncomingRequest {
    pub method: http::Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub enum Body {
    Empty,
    Full(Bytes),
    Stream(crate::ports::BoxStream<'static, Bytes>),
}

pub type GatewayResponse = http::Response<Body>;

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> GatewayResponse {
    let mut resp = http::Response::new(Body::Full(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
