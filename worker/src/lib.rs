#![cfg(target_arch = "wasm32")]
//! DX Gateway on Cloudflare Workers: adapts `worker` types to `dx-core` and
//! implements its ports with `fetch`, `setTimeout`, `Date.now()` and
//! `ctx.waitUntil`.

mod catalog;
mod ports;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use dx_core::{Body, Config, Gateway, GatewayResponse, IncomingRequest, INGRESS_HEADERS};
use futures::StreamExt;
use worker::{event, Context, Env, Request, Result, ScheduleContext, ScheduledEvent};

use crate::ports::WorkerPorts;

const EMBEDDED_CONFIG: &str = include_str!("../../dx.toml");

/// Parsed once per isolate: vars and secrets cannot change without a new deployment.
static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();

fn config(ports: &WorkerPorts) -> std::result::Result<Arc<Config>, String> {
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let parsed = Arc::new(Config::load(EMBEDDED_CONFIG, ports).map_err(|e| e.to_string())?);
    Ok(CONFIG.get_or_init(|| parsed).clone())
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let ports = WorkerPorts::new(env, ctx);
    let config = match config(&ports) {
        Ok(c) => c,
        Err(message) => {
            worker::console_error!("{message}");
            let body = serde_json::json!({"error": {"message": message, "type": "server_error", "param": null, "code": "config_error"}});
            return into_worker(
                http::Response::builder()
                    .status(500)
                    .header("content-type", "application/json")
                    .body(Body::Full(Bytes::from(body.to_string())))
                    .map_err(|e| worker::Error::RustError(e.to_string()))?,
            );
        }
    };
    let mut gateway = Gateway::new(ports.clone(), config.clone());
    if let Some(gate) = catalog::gate(&ports, &config) {
        catalog::sync_if_due(&gate, &ports, &config);
        gateway = gateway.with_catalog_sync(gate);
    }
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    let url = req.url()?;
    if let Some(refusal) = gateway.precheck(url.path(), declared) {
        return into_worker(refusal);
    }
    let mut headers = http::HeaderMap::new();
    let incoming = req.headers();
    for name in INGRESS_HEADERS {
        if let Some(value) = incoming.get(name).ok().flatten() {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                headers.insert(*name, v);
            }
        }
    }
    let method =
        http::Method::from_bytes(req.method().as_ref().as_bytes()).unwrap_or(http::Method::GET);
    let body = if method == http::Method::GET || method == http::Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(req.bytes().await.unwrap_or_default())
    };
    let incoming = IncomingRequest {
        method,
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        headers,
        body,
    };
    into_worker(gateway.handle(incoming).await)
}

/// The cron trigger (wrangler.toml `[triggers]`): refreshes the catalog.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let ports = WorkerPorts::scheduled(env);
    match config(&ports) {
        Ok(config) => catalog::scheduled_refresh(&ports, &config, &event.cron()).await,
        Err(message) => worker::console_error!("{message}"),
    }
}

/// Builds the JS response directly: workers-rs's `Response` would copy the
/// body and headers once more on the way out.
fn into_worker(resp: GatewayResponse) -> Result<web_sys::Response> {
    let (parts, body) = resp.into_parts();
    let headers = web_sys::Headers::new()?;
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(parts.status.as_u16());
    init.set_headers(&headers);
    let response = match body {
        Body::Empty => web_sys::Response::new_with_opt_str_and_init(None, &init)?,
        Body::Full(bytes) => web_sys::Response::new_with_opt_buffer_source_and_init(
            Some(&js_sys::Uint8Array::from(&bytes[..])),
            &init,
        )?,
        Body::Stream(stream) => {
            let chunks = stream.map(|b| Ok(js_sys::Uint8Array::from(&b[..]).into()));
            let readable = wasm_streams::ReadableStream::from_stream(chunks).into_raw();
            web_sys::Response::new_with_opt_readable_stream_and_init(Some(&readable), &init)?
        }
    };
    Ok(response)
}
