//! The gateway's DynamoDB state table (`DX_STATE_TABLE`), reached with the
//! function's own credentials and region.

use std::sync::Arc;

use dx_core::aws::catalog_store::{DynamoCatalogStore, STATE_TABLE_ENV};
use dx_core::aws::dynamodb::{DynamoDb, DynamoDbConfig};
use dx_core::ports::Env;

use crate::ports::{LambdaPorts, Shared};

/// The catalog copy in the state table; `Ok(None)` when no table is set.
pub fn catalog_store(
    shared: &Arc<Shared>,
) -> Result<Option<DynamoCatalogStore<LambdaPorts>>, String> {
    let Some(table) = shared.var(STATE_TABLE_ENV).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let config = DynamoDbConfig::from_env(shared.as_ref())?;
    let db = DynamoDb::new(LambdaPorts::new(shared.clone()), config);
    Ok(Some(DynamoCatalogStore::new(db, table)))
}
