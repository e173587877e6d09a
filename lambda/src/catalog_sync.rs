//! The gateway role's view of the stored catalog: at most once per
//! `[catalog] sync_interval_s` an invocation starts a sync in the background
//! (one small DynamoDB read unless the stored version changed) and never
//! waits for it; requests naming an unknown model wait for a sync in flight
//! through the [`SyncGate`].

use std::sync::{Arc, Mutex};

use dx_core::catalog::refresh::{sync_stored, RefreshConfig, SyncMemory, SyncOutcome};
use dx_core::catalog::sync::SyncGate;
use dx_core::Config;
use serde_json::json;

use crate::ports::{log_json, Shared};
use crate::state_table::{catalog_store, CatalogStore};

pub struct CatalogSync {
    gate: Arc<SyncGate>,
    store: CatalogStore,
    cfg: RefreshConfig,
    memory: SyncMemory,
    /// The last line logged: an outcome that repeats is not logged again.
    last_logged: Mutex<String>,
}

impl CatalogSync {
    /// `None` when `[catalog] refresh = false`, when no state table is set, or when DynamoDB cannot be
    /// reached with this environment (logged once; the gateway then serves
    /// the embedded catalog).
    pub fn from_env(shared: &Arc<Shared>, config: &Config) -> Option<Arc<Self>> {
        if !config.catalog.refresh {
            return None;
        }
        let store = match catalog_store(shared) {
            Ok(store) => store?,
            Err(e) => {
                log_json(&json!({"event": "catalog_sync", "error": e}));
                return None;
            }
        };
        Some(Arc::new(CatalogSync {
            gate: Arc::new(SyncGate::new(config.catalog.sync_interval_ms())),
            store,
            cfg: config.catalog.refresh(),
            memory: SyncMemory::default(),
            last_logged: Mutex::new(String::new()),
        }))
    }

    pub fn gate(&self) -> Arc<SyncGate> {
        self.gate.clone()
    }

    /// Starts a sync in the background when one is due, on a thread of its
    /// own: checking and indexing a changed copy is milliseconds of CPU
    /// (`cargo bench -p dx-core --bench catalog`), which on the runtime's
    /// only thread would hold up the requests in flight. Its IO still runs
    /// on the runtime (`Handle::block_on` while `main` drives the drivers).
    pub fn start_if_due(self: &Arc<Self>, now_ms: u64) {
        let me = self.clone();
        if let Some(sync) = self
            .gate
            .start_if_due(now_ms, move || Box::pin(async move { me.sync().await }))
        {
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || runtime.block_on(sync));
        }
    }

    async fn sync(&self) {
        let line = match sync_stored(&self.store, &self.cfg, &self.memory).await {
            Ok(SyncOutcome::Installed { version }) => {
                json!({"event": "catalog_sync", "outcome": "installed", "version": version})
            }
            Ok(SyncOutcome::NothingStored) => {
                json!({"event": "catalog_sync", "outcome": "nothing_stored"})
            }
            Ok(SyncOutcome::Unchanged) => return,
            Err(e) => json!({"event": "catalog_sync", "error": e}),
        };
        if let Ok(mut last) = self.last_logged.lock() {
            let text = line.to_string();
            if *last != text {
                log_json(&line);
                *last = text;
            }
        }
    }
}
