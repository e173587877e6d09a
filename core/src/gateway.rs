//! The request pipeline: route → auth → parse → resolve → encode → send
//! (retry) → decode/relay → log. Each step is a plain function of the last
//! one's output; the shells only adapt types and provide the ports.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Serialize;

use crate::auth::google::{self, TokenCache};
use crate::codec::openai_chat::{self, ResponseProbe};
use crate::codec::{self, mock, DecodeContext, EncodeContext, ErrorDecoder, StreamDecoder};
use crate::config::Config;
use crate::error::{ErrorKind, GatewayError};
use crate::http_util::error_response;
use crate::http_util::{json, read_body};
use crate::ingress::openai_chat::{
    render_chunk_event, render_response, ChatEnvelope, ChunkRenderer, DONE_EVENT, ID_PREFIX,
};
use crate::ports::{with_timeout, Env, Ports, ReadWhole, TransportError, UpstreamResponse};
use crate::providers::Codec;
use crate::quirks;
use crate::resolve::{resolve_entry, Deployment};
use crate::secret::Secret;
use crate::stream::openai_relay::{relay, RelayOptions};
use crate::stream::sniff::{not_a_stream, sniff, StreamAnswer};
use crate::stream::translate::{translate, TranslateState};
use crate::stream::whole;
use crate::stream::{BodyStream, OnDone, StreamOutcome};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

mod messages;
// The catalog's share of the pipeline: metadata, costs, endpoints.
use crate::catalog::sync::{CatalogSync, SETTLE_MS};
use crate::catalog::Prices;
use crate::catalog_api;
use crate::cost::{completion_cost, format_cost, splice_cost, TokenUsage};
use crate::model_meta::{model_meta, ModelMeta};

/// A request as the shell hands it over, body already read.
pub struct IncomingRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub enum Body {
    Empty,
    Full(Bytes),
    Stream(BodyStream),
}

pub type GatewayResponse = http::Response<Body>;

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
const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

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
struct Call<'g, P> {
    gw: &'g Gateway,
    config: &'g Arc<Config>,
    ports: P,
}

