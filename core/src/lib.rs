//! DX Gateway core: the whole LLM gateway as deterministic protocol logic.
//!
//! This crate never does IO, never reads a clock, never touches a platform type:
//! no sockets, no `SystemTime::now()`, no tokio, no wasm-bindgen. Time, HTTP,
//! sleeping, environment lookups and deferred work reach it through the small
//! traits in [`ports`]; the Workers and Lambda shells implement them and adapt
//! their own request/response types to [`IncomingRequest`] / [`GatewayResponse`].

// Layers, lowest first. A module may use modules of its own layer and of
// the layers below it, never above: `scripts/check-layers.py` (run by
// `scripts/test.sh`) reads this list and fails on an import that climbs.
// A cycle between modules, inside one layer too, fails it as well.
//
// layer leaf: error secret ports unified tokens http stream model_name raw_json
// layer model: guardrails catalog cost config router task_routing providers resolve model_meta upstream_auth aws state keys telemetry
// layer formats: codec ingress quirks
// layer relays: relays
// layer pipeline: pipeline
// layer endpoints: endpoints catalog_api
// layer instance: gateway

// leaf: errors, secrets, the ports, the unified representation, HTTP types,
// format-neutral stream framing.
mod error;
mod http;
pub mod model_name;
pub mod ports;
mod raw_json;
mod secret;
pub mod stream;
pub mod tokens;
pub mod unified;

// model: the catalog, configuration, providers and resolution, upstream
// credentials, storage ports.
pub mod aws;
pub mod catalog;
mod config;
pub mod cost;
pub mod guardrails;
pub mod keys;
pub mod model_meta;
mod providers;
mod resolve;
pub mod router;
pub mod state;
mod task_routing;
pub mod telemetry;
mod upstream_auth;

// formats: codecs, ingress parsers and renderers, per-model request quirks.
pub mod codec;
pub mod ingress;
mod quirks;

// relays: same-format relays and cross-format translation of streams.
pub mod relays;

// pipeline: the request pipeline's stages and its driver.
mod pipeline;

// endpoints: the path table, one file per endpoint.
mod catalog_api;
mod endpoints;

// instance: the gateway an isolate / execution environment builds once.
mod gateway;

pub use config::{Config, ConfigError, General, ModelEntry};
pub use endpoints::error_response;
pub use error::{ErrorKind, GatewayError};
pub use gateway::{
    Body, Bound, Gateway, GatewayResponse, IncomingRequest, INGRESS_HEADERS,
    UPSTREAM_SUCCESS_HEADERS,
};
pub use providers::{Codec, ProviderSpec, PROVIDERS};
pub use resolve::{resolve_entry, resolve_model, Deployment};
pub use secret::Secret;
pub use task_routing::{RouterConfig, Rule};
