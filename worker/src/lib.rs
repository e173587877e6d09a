#![cfg(target_arch = "wasm32")]
//! DX Gateway on Cloudflare Workers: adapts `worker` types to `dx-core` and
//! implements its ports with `fetch`, `setTimeout`, `Date.now()` and
//! `ctx.waitUntil`.

mod catalog_store;
mod edge_cache;
mod fnv;
mod glue;
pub(crate) mod kv;
mod ledger;
mod ports;
mod task;

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use dx_core::catalog::sync::{refresh_disabled, Syncer};
use dx_core::ports::Log;
use dx_core::{
    error_response, Config, ErrorKind, Gateway, GatewayError, GatewayResponse, IncomingRequest,
    INGRESS_HEADERS,
};
use worker::{event, Context, Env, Result, ScheduleContext, ScheduledEvent};

use crate::catalog_store::KvCatalogStore;
use crate::ports::WorkerPorts;

include!(concat!(env!("OUT_DIR"), "/embedded_config.rs"));

/// Built on an isolate's first request (a Worker sees its variables only
/// from inside a handler) and kept for its life: vars and secrets cannot
/// change without a new deployment. A config that does not load stays broken
/// for the isolate's life, so it is reported once, loudly.
struct Instance {
    gateway: Rc<Gateway>,
    syncer: Option<Arc<Syncer<KvCatalogStore, WorkerPorts>>>,
}

thread_local! {
    static INSTANCE: OnceCell<std::result::Result<Rc<Instance>, String>> = const { OnceCell::new() };
}

fn instance(env: &Env) -> std::result::Result<Rc<Instance>, String> {
    INSTANCE.with(|cell| {
        cell.get_or_init(|| {
            let ports = WorkerPorts::scheduled(env.clone());
            match Config::load(EMBEDDED_CONFIG, &ports) {
                Ok(config) => {
                    for note in &config.import_notes {
                        worker::console_log!("DX GATEWAY CONFIGURATION NOTE: {note}");
                    }
                    let config = Arc::new(config);
                    let syncer = catalog_store::syncer(env, &config);
                    let mut gateway = Gateway::new(config, &ports);
                    if let Some(syncer) = &syncer {
                        gateway = gateway.with_catalog_sync(syncer.clone());
                    }
                    if let Some(accounts) = ledger::DoAccounts::new(env) {
                        gateway = gateway.with_accounts(Arc::new(accounts));
                    }
                    if let Some(kv) = kv::WorkerKv::open(env) {
                        gateway = gateway.with_kv(Arc::new(kv));
                    }
                    if let Some(cache) = &gateway.config().cache {
                        let store = edge_cache::store(env, cache.global);
                        gateway = gateway.with_cache(store);
                    }
                    Ok(Rc::new(Instance {
                        gateway: Rc::new(gateway),
                        syncer,
                    }))
                }
                Err(e) => {
                    worker::console_error!(
                        "DX GATEWAY CONFIGURATION ERROR: {e}. Every request answers 500 config_error until DX_CONFIG (or the embedded {EMBEDDED_CONFIG_NAME}) is fixed."
                    );
                    Err(e.to_string())
                }
            }
        })
        .clone()
    })
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
        let url = req.url();
        match handle_fetch(req, env, Context::new(ctx)).await {
            Ok(response) => response.into(),
            Err(e) => {
                worker::console_error!("{e}");
                internal_error(&url).map_or(wasm_bindgen::JsValue::NULL, Into::into)
            }
        }
    })
}

/// The core's 500 in the shape of the request's API, when the shell itself
/// failed to make a response; the detail went to the log.
fn internal_error(url: &str) -> Option<web_sys::Response> {
    let path = url
        .parse::<http::Uri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let error = GatewayError::new(
        ErrorKind::Configuration,
        "The gateway failed to produce a response; the detail is in its log.",
    )
    .with_code("internal_error");
    into_worker(error_response(&path, &error)).ok()
}

async fn handle_fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let head = INGRESS_HEADER_NAMES.with(|names| glue::RequestHead::read(&req, names));
    let instance = match instance(&env) {
        Ok(i) => i,
        // The detail was logged when the config was first read; the client
        // learns only that the deployment is broken.
        Err(detail) => {
            return into_worker(error_response(
                &head.path,
                &GatewayError::config_invalid(detail),
            ))
        }
    };
    let ports = WorkerPorts::new(env, ctx);
    let gateway = &instance.gateway;
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
        match glue::read_body(&req).await {
            Some(body) => body,
            // Not an empty body parsed as JSON: the client hears the body never arrived.
            None => {
                let error = GatewayError::invalid_request(
                    "The request body could not be read (the connection broke or it was not a byte stream).",
                )
                .with_code("body_unreadable");
                return into_worker(error_response(&head.path, &error));
            }
        }
    };
    let incoming = IncomingRequest {
        method: head.method,
        path: head.path,
        query: head.query,
        headers: head.headers,
        body,
    };
    into_worker(gateway.handle(&ports, incoming).await)
}

/// The cron trigger (wrangler.toml `[triggers]`): refreshes the catalog.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let ports = WorkerPorts::scheduled(env.clone());
    let instance = match instance(&env) {
        Ok(i) => i,
        Err(message) => return worker::console_error!("{message}"),
    };
    if !instance.gateway.config().catalog.refresh {
        refresh_disabled(&ports);
        return;
    }
    let Some(syncer) = &instance.syncer else {
        let line = serde_json::json!({"event": "catalog_refresh", "outcome": "error",
            "error": format!("no KV namespace bound as {}: nowhere to keep the catalog", catalog_store::STATE_BINDING)});
        return ports.log(&line.to_string());
    };
    // The outcome is in the log line the syncer writes.
    let _ = syncer.refresh(&ports, Some(&event.cron())).await;
}

fn into_worker(resp: GatewayResponse) -> Result<web_sys::Response> {
    glue::into_js(resp)
}
