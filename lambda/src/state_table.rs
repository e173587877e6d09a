//! The gateway's DynamoDB state table (`DX_STATE_TABLE`), reached with the
//! function's own credentials and region.

use std::sync::Arc;

use dx_core::aws::accounts::DynamoAccounts;
use dx_core::aws::catalog_store::{DynamoCatalogStore, STATE_TABLE_ENV};
use dx_core::aws::dynamodb::{DynamoDb, DynamoDbConfig};
use dx_core::aws::kv::DynamoKv;
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

/// Virtual keys and their ledgers in the state table; `Ok(None)` when no
/// table is set (then only the master key works).
pub fn accounts(shared: &Arc<Shared>) -> Result<Option<DynamoAccounts<LambdaPorts>>, String> {
    let Some(table) = shared.var(STATE_TABLE_ENV).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let config = DynamoDbConfig::from_env(shared.as_ref())?;
    let db = DynamoDb::new(LambdaPorts::new(shared.clone()), config);
    Ok(Some(DynamoAccounts::new(db, table, fill_random)))
}

/// A key-value store with expiry in the state table; `Ok(None)` when no
/// table is set.
pub fn kv(shared: &Arc<Shared>) -> Result<Option<DynamoKv<LambdaPorts>>, String> {
    let Some(table) = shared.var(STATE_TABLE_ENV).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let config = DynamoDbConfig::from_env(shared.as_ref())?;
    let db = DynamoDb::new(LambdaPorts::new(shared.clone()), config);
    Ok(Some(DynamoKv::new(db, table)))
}

fn fill_random(out: &mut [u8]) -> Result<(), String> {
    getrandom::fill(out).map_err(|e| format!("no secure random source: {e}"))
}
