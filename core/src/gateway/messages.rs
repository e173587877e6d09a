//! The Anthropic Messages routes: `POST /v1/messages` and
//! `POST /v1/messages/count_tokens`, served from any provider.
//!
//! route (task rules) → resolve → one of three paths:
//! - Anthropic-format upstream (Anthropic, Claude on Vertex AI): the body is
//!   forwarded with only the model and what routing needs rewritten, the
//!   stream relayed byte for byte;
//! - the mock provider: answered in place;
//! - any other codec: unified request → codec → unified response or chunks
//!   → Anthropic's shapes.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};

use super::{
    sse, too_large, whole_answer, AccessLog, Call, GatewayResponse, IncomingRequest,
    MAX_UPSTREAM_BODY,
};
use crate::codec::anthropic::{self, count_tokens_url, wire, Target};
use crate::codec::{self, mock, DecodeContext, EncodeContext, StreamDecoder};
use crate::error::{ErrorKind, GatewayError};
use crate::http_util::{json, read_body};
use crate::ingress::anthropic_messages::{
    beta_features, clamp_max_tokens, estimate_tokens, passthrough_body, render_response, route,
    translated_request, EventRenderer, MessagesEnvelope, Route, COUNT_FIELDS, ID_PREFIX,
};
use crate::model_meta::model_meta;
use crate::ports::Ports;
use crate::providers::Codec;
use crate::quirks;
use crate::resolve::{resolve_entry, resolve_model, Deployment};
use crate::stream::anthropic_relay;
use crate::stream::sniff::{not_a_stream, sniff, StreamAnswer};
use crate::stream::translate::{translate, Renderer, TranslateState};
use crate::stream::whole;
use crate::unified::{ChatChunk, ChatRequest, Usage};

/// Chunks known in advance as Anthropic's stream events.
fn events_of(chunks: &[ChatChunk], model: &str, usage: Option<Usage>) -> GatewayResponse {
    let mut renderer = EventRenderer::new(model);
    let mut events: Vec<Bytes> = chunks.iter().filter_map(|c| renderer.chunk(c)).collect();
    events.push(renderer.end(usage));
    sse(Box::pin(futures::stream::iter(events)))
}

