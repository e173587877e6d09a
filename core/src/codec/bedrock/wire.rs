//! Bedrock Converse response and ConverseStream event shapes, as far as the
//! gateway reads them (botocore's `bedrock-runtime` service model names them).
//! Members the gateway has no use for are skipped by serde.

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    #[serde(default)]
    pub output: Option<Output>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

#[derive(Debug, Deserialize)]
pub struct Output {
    #[serde(default)]
    pub message: Option<OutputMessage>,
}

#[derive(Debug, Deserialize)]
pub struct OutputMessage {
    #[serde(default)]
    pub content: Vec<ContentBlock>,
}

/// A union on the wire: exactly one member is set. Unknown members (images,
/// citations, ...) leave all of these `None` and the block is skipped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlock {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUse>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningContent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse {
    pub tool_use_id: String,
    pub name: String,
    pub input: Box<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningContent {
    #[serde(default)]
    pub reasoning_text: Option<ReasoningText>,
    /// Base64 of the encrypted reasoning (a JSON blob).
    #[serde(default)]
    pub redacted_content: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReasoningText {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub signature: Option<String>,
}

/// `inputTokens` excludes the cached prompt, as in Anthropic's API.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_write_input_tokens: u64,
    /// The 1-hour part of the cache writes, from `cacheDetails`
    /// (`[{"ttl": "1h" | "5m", "inputTokens": n}]`).
    #[serde(rename = "cacheDetails", deserialize_with = "one_hour_writes")]
    pub cache_write_1h_tokens: u64,
}

fn one_hour_writes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Detail<'a> {
        #[serde(borrow, default)]
        ttl: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        input_tokens: u64,
    }
    let details: Option<Vec<Detail<'de>>> = Deserialize::deserialize(d)?;
    Ok(details
        .unwrap_or_default()
        .iter()
        .filter(|d| d.ttl.as_deref() == Some("1h"))
        .map(|d| d.input_tokens)
        .sum())
}

// ---- ConverseStream events: the payload of each eventstream message ------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    #[serde(default)]
    pub content_block_index: u32,
    #[serde(default)]
    pub start: Option<Start>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    #[serde(default)]
    pub tool_use: Option<ToolUseStart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    #[serde(default)]
    pub content_block_index: u32,
    pub delta: BlockDelta,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningDelta>,
}

#[derive(Debug, Deserialize)]
pub struct ToolUseDelta {
    #[serde(default)]
    pub input: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub redacted_content: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

/// Error bodies (HTTP errors and exception events): `message`, sometimes
/// `Message`; the type in `__type` or `code` when not in a header.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, alias = "Message")]
    pub message: Option<String>,
    #[serde(default, rename = "__type")]
    pub dunder_type: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    /// ModelStreamErrorException: what the model itself answered.
    #[serde(default, rename = "originalStatusCode")]
    pub original_status_code: Option<u16>,
}
