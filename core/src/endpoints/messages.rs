//! `POST /v1/messages`: Anthropic's Messages format as an [`Ingress`],
//! served from any provider. Task routing (`[task_routing]`) may pick
//! another model first. An Anthropic-format upstream (Anthropic, Claude on
//! Vertex AI) gets the body with only the model and what routing needs
//! rewritten, its stream relayed byte for byte.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::catalog::Prices;
use crate::codec::anthropic::{self, wire, Target};
use crate::config::Config;
use crate::error::{ErrorKind, GatewayError};
use crate::http::GatewayResponse;
use crate::ingress::anthropic_messages::{
    beta_features, clamp_max_tokens, passthrough_body, render_response, route, translated_request,
    EventRenderer, MessagesEnvelope, Route, ID_PREFIX,
};
use crate::model_meta::ModelMeta;
use crate::pipeline::{Exchange, Ingress};
use crate::ports::{ByteStream, Ports};
use crate::providers::Codec;
use crate::quirks;
use crate::relays::anthropic_relay;
use crate::relays::translate::Renderer;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone};
use crate::task_routing::RouterConfig;
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

/// Holds the `[task_routing]` rules its plans and rewrites follow.
pub struct AnthropicMessages<'c>(pub &'c RouterConfig);

pub struct Messages<'b> {
    pub env: MessagesEnvelope<'b>,
    pub route: Option<Route>,
    pub betas: Vec<String>,
}

impl Messages<'_> {
    fn route(&self) -> Result<&Route, GatewayError> {
        self.route.as_ref().ok_or_else(|| {
            // Unreachable: the pipeline routes before it builds a request.
            GatewayError::new(ErrorKind::Configuration, "The request was not routed.")
                .with_code("config_error")
        })
    }
}

/// The `[task_routing]` plan for a request: the model to resolve and the rule that chose it.
pub fn plan(env: &MessagesEnvelope<'_>, config: &Config) -> Result<Route, GatewayError> {
    route(env, &config.task_routing, |name| {
        config.model_list.iter().any(|e| e.model_name == name)
    })
}

/// `(asked, sent)` when the output bound sent is lower than the client's
/// `max_tokens`: the deployment's limit, or what the key's budget pays for
/// when that is lower.
fn clamped(p: &Messages<'_>, d: &Deployment, ex: &Exchange) -> Option<(u32, u32)> {
    let limit = clamp_max_tokens(p.env.max_tokens, d);
    match (ex.output_bound, p.env.max_tokens) {
        (Some(n), Some(asked)) if limit.is_none_or(|(_, to)| n < to) => Some((asked, n)),
        _ => limit,
    }
}

fn target_of(d: &Deployment) -> Option<Target> {
    match d.codec() {
        Codec::Anthropic if d.passthrough => Some(Target::Anthropic),
        Codec::AnthropicVertex if d.passthrough => Some(Target::Vertex),
        _ => None,
    }
}

