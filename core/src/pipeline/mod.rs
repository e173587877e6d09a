//! The one request pipeline. Every request runs `endpoints::serve`: find
//! the endpoint, check its method, then the stages in this fixed order, one
//! file each:
//!
//! 1. [`authenticate`]: who is asking (async; a [`Principal`]);
//! 2. [`admit`]: limits and budget reservation (a ledger answer as a value);
//! 3. [`guard_input`]: input guardrails;
//! 4. [`cache_lookup`]: the response cache;
//! 5. [`route_plan`]: where to send, as `Send | Wait | GiveUp`;
//! 6. [`send`]: the attempts the plan asks for;
//! 7. [`relay`]: the answer back in the client's format (a same-format
//!    relay, a translation, or the mock's own answer), usage captured;
//! 8. [`settle`]: the reservation settled and the exchange observed (the
//!    access log line), when the answer or its stream ends.
//!
//! Stages whose feature does not exist yet are the identity, with their
//! types in place. The chat ingresses (`/v1/chat/completions`,
//! `/v1/messages`) differ only in an [`Ingress`]: how their body parses,
//! how answers, chunks and errors render in their format. Passthrough,
//! translation and the mock are a choice inside [`exchange`], not copies of it.

pub mod admit;
pub mod authenticate;
pub mod cache_lookup;
pub mod exchange;
pub mod guard_input;
pub mod prepared;
pub mod relay;
pub mod route_plan;
pub mod send;
pub mod settle;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};

pub use cache_lookup::CacheStatus;
pub use exchange::Exchange;

use crate::catalog::Prices;
use crate::config::Config;
use crate::error::{ErrorKind, GatewayError};
use crate::guardrails::{Checker, Direction};
use crate::http::{Body, GatewayResponse, IncomingRequest};
use crate::model_meta::ModelMeta;
use crate::ports::{ByteStream, Ports};
use crate::relays::translate::Renderer;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::state::accounts::Accounts;
use crate::stream::{BodyStream, OnDone};
use crate::telemetry::content::Capture;
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};
use crate::upstream_auth::google::{self, TokenCache};
use authenticate::{look_up, Principal};
use guard_input::guard_input;

/// A client-facing chat format: how its requests parse and adapt, how
/// answers, chunks and streams render in it.
pub trait Ingress: crate::ports::MaybeSync {
    /// The request as parsed, plus what the ingress learns about it on the way.
    type Parsed<'b>: crate::ports::MaybeSend + crate::ports::MaybeSync;
    type Renderer: Renderer + crate::ports::MaybeSend + 'static;
    /// How the ids the gateway makes up begin.
    const ID_PREFIX: &'static str;
    /// Whether an answer's `cost` goes into its body (OpenAI's shape has a
    /// place beside `usage`; others get the header only).
    const COST_IN_BODY: bool;