impl<P: Ports> Call<'_, P> {
    async fn handle(&self, req: IncomingRequest) -> GatewayResponse {
        let mut log = AccessLog {
            ts: self.ports.now_ms(),
            method: req.method.to_string(),
            path: req.path.clone(),
            ..AccessLog::default()
        };
        let mut result = self.route(&req, &mut log).await;
        if let (Err(e), Some(sync)) = (&result, &self.gw.catalog_sync) {
            // Nothing has gone upstream before a model is resolved, so
            // routing again is safe.
            if e.code.as_deref() == Some("model_not_found")
                && sync.gate().settle(&self.ports, SETTLE_MS).await
            {
                result = self.route(&req, &mut log).await;
            }
        }
        let mut resp = match result {
            Ok(resp) => resp,
            Err(e) => {
                log.error = Some(e.log_text());
                error_response(&req.path, &e)
            }
        };
        log.status = resp.status().as_u16();
        if !log.adjusted.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&log.adjusted) {
                resp.headers_mut().insert("x-dx-adjusted", v);
            }
        }
        if !log.deferred {
            log.latency_ms = self.ports.now_ms().saturating_sub(log.ts);
            self.ports.log(&log.line());
        }
        resp.headers_mut().insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        resp
    }

    async fn route(
        &self,
        req: &IncomingRequest,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let path = req.path.trim_end_matches('/');
        let method = &req.method;
        if method == Method::OPTIONS {
            return Ok(preflight());
        }
        match path {
            "" if method == Method::GET || method == Method::HEAD => Ok(json(
                StatusCode::OK,
                &br#"{"name":"dx-gateway","status":"ok"}"#[..],
            )),
            "/health" if method == Method::GET || method == Method::HEAD => {
                Ok(json(StatusCode::OK, &br#"{"status":"ok"}"#[..]))
            }
            "/v1/chat/completions" | "/chat/completions" => {
                expect_method(method, Method::POST)?;
                self.authenticate(&req.headers)?;
                self.chat(req, log).await
            }
            "/v1/messages" => {
                expect_method(method, Method::POST)?;
                self.authenticate(&req.headers)?;
                self.messages(req, log).await
            }
            "/v1/messages/count_tokens" => {
                expect_method(method, Method::POST)?;
                self.authenticate(&req.headers)?;
                self.count_tokens(req, log).await
            }
            "/v1/models" | "/models" => {
                expect_method(method, Method::GET)?;
                self.authenticate(&req.headers)?;
                Ok(self.models(req.query.as_deref()))
            }
            "/model/info" | "/v1/model/info" => {
                expect_method(method, Method::GET)?;
                self.authenticate(&req.headers)?;
                catalog_api::model_info(&self.config, &self.ports, req.query.as_deref())
            }
            "/catalog/status" => {
                expect_method(method, Method::GET)?;
                self.authenticate(&req.headers)?;
                Ok(catalog_api::catalog_status())
            }
            "/cost/estimate" | "/v1/cost/estimate" => {
                expect_method(method, Method::POST)?;
                self.authenticate(&req.headers)?;
                catalog_api::cost_estimate(&self.config, &self.ports, &req.body)
            }
            "/utils/token_counter" | "/v1/utils/token_counter" => {
                expect_method(method, Method::POST)?;
                self.authenticate(&req.headers)?;
                catalog_api::token_counter(&self.config, &self.ports, &req.body)
            }
            p if p.starts_with("/v1/models/") && method == Method::GET => {
                self.authenticate(&req.headers)?;
                // SDKs escape the `/` of `provider/model` ids.
                self.model(&catalog_api::percent_decode(&p["/v1/models/".len()..]))
            }
            _ => Err(GatewayError::new(
                ErrorKind::NotFound,
                format!("Unknown request URL: {} {}.", req.method, req.path),
            )
            .with_code("unknown_url")),
        }
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), GatewayError> {
        let Some(master) = &self.gw.master_key else {
            return Ok(());
        };
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim);
        match presented {
            None | Some("") => Err(GatewayError::new(
                ErrorKind::Authentication,
                "Missing API key: pass it as `Authorization: Bearer <key>`.",
            )
            .with_code("missing_api_key")),
            Some(key) if master.matches(key) => Ok(()),
            Some(_) => Err(GatewayError::new(
                ErrorKind::Authentication,
                "Incorrect API key provided.",
            )
            .with_code("invalid_api_key")),
        }
    }

    fn models(&self, query: Option<&str>) -> GatewayResponse {
        if catalog_api::query_param(query, "catalog").is_some_and(|v| v == "true" || v == "1") {
            return self.models_with_catalog(query);
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
        let data = self
            .config
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
    fn models_with_catalog(&self, query: Option<&str>) -> GatewayResponse {
        let provider = catalog_api::query_param(query, "provider");
        let mut data: Vec<serde_json::Value> = self
            .config
            .model_list
            .iter()
            .filter(|e| !e.model_name.ends_with('*') && provider.is_none())
            .map(|e| {
                serde_json::json!({"id": e.model_name, "object": "model", "created": 0, "owned_by": owner(e)})
            })
            .collect();
        data.extend(catalog_api::catalog_model_entries(provider.as_deref()));
        let body = serde_json::json!({"object": "list", "data": data});
        json(StatusCode::OK, body.to_string())
    }

    fn model(&self, id: &str) -> Result<GatewayResponse, GatewayError> {
        let Some(entry) = self.config.model_list.iter().find(|e| e.model_name == id) else {
            let d = catalog_api::describe(id, &self.config, &self.ports)?;
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

    async fn chat(
        &self,
        req: &IncomingRequest,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let limit = self.config.general.max_request_bytes;
        if req.body.len() > limit {
            return Err(too_large(limit));
        }
        let mut envelope = ChatEnvelope::parse(&req.body)?;
        log.model = envelope.model.clone();
        log.stream = envelope.stream;
        let (deployment, entry) = resolve_entry(&envelope.model, &self.config, &self.ports)?;
        log.provider = deployment.provider.id;
        log.upstream_model = deployment.upstream_model.clone();
        let drop_params = deployment
            .params
            .drop_params
            .unwrap_or(self.config.general.drop_params);
        let meta = model_meta(&deployment, entry);
        check_context_window(&envelope, &meta, req.body.len())?;
        log.prices = meta
            .prices
            .is_known()
            .then(|| Arc::new(meta.prices.clone()));
        let mut resp = match deployment.codec() {
            c if deployment.passthrough && codec::speaks_openai_chat(c) => {
                log.adjusted = quirks::apply(&mut envelope, &deployment, drop_params)?.to_string();
                self.openai_passthrough(&envelope, &deployment, log).await?
            }
            Codec::Mock => self.mock(&envelope, &deployment, log)?,
            _ => {
                let mut req = envelope.to_unified()?;
                log.adjusted = quirks::apply(&mut req, &deployment, drop_params)?.to_string();
                self.translated(&req, &deployment, log).await?
            }
        };
        self.add_cost(&mut resp, log);
        let headers = resp.headers_mut();
        if let Some(v) = meta
            .deprecated
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert("x-dx-deprecated", v);
        }
        headers.insert(
            "x-dx-provider",
            HeaderValue::from_static(deployment.provider.id),
        );
        if let Ok(v) = HeaderValue::from_str(&deployment.upstream_model) {
            headers.insert("x-dx-upstream-model", v);
        }
        Ok(resp)
    }

    async fn openai_passthrough(
        &self,
        envelope: &ChatEnvelope<'_>,
        deployment: &Deployment,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let body = envelope.render_passthrough(&deployment.upstream_model, envelope.stream);
        let mut request = codec::build_openai_format_request(deployment, body, envelope.stream)?;
        if !envelope.stream {
            request.extensions_mut().insert(ReadWhole);
        }
        let upstream = self
            .send(
                request,
                deployment,
                codec::error_decoder(deployment.codec()),
            )
            .await?;
        let idle_ms = self.config.general.stream_idle_timeout_ms;
        if envelope.stream {
            let content_type = upstream
                .headers
                .get(CONTENT_TYPE)
                .map(HeaderValue::as_bytes);
            let (answer, body) = sniff(&self.ports, content_type, upstream.body, idle_ms).await?;
            match answer {
                StreamAnswer::EventStream => {}
                StreamAnswer::Json => {
                    let whole = read_body(&self.ports, body, idle_ms, MAX_UPSTREAM_BODY).await?;
                    let decode = DecodeContext {
                        now_ms: self.ports.now_ms(),
                        model: &deployment.upstream_model,
                        id_prefix: ID_PREFIX,
                    };
                    let response = whole_answer(&whole, deployment, &upstream.headers, &decode)?;
                    log.usage = response.usage;
                    let chunks = whole::chunks_of(&response, envelope.include_usage);
                    return Ok(sse(chunk_events(&chunks, &log.prices)));
                }
                StreamAnswer::Other => {
                    return Err(not_a_stream(deployment.provider.id, content_type))
                }
            }
            let on_done = self.stream_logger(log);
            let body = relay(
                self.ports.clone(),
                body,
                RelayOptions {
                    idle_timeout_ms: idle_ms,
                    strip_usage_chunk: !envelope.include_usage,
                    prices: log.prices.clone(),
                },
                on_done,
            );
            return Ok(sse(body));
        }
        let body = read_body(&self.ports, upstream.body, idle_ms, MAX_UPSTREAM_BODY).await?;
        let probe: ResponseProbe = serde_json::from_slice(&body).map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamUnavailable,
                format!("The upstream returned a body that is not JSON: {e}."),
            )
            .with_code("invalid_upstream_response")
        })?;
        log.usage = probe.usage.as_ref().map(openai_chat::usage_from_wire);
        Ok(json(StatusCode::OK, body))
    }

    /// Any upstream format other than OpenAI's own: unified request → codec →
    /// unified response or chunks → OpenAI's shapes.
    async fn translated(
        &self,
        req: &ChatRequest,
        deployment: &Deployment,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let ctx = EncodeContext {
            now_ms: self.ports.now_ms(),
            access_token: self.access_token_for(deployment).await?,
        };
        let mut request = codec::encode(req, deployment, &ctx)?;
        if !req.stream {
            request.extensions_mut().insert(ReadWhole);
        }
        let upstream = self
            .send(
                request,
                deployment,
                codec::error_decoder(deployment.codec()),
            )
            .await?;
        let idle_ms = self.config.general.stream_idle_timeout_ms;
        let decode = DecodeContext {
            now_ms: ctx.now_ms,
            model: &deployment.upstream_model,
            id_prefix: ID_PREFIX,
        };
        if req.stream {
            let state = TranslateState::new(
                StreamDecoder::new(deployment.codec(), &decode)?,
                ChunkRenderer::new(req.include_usage).with_prices(log.prices.clone()),
            );
            let on_done = self.stream_logger(log);
            return Ok(sse(translate(
                self.ports.clone(),
                upstream.body,
                state,
                idle_ms,
                on_done,
            )));
        }
        let body = read_body(&self.ports, upstream.body, idle_ms, MAX_UPSTREAM_BODY).await?;
        let response = codec::decode_response(deployment.codec(), &body, &decode)?;
        log.usage = response.usage;
        Ok(json(StatusCode::OK, render_response(&response)))
    }

    /// The OAuth2 access token a deployment's requests carry, for providers
    /// that authenticate with Google service accounts (Vertex AI, whatever
    /// model family it serves). An `api_key` on such a deployment is taken as
    /// an access token minted elsewhere.
    pub(super) async fn access_token_for(
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

    fn mock(
        &self,
        envelope: &ChatEnvelope<'_>,
        deployment: &Deployment,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let req = envelope.to_unified()?;
        let ctx = DecodeContext {
            now_ms: self.ports.now_ms(),
            model: &deployment.upstream_model,
            id_prefix: ID_PREFIX,
        };
        let response = mock::answer(&req, deployment.mock_response.as_deref(), &ctx);
        log.usage = response.usage;
        if !req.stream {
            return Ok(json(StatusCode::OK, render_response(&response)));
        }
        let chunks = mock::answer_chunks(&response, req.include_usage);
        Ok(sse(chunk_events(&chunks, &log.prices)))
    }

    /// Sends with the deployment's timeout; retries retryable failures up to
    /// `num_retries` times, honouring `Retry-After` within `max_retry_wait_ms`.
    async fn send(
        &self,
        request: http::Request<Bytes>,
        deployment: &Deployment,
        decode_error: ErrorDecoder,
    ) -> Result<UpstreamResponse, GatewayError> {
        let general = &self.config.general;
        let timeout = deployment
            .request_timeout_ms
            .unwrap_or(general.request_timeout_ms);
        let mut attempt = 0;
        loop {
            let sent = with_timeout(&self.ports, timeout, self.ports.send(request.clone())).await;
            let err = match sent {
                None => GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!(
                        "The upstream ({}) did not answer within {timeout} ms.",
                        deployment.provider.id
                    ),
                )
                .with_code("upstream_timeout"),
                Some(Err(TransportError::InvalidRequest(m))) => {
                    return Err(GatewayError::new(
                        ErrorKind::Configuration,
                        format!("Could not build the upstream request: {m}."),
                    )
                    .with_code("config_error"))
                }
                Some(Err(e)) => GatewayError::new(
                    ErrorKind::UpstreamUnavailable,
                    format!(
                        "Could not reach the upstream ({}): {e}.",
                        deployment.provider.id
                    ),
                )
                .with_code("upstream_unreachable"),
                Some(Ok(resp)) if resp.status.is_success() => return Ok(resp),
                Some(Ok(resp)) => {
                    let body = read_body(
                        &self.ports,
                        resp.body,
                        general.stream_idle_timeout_ms,
                        1024 * 1024,
                    )
                    .await
                    .unwrap_or_default();
                    let mut err = decode_error(resp.status, &resp.headers, &body, deployment);
                    if matches!(
                        err.kind,
                        ErrorKind::Authentication | ErrorKind::PermissionDenied
                    ) {
                        // The client's own key was fine: say whose credentials failed.
                        err.message = format!(
                            "The upstream provider `{}` rejected the gateway's credentials: {}",
                            deployment.provider.id, err.message
                        );
                    }
                    codec::redact_credentials(err, deployment, request.headers())
                }
            };
            if attempt >= general.num_retries || !err.kind.is_retryable() {
                return Err(err);
            }
            attempt += 1;
            let asked_ms = err
                .retry_after
                .as_deref()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| (s * 1000.0) as u64);
            let backoff_ms = 250u64 << attempt.min(6);
            self.ports
                .sleep(
                    asked_ms
                        .unwrap_or(backoff_ms)
                        .min(general.max_retry_wait_ms),
                )
                .await;
        }
    }

    /// The access-log line of a stream is written when the stream ends.
    fn stream_logger(&self, log: &mut AccessLog) -> OnDone {
        log.deferred = true;
        let mut line = log.clone();
        line.status = 200;
        let ports = self.ports.clone();
        OnDone::new(move |outcome: StreamOutcome| {
            line.latency_ms = ports.now_ms().saturating_sub(line.ts);
            line.usage = outcome.usage;
            line.cost = cost_of(line.prices.as_deref(), outcome.usage);
            line.error = outcome.error;
            line.client_gone = outcome.client_gone;
            ports.log(&line.line());
        })
    }
}

