//! The response cache on Workers: the colo's Cache API (`caches.default`),
//! each entry under a synthetic GET URL made from its key. The Cache API
//! works on custom domains only; on `workers.dev` every put is dropped and
//! every lookup misses (README, Response cache).

use bytes::Bytes;
use dx_core::ports::BoxFuture;
use dx_core::state::CacheStore;

/// Entries live under this origin; the path is the cache key.
const ORIGIN: &str = "https://dx-gateway.cache/";

pub struct EdgeCache;

impl CacheStore for EdgeCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        Box::pin(async move { crate::glue::cached(&format!("{ORIGIN}{key}")).await })
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