    fn parse<'b>(
        &self,
        body: &'b [u8],
        headers: &HeaderMap,
    ) -> Result<Self::Parsed<'b>, GatewayError>;
    fn model(&self, p: &Self::Parsed<'_>) -> String;
    fn stream(&self, p: &Self::Parsed<'_>) -> bool;
    /// The most output tokens the client asked for, if it said.
    fn max_tokens(&self, p: &Self::Parsed<'_>) -> Option<u64>;
    /// Whether a stream ends with a usage chunk.
    fn include_usage(&self, p: &Self::Parsed<'_>) -> bool;
    /// The name to resolve (task routing may pick another one).
    fn route(
        &self,
        p: &mut Self::Parsed<'_>,
        config: &Config,
        ex: &mut Exchange,
    ) -> Result<String, GatewayError>;
    /// Checks that need the model's metadata, before anything is sent.
    fn check(
        &self,
        p: &Self::Parsed<'_>,
        meta: &ModelMeta,
        body_len: usize,
    ) -> Result<(), GatewayError>;
    /// Whether `d` speaks this format, so that the body goes through as is.
    fn speaks(&self, d: &Deployment) -> bool;
    /// What the response cache keys this format's requests under (two
    /// formats that share a type still must not share answers).
    fn cache_format(&self) -> &'static str {
        Self::ID_PREFIX
    }
    /// The codec that reads this format's whole answers (a cached answer
    /// replayed as a stream); `None`: such answers are not replayed.
    fn codec(&self) -> Option<crate::providers::Codec> {
        None
    }
    /// The format a same-format answer from `d` comes back in.
    fn wire_codec(&self, d: &Deployment) -> crate::providers::Codec {
        d.codec()
    }
    /// The same-format body for `d`, with what it needs changed.
    fn passthrough_body(
        &self,
        p: &mut Self::Parsed<'_>,
        d: &Deployment,
        drop_params: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError>;
    fn passthrough_request(
        &self,
        p: &Self::Parsed<'_>,
        body: Vec<u8>,
        d: &Deployment,
        token: Option<&Secret>,
        headers: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError>;
    /// The unified request for another codec, or for the mock (`mock`).
    fn unified(
        &self,
        p: &Self::Parsed<'_>,
        d: &Deployment,
        drop_params: bool,
        mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError>;
    /// Relays a same-format upstream stream.
    fn relay<P: Ports>(
        &self,
        ports: P,
        upstream: ByteStream,
        p: &Self::Parsed<'_>,
        prices: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream;
    /// The usage in a same-format whole answer.
    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, GatewayError>;
    /// A same-format whole answer as the client gets it, and its usage:
    /// by default the body as it came. An ingress whose requests go to
    /// providers' own APIs (embeddings) reshapes their answers here.
    fn passthrough_answer(
        &self,
        _p: &Self::Parsed<'_>,
        body: Bytes,
        _headers: &HeaderMap,
        _d: &Deployment,
    ) -> Result<(Bytes, Option<Usage>), GatewayError> {
        let usage = self.usage_of(&body)?;
        Ok((body, usage))
    }
    fn render_response(&self, r: &ChatResponse) -> Vec<u8>;
    /// Chunks known in advance as this format's stream.
    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        model: &str,
        usage: Option<Usage>,
        prices: &Option<Arc<Prices>>,
    ) -> BodyStream;
    fn renderer(
        &self,
        p: &Self::Parsed<'_>,
        model: &str,
        prices: Option<Arc<Prices>>,
    ) -> Self::Renderer;
    /// An error inside a stream, in this format.
    fn error_event(e: &GatewayError) -> Bytes;
    /// The format's own response headers.
    fn decorate(
        &self,
        resp: &mut GatewayResponse,
        p: &Self::Parsed<'_>,
        d: &Deployment,
        meta: &ModelMeta,
    );
}

/// One request's view of its gateway instance: the configuration, the
/// instance state the stages use, and this request's ports.
pub struct Call<'g, P> {
    pub config: &'g Arc<Config>,
    /// The instance's catalog as this request found it: one request sees
    /// one catalog, even when a sync installs another meanwhile.
    pub catalog: &'static crate::catalog::Catalog,
    pub master_key: Option<&'g Secret>,
    pub tokens: &'g TokenCache,
    pub accounts: Option<&'g Arc<dyn Accounts>>,
    /// Virtual keys this instance has read (see `keys::known`).
    pub known: &'g crate::keys::known::KnownKeys,
    /// The response cache's store, when the shell has one.
    pub cache: Option<&'g Arc<dyn crate::state::CacheStore>>,
    /// The instance's key-value store (stored Responses), if its shell has one.
    pub kv: Option<&'g Arc<dyn crate::state::SharedKv>>,
    /// What this instance knows about its deployments' health.
    pub health: &'g std::sync::Arc<crate::router::Health>,
    pub ports: P,
}

impl<P: Ports> Call<'_, P> {
    /// The OAuth2 access token a deployment's requests carry, for providers
    /// that authenticate with Google service accounts (Vertex AI, whatever
    /// model family it serves). An `api_key` on such a deployment is taken as
    /// an access token minted elsewhere.
    pub async fn access_token_for(
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
        self.tokens
            .get(&self.ports, credentials, timeout)
            .await
            .map(Some)
    }
}

/// Upstream error and non-stream bodies larger than this are refused.
pub const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

pub fn too_large(limit: usize) -> GatewayError {
    GatewayError::new(
        ErrorKind::PayloadTooLarge,
        format!("The request body exceeds this gateway's limit of {limit} bytes."),
    )
    .with_code("request_too_large")
}

/// The body a client sent, refused when over `max_request_bytes`.
pub fn within_limit(body: &[u8], config: &Config) -> Result<(), GatewayError> {
    let limit = config.general.max_request_bytes;
    if body.len() > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

pub fn sse(body: BodyStream) -> GatewayResponse {
    let mut resp = http::Response::new(Body::Stream(body));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// How an answer is made: the body forwarded to an upstream that speaks the
/// client's format, translated through a codec, or the mock's own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Passthrough,
    Translated,
    Mock,
}

/// After an exchange under a remembered key (`keys::known`) failed: the
/// principal to run it again under, when the key's records changed. The
/// stages before admission ran on records the ledger had not confirmed;
/// admission's reservation checks them (and puts the ledger's records in
/// the exchange when they changed), and an exchange refused before it
/// looks the key up. Nothing was sent upstream by then.
pub async fn recheck<P: Ports>(
    call: &Call<'_, P>,
    ex: &mut Exchange,
    failed: Option<&GatewayError>,
) -> Result<Option<Principal>, GatewayError> {
    let Some(e) = failed else {
        return Ok(None);
    };
    if admit::is_restart(e) {
        return Ok(Some(std::mem::take(&mut ex.principal)));
    }
    let (Some(accounts), Principal::Key(old), true) =
        (call.accounts, &ex.principal, ex.key_remembered)
    else {
        return Ok(None);
    };
    let key = &old.key;
    let now = call.ports.now_ms();
    let fresh = look_up(&**accounts, &key.ledger, key.token.clone(), now)
        .await
        .inspect_err(|_| call.known.forget(&key.token))?;
    let fresh = Arc::new(fresh);
    call.known.put(&fresh);
    Ok((fresh.stamp != old.stamp).then_some(Principal::Key(fresh)))
}

/// A chat exchange in any ingress format: stages 2 to 8. Only what needs
/// the format is here; the stages that do not are plain functions, so that
/// each ingress adds its own code and not another copy of theirs.
pub async fn exchange<I: Ingress, P: Ports>(
    call: &Call<'_, P>,
    ingress: &I,
    req: &IncomingRequest,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    let config = call.config;
    within_limit(&req.body, config)?;
    // Declared first so that it is dropped last: a masked body outlives the
    // request parsed from it.
    #[allow(clippy::needless_late_init)]
    let guarded;
    let mut parsed = ingress.parse(&req.body, &req.headers)?;
    ex.model = ingress.model(&parsed);
    ex.stream = ingress.stream(&parsed);
    guarded = guard(config, req, ex)?;
    if let Some(masked) = &guarded.masked {
        parsed = ingress.parse(masked, &req.headers)?;
    }
    let name = ingress.route(&mut parsed, config, ex)?;
    let asked_max = ingress.max_tokens(&parsed);
    let mut planned = plan(call, req, ex, &name, guarded.body_len, asked_max)?;
    let body = guarded.masked.as_deref().unwrap_or(&req.body);
    ex.content = capture(config, ex, &guarded.attached, body);
    let cached =
        cache_lookup::for_request(call, ex, ingress.cache_format(), &name, body, &req.headers);
    if let Some((entry, tier)) = cache_lookup::fetch(call, ex, &cached).await {
        if let Some(hit) = cache_lookup::replay(ingress, &parsed, &entry, call.ports.now_ms()) {
            // Free, so no budget is reserved; it still counts as a request.
            ex.cache = CacheStatus::Hit;
            ex.cache_tier = tier.map(crate::state::Tier::as_str);
            captured_hit(ex, &entry);
            ex.prices = None;
            ex.cost = Some(0.0);
            admit::admit(call, ex, &planned.names(), 0, Some(0)).await?;
            return Ok(hit);
        }
    }
    admit_planned(call, ex, &mut planned, guarded.body_len).await?;
    let mut route = planned.route;
    if ex.stream && cached.as_ref().is_some_and(|(_, p)| p.store) {
        ex.clean_end = Some(Arc::new(std::sync::atomic::AtomicBool::new(false)));
    }
    let mut prepared = prepared::With {
        ingress,
        parsed,
        body,
        headers: &req.headers,
    };
    let (mut resp, slot) = send::walk(call, &mut prepared, req.body.len(), &mut route, ex).await?;
    // Before the output guards: the capture masks with every set itself.
    captured_answer(ex, &mut resp);
    let Some(Ok(target)) = route.targets.get(slot) else {
        return Err(lost_deployment());
    };
    relay::price_response(&mut resp, ex, I::COST_IN_BODY);
    ingress.decorate(
        &mut resp,
        &prepared.parsed,
        &target.deployment,
        &target.meta,
    );
    let clean_end = ex.clean_end.take();
    let guarded_output = finish(config, &mut resp, ex, &guarded.attached, I::error_event)?;
    let include_usage = ingress.include_usage(&prepared.parsed);
    cache_lookup::fill(
        call,
        &mut resp,
        ex,
        cached,
        clean_end,
        guarded_output,
        include_usage,
    );
    Ok(resp)
}

/// Unreachable: the slot an answer came from always holds a target. One
/// copy, not one per ingress.
#[inline(never)]
fn lost_deployment() -> GatewayError {
    GatewayError::new(ErrorKind::Configuration, "The route lost its deployment.")
        .with_code("config_error")
}

/// The request body after the input guardrails, and the sets a key attached.
struct Guarded {
    /// The body as it goes on, when the guardrails masked something.
    masked: Option<Vec<u8>>,
    /// What the limits reserve for: the body as it goes on.
    body_len: usize,
    attached: Vec<String>,
}

/// The prompt's capture, when the exporter has a sink for content
/// (`include_content`); every guardrail set of the request masks it.
#[inline(never)]
fn capture(
    config: &Config,
    ex: &Exchange,
    attached: &[String],
    body: &[u8],
) -> Option<Arc<Capture>> {
    if !ex.telemetry.as_ref()?.wants_content() {
        return None;
    }
    let names: Vec<&str> = attached.iter().map(String::as_str).collect();
    let g = &config.guards;
    let active = g
        .active_with(&ex.model, Direction::Input, &names)
        .or(g.active_with(&ex.model, Direction::Output, &names));
    let checker = active.any().then(|| Checker::new(g.clone(), active));
    Some(Arc::new(Capture::new(checker, body)))
}

/// A hit's answer, for the capture (not generic: one copy, not one per
/// ingress).
#[inline(never)]
fn captured_hit(ex: &Exchange, entry: &Bytes) {
    if let Some(c) = &ex.content {
        match cache_lookup::decode(entry) {
            Some((_, cache_lookup::Kind::Whole, body)) => c.whole(&body),
            Some((_, _, body)) => c.relayed(&body),
            None => {}
        }
    }
}

/// The answer, for the capture: a whole one now, a stream as it passes.
#[inline(never)]
fn captured_answer(ex: &Exchange, resp: &mut GatewayResponse) {
    if let Some(capture) = &ex.content {
        match resp.body_mut() {
            Body::Full(b) => capture.whole(b),
            Body::Stream(s) => {
                let s = std::mem::replace(s, Box::pin(futures::stream::empty()));
                *resp.body_mut() = Body::Stream(crate::telemetry::content::tee(capture.clone(), s));
            }
            Body::Empty => {}
        }
    }
}

/// Stage 3: the input guardrails over the client's body.
fn guard(
    config: &Config,
    req: &IncomingRequest,
    ex: &mut Exchange,
) -> Result<Guarded, GatewayError> {
    let guards = &config.guards;
    // Without guardrail sets there is nothing a key could attach.
    let attached = if guards.is_empty() {
        Vec::new()
    } else {
        attached_guardrails(&ex.principal)
    };
    let mut guarded = Guarded {
        masked: None,
        body_len: req.body.len(),
        attached,
    };
    let names: Vec<&str> = guarded.attached.iter().map(String::as_str).collect();
    let input = guards.active_with(&ex.model, Direction::Input, &names);
    if input.any() {
        let mut checker = Checker::new(guards.clone(), input);
        let masked = guard_input(&req.body, &mut checker)?;
        ex.guardrails = checker.report();
        if let Some(masked) = masked {
            guarded.body_len = masked.len();
            guarded.masked = Some(masked);
        }
    }
    Ok(guarded)
}

/// Stage 5's route plan, and what admission needs to know of it.
struct Planned<'c> {
    route: route_plan::Route<'c>,
    /// The name asked for, the group it resolved to, and the first
    /// deployment's `provider/model`.
    names: [String; 3],
    max_output: Option<u64>,
}

impl Planned<'_> {
    fn names(&self) -> [&str; 3] {
        [&self.names[0], &self.names[1], &self.names[2]]
    }
}

/// The route plan for `name`, and the dearest deployment it may use priced
/// into the exchange (admission reserves for it).
fn plan<'c, P: Ports>(
    call: &Call<'c, P>,
    req: &IncomingRequest,
    ex: &mut Exchange,
    name: &str,
    body_len: usize,
    asked_max: Option<u64>,
) -> Result<Planned<'c>, GatewayError> {
    let config = call.config;
    let ask = route_plan::Ask {
        input_bound: body_len as u64,
        max_output: asked_max,
        residency: key_residency(&ex.principal),
        stream: ex.stream,
    };
    let here = if config.router_settings.uses_nearest() {
        route_plan::here(&req.headers, &call.ports)
    } else {
        None
    };
    let route = route_plan::route(call, name, &ask, here)?;
    let (qualified, max_output) = match route.first() {
        Some(t) => (
            format!(
                "{}/{}",
                t.deployment.provider.id, t.deployment.upstream_model
            ),
            asked_max.or(t.meta.max_output),
        ),
        None => (String::new(), asked_max),
    };
    ex.prices = route
        .dearest(
            body_len as u64,
            max_output.unwrap_or(admit::DEFAULT_MAX_OUTPUT),
        )
        .map(|p| Arc::new(p.clone()));
    Ok(Planned {
        route,
        names: [ex.model.clone(), name.to_owned(), qualified],
        max_output,
    })
}