impl<P: Ports> Call<'_, P> {
    /// A whole (non-streamed) answer gets its cost as `x-dx-cost-usd` and as
    /// `cost` beside `usage`. Streams carry it in their final usage chunk
    /// only: their headers leave before the usage is known.
    fn add_cost(&self, resp: &mut GatewayResponse, log: &mut AccessLog) {
        self.price_response(resp, log, true);
    }

    /// Prices a whole answer into the log and `x-dx-cost-usd`; `splice` also
    /// writes `cost` into the body (OpenAI's shape has a place beside `usage`).
    fn price_response(&self, resp: &mut GatewayResponse, log: &mut AccessLog, splice: bool) {
        let (Some(prices), Some(usage)) = (log.prices.as_deref(), log.usage) else {
            return;
        };
        let body = match resp.body() {
            Body::Full(body) if resp.status() == StatusCode::OK => Some(body),
            _ => None,
        };
        let Some(cost) = completion_cost(prices, &TokenUsage::from(usage)) else {
            return;
        };
        log.cost = Some(cost);
        let Some(body) = body else {
            return;
        };
        let header = HeaderValue::from_str(&format_cost(cost));
        if let (true, Some(with_cost)) = (splice, splice_cost(body, cost)) {
            *resp.body_mut() = Body::Full(Bytes::from(with_cost));
        }
        if let Ok(v) = header {
            resp.headers_mut().insert("x-dx-cost-usd", v);
        }
    }
}

