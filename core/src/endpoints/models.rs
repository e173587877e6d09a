//! `GET /v1/models` and `GET /v1/models/{id}`.

use http::StatusCode;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::catalog_api;
use crate::config::{Config, ModelEntry};
use crate::error::GatewayError;
use crate::http::json;
use crate::http::GatewayResponse;
use crate::ports::Env;

pub fn list(config: &Config, catalog: &'static Catalog, query: Option<&str>) -> GatewayResponse {
    if catalog_api::query_param(query, "catalog").is_some_and(|v| v == "true" || v == "1") {
        return with_catalog(config, catalog, query);
    }
    #[derive(Serialize)]
    struct Model<'a> {
        id: &'a str,
        object: &'static str,
        created: u64,
        owned_by: &'a str,
    }
    #[derive(Serialize)]
    struct List<'a> {
        object: &'static str,
        data: Vec<Model<'a>>,
    }
    let data = config
        .model_list
        .iter()
        .filter(|e| !e.model_name.ends_with('*'))
        .map(|e| Model {
            id: &e.model_name,
            object: "model",
            created: 0,
            owned_by: owner(e),
        })
        .collect();
    let body = serde_json::to_vec(&List {
        object: "list",
        data,
    })
    .unwrap_or_default();
    json(StatusCode::OK, body)
}

/// `?catalog=true`: the configured names, then every catalog model the
/// gateway can call as `provider/model` (`&provider=` narrows it).
fn with_catalog(
    config: &Config,
    catalog: &'static Catalog,
    query: Option<&str>,
) -> GatewayResponse {
    let provider = catalog_api::query_param(query, "provider");
    let mut data: Vec<serde_json::Value> = config
        .model_list
        .iter()
        .filter(|e| !e.model_name.ends_with('*') && provider.is_none())
        .map(|e| {
            serde_json::json!({"id": e.model_name, "object": "model", "created": 0, "owned_by": owner(e)})
        })
        .collect();
    data.extend(catalog_api::catalog_model_entries(
        catalog,
        provider.as_deref(),
    ));
    let body = serde_json::json!({"object": "list", "data": data});
    json(StatusCode::OK, body.to_string())
}

pub fn one(
    config: &Config,
    catalog: &'static Catalog,
    env: &impl Env,
    id: &str,
) -> Result<GatewayResponse, GatewayError> {
    let Some(entry) = config.model_list.iter().find(|e| e.model_name == id) else {
        let d = catalog_api::describe(id, config, catalog, env)?;
        let body = serde_json::json!({
            "id": id, "object": "model", "created": 0, "owned_by": d.provider,
        });
        return Ok(json(StatusCode::OK, body.to_string()));
    };
    let body = serde_json::json!({
        "id": entry.model_name, "object": "model", "created": 0, "owned_by": owner(entry),
    });
    Ok(json(StatusCode::OK, body.to_string()))
}

fn owner(entry: &ModelEntry) -> &str {
    entry
        .provider
        .as_deref()
        .or_else(|| {
            entry
                .model
                .as_deref()
                .and_then(|m| m.split_once('/'))
                .map(|(p, _)| p)
        })
        .unwrap_or("dx-gateway")
}
