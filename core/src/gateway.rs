//! The gateway: one per isolate / execution environment, holding what an
//! instance keeps between requests. Each request runs the endpoints and
//! their pipeline ([`crate::endpoints::serve`]) with the ports its shell
//! hands in.

use std::sync::Arc;

use http::HeaderValue;

use crate::catalog;
use crate::catalog::sync::{CatalogSync, SETTLE_MS};
use crate::config::Config;
use crate::endpoints::{self, error_response};
use crate::keys::charge::{usd, Quota};
use crate::pipeline::{self, Call, Exchange};
use crate::ports::{Env, Ports};
use crate::secret::Secret;
use crate::state::accounts::Accounts;
use crate::state::CacheStore;
use crate::state::SharedKv;
use crate::telemetry::Telemetry;
use crate::upstream_auth::google::TokenCache;

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
    // The response cache's request controls (`no-cache`, `no-store`).
    "cache-control",
    // The console's files answer 304 to a copy of this build's.
    "if-none-match",
];

/// The headers the core reads from a successful upstream response; error
/// responses are rarer and shells hand over all of their headers.
pub const UPSTREAM_SUCCESS_HEADERS: &[&str] = &[
    "content-type",
    "x-request-id",
    // Bedrock Cohere embed reports its token count only here.
    "x-amzn-bedrock-input-token-count",
];

/// One per isolate / execution environment: the configuration and the
/// state an instance keeps between requests (upstream token cache, catalog
/// sync). Requests bring their own ports ([`Gateway::handle`]).
pub struct Gateway {
    config: Arc<Config>,
    master_key: Option<Secret>,
    tokens: TokenCache,
    catalog: Arc<catalog::Installed>,
    catalog_sync: Option<Arc<dyn CatalogSync>>,
    accounts: Option<Arc<dyn Accounts>>,
    known: crate::keys::known::KnownKeys,
    kv: Option<Arc<dyn SharedKv>>,
    health: Arc<crate::router::Health>,
    cache: Option<Arc<dyn CacheStore>>,
    telemetry: Option<Arc<Telemetry>>,
}

impl Gateway {
    pub fn new(config: Arc<Config>, env: &impl Env) -> Self {
        let master_key = config.master_key(env);
        let telemetry = Telemetry::new(&config.telemetry, env).map(Arc::new);
        Gateway {
            telemetry,
            config,
            master_key,
            tokens: TokenCache::new(),
            catalog: Arc::default(),
            catalog_sync: None,
            accounts: None,
            known: Default::default(),
            kv: None,
            health: Arc::default(),
            cache: None,
        }
    }

    /// Keeps this instance's catalog in step with the stored copy: a sync is
    /// started when due, and requests that name an unknown model wait for one
    /// in flight, then route again.
    pub fn with_catalog_sync(mut self, sync: Arc<dyn CatalogSync>) -> Self {
        self.catalog = sync.installed().clone();
        self.catalog_sync = Some(sync);
        self
    }

    /// Virtual keys, teams, users and their ledgers live in `accounts`.
    pub fn with_accounts(mut self, accounts: Arc<dyn Accounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// Stored Responses (`previous_response_id`) live in `kv`.
    pub fn with_kv(mut self, kv: Arc<dyn SharedKv>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// The response cache's store; the cache is on when `[cache]` is set too.
    pub fn with_cache(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.cache = Some(store);
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Refuses a body whose declared size is over the limit, so the shell
    /// need not read it at all.
    /// The refusal is in the shape of the ingress `path` belongs to.
    pub fn precheck(&self, path: &str, content_length: Option<u64>) -> Option<GatewayResponse> {
        let limit = self.config.general.max_request_bytes;
        match content_length {
            Some(len) if len > limit as u64 => {
                Some(error_response(path, &pipeline::too_large(limit)))
            }
            _ => None,
        }
    }

    pub async fn handle<P: Ports>(&self, ports: &P, req: IncomingRequest) -> GatewayResponse {
        if let Some(sync) = &self.catalog_sync {
            sync.start_if_due(ports.now_ms(), ports);
        }
        serve(self, ports, req).await
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

    pub fn with_cache(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.gateway = self.gateway.with_cache(store);
        self
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }
}

/// OpenAI's rate-limit headers where they exist, and the budget left (USD).
fn quota_headers(h: &mut http::HeaderMap, q: &Quota) {
    let mut put = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    };
    if let Some((limit, left)) = q.requests {
        put("x-ratelimit-limit-requests", limit.to_string());
        put("x-ratelimit-remaining-requests", left.to_string());
    }
    if let Some((limit, left)) = q.tokens {
        put("x-ratelimit-limit-tokens", limit.to_string());
        put("x-ratelimit-remaining-tokens", left.to_string());
    }
    if let Some(b) = q.budget_nano {
        put("x-dx-budget-remaining", format!("{:.9}", usd(b)));
    }
}

/// Runs one request through the endpoints and their pipeline, and observes it.
async fn serve<P: Ports>(gw: &Gateway, ports: &P, req: IncomingRequest) -> GatewayResponse {
    let mut call = Call {
        config: &gw.config,
        catalog: gw.catalog.current(),
        master_key: gw.master_key.as_ref(),
        tokens: &gw.tokens,
        accounts: gw.accounts.as_ref(),
        known: &gw.known,
        kv: gw.kv.as_ref(),
        health: &gw.health,
        cache: gw.cache.as_ref(),
        ports: ports.clone(),
    };
    let mut ex = Exchange::new(ports.now_ms(), &req.method, &req.path);
    ex.telemetry = gw.telemetry.clone();
    let mut result = endpoints::serve(&call, &req, &mut ex).await;
    if let (Err(e), Some(sync)) = (&result, &gw.catalog_sync) {
        // Nothing has gone upstream before a model is resolved, so
        // serving again is safe.
        if e.code.as_deref() == Some("model_not_found")
            && sync.gate().settle(ports, SETTLE_MS).await
        {
            call.catalog = gw.catalog.current();
            result = endpoints::serve(&call, &req, &mut ex).await;
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
    if !ex.cache.is_off() {
        resp.headers_mut()
            .insert("x-dx-cache", HeaderValue::from_static(ex.cache.as_str()));
        if let Some(tier) = ex.cache_tier {
            resp.headers_mut()
                .insert("x-dx-cache-tier", HeaderValue::from_static(tier));
        }
    }
    if let Some(q) = ex.quota {
        quota_headers(resp.headers_mut(), &q);
    }
    if !ex.deferred {
        ex.latency_ms = ports.now_ms().saturating_sub(ex.ts);
        pipeline::settle::settle(ports, &ex);
        pipeline::settle::observe(ports, &ex);
    }
    resp.headers_mut().insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}