/// Chunks known in advance as an OpenAI stream: the usage chunk gets its
/// cost, `[DONE]` ends it.
fn chunk_events(chunks: &[ChatChunk], prices: &Option<Arc<Prices>>) -> BodyStream {
    let mut events: Vec<Bytes> = chunks
        .iter()
        .map(|c| match (&c.usage, prices) {
            (Some(u), Some(p)) => {
                let cost = completion_cost(p, &TokenUsage::from(*u)).unwrap_or(0.0);
                event_with_cost(&render_chunk_event(c), cost)
            }
            _ => render_chunk_event(c),
        })
        .collect();
    events.push(Bytes::from_static(DONE_EVENT));
    Box::pin(futures::stream::iter(events))
}

/// An OpenAI-format upstream that answered a stream request with one JSON
/// body: its chat completion, or the error it holds (a 502: the upstream
/// said 200).
pub(super) fn whole_answer(
    body: &[u8],
    deployment: &Deployment,
    headers: &HeaderMap,
    ctx: &DecodeContext<'_>,
) -> Result<ChatResponse, GatewayError> {
    let is_error = serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("error").is_some_and(|e| !e.is_null()));
    if is_error {
        let decode_error = codec::error_decoder(deployment.codec());
        let err = decode_error(StatusCode::BAD_GATEWAY, headers, body, deployment);
        return Err(codec::redact_credentials(
            err,
            deployment,
            &HeaderMap::new(),
        ));
    }
    codec::decode_response(deployment.codec(), body, ctx)
}

