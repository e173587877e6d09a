//! DX Gateway core: the whole LLM gateway as deterministic protocol logic.
//!
//! This crate never does IO, never reads a clock, never touches a platform type:
//! no sockets, no `SystemTime::now()`, no tokio, no wasm-bindgen. Time, HTTP,
//! sleeping, environment lookups and deferred work reach it through the small
//! traits in [`ports`]; the Workers and Lambda shells implement them and adapt
//! their own request/response types to [`IncomingRequest`] / [`GatewayResponse`].

mod auth;
mod config;
mod error;
mod gateway;
mod http_util;
pub mod model_name;
mod providers;
mod quirks;
mod resolve;
mod router;
mod secret;

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
pub mod stream;
pub mod unified;

pub use config::{Config, ConfigError, General, ModelEntry};
pub use error::{ErrorKind, GatewayError};
pub use gateway::{
    Body, Gateway, GatewayResponse, IncomingRequest, INGRESS_HEADERS, UPSTREAM_SUCCESS_HEADERS,
};
pub use http_util::error_response;
pub use providers::{Codec, ProviderSpec, PROVIDERS};
pub use resolve::{resolve_entry, resolve_model, Deployment};
pub use router::{RouterConfig, Rule};
pub use secret::Secret;
