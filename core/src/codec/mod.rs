//! Upstream wire formats. Each codec is pure translation: it builds requests
//! and reads responses, streams and errors, and never sends anything.
//!
//! The functions here dispatch on [`Codec`] with a plain `match`: adding a
//! format is one module and one arm in each function below.

pub mod anthropic;
pub mod mock;
pub mod openai_chat;

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
        Codec::Mock => Err(no_wire_format()),
        Codec::Anthropic => anthropic::encode(req, deployment, ctx, anthropic::Target::Anthropic),
        Codec::AnthropicVertex => {
            anthropic::encode(req, deployment, ctx, anthropic::Target::Vertex)
        }
    }
}

pub fn decode_response(codec: Codec, body: &[u8]) -> Result<ChatResponse, GatewayError> {
    match codec {
        Codec::OpenAiChat => openai_chat::decode_response(body),
        Codec::Mock => Err(no_wire_format()),
        Codec::Anthropic | Codec::AnthropicVertex => anthropic::decode_response(body),
    }
}

pub fn error_decoder(codec: Codec) -> ErrorDecoder {
    match codec {
        Codec::OpenAiChat | Codec::Mock => openai_chat::decode_error,
        Codec::Anthropic | Codec::AnthropicVertex => anthropic::decode_error,
    }
}

/// Incremental decoding of an upstream stream into unified chunks.
pub enum StreamDecoder {
    OpenAiChat(openai_chat::StreamDecoder),
    Anthropic(anthropic::StreamDecoder),
}

impl StreamDecoder {
    pub fn new(codec: Codec) -> Result<StreamDecoder, GatewayError> {
        match codec {
            Codec::OpenAiChat => Ok(StreamDecoder::OpenAiChat(openai_chat::StreamDecoder::new())),
            Codec::Mock => Err(no_wire_format()),
            Codec::Anthropic | Codec::AnthropicVertex => {
                Ok(StreamDecoder::Anthropic(anthropic::StreamDecoder::new()))
            }
        }
    }

    /// Time stamp (seconds) for chunks of formats that carry none.
    pub fn with_created(mut self, created: u64) -> Self {
        match &mut self {
            StreamDecoder::OpenAiChat(_) => {}
            StreamDecoder::Anthropic(d) => d.set_created(created),
        }
        self
    }

    /// Feeds bytes as they arrive; returns the chunks they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, GatewayError> {
        match self {
            StreamDecoder::OpenAiChat(d) => d.push(bytes),
            StreamDecoder::Anthropic(d) => d.push(bytes),
        }
    }

    /// The upstream body ended: whatever its last bytes complete.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError> {
        match self {
            StreamDecoder::OpenAiChat(d) => d.finish(),
            StreamDecoder::Anthropic(d) => d.finish(),
        }
    }

    /// The upstream signalled the end of its answer in-band (`[DONE]`,
    /// `message_stop`, …). A stream that ends without it, and without a
    /// finish reason, was cut.
    pub fn is_done(&self) -> bool {
        match self {
            StreamDecoder::OpenAiChat(d) => d.is_done(),
            StreamDecoder::Anthropic(d) => d.is_done(),
        }
    }
}

fn no_wire_format() -> GatewayError {
    GatewayError::new(
        ErrorKind::Configuration,
        "The mock provider has no wire format to encode.",
    )
}
