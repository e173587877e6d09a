//! The gateway: one per isolate / execution environment, holding what an
//! instance keeps between requests. Each request runs the pipeline
//! ([`crate::pipeline::serve`]) with the ports its shell hands in.

use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::HeaderValue;

use crate::catalog::sync::{CatalogSync, SETTLE_MS};
use crate::config::Config;
use crate::endpoints::error_response;
use crate::error::{ErrorKind, GatewayError};
use crate::pipeline::{self, Exchange};
use crate::ports::{Env, Ports};
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::BodyStream;
use crate::upstream_auth::google::{self, TokenCache};

pub use crate::http::{Body, GatewayResponse, IncomingRequest};

/// The request headers the core reads. Shells where copying headers is costly
/// (Workers: each one crosses the JS boundary) copy only these.
pub const INGRESS_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "content-type",
    "content-length",
    "anthropic-version",
    "anthropic-beta",
    "user-agent",
];

/// The headers the core reads from a successful upstream response; error
/// responses are rarer and shells hand over all of their headers.
pub const UPSTREAM_SUCCESS_HEADERS: &[&str] = &["content-type", "x-request-id"];

/// Upstream error and non-stream bodies larger than this are refused.
pub(crate) const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

/// One per isolate / execution environment: the configuration and the
/// state an instance keeps between requests (upstream token cache, catalog
/// sync). Requests bring their own ports ([`Gateway::handle`]).
pub struct Gateway {
    config: Arc<Config>,
    master_key: Option<Secret>,
    tokens: TokenCache,
    catalog_sync: Option<Arc<dyn CatalogSync>>,
}

impl Gateway {
    pub fn new(config: Arc<Config>, env: &impl Env) -> Self {
        let master_key = config.master_key(env);
        Gateway {
            config,
            master_key,
            tokens: TokenCache::new(),
            catalog_sync: None,
        }
    }

    /// Keeps this instance's catalog in step with the stored copy: a sync is
    /// started when due, and requests that name an unknown model wait for one
    /// in flight, then route again.
    pub fn with_catalog_sync(mut self, sync: Arc<dyn CatalogSync>) -> Self {
        self.catalog_sync = Some(sync);
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn master_key(&self) -> Option<&Secret> {
        self.master_key.as_ref()
    }

    /// Refuses a body whose declared size is over the limit, so the shell
    /// need not read it at all.
    /// The refusal is in the shape of the ingress `path` belongs to.
    pub fn precheck(&self, path: &str, content_length: Option<u64>) -> Option<GatewayResponse> {
        let limit = self.config.general.max_request_bytes;
        match content_length {
            Some(len) if len > limit as u64 => Some(error_response(path, &too_large(limit))),
            _ => None,
        }
    }

    pub async fn handle<P: Ports>(&self, ports: &P, req: IncomingRequest) -> GatewayResponse {
        if let Some(sync) = &self.catalog_sync {
            sync.start_if_due(ports.now_ms(), ports);
        }
        Call {
            gw: self,
            config: &self.config,
            ports: ports.clone(),
        }
        .handle(req)
        .await
    }
}

/// A gateway with the ports it always serves with, for hosts with one
/// instance and no per-request context (tests, benches, embedding).
pub struct Bound<P> {
    gateway: Gateway,
    ports: P,
}

impl<P: Ports> Bound<P> {
    pub fn new(ports: P, config: Arc<Config>) -> Self {
        Bound {
            gateway: Gateway::new(config, &ports),
            ports,
        }
    }

    pub async fn handle(&self, req: IncomingRequest) -> GatewayResponse {
        self.gateway.handle(&self.ports, req).await
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }
}

/// One request's view of its gateway: the instance and this request's ports.
pub(crate) struct Call<'g, P> {
    pub gw: &'g Gateway,
    pub config: &'g Arc<Config>,
    pub ports: P,
}

impl<P: Ports> Call<'_, P> {
    async fn handle(&self, req: IncomingRequest) -> GatewayResponse {
        let mut ex = Exchange::new(self.ports.now_ms(), &req.method, &req.path);
        let mut result = pipeline::serve(self, &req, &mut ex).await;
        if let (Err(e), Some(sync)) = (&result, &self.gw.catalog_sync) {
            // Nothing has gone upstream before a model is resolved, so
            // serving again is safe.
            if e.code.as_deref() == Some("model_not_found")
                && sync.gate().settle(&self.ports, SETTLE_MS).await
            {
                result = pipeline::serve(self, &req, &mut ex).await;
            }
        }
        let mut resp = match result {
            Ok(resp) => resp,
            Err(e) => {
                ex.error = Some(e.log_text());
                error_response(&req.path, &e)
            }
        };
        ex.status = resp.status().as_u16();
        if !ex.adjusted.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&ex.adjusted) {
                resp.headers_mut().insert("x-dx-adjusted", v);
            }
        }
        if !ex.deferred {
            ex.latency_ms = self.ports.now_ms().saturating_sub(ex.ts);
            pipeline::settle::observe(&self.ports, &ex);
        }
        resp.headers_mut().insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        resp
    }

    /// The OAuth2 access token a deployment's requests carry, for providers
    /// that authenticate with Google service accounts (Vertex AI, whatever
    /// model family it serves). An `api_key` on such a deployment is taken as
    /// an access token minted elsewhere.
    pub(crate) async fn access_token_for(
        &self,
        deployment: &Deployment,
    ) -> Result<Option<Secret>, GatewayError> {
        if !google::needs_access_token(deployment) {
            return Ok(None);
        }
        if let Some(token) = &deployment.api_key {
            return Ok(Some(token.clone()));
        }
        let credentials = deployment.params.vertex_credentials.as_ref().ok_or_else(|| {
            GatewayError::provider_not_configured(
                deployment.provider.id,
                format!(
                    "Provider `{}` needs vertex_credentials (a service-account JSON, e.g. env:VERTEXAI_CREDENTIALS) or api_key (an access token).",
                    deployment.provider.id
                ),
            )
        })?;
        let timeout = deployment
            .request_timeout_ms
            .unwrap_or(self.config.general.request_timeout_ms);
        self.gw
            .tokens
            .get(&self.ports, credentials, timeout)
            .await
            .map(Some)
    }
}

pub(crate) fn too_large(limit: usize) -> GatewayError {
    GatewayError::new(
        ErrorKind::PayloadTooLarge,
        format!("The request body exceeds this gateway's limit of {limit} bytes."),
    )
    .with_code("request_too_large")
}

pub(crate) fn sse(body: BodyStream) -> GatewayResponse {
    let mut resp = http::Response::new(Body::Stream(body));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
