#![cfg(target_arch = "wasm32")]
//! DX Gateway on Cloudflare Workers: adapts `worker` types to `dx-core` and
//! implements its ports with `fetch`, `setTimeout`, `Date.now()` and
//! `ctx.waitUntil`.

mod ports;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use dx_core::{Body, Config, Gateway, GatewayResponse, IncomingRequest, INGRESS_HEADERS};
use futures::StreamExt;
use worker::{event, Context, Env, Headers, Request, Response, Result};

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
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let ports = WorkerPorts::new(env, ctx);
    let config = match config(&ports) {
        Ok(c) => c,
        Err(message) => {
            worker::console_error!("{message}");
            let body = serde_json::json!({"error": {"message": message, "type": "server_error", "param": null, "code": "config_error"}});
            return Ok(Response::from_json(&body)?.with_status(500));
        }
    };
    let gateway = Gateway::new(ports, config);
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(refusal) = gateway.precheck(declared) {
        return into_worker(refusal);
    }
    let url = req.url()?;
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

fn into_worker(resp: GatewayResponse) -> Result<Response> {
    let (parts, body) = resp.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let response = match body {
        Body::Empty => Response::empty()?,
        Body::Full(bytes) => Response::from_bytes(bytes.to_vec())?,
        Body::Stream(stream) => {
            Response::from_stream(stream.map(|b| Ok::<Vec<u8>, worker::Error>(b.to_vec())))?
        }
    };
    Ok(response
        .with_status(parts.status.as_u16())
        .with_headers(headers))
}