fn cost_of(prices: Option<&Prices>, usage: Option<Usage>) -> Option<f64> {
    completion_cost(prices?, &TokenUsage::from(usage?))
}

/// An SSE `data: {...}` event with `"cost"` added to its JSON.
pub(crate) fn event_with_cost(event: &[u8], cost: f64) -> Bytes {
    let Some(json) = event
        .strip_prefix(b"data: ")
        .and_then(|rest| rest.strip_suffix(b"\n\n"))
    else {
        return Bytes::copy_from_slice(event);
    };
    match splice_cost(json, cost) {
        Some(j) => {
            let mut out = Vec::with_capacity(j.len() + 8);
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&j);
            out.extend_from_slice(b"\n\n");
            Bytes::from(out)
        }
        None => Bytes::copy_from_slice(event),
    }
}

/// OpenAI's `context_length_exceeded`, before any upstream call, when the
/// prompt cannot fit the model's window. Every BPE token covers a byte or
/// more, so bodies no larger than the window are never estimated.
fn check_context_window(
    envelope: &ChatEnvelope<'_>,
    meta: &ModelMeta,
    body_len: usize,
) -> Result<(), GatewayError> {
    let Some(window) = meta.input_window else {
        return Ok(());
    };
    if body_len as u64 <= window {
        return Ok(());
    }
    let estimated = crate::tokens::count_request(&envelope.to_unified()?);
    if estimated <= window {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorKind::ContextWindowExceeded,
        format!(
            "This model's maximum context length is {window} tokens. However, your messages resulted in about {estimated} tokens (estimated before sending). Please reduce the length of the messages."
        ),
    )
    .with_code("context_length_exceeded")
    .with_param("messages"))
}

