//! The gateway role: Function URL events in, streamed responses out.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use dx_core::catalog::sync::{CatalogSync, Syncer};
use dx_core::ports::{Background, BoxFuture, Clock};
use dx_core::{
    error_response, Body, Config, Gateway, GatewayError, GatewayResponse, IncomingRequest,
};
use futures::StreamExt;
use http_body::Frame;
use http_body_util::StreamBody;
use lambda_http::lambda_runtime::tower::{Layer, Service};
use lambda_http::lambda_runtime::{Error as BoxError, LambdaInvocation};
use lambda_http::{service_fn, Request, RequestExt};

use crate::event_text;
use crate::ports::{log_json, LambdaPorts, Shared};
use crate::state_table::{accounts, catalog_store, kv};

type ResponseBody =
    StreamBody<dx_core::ports::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

pub async fn run(shared: Arc<Shared>, config: Arc<Config>) -> Result<(), lambda_runtime::Error> {
    let mut gateway = Gateway::new(config.clone(), shared.as_ref());
    if let Some(sync) = catalog_sync(&shared, &config) {
        // Started here, not awaited: the first requests are served from the
        // embedded catalog while the stored copy loads.
        sync.start_if_due(LambdaPorts::new(shared.clone()).now_ms(), &OwnThread);
        gateway = gateway.with_catalog_sync(sync);
    }
    match accounts(&shared) {
        Ok(Some(accounts)) => gateway = gateway.with_accounts(Arc::new(accounts)),
        Ok(None) => {}
        Err(e) => {
            log_json(&serde_json::json!({"event": "accounts", "outcome": "error", "error": e}))
        }
    }
    match kv(&shared) {
        Ok(Some(kv)) => gateway = gateway.with_kv(Arc::new(kv)),
        Ok(None) => {}
        Err(e) => log_json(&serde_json::json!({"event": "kv", "outcome": "error", "error": e})),
    }
    if config.cache.as_ref().is_some_and(|c| c.global) {
        // Said, not refused: the same config may serve a Worker too.
        log_json(&serde_json::json!({"event": "cache", "outcome": "note",
            "note": "[cache] global = true is for Workers (KV behind the colo's cache); on Lambda the state table is the one tier every instance shares already"}));
    }
    if config.cache.is_some() {
        match kv(&shared) {
            Ok(Some(store)) => gateway = gateway.with_cache(Arc::new(store)),
            Ok(None) => log_json(&serde_json::json!({"event": "cache", "outcome": "off",
                "error": "[cache] is set but no DX_STATE_TABLE: nowhere to keep answers"})),
            Err(e) => {
                log_json(&serde_json::json!({"event": "cache", "outcome": "error", "error": e}))
            }
        }
    }
    let gateway = Arc::new(gateway);
    let after = shared.clone();
    let handler = service_fn(move |event: Request| {
        let ports = LambdaPorts::new(shared.clone());
        let gateway = gateway.clone();
        async move { Ok::<_, Infallible>(handle(&gateway, ports, event).await) }
    });
    lambda_http::streaming_runtime(handler)
        .layer(RepairEventText)
        .layer(AfterResponse(after))
        .run()
        .await
}

/// Runs the work deferred until after the response (telemetry exports)
/// once the runtime has sent the response, before it takes the next
/// invocation: a slow sink never holds up a client.
#[derive(Clone)]
struct AfterResponse(Arc<Shared>);

impl<S> Layer<S> for AfterResponse {
    type Service = AfterResponseService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AfterResponseService(inner, self.0.clone())
    }
}

struct AfterResponseService<S>(S, Arc<Shared>);

impl<S> Service<LambdaInvocation> for AfterResponseService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
    S::Future: 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = futures::future::LocalBoxFuture<'static, Result<(), BoxError>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let sent = self.0.call(invocation);
        let shared = self.1.clone();
        Box::pin(async move {
            let out = sent.await;
            shared.run_after().await;
            out
        })
    }
}

/// The stored catalog's sync, when `[catalog] refresh` is on and a state
/// table is set. A table DynamoDB cannot be reached with is logged once; the
/// gateway then serves the embedded catalog.
fn catalog_sync(shared: &Arc<Shared>, config: &Config) -> Option<Arc<dyn CatalogSync>> {
    if !config.catalog.refresh {
        return None;
    }
    let store = match catalog_store(shared) {
        Ok(store) => store?,
        Err(e) => {
            log_json(&serde_json::json!({"event": "catalog_sync", "outcome": "error", "error": e}));
            return None;
        }
    };
    let ports = LambdaPorts::new(shared.clone());
    let interval_ms = config.catalog.sync_interval_ms();
    let syncer = Syncer::new(store, ports, interval_ms, config.catalog.refresh());
    Some(Arc::new(syncer.with_spawner(OwnThread)))
}

