#![cfg(target_arch = "wasm32")]
//! DX Gateway on Cloudflare Workers: adapts `worker` types to `dx-core` and
//! implements its ports with `fetch`, `setTimeout`, `Date.now()` and
//! `ctx.waitUntil`.

mod catalog;
mod fnv;
mod glue;
mod ports;
mod task;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use dx_core::{
    error_response, Config, Gateway, GatewayError, GatewayResponse, IncomingRequest,
    INGRESS_HEADERS,
};
use worker::{event, Context, Env, Result, ScheduleContext, ScheduledEvent};

use crate::ports::WorkerPorts;

const EMBEDDED_CONFIG: &str = include_str!("../../dx.toml");

/// Parsed once per isolate: vars and secrets cannot change without a new
/// deployment. A config that does not load stays broken for the isolate's
/// life, so it is reported once, loudly, when the isolate first needs it (a
/// Worker sees its variables only from inside a handler).
static CONFIG: OnceLock<std::result::Result<Arc<Config>, String>> = OnceLock::new();

fn config(ports: &WorkerPorts) -> std::result::Result<Arc<Config>, String> {
    CONFIG
        .get_or_init(|| match Config::load(EMBEDDED_CONFIG, ports) {
            Ok(c) => Ok(Arc::new(c)),
            Err(e) => {
                worker::console_error!(
                    "DX GATEWAY CONFIGURATION ERROR: {e}. Every request answers 500 config_error until DX_CONFIG (or the embedded dx.toml) is fixed."
                );
                Err(e.to_string())
            }
        })
        .clone()
}

#[event(start)]
fn start() {
    glue::use_cheap_microtasks();
}

thread_local! {
    static INGRESS_HEADER_NAMES: js_sys::Array = glue::names_array(INGRESS_HEADERS);
}

/// The fetch handler's export, as `#[event(fetch)]` would make it but run by
/// `task` (no executor hop per wake-up).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> js_sys::Promise {
    task::promise(async move {
        match handle_fetch(req, env, Context::new(ctx)).await {
            Ok(response) => response.into(),
            Err(e) => {
                worker::console_error!("{e}");
                internal_error().map_or(wasm_bindgen::JsValue::NULL, Into::into)
            }
        }
    })
}

fn internal_error() -> Option<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(500);
    web_sys::Response::new_with_opt_str_and_init(Some("INTERNAL SERVER ERROR"), &init).ok()
}

async fn handle_fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let ports = WorkerPorts::new(env, ctx);
    let head = INGRESS_HEADER_NAMES.with(|names| glue::RequestHead::read(&req, names));
    let config = match config(&ports) {
        Ok(c) => c,
        // The detail was logged when the config was first read; the client
        // learns only that the deployment is broken.
        Err(detail) => {
            return into_worker(error_response(
                &head.path,
                &GatewayError::config_invalid(detail),
            ))
        }
    };
    let mut gateway = Gateway::new(ports.clone(), config.clone());
    if let Some(gate) = catalog::gate(&ports, &config) {
        catalog::sync_if_due(&gate, &ports, &config);
        gateway = gateway.with_catalog_sync(gate);
    }
    let declared = head
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(refusal) = gateway.precheck(&head.path, declared) {
        return into_worker(refusal);
    }
    let body = if head.method == http::Method::GET || head.method == http::Method::HEAD {
        Bytes::new()
    } else {
        glue::read_body(&req).await.unwrap_or_default()
    };
    let incoming = IncomingRequest {
        method: head.method,
        path: head.path,
        query: head.query,
        headers: head.headers,
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

fn into_worker(resp: GatewayResponse) -> Result<web_sys::Response> {
    glue::into_js(resp)
}
