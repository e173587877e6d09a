//! `POST /v1/embeddings`: OpenAI's embeddings request as an [`Ingress`],
//! so it runs the one pipeline (keys, budgets, limits, routing and
//! fallbacks, input guardrails, spend). OpenAI-format deployments get the
//! client's body with the model swapped (float or base64, `dimensions`, any
//! other field as sent); the answer's `usage.prompt_tokens` is priced at the
//! model's input price. Providers with their own embeddings format are
//! refused with a clear 400 rather than sent a body they would not read.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::value::RawValue;

use crate::catalog::Prices;
use crate::codec::openai_chat;
use crate::codec::request::{post_json, Auth};
use crate::config::Config;
use crate::error::{ErrorKind, GatewayError};
use crate::http::GatewayResponse;
use crate::ingress::openai_chat::{with_model, Fields};
use crate::model_meta::ModelMeta;
use crate::pipeline::{Exchange, Ingress};
use crate::ports::{ByteStream, Ports};
use crate::providers::Codec;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

pub struct OpenAiEmbeddings;

/// The body's fields as raw JSON, and its model.
pub struct EmbeddingsBody<'b> {
    fields: Vec<(Cow<'b, str>, &'b RawValue)>,
    model: String,
}

fn invalid(message: &str, param: &str) -> GatewayError {
    GatewayError::invalid_request(message.to_owned()).with_param(param)
}

impl Ingress for OpenAiEmbeddings {
    type Parsed<'b> = EmbeddingsBody<'b>;
    // Embeddings never stream: the chat renderer stands in, unused.
    type Renderer = crate::ingress::openai_chat::ChunkRenderer;
    const ID_PREFIX: &'static str = "emb-";
    const COST_IN_BODY: bool = false;

    fn parse<'b>(&self, body: &'b [u8], _: &HeaderMap) -> Result<EmbeddingsBody<'b>, GatewayError> {
        let Fields(fields) = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
        let mut model = None;
        let mut has_input = false;
        for (name, raw) in &fields {
            match name.as_ref() {
                "model" => {
                    model = serde_json::from_str::<String>(raw.get())
                        .ok()
                        .filter(|m| !m.is_empty())
                }
                "input" => {
                    let json = raw.get();
                    let empty = json == "\"\""
                        || json.starts_with('[') && json[1..].trim_start().starts_with(']');
                    if empty || !(json.starts_with('"') || json.starts_with('[')) {
                        return Err(invalid(
                            "`input` must be a non-empty string, or a non-empty array of strings or token arrays.",
                            "input",
                        ));
                    }
                    has_input = true;
                }
                _ => {}
            }
        }
        let model = model.ok_or_else(|| {
            invalid("Missing required parameter: `model`.", "model")
                .with_code("missing_required_parameter")
        })?;
        if !has_input {
            return Err(invalid("Missing required parameter: `input`.", "input")
                .with_code("missing_required_parameter"));
        }
        Ok(EmbeddingsBody { fields, model })
    }

    fn model(&self, p: &EmbeddingsBody<'_>) -> String {
        p.model.clone()
    }

    fn stream(&self, _: &EmbeddingsBody<'_>) -> bool {
        false
    }

    /// Nothing comes out but vectors: only the input is reserved for.
    fn max_tokens(&self, _: &EmbeddingsBody<'_>) -> Option<u64> {
        Some(0)
    }

    fn include_usage(&self, _: &EmbeddingsBody<'_>) -> bool {
        false
    }

    fn route(
        &self,
        p: &mut EmbeddingsBody<'_>,
        _: &Config,
        _: &mut Exchange,
    ) -> Result<String, GatewayError> {
        Ok(p.model.clone())
    }

    fn check(&self, _: &EmbeddingsBody<'_>, _: &ModelMeta, _: usize) -> Result<(), GatewayError> {
        Ok(())
    }

    fn speaks(&self, d: &Deployment) -> bool {
        d.codec() == Codec::OpenAiChat
    }

    fn passthrough_body(
        &self,
        p: &mut EmbeddingsBody<'_>,
        d: &Deployment,
        _: bool,
        _: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        Ok(with_model(&p.fields, &d.upstream_model))
    }

    fn passthrough_request(
        &self,
        _: &EmbeddingsBody<'_>,
        body: Vec<u8>,
        d: &Deployment,
        _: Option<&Secret>,
        _: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        let url = format!("{}/embeddings", d.api_base);
        post_json(d, &url, "application/json", Auth::Bearer, body)
    }

    fn unified(
        &self,
        _: &EmbeddingsBody<'_>,
        d: &Deployment,
        _: bool,
        _: bool,
        _: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            format!(
                "Embeddings are served from OpenAI-format providers; `{}` (model `{}`) has its own embeddings API, which this gateway does not translate to yet.",
                d.provider.id, d.upstream_model
            ),
        )
        .with_param("model")
        .with_code("unsupported_provider"))
    }

    fn relay<P: Ports>(
        &self,
        _: P,
        upstream: ByteStream,
        _: &EmbeddingsBody<'_>,
        _: Option<Arc<Prices>>,
        _: u64,
        _: OnDone,
    ) -> BodyStream {
        // Unreachable: an embeddings request is never a stream.
        drop(upstream);
        Box::pin(futures::stream::empty())
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, GatewayError> {
        let usage = crate::codec::usage_in::<openai_chat::wire::Usage>(body)?;
        Ok(usage.as_ref().map(openai_chat::usage_from_wire))
    }

    fn render_response(&self, _: &ChatResponse) -> Vec<u8> {
        Vec::new()
    }

    fn render_chunks(
        &self,
        _: &[ChatChunk],
        _: &str,
        _: Option<Usage>,
        _: &Option<Arc<Prices>>,
    ) -> BodyStream {
        Box::pin(futures::stream::empty())
    }

    fn renderer(&self, _: &EmbeddingsBody<'_>, _: &str, _: Option<Arc<Prices>>) -> Self::Renderer {
        Self::Renderer::new(false)
    }

    fn error_event(e: &GatewayError) -> Bytes {
        crate::ingress::openai_chat::render_error_event(e)
    }

    fn decorate(
        &self,
        resp: &mut GatewayResponse,
        _: &EmbeddingsBody<'_>,
        d: &Deployment,
        _: &ModelMeta,
    ) {
        super::provider_headers(resp, d);
    }
}
