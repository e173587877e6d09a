//! DX Gateway on AWS Lambda. One binary, two roles chosen by `DX_ROLE`:
//!
//! - the gateway (default): a Function URL handler with response streaming
//!   ([`gateway`]), which keeps its model catalog in step with the copy in
//!   DynamoDB when `DX_STATE_TABLE` is set (the core's `Syncer`);
//! - `catalog-refresh`: the scheduled job that fetches the public catalog
//!   sources and saves a validated copy to DynamoDB ([`catalog_refresh`]).
//!
//! `dx-lambda --check-config [FILE]` validates a configuration and exits
//! ([`check_config`]).

mod catalog_refresh;
mod check_config;
mod event_text;
mod gateway;
mod ports;
mod state_table;

use std::sync::Arc;

use dx_core::ports::Env;
use dx_core::Config;

include!(concat!(env!("OUT_DIR"), "/embedded_config.rs"));
const ROLE_ENV: &str = "DX_ROLE";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let shared = ports::Shared::from_process_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(check_config::FLAG) {
        let file = args.get(1).map(String::as_str);
        std::process::exit(check_config::run(file, &shared, EMBEDDED_CONFIG));
    }
    let config = Config::load(EMBEDDED_CONFIG, &shared);
    let role = shared.var(ROLE_ENV).unwrap_or_default();
    let shared = Arc::new(shared);
    match role.as_str() {
        "" | "gateway" => match config {
            Ok(config) => {
                for note in &config.import_notes {
                    eprintln!("DX GATEWAY CONFIGURATION NOTE: {note}");
                }
                gateway::run(shared, Arc::new(config)).await
            }
            // Serving beats crashing: an instance that fails its init is
            // retried by Lambda and every client sees a bare 502; this one
            // answers each request with a 500 `config_error` in its API's
            // shape and says why in its log, once, at start.
            Err(e) => {
                eprintln!(
                    "DX GATEWAY CONFIGURATION ERROR: {e}. Every request answers 500 config_error until DX_CONFIG (or the embedded {EMBEDDED_CONFIG_NAME}) is fixed; check a file with `dx-lambda --check-config FILE`."
                );
                gateway::run_broken(e.to_string()).await
            }
        },
        catalog_refresh::ROLE => {
            let config = config.map_err(|e| e.to_string())?;
            catalog_refresh::run(shared, Arc::new(config)).await
        }
        other => Err(format!(
            "{ROLE_ENV}={other:?}: expected `gateway` or `{}`",
            catalog_refresh::ROLE
        )
        .into()),
    }
}
