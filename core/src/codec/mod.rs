//! Upstream wire formats. Each codec is pure translation: it builds requests
//! and reads responses, streams and errors, and never sends anything.
//!
//! The functions here dispatch on [`Codec`] with a plain `match`: adding a
//! format is one module and one arm in each function below.

pub mod anthropic;
pub mod bedrock;
pub mod gemini;
pub mod mock;
pub mod openai_chat;
pub mod openai_responses;
pub mod request;

pub mod azure;
pub mod cohere;
pub mod embeddings;
pub mod ollama;
pub mod rerank;
#[cfg(test)]
pub(crate) mod test_support;
mod upstream_error;
pub use upstream_error::redact_credentials;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::{ErrorKind, GatewayError};
use crate::providers::Codec;
use crate::resolve::Deployment;
use crate::unified::{ChatChunk, ChatRequest, ChatResponse};

/// Reads an upstream's error response into the gateway's error.
pub type ErrorDecoder = fn(StatusCode, &HeaderMap, &[u8], &Deployment) -> GatewayError;

/// Everything an encoder may need besides the request and the deployment.
pub struct EncodeContext {
    /// Wall-clock time, for request signing (SigV4).
    pub now_ms: u64,
    /// A short-lived bearer token minted before encoding (Vertex AI OAuth).
    pub access_token: Option<crate::secret::Secret>,
}

pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
    ctx: &EncodeContext,
) -> Result<http::Request<Bytes>, GatewayError> {
    match deployment.codec() {
        Codec::OpenAiChat => openai_chat::encode(req, deployment),
        Codec::OpenAiResponses => openai_responses::encode(req, deployment),
        Codec::Gemini => gemini::encode(req, deployment, ctx),
        Codec::Bedrock => bedrock::encode(req, deployment, ctx),
        Codec::AzureOpenAi | Codec::AzureAi => azure::encode(req, deployment),
        Codec::Cohere => cohere::encode(req, deployment),
        Codec::Ollama => ollama::encode(req, deployment),
        Codec::Mock => Err(no_wire_format()),
        Codec::Anthropic => anthropic::encode(req, deployment, ctx, anthropic::Target::Anthropic),
        Codec::AnthropicVertex => {
            anthropic::encode(req, deployment, ctx, anthropic::Target::Vertex)
        }
    }
}

/// Whether `codec` speaks OpenAI's chat format, so an OpenAI client's body
/// can be forwarded as sent.
pub fn speaks_openai_chat(codec: Codec) -> bool {
    matches!(
        codec,
        Codec::OpenAiChat | Codec::AzureOpenAi | Codec::AzureAi
    )
}

/// For upstreams that speak OpenAI's chat format: the request around an
/// already-rendered body (URL and auth differ per provider).
pub fn build_openai_format_request(
    deployment: &Deployment,
    body: Vec<u8>,
    stream: bool,
) -> Result<http::Request<Bytes>, GatewayError> {
    match deployment.codec() {
        Codec::AzureOpenAi | Codec::AzureAi => azure::build_request(deployment, body, stream),
        _ => openai_chat::build_request(deployment, body, stream),
    }
}

/// The `usage` of a same-format whole answer, in the upstream's own shape.
pub fn usage_in<U: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<U>, GatewayError> {
    #[derive(serde::Deserialize)]
    struct Probe<U> {
        #[serde(default = "Option::default")]
        usage: Option<U>,
    }
    let probe: Probe<U> = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            ErrorKind::UpstreamUnavailable,
            format!("The upstream returned a body that is not JSON: {e}."),
        )
        .with_code("invalid_upstream_response")
    })?;
    Ok(probe.usage)
}

/// What a decoder needs besides the upstream's bytes. Formats that leave out
/// an answer's id, model or time (Bedrock names none of them, Anthropic and
/// Cohere no time) take them from here, so what a decoder returns is
/// complete: nothing is stamped on afterwards.
#[derive(Debug, Clone, Copy)]
pub struct DecodeContext<'a> {
    /// When the request was made, in milliseconds since the epoch.
    pub now_ms: u64,
    /// The model the deployment called.
    pub model: &'a str,
    /// How ids the gateway makes up begin, in the client's format
    /// (`chatcmpl-` for OpenAI's, `msg_` for Anthropic's).
    pub id_prefix: &'static str,
}

impl DecodeContext<'_> {
    /// Creation time in seconds, as the formats that carry one say it.
    pub fn created(&self) -> u64 {
        self.now_ms / 1000
    }

    /// An id for an answer whose upstream named none.
    pub fn new_id(&self) -> String {
        format!("{}dx{:x}", self.id_prefix, self.now_ms)
    }

    /// The upstream's id, or a new one when it sent none.
    pub fn id_or_new(&self, id: String) -> String {
        if id.is_empty() {
            self.new_id()
        } else {
            id
        }
    }

    /// The model the upstream named, else the one the deployment called.
    pub fn model_or_called(&self, model: String) -> String {
        if model.is_empty() {
            self.model.to_owned()
        } else {
            model
        }
    }

    /// The upstream's creation time, else the request's.
    pub fn created_or_now(&self, created: u64) -> u64 {
        if created == 0 {
            self.created()
        } else {
            created
        }
    }
}

