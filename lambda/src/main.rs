//! DX Gateway on AWS Lambda. One binary, two roles chosen by `DX_ROLE`:
//!
//! - the gateway (default): a Function URL handler with response streaming
//!   ([`gateway`]), which keeps its model catalog in step with the copy in
//!   DynamoDB when `DX_STATE_TABLE` is set ([`catalog_sync`]);
//! - `catalog-refresh`: the scheduled job that fetches the public catalog
//!   sources and saves a validated copy to DynamoDB ([`catalog_refresh`]).

mod catalog_refresh;
mod catalog_sync;
mod gateway;
mod ports;
mod state_table;

use std::sync::Arc;

use dx_core::ports::Env;
use dx_core::Config;

const EMBEDDED_CONFIG: &str = include_str!("../../dx.toml");
const ROLE_ENV: &str = "DX_ROLE";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let shared = ports::Shared::from_process_env();
    let config = Arc::new(Config::load(EMBEDDED_CONFIG, &shared).map_err(|e| e.to_string())?);
    let role = shared.var(ROLE_ENV).unwrap_or_default();
    let shared = Arc::new(shared);
    match role.as_str() {
        "" | "gateway" => gateway::run(shared, config).await,
        catalog_refresh::ROLE => catalog_refresh::run(shared, config).await,
        other => Err(format!(
            "{ROLE_ENV}={other:?}: expected `gateway` or `{}`",
            catalog_refresh::ROLE
        )
        .into()),
    }
}
