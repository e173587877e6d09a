//! The `catalog-refresh` role: invoked on a schedule (EventBridge), it runs
//! the core's [`Syncer::refresh`] against the state table, where gateway
//! instances pick the result up. A failed refresh is an invocation error
//! (visible to the schedule's retries and alarms) and leaves the stored copy
//! as it was.

use std::sync::Arc;

use dx_core::catalog::sync::{refresh_disabled, Syncer};
use dx_core::Config;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::ports::{LambdaPorts, Shared};
use crate::state_table::catalog_store;

pub const ROLE: &str = "catalog-refresh";

pub async fn run(shared: Arc<Shared>, config: Arc<Config>) -> Result<(), lambda_runtime::Error> {
    let ports = LambdaPorts::new(shared.clone());
    if !config.catalog.refresh {
        // Scheduled anyway (the template cannot read dx.toml): say so and do nothing.
        return lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
            let summary = refresh_disabled(&ports);
            async move { Ok::<_, Diagnostic>(summary) }
        }))
        .await;
    }
    let store = catalog_store(&shared)?.ok_or(
        "the catalog-refresh role needs DX_STATE_TABLE (the DynamoDB table to save the catalog to)",
    )?;
    let interval_ms = config.catalog.sync_interval_ms();
    let syncer = Syncer::new(store, ports.clone(), interval_ms, config.catalog.refresh());
    let syncer = Arc::new(syncer);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let syncer = syncer.clone();
        let ports = ports.clone();
        async move {
            syncer
                .refresh(&ports, None)
                .await
                .map_err(|error_message| Diagnostic {
                    error_type: "CatalogRefreshFailed".into(),
                    error_message,
                })
        }
    }))
    .await
}
