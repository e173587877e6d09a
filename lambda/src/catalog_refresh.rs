//! The `catalog-refresh` role: invoked on a schedule (EventBridge), it
//! fetches models.dev's and LiteLLM's published JSON, merges and validates
//! them, and saves the result to the state table, where gateway instances
//! pick it up. A failed refresh is an invocation error (visible to the
//! schedule's retries and alarms) and leaves the stored copy as it was.

use std::sync::Arc;

use dx_core::catalog::refresh::{
    refresh, sync_stored, RefreshConfig, RefreshOutcome, SyncMemory, SyncOutcome,
};
use dx_core::{catalog, Config};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

use crate::ports::{log_json, LambdaPorts, Shared};
use crate::state_table::{catalog_store, CatalogStore};

pub const ROLE: &str = "catalog-refresh";

pub async fn run(shared: Arc<Shared>, config: Arc<Config>) -> Result<(), lambda_runtime::Error> {
    if !config.catalog.refresh {
        // Scheduled anyway (the template cannot read dx.toml): say so and do nothing.
        return lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
            let summary = json!({"outcome": "disabled"});
            log_json(&json!({"event": "catalog_refresh", "summary": summary}));
            Ok::<_, Diagnostic>(summary)
        }))
        .await;
    }
    let store = catalog_store(&shared)?.ok_or(
        "the catalog-refresh role needs DX_STATE_TABLE (the DynamoDB table to save the catalog to)",
    )?;
    let job = Arc::new(Job {
        ports: LambdaPorts::new(shared),
        store,
        cfg: config.catalog.refresh(),
    });
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let job = job.clone();
        async move { job.refresh().await }
    }))
    .await
}

struct Job {
    ports: LambdaPorts,
    store: CatalogStore,
    cfg: RefreshConfig,
}

impl Job {
    async fn refresh(&self) -> Result<Value, Diagnostic> {
        self.mirror_store().await;
        match refresh(&self.ports, &self.store, &self.cfg).await {
            Ok(outcome) => {
                let current = catalog::current();
                let summary = json!({
                    "outcome": match outcome {
                        RefreshOutcome::Installed { .. } => "installed",
                        RefreshOutcome::Unchanged => "unchanged",
                    },
                    "providers": current.provider_count(),
                    "models": current.model_count(),
                    "version": current.version(),
                });
                log_json(&json!({"event": "catalog_refresh", "summary": summary}));
                Ok(summary)
            }
            Err(e) => {
                log_json(&json!({"event": "catalog_refresh", "error": e}));
                Err(Diagnostic {
                    error_type: "CatalogRefreshFailed".into(),
                    error_message: e,
                })
            }
        }
    }

    /// Makes this process's catalog the stored copy (or the embedded one
    /// when there is no valid copy), so that "unchanged" means the store
    /// already holds what the sources give, and a missing or damaged copy
    /// is written again.
    async fn mirror_store(&self) {
        match sync_stored(&self.store, &self.cfg, &SyncMemory::default()).await {
            Ok(SyncOutcome::Installed { .. } | SyncOutcome::Unchanged) => {}
            Ok(SyncOutcome::NothingStored) => catalog::uninstall(),
            Err(e) => {
                log_json(&json!({"event": "catalog_refresh", "stored_copy": e}));
                catalog::uninstall();
            }
        }
    }
}
