//! The response cache on Workers: the colo's Cache API (`caches.default`),
//! each entry under a synthetic GET URL made from its key. The Cache API
//! works on custom domains only; on `workers.dev` every put is dropped and
//! every lookup misses (README, Response cache). With `[cache] global =
//! true`, KV (`DX_STATE`) is a second tier behind it, shared by every colo.

use std::sync::Arc;

use bytes::Bytes;
use dx_core::ports::{BoxFuture, Clock};
use dx_core::state::cache::Found;
use dx_core::state::{CacheStore, Tiered};

use crate::kv::WorkerKv;

/// The instance's cache: the colo's, and KV behind it when asked for. A
/// `global` cache without a KV binding is said at start, loudly, and runs
/// on the colo tier alone.
// One thread per isolate: nothing here is sent anywhere.
#[allow(clippy::arc_with_non_send_sync)]
pub fn store(env: &worker::Env, global: bool) -> Arc<dyn CacheStore> {
    if !global {
        return Arc::new(EdgeCache);
    }
    match WorkerKv::open(env) {
        Some(kv) => Arc::new(Tiered {
            local: EdgeCache,
            global: kv,
            clock: Now,
        }),
        None => {
            // `STATE_BINDING`, written out: no formatting for a constant.
            web_sys::console::error_1(&wasm_bindgen::JsValue::from_str(
                "DX GATEWAY CONFIGURATION ERROR: [cache] global = true needs a KV namespace bound as DX_STATE; the cache runs on the colo's Cache API alone.",
            ));
            Arc::new(EdgeCache)
        }
    }
}

pub struct Now;

impl Clock for Now {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// Entries live under this origin; the path is the cache key.
const ORIGIN: &str = "https://dx-gateway.cache/";

pub struct EdgeCache;

impl CacheStore for EdgeCache {
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move {
            let found = crate::glue::cached(&format!("{ORIGIN}{key}")).await?;
            Ok(found.map(|v| (v, None)))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<(), String>> {
        let ttl_s = ttl_ms.div_ceil(1000).min(u32::MAX as u64) as u32;
        Box::pin(async move { crate::glue::cache(&format!("{ORIGIN}{key}"), &value, ttl_s).await })
    }
}