/// Runs a catalog sync on a thread of its own: checking and indexing a
/// changed copy is milliseconds of CPU (`cargo bench -p dx-core --bench
/// catalog`), which on the runtime's only thread would hold up the requests
/// in flight. Its IO still runs on the runtime (`Handle::block_on` while
/// `main` drives the drivers).
struct OwnThread;

impl Background for OwnThread {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || runtime.block_on(work));
    }
}

/// A gateway whose configuration does not load: every request gets the
/// generic 500 `config_error` in its ingress's shape (the detail went to the
/// log at start).
pub async fn run_broken(detail: String) -> Result<(), lambda_runtime::Error> {
    let handler = service_fn(move |event: Request| {
        let error = GatewayError::config_invalid(detail.clone());
        let response = error_response(event.uri().path(), &error);
        async move { Ok::<_, Infallible>(streamed(response, futures::stream::empty())) }
    });
    lambda_http::streaming_runtime(handler)
        .layer(RepairEventText)
        .run()
        .await
}

/// Runs before `lambda_http` parses an event: see [`event_text`].
#[derive(Clone, Copy)]
struct RepairEventText;

impl<S> Layer<S> for RepairEventText {
    type Service = RepairEventTextService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RepairEventTextService(inner)
    }
}

struct RepairEventTextService<S>(S);

impl<S> Service<LambdaInvocation> for RepairEventTextService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
{
    type Response = ();
    type Error = BoxError;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        if let Some(repaired) = event_text::repair(&invocation.body) {
            invocation.body = Bytes::from(repaired);
        }
        self.0.call(invocation)
    }
}

async fn handle(
    gateway: &Gateway,
    ports: LambdaPorts,
    event: Request,
) -> http::Response<ResponseBody> {
    let query = event
        .query_string_parameters_ref()
        .map(|_| ())
        .and(event.uri().query().map(str::to_owned));
    let (parts, body) = event.into_parts();
    // A body kind this shell does not know is refused, not read as empty.
    let body = match body {
        lambda_http::Body::Empty => Some(Bytes::new()),
        lambda_http::Body::Text(t) => Some(Bytes::from(t)),
        lambda_http::Body::Binary(b) => Some(Bytes::from(b)),
        _ => None,
    };
    let undecodable = event_text::undecodable_header(&parts.headers);
    let declared = body.as_ref().map(|b| b.len() as u64);
    let response = match (gateway.precheck(parts.uri.path(), declared), body) {
        (Some(refusal), _) => refusal,
        (None, None) => {
            let error = GatewayError::invalid_request(
                "The request body could not be read (an event body kind this gateway does not know).",
            )
            .with_code("body_unreadable");
            error_response(parts.uri.path(), &error)
        }
        (None, Some(_)) if undecodable.is_some() => {
            let name = undecodable.map(|n| n.as_str()).unwrap_or_default();
            let error = GatewayError::invalid_request(format!(
                "The request header `{name}` is not valid text (UTF-8)."
            ))
            .with_code("invalid_header");
            error_response(parts.uri.path(), &error)
        }
        (None, Some(body)) => {
            let mut headers = parts.headers;
            // Where a request landed is the shell's to say (Workers: from
            // `request.cf`); on Lambda it is the function's own region.
            headers.remove("x-dx-geo");
            gateway
                .handle(
                    &ports,
                    IncomingRequest {
                        method: parts.method,
                        path: parts.uri.path().to_owned(),
                        query,
                        headers,
                        body,
                    },
                )
                .await
        }
    };
    // Deferred work runs after the last byte, still inside the invocation:
    // Lambda may freeze the environment as soon as the response ends.
    let finish = futures::stream::once(async move {
        ports.run_deferred().await;
    })
    .filter_map(|()| async { None::<Bytes> });
    streamed(response, finish)
}

/// The gateway's response as Lambda's streamed body, then `tail`.
fn streamed(
    response: GatewayResponse,
    tail: impl futures::Stream<Item = Bytes> + Send + 'static,
) -> http::Response<ResponseBody> {
    let (parts, body) = response.into_parts();
    let stream: dx_core::ports::BoxStream<'static, Bytes> = match body {
        Body::Empty => Box::pin(futures::stream::empty()),
        Body::Full(b) => Box::pin(futures::stream::once(async move { b })),
        Body::Stream(s) => s,
    };
    let frames: dx_core::ports::BoxStream<'static, Result<Frame<Bytes>, Infallible>> =
        Box::pin(stream.chain(tail).map(|b| Ok(Frame::data(b))));
    http::Response::from_parts(parts, StreamBody::new(frames))
}