/// Stage 2: admission, which sees the first deployment's names and
/// reserves for the dearest one the plan may use.
async fn admit_planned<P: Ports>(
    call: &Call<'_, P>,
    ex: &mut Exchange,
    planned: &mut Planned<'_>,
    body_len: usize,
) -> Result<(), GatewayError> {
    let names = planned.names.clone();
    let names = [names[0].as_str(), names[1].as_str(), names[2].as_str()];
    let max_output = planned.max_output;
    match admit::admit(call, ex, &names, body_len as u64, max_output).await {
        Ok(()) => Ok(()),
        // A spent budget leaves the deployments that cost nothing (a
        // local model priced at zero): the request goes there instead.
        Err(e) if e.code.as_deref() == Some("budget_exceeded") && planned.route.keep_free() => {
            ex.prices = None;
            admit::admit(call, ex, &names, body_len as u64, max_output).await
        }
        Err(e) => Err(e),
    }
}

/// After the answer: routing headers, the output guardrails, and the
/// guardrails report; whether an output guard runs. A refused answer was
/// still paid for: its usage is in the exchange, which the ledger settles
/// with (see `settle`).
fn finish(
    config: &Config,
    resp: &mut GatewayResponse,
    ex: &mut Exchange,
    attached: &[String],
    error_event: crate::relays::output_guard::ErrorEvent,
) -> Result<bool, GatewayError> {
    routing_headers(resp, ex);
    let guards = &config.guards;
    let names: Vec<&str> = attached.iter().map(String::as_str).collect();
    let output = guards.active_with(&ex.model, Direction::Output, &names);
    if output.any() {
        relay::guard_output(resp, Checker::new(guards.clone(), output), error_event, ex)?;
    }
    if !ex.guardrails.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&ex.guardrails) {
            resp.headers_mut().insert("x-dx-guardrails", v);
        }
    }
    Ok(output.any())
}

