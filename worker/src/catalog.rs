//! The catalog's runtime refresh on Workers: the cron trigger rebuilds it
//! into KV, and each isolate polls KV for a newer copy off the request path.

use std::cell::OnceCell;
use std::sync::Arc;

use dx_core::catalog::refresh::{
    refresh, sync_stored, CatalogStore, RefreshOutcome, Stored, SyncMemory, SyncOutcome,
};
use dx_core::catalog::sync::SyncGate;
use dx_core::ports::{with_timeout, Clock, Log};
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

const SYNC_TIMEOUT_MS: u64 = 10_000;

static MEMORY: SyncMemory = SyncMemory::new();

thread_local! {
    /// Per isolate; `None` when the deployment has no `DX_STATE` binding.
    static GATE: OnceCell<Option<Arc<SyncGate>>> = const { OnceCell::new() };
}

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

/// This isolate's sync gate, made on its first request. (An `Arc` because
/// the core's API is the same on both targets; an isolate has one thread.)
#[allow(clippy::arc_with_non_send_sync)]
pub fn gate(ports: &WorkerPorts, config: &Config) -> Option<Arc<SyncGate>> {
    GATE.with(|cell| {
        cell.get_or_init(|| {
            if !config.catalog.refresh {
                return None;
            }
            KvCatalogStore::open(ports.env())
                .map(|_| Arc::new(SyncGate::new(config.catalog.sync_interval_ms())))
        })
        .clone()
    })
}

/// Starts a sync with KV when one is due; it runs under `waitUntil`.
pub fn sync_if_due(gate: &SyncGate, ports: &WorkerPorts, config: &Arc<Config>) {
    let started = gate.start_if_due(ports.now_ms(), || {
        let ports = ports.clone();
        let config = config.clone();
        Box::pin(async move {
            let Some(store) = KvCatalogStore::open(ports.env()) else {
                return;
            };
            // A KV read that never answers must not stall every later sync.
            let cfg = config.catalog.refresh();
            let sync = sync_stored(&store, &cfg, &MEMORY);
            match with_timeout(&ports, SYNC_TIMEOUT_MS, sync).await {
                Some(Ok(SyncOutcome::Installed { version })) => ports.log(&format!(
                    r#"{{"event":"catalog_sync","outcome":"installed","version":"{version}"}}"#
                )),
                Some(Ok(_)) => {}
                Some(Err(e)) => ports.log(&error_line("catalog_sync", &e)),
                None => ports.log(&error_line("catalog_sync", "no answer from KV in time")),
            }
        })
    });
    if let Some(sync) = started {
        ports.wait_until(sync);
    }
}

/// The cron trigger's work: fetch, merge, check, store, install.
pub async fn scheduled_refresh(ports: &WorkerPorts, config: &Config, cron: &str) {
    if !config.catalog.refresh {
        ports.log(r#"{"event":"catalog_refresh","outcome":"disabled"}"#);
        return;
    }
    let Some(store) = KvCatalogStore::open(ports.env()) else {
        ports.log(&error_line(
            "catalog_refresh",
            &format!("no KV namespace bound as {STATE_BINDING}: nowhere to keep the catalog"),
        ));
        return;
    };
    let line = match refresh(ports, &store, &config.catalog.refresh()).await {
        Ok(RefreshOutcome::Installed {
            providers,
            models,
            version,
        }) => {
            MEMORY.remember(&version);
            serde_json::json!({"event": "catalog_refresh", "outcome": "installed", "cron": cron,
                "providers": providers, "models": models, "version": version})
            .to_string()
        }
        Ok(RefreshOutcome::Unchanged) => serde_json::json!({"event": "catalog_refresh",
            "outcome": "unchanged", "cron": cron})
        .to_string(),
        Err(e) => error_line("catalog_refresh", &e),
    };
    ports.log(&line);
}

fn error_line(event: &str, error: &str) -> String {
    serde_json::json!({"event": event, "outcome": "error", "error": error}).to_string()
}
