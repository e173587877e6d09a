//! Where the catalog copy lives on Workers: KV. The sync and refresh
//! themselves are the core's `Syncer`.

use std::sync::Arc;

use dx_core::catalog::refresh::{CatalogStore, Stored};
use dx_core::catalog::sync::Syncer;
use dx_core::Config;
use worker::kv::KvStore;

use crate::ports::WorkerPorts;

/// The KV namespace binding for the gateway's state (wrangler.toml).
pub const STATE_BINDING: &str = "DX_STATE";
const VERSION_KEY: &str = "catalog:version";
const TEXT_KEY: &str = "catalog:text";
/// KV's shortest edge cache: a new version reaches an isolate within about
/// this long after it is visible in its location.
const KV_CACHE_TTL_S: u64 = 60;

pub struct KvCatalogStore(KvStore);

impl KvCatalogStore {
    pub fn open(env: &worker::Env) -> Option<Self> {
        env.kv(STATE_BINDING).ok().map(KvCatalogStore)
    }
}

impl CatalogStore for KvCatalogStore {
    async fn version(&self) -> Result<Option<String>, String> {
        self.0
            .get(VERSION_KEY)
            .cache_ttl(KV_CACHE_TTL_S)
            .text()
            .await
            .map_err(|e| format!("KV get {VERSION_KEY}: {e}"))
    }

    async fn load(&self) -> Result<Option<Stored>, String> {
        let Some(version) = self.version().await? else {
            return Ok(None);
        };
        let text = self
            .0
            .get(TEXT_KEY)
            .cache_ttl(KV_CACHE_TTL_S)
            .text()
            .await
            .map_err(|e| format!("KV get {TEXT_KEY}: {e}"))?;
        Ok(text.map(|text| Stored { version, text }))
    }

    async fn save(&self, stored: &Stored) -> Result<(), String> {
        for (key, value) in [(TEXT_KEY, &stored.text), (VERSION_KEY, &stored.version)] {
            self.0
                .put(key, value.as_str())
                .map_err(|e| format!("KV put {key}: {e}"))?
                .execute()
                .await
                .map_err(|e| format!("KV put {key}: {e}"))?;
        }
        Ok(())
    }
}

/// This isolate's catalog sync, when `[catalog] refresh` is on and a KV
/// namespace is bound. (An `Arc` because the core's API is the same on both
/// targets; an isolate has one thread.)
#[allow(clippy::arc_with_non_send_sync)]
pub fn syncer(
    env: &worker::Env,
    config: &Config,
) -> Option<Arc<Syncer<KvCatalogStore, WorkerPorts>>> {
    if !config.catalog.refresh {
        return None;
    }
    let store = KvCatalogStore::open(env)?;
    let ports = WorkerPorts::scheduled(env.clone());
    let interval_ms = config.catalog.sync_interval_ms();
    Some(Arc::new(Syncer::new(
        store,
        ports,
        interval_ms,
        config.catalog.refresh(),
    )))
}
