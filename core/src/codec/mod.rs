//! Upstream wire formats. Each codec is pure translation: it builds requests
//! and reads responses, streams and errors, and never sends anything.
//!
//! The functions here dispatch on [`Codec`] with a plain `match`: adding a
//! format is one module and one arm in each function below.

pub mod mock;
pub mod openai_chat;

pub mod azure;
pub mod cohere;
pub mod ollama;
#[cfg(test)]
pub(crate) mod test_support;
mod upstream_error;

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
    _ctx: &EncodeContext,
) -> Result<http::Request<Bytes>, GatewayError> {
    match deployment.codec() {
        Codec::OpenAiChat => openai_chat::encode(req, deployment),
        Codec::AzureOpenAi | Codec::AzureAi => azure::encode(req, deployment),
        Codec::Cohere => cohere::encode(req, deployment),
        Codec::Ollama => ollama::encode(req, deployment),
        Codec::Mock => Err(no_wire_format()),
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

pub fn decode_response(codec: Codec, body: &[u8]) -> Result<ChatResponse, GatewayError> {
    match codec {
        Codec::OpenAiChat | Codec::AzureOpenAi | Codec::AzureAi => {
            openai_chat::decode_response(body)
        }
        Codec::Cohere => cohere::decode_response(body),
        Codec::Ollama => ollama::decode_response(body),
        Codec::Mock => Err(no_wire_format()),
    }
}

pub fn error_decoder(codec: Codec) -> ErrorDecoder {
    match codec {
        Codec::OpenAiChat | Codec::Mock => openai_chat::decode_error,
        Codec::AzureOpenAi | Codec::AzureAi => azure::decode_error,
        Codec::Cohere => cohere::decode_error,
        Codec::Ollama => ollama::decode_error,
    }
}

/// Incremental decoding of an upstream stream into unified chunks.
pub enum StreamDecoder {
    OpenAiChat(openai_chat::StreamDecoder),
    Azure(azure::StreamDecoder),
    Cohere(cohere::StreamDecoder),
    Ollama(ollama::StreamDecoder),
}

impl StreamDecoder {
    pub fn new(codec: Codec) -> Result<StreamDecoder, GatewayError> {
        match codec {
            Codec::OpenAiChat => Ok(StreamDecoder::OpenAiChat(openai_chat::StreamDecoder::new())),
            Codec::AzureOpenAi | Codec::AzureAi => {
                Ok(StreamDecoder::Azure(azure::StreamDecoder::new()))
            }
            Codec::Cohere => Ok(StreamDecoder::Cohere(cohere::StreamDecoder::new())),
            Codec::Ollama => Ok(StreamDecoder::Ollama(ollama::StreamDecoder::new())),
            Codec::Mock => Err(no_wire_format()),
        }
    }

    /// Feeds bytes as they arrive; returns the chunks they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        match self {
            StreamDecoder::OpenAiChat(d) => d.push(bytes),
            StreamDecoder::Azure(d) => d.push(bytes),
            StreamDecoder::Cohere(d) => d.push(bytes),
            StreamDecoder::Ollama(d) => d.push(bytes),
        }
    }

    /// The upstream body ended: whatever its last bytes complete.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        match self {
            StreamDecoder::OpenAiChat(d) => d.finish(),
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