impl<P: Ports> Call<'_, P> {
    fn messages_route(&self, env: &MessagesEnvelope<'_>) -> Result<Route, GatewayError> {
        route(env, &self.config.router, |name| {
            self.config.model_list.iter().any(|e| e.model_name == name)
        })
    }

    pub(super) async fn messages(
        &self,
        req: &IncomingRequest,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let limit = self.config.general.max_request_bytes;
        if req.body.len() > limit {
            return Err(too_large(limit));
        }
        let env = MessagesEnvelope::parse(&req.body)?;
        log.model = env.model.clone();
        log.stream = env.stream;
        let plan = self.messages_route(&env)?;
        log.route = plan.rule.as_str();
        log.routed_model = plan.model.clone();
        let (deployment, entry) = resolve_entry(&plan.model, &self.config, &self.ports)?;
        let meta = model_meta(&deployment, entry);
        log.prices = meta
            .prices
            .is_known()
            .then(|| std::sync::Arc::new(meta.prices.clone()));
        log.provider = deployment.provider.id;
        log.upstream_model = deployment.upstream_model.clone();
        let betas = beta_features(&req.headers);
        let clamped = clamp_max_tokens(env.max_tokens, &deployment);
        let target = match deployment.codec() {
            Codec::Anthropic if deployment.passthrough => Some(Target::Anthropic),
            Codec::AnthropicVertex if deployment.passthrough => Some(Target::Vertex),
            _ => None,
        };
        let mut resp = match target {
            Some(target) => {
                let body = passthrough_body(
                    &env,
                    &plan,
                    &deployment,
                    target,
                    clamped,
                    &self.config.router,
                    None,
                )?;
                self.messages_passthrough(body, env.stream, &deployment, target, req, &betas, log)
                    .await?
            }
            None => {
                let (mut ureq, adj) = translated_request(
                    &env,
                    &plan,
                    &deployment,
                    &betas,
                    clamped,
                    &self.config.router,
                )?;
                // The same per-model quirks as the OpenAI ingress (o-series
                // `max_completion_tokens`, sampling parameters, ...).
                let drop_params = deployment
                    .params
                    .drop_params
                    .unwrap_or(self.config.general.drop_params);
                let quirked = quirks::apply(&mut ureq, &deployment, drop_params)?.to_string();
                // Before the call: a stream's log line is cloned when it starts.
                log.adjusted = [adj.header(), quirked]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(",");
                if deployment.codec() == Codec::Mock {
                    self.messages_mock(&ureq, &deployment, log)
                } else {
                    self.messages_translated(&ureq, &deployment, log).await?
                }
            }
        };
        // Anthropic's response shape has no place for a cost: header and log only.
        self.price_response(&mut resp, log, false);
        let h = resp.headers_mut();
        h.insert("x-dx-route", HeaderValue::from_static(plan.rule.as_str()));
        for (name, value) in [
            ("x-dx-model", plan.model.as_str()),
            ("x-dx-upstream-model", deployment.upstream_model.as_str()),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
        h.insert(
            "x-dx-provider",
            HeaderValue::from_static(deployment.provider.id),
        );
        if let Some((from, to)) = clamped {
            if let Ok(v) = HeaderValue::from_str(&format!("{from}->{to}")) {
                h.insert("x-dx-max-tokens-clamped", v);
            }
        }
        Ok(resp)
    }

    #[allow(clippy::too_many_arguments)]
    async fn messages_passthrough(
        &self,
        body: Vec<u8>,
        stream: bool,
        deployment: &Deployment,
        target: Target,
        req: &IncomingRequest,
        betas: &[String],
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let token = self.access_token_for(deployment).await?;
        let mut request =
            anthropic::build_request(deployment, body, stream, target, token.as_ref(), betas)?;
        if target == Target::Anthropic {
            // The client's API version: a passthrough keeps the contract it asked for.
            if let Some(v) = req.headers.get("anthropic-version") {
                request.headers_mut().insert("anthropic-version", v.clone());
            }
        }
        let upstream = self
            .send(request, deployment, anthropic::decode_error)
            .await?;
        let idle_ms = self.config.general.stream_idle_timeout_ms;
        if stream {
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
                    let chunks = whole::chunks_of(&response, true);
                    return Ok(events_of(
                        &chunks,
                        &deployment.upstream_model,
                        response.usage,
                    ));
                }
                StreamAnswer::Other => {
                    return Err(not_a_stream(deployment.provider.id, content_type))
                }
            }
            let on_done = self.stream_logger(log);
            return Ok(sse(anthropic_relay::relay(
                self.ports.clone(),
                body,
                idle_ms,
                on_done,
            )));
        }
        let body = read_body(&self.ports, upstream.body, idle_ms, MAX_UPSTREAM_BODY).await?;
        #[derive(serde::Deserialize)]
        struct UsageProbe {
            #[serde(default)]
            usage: Option<wire::Usage>,
        }
        let probe: UsageProbe = serde_json::from_slice(&body).map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamUnavailable,
                format!("The upstream returned a body that is not JSON: {e}."),
            )
            .with_code("invalid_upstream_response")
        })?;
        log.usage = probe.usage.as_ref().map(anthropic::usage_from_wire);
        Ok(json(StatusCode::OK, body))
    }

    async fn messages_translated(
        &self,
        ureq: &ChatRequest,
        deployment: &Deployment,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let now_ms = self.ports.now_ms();
        let ctx = EncodeContext {
            now_ms,
            access_token: self.access_token_for(deployment).await?,
        };
        let request = codec::encode(ureq, deployment, &ctx)?;
        let upstream = self
            .send(
                request,
                deployment,
                codec::error_decoder(deployment.codec()),
            )
            .await?;
        let idle_ms = self.config.general.stream_idle_timeout_ms;
        let decode = DecodeContext {
            now_ms,
            model: &deployment.upstream_model,
            id_prefix: ID_PREFIX,
        };
        if ureq.stream {
            let state = TranslateState::new(
                StreamDecoder::new(deployment.codec(), &decode)?,
                EventRenderer::new(&deployment.upstream_model),
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

    fn messages_mock(
        &self,
        ureq: &ChatRequest,
        deployment: &Deployment,
        log: &mut AccessLog,
    ) -> GatewayResponse {
        let ctx = DecodeContext {
            now_ms: self.ports.now_ms(),
            model: &deployment.upstream_model,
            id_prefix: ID_PREFIX,
        };
        let response = mock::answer(ureq, deployment.mock_response.as_deref(), &ctx);
        log.usage = response.usage;
        if !ureq.stream {
            return json(StatusCode::OK, render_response(&response));
        }
        let chunks = mock::answer_chunks(&response, true);
        events_of(&chunks, &deployment.upstream_model, response.usage)
    }

    pub(super) async fn count_tokens(
        &self,
        req: &IncomingRequest,
        log: &mut AccessLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let limit = self.config.general.max_request_bytes;
        if req.body.len() > limit {
            return Err(too_large(limit));
        }
        let env = MessagesEnvelope::parse(&req.body)?;
        log.model = env.model.clone();
        let plan = self.messages_route(&env)?;
        log.route = plan.rule.as_str();
        log.routed_model = plan.model.clone();
        let deployment = resolve_model(&plan.model, &self.config, &self.ports)?;
        log.provider = deployment.provider.id;
        log.upstream_model = deployment.upstream_model.clone();
        let (mut resp, method) = if deployment.codec() == Codec::Anthropic && deployment.passthrough
        {
            let body = passthrough_body(
                &env,
                &plan,
                &deployment,
                Target::Anthropic,
                None,
                &self.config.router,
                Some(COUNT_FIELDS),
            )?;
            let betas = beta_features(&req.headers);
            let mut request = anthropic::build_request(
                &deployment,
                body,
                false,
                Target::Anthropic,
                None,
                &betas,
            )?;
            *request.uri_mut() = count_tokens_url(&deployment.api_base)
                .parse()
                .map_err(|_| {
                    GatewayError::new(
                        ErrorKind::Configuration,
                        "invalid api_base for count_tokens",
                    )
                    .with_code("config_error")
                })?;
            let upstream = self
                .send(request, &deployment, anthropic::decode_error)
                .await?;
            let idle_ms = self.config.general.stream_idle_timeout_ms;
            let body = read_body(&self.ports, upstream.body, idle_ms, 1024 * 1024).await?;
            (json(StatusCode::OK, body), "exact")
        } else {
            let n = estimate_tokens(&env);
            (
                json(StatusCode::OK, format!("{{\"input_tokens\":{n}}}")),
                "estimate",
            )
        };
        let h = resp.headers_mut();
        h.insert("x-dx-token-count", HeaderValue::from_static(method));
        h.insert("x-dx-route", HeaderValue::from_static(plan.rule.as_str()));
        if let Ok(v) = HeaderValue::from_str(&plan.model) {
            h.insert("x-dx-model", v);
        }
        Ok(resp)
    }
}
