//! `POST /v1/embeddings`: OpenAI's embeddings request as an [`Ingress`],
//! so it runs the one pipeline (keys, budgets, limits, routing and
//! fallbacks, input guardrails, spend). OpenAI-format deployments (and
//! Azure's) get the client's body with the model swapped (float or base64,
//! `dimensions`, any other field as sent). Providers with their own
//! embeddings API (Gemini, Vertex AI, Bedrock Titan and Cohere, Cohere,
//! Ollama; see [`crate::codec::embeddings`]) get their native body, and their
//! answer comes back in OpenAI's shape. The input tokens the provider
//! reports are priced at the model's input price.
//!
//! `POST /v1/rerank` (Cohere's shape) is the same ingress type
//! ([`Retrieval::Rerank`]): one more type would be one more copy of the
//! pipeline in the Worker's upload. Cohere, Jina and Voyage are served (see
//! [`crate::codec::rerank`]); priced per query where the catalog says so
//! (LiteLLM's `input_cost_per_query`), else by the tokens reported.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::catalog::Prices;
use crate::codec::embeddings::{self as native, Api};
use crate::codec::request::{post_json, Auth};
use crate::codec::rerank;
use crate::codec::{azure, bedrock, gemini, ollama, openai_chat};
use crate::config::Config;
use crate::error::{ErrorKind, GatewayError};
use crate::http::GatewayResponse;
use crate::ingress::openai_chat::{with_model, Fields};
use crate::model_meta::ModelMeta;
use crate::pipeline::{Exchange, Ingress};
use crate::ports::{ByteStream, Ports};
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

/// OpenAI's embeddings request, or Cohere's rerank request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrieval {
    Embeddings,
    Rerank,
}

/// The body's fields as raw JSON, and its model.
pub struct EmbeddingsBody<'b> {
    fields: Vec<(Cow<'b, str>, &'b RawValue)>,
    model: String,
    input: &'b str,
    base64: bool,
    dimensions: Option<u64>,
    input_type: Option<String>,
    /// The input as texts, once a native body was built from it.
    texts: Vec<String>,
    /// When the request began (SigV4 signs with it).
    now_ms: u64,
    /// A rerank request's query and documents.
    rerank: Option<rerank::Ask>,
}

fn invalid(message: &str, param: &str) -> GatewayError {
    GatewayError::invalid_request(message.to_owned()).with_param(param)
}

/// The client's `input` as texts, for a provider's own API: token arrays
/// are OpenAI's alone.
fn texts_of(input: &str, d: &Deployment) -> Result<Vec<String>, GatewayError> {
    let texts = match serde_json::from_str::<Value>(input) {
        Ok(Value::String(s)) => Some(vec![s]),
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    texts.ok_or_else(|| {
        invalid(
            &format!(
                "Provider `{}` embeds text only (no token arrays).",
                d.provider.id
            ),
            "input",
        )
    })
}

/// Cohere's rerank request: `model`, `query`, `documents` (strings or
/// `{text}`), `top_n`, `return_documents`; other fields are not sent on.
fn parse_rerank(body: &[u8]) -> Result<(String, rerank::Ask), GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
    let text = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                invalid(&format!("Missing required parameter: `{name}`."), name)
                    .with_code("missing_required_parameter")
            })
    };
    let model = text("model")?;
    let query = text("query")?;
    let documents = v
        .get("documents")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .and_then(|docs| {
            docs.iter()
                .map(|d| Some(d.as_str().or_else(|| d.get("text")?.as_str())?.to_owned()))
                .collect::<Option<Vec<String>>>()
        })
        .ok_or_else(|| {
            invalid(
                "`documents` must be a non-empty list of strings or `{text}` objects.",
                "documents",
            )
        })?;
    let top_n = match v.get("top_n") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .filter(|&n| n > 0)
                .ok_or_else(|| invalid("`top_n` must be a positive integer.", "top_n"))?,
        ),
    };
    let return_documents = v.get("return_documents").and_then(Value::as_bool) == Some(true);
    let ask = rerank::Ask {
        query,
        documents,
        top_n,
        return_documents,
    };
    Ok((model, ask))
}

impl Ingress for Retrieval {
    type Parsed<'b> = EmbeddingsBody<'b>;
    // Embeddings never stream: the chat renderer stands in, unused.
    type Renderer = crate::ingress::openai_chat::ChunkRenderer;
    const ID_PREFIX: &'static str = "emb-";
    const COST_IN_BODY: bool = false;