impl Ingress for AnthropicMessages<'_> {
    type Parsed<'b> = Messages<'b>;
    type Renderer = EventRenderer;
    const ID_PREFIX: &'static str = ID_PREFIX;
    const COST_IN_BODY: bool = false;

    fn parse<'b>(&self, body: &'b [u8], headers: &HeaderMap) -> Result<Messages<'b>, GatewayError> {
        Ok(Messages {
            env: MessagesEnvelope::parse(body)?,
            route: None,
            betas: beta_features(headers),
        })
    }

    fn model(&self, p: &Messages<'_>) -> String {
        p.env.model.clone()
    }

    fn stream(&self, p: &Messages<'_>) -> bool {
        p.env.stream
    }

    fn max_tokens(&self, p: &Messages<'_>) -> Option<u64> {
        p.env.max_tokens.map(u64::from)
    }

    fn include_usage(&self, _: &Messages<'_>) -> bool {
        true
    }

    fn route(
        &self,
        p: &mut Messages<'_>,
        config: &Config,
        ex: &mut Exchange,
    ) -> Result<String, GatewayError> {
        let route = plan(&p.env, config)?;
        ex.route = route.rule.as_str();
        ex.routed_model = route.model.clone();
        let model = route.model.clone();
        p.route = Some(route);
        Ok(model)
    }

    fn check(&self, _: &Messages<'_>, _: &ModelMeta, _: usize) -> Result<(), GatewayError> {
        Ok(())
    }

    fn speaks(&self, d: &Deployment) -> bool {
        target_of(d).is_some()
    }

    fn passthrough_body(
        &self,
        p: &mut Messages<'_>,
        d: &Deployment,
        _drop_params: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        let target = target_of(d).unwrap_or(Target::Anthropic);
        let clamped = clamped(p, d, ex);
        passthrough_body(&p.env, p.route()?, d, target, clamped, self.0, None)
    }

    fn passthrough_request(
        &self,
        p: &Messages<'_>,
        body: Vec<u8>,
        d: &Deployment,
        token: Option<&Secret>,
        headers: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        let target = target_of(d).unwrap_or(Target::Anthropic);
        let mut request = anthropic::build_request(d, body, p.env.stream, target, token, &p.betas)?;
        if target == Target::Anthropic {
            // The client's API version: a passthrough keeps the contract it asked for.
            if let Some(v) = headers.get("anthropic-version") {
                request.headers_mut().insert("anthropic-version", v.clone());
            }
        }
        Ok(request)
    }

    fn unified(
        &self,
        p: &Messages<'_>,
        d: &Deployment,
        drop_params: bool,
        _mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        let clamped = clamped(p, d, ex);
        let (mut ureq, adj) = translated_request(&p.env, p.route()?, d, &p.betas, clamped, self.0)?;
        // The same per-model quirks as the OpenAI ingress (o-series
        // `max_completion_tokens`, sampling parameters, ...).
        let quirked = quirks::apply(&mut ureq, d, drop_params)?.to_string();
        ex.adjusted = [adj.header(), quirked]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        Ok(ureq)
    }

    fn relay<P: Ports>(
        &self,
        ports: P,
        upstream: ByteStream,
        _: &Messages<'_>,
        _prices: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream {
        anthropic_relay::relay(ports, upstream, idle_ms, on_done)
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, GatewayError> {
        let usage = crate::codec::usage_in::<wire::Usage>(body)?;
        Ok(usage.as_ref().map(anthropic::usage_from_wire))
    }

    fn render_response(&self, r: &ChatResponse) -> Vec<u8> {
        render_response(r)
    }

    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        model: &str,
        usage: Option<Usage>,
        _: &Option<Arc<Prices>>,
    ) -> BodyStream {
        let mut renderer = EventRenderer::new(model);
        let mut events: Vec<Bytes> = chunks.iter().filter_map(|c| renderer.chunk(c)).collect();
        events.push(renderer.end(usage));
        Box::pin(futures::stream::iter(events))
    }

    fn renderer(&self, _: &Messages<'_>, model: &str, _: Option<Arc<Prices>>) -> EventRenderer {
        EventRenderer::new(model)
    }

    fn codec(&self) -> Option<crate::providers::Codec> {
        Some(crate::providers::Codec::Anthropic)
    }

    fn error_event(e: &GatewayError) -> Bytes {
        crate::ingress::anthropic_messages::error_event(e)
    }

    fn decorate(
        &self,
        resp: &mut GatewayResponse,
        p: &Messages<'_>,
        d: &Deployment,
        _: &ModelMeta,
    ) {
        let h = resp.headers_mut();
        if let Some(route) = &p.route {
            h.insert("x-dx-route", HeaderValue::from_static(route.rule.as_str()));
            if let Ok(v) = HeaderValue::from_str(&route.model) {
                h.insert("x-dx-model", v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&d.upstream_model) {
            h.insert("x-dx-upstream-model", v);
        }
        h.insert("x-dx-provider", HeaderValue::from_static(d.provider.id));
        if let Some((from, to)) = clamp_max_tokens(p.env.max_tokens, d) {
            if let Ok(v) = HeaderValue::from_str(&format!("{from}->{to}")) {
                h.insert("x-dx-max-tokens-clamped", v);
            }
        }
    }
}