/// `x-dx-deployment`, `x-dx-attempts` and `x-dx-fallback`: where the
/// answer came from and how it got there.
fn routing_headers(resp: &mut GatewayResponse, ex: &Exchange) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ex.deployment) {
        h.insert("x-dx-deployment", v);
    }
    h.insert("x-dx-attempts", HeaderValue::from(ex.attempts));
    if !ex.max_tokens_clamped.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&ex.max_tokens_clamped) {
            h.insert("x-dx-max-tokens-clamped", v);
        }
    }
    if !ex.fallback.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&ex.fallback) {
            h.insert("x-dx-fallback", v);
        }
    }
}

/// The residency policies of a virtual key's key, user and team records:
/// a deployment must satisfy every one.
fn key_residency(p: &authenticate::Principal) -> Vec<String> {
    let authenticate::Principal::Key(id) = p else {
        return Vec::new();
    };
    [
        Some(&id.key.limits),
        id.user.as_ref().map(|u| &u.limits),
        id.team.as_ref().map(|t| &t.limits),
    ]
    .into_iter()
    .flatten()
    .filter_map(|l| l.residency.clone())
    .collect()
}

/// The guardrail sets a virtual key's key, user and team records attach.
fn attached_guardrails(p: &authenticate::Principal) -> Vec<String> {
    let authenticate::Principal::Key(id) = p else {
        return Vec::new();
    };
    let mut names = id.key.limits.guardrails.clone();
    for more in [
        id.user.as_ref().map(|u| &u.limits.guardrails),
        id.team.as_ref().map(|t| &t.limits.guardrails),
    ]
    .into_iter()
    .flatten()
    {
        names.extend(more.iter().cloned());
    }
    names
}

pub fn expect_method(got: &Method, want: Method) -> Result<(), GatewayError> {
    if *got == want {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorKind::MethodNotAllowed,
        format!("Method {got} is not allowed here; use {want}."),
    )
    .with_code("method_not_allowed"))
}