pub fn decode_response(
    codec: Codec,
    body: &[u8],
    ctx: &DecodeContext<'_>,
) -> Result<ChatResponse, GatewayError> {
    match codec {
        Codec::OpenAiResponses => openai_responses::decode_response(body, ctx),
        Codec::Gemini => gemini::decode_response(body, ctx),
        Codec::Bedrock => bedrock::decode_response(body, ctx),
        Codec::OpenAiChat | Codec::AzureOpenAi | Codec::AzureAi => {
            openai_chat::decode_response(body, ctx)
        }
        Codec::Cohere => cohere::decode_response(body, ctx),
        Codec::Ollama => ollama::decode_response(body, ctx),
        Codec::Mock => Err(no_wire_format()),
        Codec::Anthropic | Codec::AnthropicVertex => anthropic::decode_response(body, ctx),
    }
}

pub fn error_decoder(codec: Codec) -> ErrorDecoder {
    match codec {
        Codec::OpenAiChat | Codec::Mock => openai_chat::decode_error,
        // The Responses API reports errors in the Chat Completions shape.
        Codec::OpenAiResponses => openai_chat::decode_error,
        Codec::Gemini => gemini::decode_error,
        Codec::Bedrock => bedrock::decode_error,
        Codec::Anthropic | Codec::AnthropicVertex => anthropic::decode_error,
        Codec::AzureOpenAi | Codec::AzureAi => azure::decode_error,
        Codec::Cohere => cohere::decode_error,
        Codec::Ollama => ollama::decode_error,
    }
}

/// Incremental decoding of an upstream stream into unified chunks.
pub enum StreamDecoder {
    OpenAiChat(openai_chat::StreamDecoder),
    OpenAiResponses(openai_responses::StreamDecoder),
    Gemini(gemini::StreamDecoder),
    Bedrock(bedrock::StreamDecoder),
    Anthropic(anthropic::StreamDecoder),
    Azure(azure::StreamDecoder),
    Cohere(cohere::StreamDecoder),
    Ollama(ollama::StreamDecoder),
}

impl StreamDecoder {
    pub fn new(codec: Codec, ctx: &DecodeContext<'_>) -> Result<StreamDecoder, GatewayError> {
        match codec {
            Codec::OpenAiChat => Ok(StreamDecoder::OpenAiChat(openai_chat::StreamDecoder::new(
                ctx,
            ))),
            Codec::OpenAiResponses => Ok(StreamDecoder::OpenAiResponses(
                openai_responses::StreamDecoder::new(ctx),
            )),
            Codec::Gemini => Ok(StreamDecoder::Gemini(gemini::StreamDecoder::new(ctx))),
            Codec::Bedrock => Ok(StreamDecoder::Bedrock(bedrock::StreamDecoder::new(ctx))),
            Codec::AzureOpenAi | Codec::AzureAi => {
                Ok(StreamDecoder::Azure(azure::StreamDecoder::new(ctx)))
            }
            Codec::Cohere => Ok(StreamDecoder::Cohere(cohere::StreamDecoder::new(ctx))),
            Codec::Ollama => Ok(StreamDecoder::Ollama(ollama::StreamDecoder::new(ctx))),
            Codec::Mock => Err(no_wire_format()),
            Codec::Anthropic | Codec::AnthropicVertex => {
                Ok(StreamDecoder::Anthropic(anthropic::StreamDecoder::new(ctx)))
            }
        }
    }

    /// Feeds bytes as they arrive; returns the chunks they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        match self {
            StreamDecoder::OpenAiChat(d) => d.push(bytes),
            StreamDecoder::OpenAiResponses(d) => d.push(bytes),
            StreamDecoder::Gemini(d) => d.push(bytes),
            StreamDecoder::Bedrock(d) => d.push(bytes),
            StreamDecoder::Anthropic(d) => d.push(bytes),
            StreamDecoder::Azure(d) => d.push(bytes),
            StreamDecoder::Cohere(d) => d.push(bytes),
            StreamDecoder::Ollama(d) => d.push(bytes),
        }
    }

    /// The upstream body ended: whatever its last bytes complete.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        match self {
            StreamDecoder::OpenAiChat(d) => d.finish(),
            StreamDecoder::OpenAiResponses(d) => d.finish(),
            StreamDecoder::Gemini(d) => d.finish(),
            StreamDecoder::Bedrock(d) => d.finish(),
            StreamDecoder::Anthropic(d) => d.finish(),
            StreamDecoder::Azure(d) => d.finish(),
            StreamDecoder::Cohere(d) => d.finish(),
            StreamDecoder::Ollama(d) => d.finish(),
        }
    }

    /// The upstream signalled the end of its answer in-band (`[DONE]`,
    /// `message_stop`, …). A stream that ends without it, and without a
    /// finish reason, was cut.
    pub fn is_done(&self) -> bool {
        match self {
            StreamDecoder::OpenAiChat(d) => d.is_done(),
            StreamDecoder::OpenAiResponses(d) => d.is_done(),
            StreamDecoder::Gemini(d) => d.is_done(),
            StreamDecoder::Bedrock(d) => d.is_done(),
            StreamDecoder::Anthropic(d) => d.is_done(),
            StreamDecoder::Azure(d) => d.is_done(),
            StreamDecoder::Cohere(d) => d.is_done(),
            StreamDecoder::Ollama(d) => d.is_done(),
        }
    }
}

fn no_wire_format() -> GatewayError {
    GatewayError::new(
        ErrorKind::Configuration,
        "The mock provider has no wire format to encode.",
    )
}
