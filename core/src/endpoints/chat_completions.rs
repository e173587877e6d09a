//! `POST /v1/chat/completions`: OpenAI's chat format as an [`Ingress`].

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::catalog::Prices;
use crate::codec::openai_chat;
use crate::codec::{self};
use crate::config::Config;
use crate::cost::{completion_cost, TokenUsage};
use crate::error::{ErrorKind, GatewayError};
use crate::http::GatewayResponse;
use crate::ingress::openai_chat::{
    event_with_cost, render_chunk_event, render_response, ChatEnvelope, ChunkRenderer, DONE_EVENT,
    ID_PREFIX,
};
use crate::model_meta::ModelMeta;
use crate::pipeline::{Exchange, Ingress};
use crate::ports::{ByteStream, Ports};
use crate::quirks;
use crate::relays::openai_relay::relay;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

pub struct OpenAiChat;

impl Ingress for OpenAiChat {
    type Parsed<'b> = ChatEnvelope<'b>;
    type Renderer = ChunkRenderer;
    const ID_PREFIX: &'static str = ID_PREFIX;
    const COST_IN_BODY: bool = true;

    fn parse<'b>(&self, body: &'b [u8], _: &HeaderMap) -> Result<ChatEnvelope<'b>, GatewayError> {
        ChatEnvelope::parse(body)
    }

    fn model(&self, p: &ChatEnvelope<'_>) -> String {
        p.model.clone()
    }

    fn stream(&self, p: &ChatEnvelope<'_>) -> bool {
        p.stream
    }

    fn max_tokens(&self, p: &ChatEnvelope<'_>) -> Option<u64> {
        p.max_tokens()
    }

    fn include_usage(&self, p: &ChatEnvelope<'_>) -> bool {
        p.include_usage
    }

    fn route(
        &self,
        p: &mut ChatEnvelope<'_>,
        _: &Config,
        _: &mut Exchange,
    ) -> Result<String, GatewayError> {
        Ok(p.model.clone())
    }

    fn check(
        &self,
        p: &ChatEnvelope<'_>,
        meta: &ModelMeta,
        body_len: usize,
    ) -> Result<(), GatewayError> {
        check_context_window(p, meta, body_len)
    }

    fn speaks(&self, d: &Deployment) -> bool {
        d.passthrough && codec::speaks_openai_chat(d.codec())
    }

    fn passthrough_body(
        &self,
        p: &mut ChatEnvelope<'_>,
        d: &Deployment,
        drop_params: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        if let Some(n) = ex.output_bound {
            p.bound_output(n);
        }
        ex.adjusted = quirks::apply(p, d, drop_params)?.to_string();
        Ok(p.render_passthrough(&d.upstream_model, p.stream))
    }

    fn passthrough_request(
        &self,
        p: &ChatEnvelope<'_>,
        body: Vec<u8>,
        d: &Deployment,
        _: Option<&Secret>,
        _: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        codec::build_openai_format_request(d, body, p.stream)
    }

    fn unified(
        &self,
        p: &ChatEnvelope<'_>,
        d: &Deployment,
        drop_params: bool,
        mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        let mut req = p.to_unified()?;
        // The mock answers what it was asked: nothing to adapt for.
        if !mock {
            ex.adjusted = quirks::apply(&mut req, d, drop_params)?.to_string();
        }
        Ok(req)
    }

    fn relay<P: Ports>(
        &self,
        ports: P,
        upstream: ByteStream,
        p: &ChatEnvelope<'_>,
        prices: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream {
        relay(ports, upstream, p.include_usage, prices, idle_ms, on_done)
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, GatewayError> {
        openai_chat::usage_of(body)
    }

    fn render_response(&self, r: &ChatResponse) -> Vec<u8> {
        render_response(r)
    }

    /// The usage chunk gets its cost, `[DONE]` ends the stream.
    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        _model: &str,
        _usage: Option<Usage>,
        prices: &Option<Arc<Prices>>,
    ) -> BodyStream {
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

    fn renderer(
        &self,
        p: &ChatEnvelope<'_>,
        _model: &str,
        prices: Option<Arc<Prices>>,
    ) -> ChunkRenderer {
        ChunkRenderer::new(p.include_usage).with_prices(prices)
    }

    fn codec(&self) -> Option<crate::providers::Codec> {
        Some(crate::providers::Codec::OpenAiChat)
    }

    fn error_event(e: &GatewayError) -> Bytes {
        crate::ingress::openai_chat::render_error_event(e)
    }

    fn decorate(
        &self,
        resp: &mut GatewayResponse,
        _: &ChatEnvelope<'_>,
        d: &Deployment,
        meta: &ModelMeta,
    ) {
        if let Some(v) = meta
            .deprecated
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            resp.headers_mut().insert("x-dx-deprecated", v);
        }
        super::provider_headers(resp, d);
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
