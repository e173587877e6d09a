//! The gateway role: Function URL events in, streamed responses out.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use dx_core::ports::Clock;
use dx_core::{Body, Config, Gateway, IncomingRequest};
use futures::StreamExt;
use http_body::Frame;
use http_body_util::StreamBody;
use lambda_http::{service_fn, Request, RequestExt};

use crate::catalog_sync::CatalogSync;
use crate::ports::{LambdaPorts, Shared};

type ResponseBody =
    StreamBody<dx_core::ports::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

pub async fn run(shared: Arc<Shared>, config: Arc<Config>) -> Result<(), lambda_runtime::Error> {
    // Started here, not awaited: the first requests are served from the
    // embedded catalog while the stored copy loads.
    let sync = CatalogSync::from_env(&shared, &config);
    if let Some(sync) = &sync {
        sync.start_if_due(LambdaPorts::new(shared.clone()).now_ms());
    }
    lambda_http::run_with_streaming_response(service_fn(move |event: Request| {
        let ports = LambdaPorts::new(shared.clone());
        let mut gateway = Gateway::new(ports.clone(), config.clone());
        if let Some(sync) = &sync {
            sync.start_if_due(ports.now_ms());
            gateway = gateway.with_catalog_sync(sync.gate());
        }
        async move { Ok::<_, Infallible>(handle(gateway, ports, event).await) }
    }))
    .await
}

async fn handle(
    gateway: Gateway<LambdaPorts>,
    ports: LambdaPorts,
    event: Request,
) -> http::Response<ResponseBody> {
    let query = event
        .query_string_parameters_ref()
        .map(|_| ())
        .and(event.uri().query().map(str::to_owned));
    let (parts, body) = event.into_parts();
    let body = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let response = match gateway.precheck(parts.uri.path(), Some(body.len() as u64)) {
        Some(refusal) => refusal,
        None => {
            gateway
                .handle(IncomingRequest {
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    query,
                    headers: parts.headers,
                    body,
                })
                .await
        }
    };
    let (parts, body) = response.into_parts();
    let stream: dx_core::ports::BoxStream<'static, Bytes> = match body {
        Body::Empty => Box::pin(futures::stream::empty()),
        Body::Full(b) => Box::pin(futures::stream::once(async move { b })),
        Body::Stream(s) => s,
    };
    // Deferred work runs after the last byte, still inside the invocation:
    // Lambda may freeze the environment as soon as the response ends.
    let finish = futures::stream::once(async move {
        ports.run_deferred().await;
    })
    .filter_map(|()| async { None::<Bytes> });
    let frames: dx_core::ports::BoxStream<'static, Result<Frame<Bytes>, Infallible>> =
        Box::pin(stream.chain(finish).map(|b| Ok(Frame::data(b))));
    http::Response::from_parts(parts, StreamBody::new(frames))
}