    fn cache_format(&self) -> &'static str {
        match self {
            Retrieval::Embeddings => Self::ID_PREFIX,
            Retrieval::Rerank => "rerank-",
        }
    }

    fn parse<'b>(&self, body: &'b [u8], _: &HeaderMap) -> Result<EmbeddingsBody<'b>, GatewayError> {
        if *self == Retrieval::Rerank {
            let (model, ask) = parse_rerank(body)?;
            return Ok(EmbeddingsBody {
                fields: Vec::new(),
                model,
                input: "",
                base64: false,
                dimensions: None,
                input_type: None,
                texts: Vec::new(),
                now_ms: 0,
                rerank: Some(ask),
            });
        }
        let Fields(fields) = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
        let mut model = None;
        let mut has_input = false;
        let mut input = "";
        let mut base64 = false;
        let mut dimensions = None;
        let mut input_type = None;
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
                    input = json;
                }
                "encoding_format" => base64 = raw.get() == "\"base64\"",
                "dimensions" => {
                    dimensions = Some(raw.get().parse::<u64>().map_err(|_| {
                        invalid("`dimensions` must be a positive integer.", "dimensions")
                    })?)
                }
                "input_type" => input_type = serde_json::from_str(raw.get()).ok(),
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
        Ok(EmbeddingsBody {
            fields,
            model,
            input,
            base64,
            dimensions,
            input_type,
            texts: Vec::new(),
            now_ms: 0,
            rerank: None,
        })
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
        match self {
            Retrieval::Embeddings => native::api_of(d).is_some(),
            Retrieval::Rerank => rerank::api_of(d).is_some(),
        }
    }

    fn passthrough_body(
        &self,
        p: &mut EmbeddingsBody<'_>,
        d: &Deployment,
        drop_params: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        p.now_ms = ex.ts;
        if let (Some(ask), Some(api)) = (&p.rerank, rerank::api_of(d)) {
            return Ok(rerank::request_body(api, &d.upstream_model, ask));
        }
        let api = native::api_of(d).unwrap_or(Api::OpenAi);
        if api == Api::OpenAi {
            return Ok(with_model(&p.fields, &d.upstream_model));
        }
        p.texts = texts_of(p.input, d)?;
        let mut dimensions = p.dimensions;
        if dimensions.is_some() && !native::takes_dimensions(api, &d.upstream_model) {
            if !drop_params {
                return Err(invalid(
                    &format!(
                        "Provider `{}` (model `{}`) takes no `dimensions`; remove it, or set drop_params to leave it out.",
                        d.provider.id, d.upstream_model
                    ),
                    "dimensions",
                )
                .with_code("unsupported_parameter"));
            }
            dimensions = None;
            if !ex.adjusted.is_empty() {
                ex.adjusted.push(',');
            }
            ex.adjusted.push_str("dropped:dimensions");
        }
        if let Some(max) = native::max_inputs(api).filter(|&m| p.texts.len() > m) {
            return Err(invalid(
                &format!(
                    "Model `{}` on provider `{}` embeds {max} input per request, not {}: send them separately.",
                    d.upstream_model,
                    d.provider.id,
                    p.texts.len()
                ),
                "input",
            ));
        }
        Ok(native::request_body(
            api,
            &d.upstream_model,
            &p.texts,
            dimensions,
            p.input_type.as_deref(),
        ))
    }

    fn passthrough_request(
        &self,
        p: &EmbeddingsBody<'_>,
        body: Vec<u8>,
        d: &Deployment,
        token: Option<&Secret>,
        _: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        let json = "application/json";
        let base = d.api_base.trim_end_matches('/');
        if let (Some(_), Some(api)) = (&p.rerank, rerank::api_of(d)) {
            return post_json(d, &rerank::url(api, base), json, Auth::Bearer, body);
        }
        match native::api_of(d).unwrap_or(Api::OpenAi) {
            Api::OpenAi if d.codec() != crate::providers::Codec::OpenAiChat => {
                azure::request_to(d, &azure::url_for(d, "embeddings"), body, false)
            }
            Api::OpenAi => post_json(d, &format!("{base}/embeddings"), json, Auth::Bearer, body),
            Api::Gemini => {
                let url = gemini::url_for(d, "batchEmbedContents")?;
                gemini::request_to(d, &url, json, body, token)
            }
            Api::Vertex => {
                let url = gemini::url_for(d, "predict")?;
                gemini::request_to(d, &url, json, body, token)
            }
            Api::Titan | Api::BedrockCohere => {
                bedrock::request_to(d, &d.upstream_model, "invoke", body, false, p.now_ms)
            }
            Api::Cohere => {
                let base = base.strip_suffix("/v2").unwrap_or(base);
                post_json(d, &format!("{base}/v2/embed"), json, Auth::Bearer, body)
            }
            Api::Ollama => post_json(d, &ollama::api_url(base, "embed"), json, Auth::Bearer, body),
        }
    }

    fn passthrough_answer(
        &self,
        p: &EmbeddingsBody<'_>,
        body: Bytes,
        headers: &HeaderMap,
        d: &Deployment,
    ) -> Result<(Bytes, Option<Usage>), GatewayError> {
        if let (Some(ask), Some(api)) = (&p.rerank, rerank::api_of(d)) {
            let id = format!("rerank-{}", p.now_ms);
            let (body, usage) = rerank::cohere_answer(api, &body, ask, &id)?;
            return Ok((Bytes::from(body), Some(usage)));
        }
        match native::api_of(d) {
            Some(api) if api != Api::OpenAi => {
                let (body, usage) = native::openai_answer(
                    api,
                    &body,
                    headers,
                    &d.upstream_model,
                    p.base64,
                    &p.texts,
                )?;
                Ok((Bytes::from(body), Some(usage)))
            }
            _ => {
                let usage = self.usage_of(&body)?;
                Ok((body, usage))
            }
        }
    }

    fn unified(
        &self,
        _: &EmbeddingsBody<'_>,
        d: &Deployment,
        _: bool,
        _: bool,
        _: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        let (what, use_) = match self {
            Retrieval::Embeddings => (
                "embeddings",
                "OpenAI-format, Azure, Gemini, Vertex AI, Bedrock Titan or Cohere, Cohere, Ollama",
            ),
            Retrieval::Rerank => ("rerank", "Cohere, Jina AI, Voyage AI"),
        };
        Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            format!(
                "Provider `{}` (model `{}`) has no {what} API this gateway speaks; these do: {use_}.",
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
        openai_chat::usage_of(body)
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
#[cfg(test)]
mod tests;
