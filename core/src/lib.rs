//! DX Gateway core: the whole LLM gateway as deterministic protocol logic.
//!
//! This crate never does IO, never reads a clock, never touches a platform type:
//! no sockets, no `SystemTime::now()`, no tokio, no wasm-bindgen. Time, HTTP,
//! sleeping, environment lookups and deferred work reach it through the small
//! traits in [`ports`]; the Workers and Lambda shells implement them and adapt
//! their own request/response types to [`IncomingRequest`] / [`GatewayResponse`].

mod config;
mod endpoints;
mod error;
mod gateway;
mod http_util;
mod pipeline;
mod providers;
mod quirks;
mod resolve;
mod secret;
mod task_routing;
mod upstream_auth;

// The model catalog, costs and the endpoints that expose them.
pub mod catalog;
mod catalog_api;
mod catalog_resolve;
pub mod cost;
pub mod model_meta;
pub mod tokens;

pub mod aws;
pub mod codec;
pub mod ingress;
pub mod ports;
pub mod state;
pub mod stream;
pub mod unified;

pub use config::{Config, ConfigError, General, ModelEntry};
pub use error::{ErrorKind, GatewayError};
pub use gateway::{
    Body, Bound, Gateway, GatewayResponse, IncomingRequest, INGRESS_HEADERS,
    UPSTREAM_SUCCESS_HEADERS,
};
pub use http_util::error_response;
pub use providers::{Codec, ProviderSpec, PROVIDERS};
pub use resolve::{resolve_entry, resolve_model, Deployment};
pub use secret::Secret;
pub use task_routing::{RouterConfig, Rule};
