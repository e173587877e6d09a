//! Anthropic Messages JSON as it travels on the wire, in both directions:
//! the codec serializes requests and reads responses and stream events with
//! these types, the Anthropic ingress reads requests and writes responses and
//! stream events with the same ones.
//!
//! Content blocks are one flat struct rather than an enum tagged by `type`:
//! serde buffers internally tagged enums, which costs time per stream event
//! and cannot hold borrowed raw JSON (`input`), and a flat struct keeps every
//! block type the API adds readable without a code change.

use std::borrow::Cow;

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One content block: text, image, document, tool_use, tool_result,
/// thinking, redacted_thinking, server_tool_use, web_search_tool_result, …
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Block<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    /// tool_use / server_tool_use arguments, as JSON.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub input: Option<&'a RawValue>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<Cow<'a, str>>,
    /// tool_result content: a string or blocks.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Cow<'a, str>>,
    /// redacted_thinking payload.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Cow<'a, str>>,
    /// image / document source.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source<'a>>,
    /// document title.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl<'a>>,
}

impl<'a> Block<'a> {
    pub fn text(text: impl Into<Cow<'a, str>>) -> Block<'a> {
        Block {
            kind: Cow::Borrowed("text"),
            text: Some(text.into()),
            ..Block::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Source<'a> {
    /// `base64`, `url`, `text`, `file`, `content`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheControl<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Cow<'a, str>>,
}

impl CacheControl<'static> {
    pub fn ephemeral() -> Self {
        CacheControl {
            kind: Cow::Borrowed("ephemeral"),
            ttl: None,
        }
    }
}

/// Message (and tool_result) content: a plain string or a list of blocks.
/// Server tool results put an object here; it is kept as it came.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
    Raw(&'a RawValue),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Looking at the first byte instead of `#[serde(untagged)]`: untagged
        // enums buffer their input, which loses borrowed raw JSON in blocks.
        let raw: &'de RawValue = Deserialize::deserialize(d)?;
        let json = raw.get();
        if json.starts_with('"') {
            let text: String = serde_json::from_str(json).map_err(serde::de::Error::custom)?;
            return Ok(Content::Text(Cow::Owned(text)));
        }
        if json.starts_with('[') {
            return serde_json::from_str(json)
                .map(Content::Blocks)
                .map_err(serde::de::Error::custom);
        }
        Ok(Content::Raw(raw))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub role: Cow<'a, str>,
    #[serde(borrow)]
    pub content: Content<'a>,
}

/// A client tool (`input_schema`) or, with a versioned `type`, a server tool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool<'a> {
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<&'a RawValue>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl<'a>>,
}

impl Tool<'_> {
    /// Server tools carry a versioned type (`web_search_20250305`); client
    /// tools have none or `custom`.
    pub fn is_server_tool(&self) -> bool {
        matches!(self.kind.as_deref(), Some(k) if k != "custom")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolChoice<'a> {
    /// `auto`, `any`, `tool`, `none`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThinkingConfig<'a> {
    /// `enabled`, `disabled`, `adaptive`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Cow<'a, str>>,
}

/// `output_config` (effort on models that take it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutputConfig<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Cow<'a, str>>,
}

/// A tool in the request body: a client tool, or a server tool as the client wrote it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RequestTool<'a> {
    Client(Tool<'a>),
    Raw(&'a RawValue),
}

/// The request body the codec sends.
#[derive(Debug, Serialize)]
pub struct Request<'a> {
    /// Absent on Vertex AI, where the URL names the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    /// Present only on Vertex AI (`vertex-2023-10-16`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<&'static str>,
    pub max_tokens: u32,
    pub messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<Block<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<RequestTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig<'a>>,
}

// ---- response side ------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, deserialize_with = "nullable_u64")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "nullable_u64")]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// `cache_creation_input_tokens` split by lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_geo: Option<crate::unified::Geo>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCreation {
    #[serde(default, deserialize_with = "nullable_u64")]
    pub ephemeral_5m_input_tokens: u64,
    #[serde(default, deserialize_with = "nullable_u64")]
    pub ephemeral_1h_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDetails {
    #[serde(default, deserialize_with = "nullable_u64")]
    pub thinking_tokens: u64,
}

fn nullable_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

/// A whole response (`"type": "message"`), also the `message` of `message_start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Response<'a> {
    #[serde(borrow, default)]
    pub id: Cow<'a, str>,
    #[serde(rename = "type", borrow, default = "message_type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default = "assistant_role")]
    pub role: Cow<'a, str>,
    #[serde(borrow, default)]
    pub model: Cow<'a, str>,
    #[serde(borrow, default)]
    pub content: Vec<Block<'a>>,
    #[serde(borrow, default)]
    pub stop_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub stop_sequence: Option<Cow<'a, str>>,
    #[serde(default)]
    pub usage: Usage,
}

fn message_type() -> Cow<'static, str> {
    Cow::Borrowed("message")
}

fn assistant_role() -> Cow<'static, str> {
    Cow::Borrowed("assistant")
}

/// One stream event's data: `message_start`, `content_block_start`,
/// `content_block_delta`, `content_block_stop`, `message_delta`,
/// `message_stop`, `ping`, `error`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Event<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Response<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content_block: Option<Block<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<EventDelta<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail<'a>>,
}

/// `content_block_delta.delta` (typed) and `message_delta.delta` (stop reason).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventDelta<'a> {
    /// `text_delta`, `input_json_delta`, `thinking_delta`, `signature_delta`,
    /// `citations_delta`; absent in `message_delta`.
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<Cow<'a, str>>,
}

/// `{"type":"error","error":{"type","message"}}`, as a body or a stream event.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody<'a> {
    #[serde(borrow)]
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorDetail<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub message: Cow<'a, str>,
}