fn owner(entry: &crate::config::ModelEntry) -> &str {
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

fn expect_method(got: &Method, want: Method) -> Result<(), GatewayError> {
    if *got == want {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorKind::MethodNotAllowed,
        format!("Method {got} is not allowed here; use {want}."),
    )
    .with_code("method_not_allowed"))
}

fn too_large(limit: usize) -> GatewayError {
    GatewayError::new(
        ErrorKind::PayloadTooLarge,
        format!("The request body exceeds this gateway's limit of {limit} bytes."),
    )
    .with_code("request_too_large")
}

fn sse(body: BodyStream) -> GatewayResponse {
    let mut resp = http::Response::new(Body::Stream(body));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn preflight() -> GatewayResponse {
    let mut resp = http::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, x-api-key, anthropic-version, anthropic-beta, openai-organization, openai-project",
        ),
    );
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// One JSON line per request. Holds no secrets by construction: no headers,
/// no bodies, no keys.
#[derive(Debug, Clone, Default, Serialize)]
struct AccessLog {
    ts: u64,
    method: String,
    path: String,
    status: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    model: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    provider: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    upstream_model: String,
    /// The routing rule that picked the model (Anthropic ingress).
    #[serde(skip_serializing_if = "str::is_empty")]
    route: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    routed_model: String,
    stream: bool,
    latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "ser_usage")]
    usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// What was changed for the upstream (`x-dx-adjusted`): quirks, dropped features.
    #[serde(skip_serializing_if = "String::is_empty")]
    adjusted: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    client_gone: bool,
    #[serde(skip)]
    deferred: bool,
    /// USD, from the reported usage and the deployment's prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<f64>,
    #[serde(skip)]
    prices: Option<Arc<Prices>>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct LoggedUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_write_tokens: u64,
    reasoning_tokens: u64,
}

fn ser_usage<S: serde::Serializer>(u: &Option<Usage>, s: S) -> Result<S::Ok, S::Error> {
    u.map(LoggedUsage::from).serialize(s)
}

impl From<Usage> for LoggedUsage {
    fn from(u: Usage) -> Self {
        LoggedUsage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_tokens,
            cache_write_tokens: u.cache_write_tokens,
            reasoning_tokens: u.reasoning_tokens,
        }
    }
}

impl AccessLog {
    fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
