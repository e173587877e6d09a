//! OpenAI Chat Completions JSON, as it travels on the wire in both directions.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

// ---- request side -------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// LiteLLM's breakpoint on a whole message: its string content's, or a
    /// tool message's result.
    #[serde(default)]
    pub cache_control: Option<CacheControl>,
    /// LiteLLM's `thinking_blocks`: the assistant's thinking with the
    /// signatures Anthropic needs to be given it back.
    #[serde(default)]
    pub thinking_blocks: Option<Vec<ThinkingBlock>>,
}

/// One of LiteLLM's `thinking_blocks` (on a message, or a piece of one on a
/// stream delta): `{"type":"thinking","thinking","signature"}` or
/// `{"type":"redacted_thinking","data"}`.
#[derive(Debug, Deserialize, Serialize, Default)]
pub struct ThinkingBlock {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl ThinkingBlock {
    /// The block as a unified part; `None` for a type it does not know.
    pub fn into_part(self) -> Option<crate::unified::Part> {
        Some(match self.kind.as_str() {
            "thinking" => crate::unified::Part::Thinking {
                text: self.thinking.unwrap_or_default(),
                signature: self.signature.filter(|s| !s.is_empty()),
            },
            "redacted_thinking" => crate::unified::Part::RedactedThinking {
                data: self.data.unwrap_or_default(),
            },
            _ => return None,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum ContentPart {
    #[serde(rename = "text")]
    Text {
        text: String,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    #[serde(rename = "image_url")]
    ImageUrl {
        image_url: ImageUrl,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    #[serde(rename = "input_audio")]
    InputAudio { input_audio: InputAudio },
    #[serde(rename = "file")]
    File {
        file: FileRef,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    #[serde(rename = "refusal")]
    Refusal { refusal: String },
}

#[derive(Debug, Deserialize)]
pub struct CacheControl {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ImageUrl {
    Object {
        url: String,
        #[serde(default)]
        detail: Option<String>,
    },
    Bare(String),
}

#[derive(Debug, Deserialize)]
pub struct InputAudio {
    pub data: String,
    pub format: String,
}

#[derive(Debug, Deserialize)]
pub struct FileRef {
    #[serde(default)]
    pub file_data: Option<String>,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Deserialize, Serialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionDef,
    /// LiteLLM's breakpoint after this tool definition.
    #[serde(default)]
    pub cache_control: Option<CacheControl>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Box<RawValue>>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Named { function: NamedFunction },
}

#[derive(Debug, Deserialize)]
pub struct NamedFunction {
    pub name: String,
}

/// A struct, not an internally tagged enum: serde buffers tagged enums,
/// and the buffered form cannot hand out the schema as `RawValue`.
#[derive(Debug, Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub json_schema: Option<JsonSchema>,
}

/// `response_format` read as a plain struct first: serde buffers an
/// internally tagged enum, and the schema's `RawValue` cannot be read from
/// that buffer ("invalid type: newtype struct").
#[derive(Debug, Deserialize)]
pub struct JsonSchema {
    pub name: String,
    #[serde(default)]
    pub schema: Option<Box<RawValue>>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

// ---- response side ------------------------------------------------------

#[derive(Debug, Deserialize, Serialize, Default, Clone, Copy)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone, Copy)]
pub struct PromptDetails {
    #[serde(default, deserialize_with = "nullable_u64")]
    pub cached_tokens: u64,
    /// Not OpenAI's own field; several compatible providers report cache writes here.
    #[serde(
        default,
        deserialize_with = "nullable_u64",
        skip_serializing_if = "is_zero"
    )]
    pub cache_creation_tokens: u64,
    #[serde(
        default,
        deserialize_with = "nullable_u64",
        skip_serializing_if = "is_zero"
    )]
    pub audio_tokens: u64,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone, Copy)]
pub struct CompletionDetails {
    #[serde(default, deserialize_with = "nullable_u64")]
    pub reasoning_tokens: u64,
    #[serde(
        default,
        deserialize_with = "nullable_u64",
        skip_serializing_if = "is_zero"
    )]
    pub audio_tokens: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn nullable_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

#[derive(Debug, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ResponseChoice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseChoice {
    #[serde(default)]
    pub index: u32,
    pub message: ResponseMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Signed thinking from an upstream that speaks LiteLLM's dialect.
    #[serde(default)]
    pub thinking_blocks: Option<Vec<ThinkingBlock>>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Deserialize)]
pub struct Chunk {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<ChunkDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ChunkDelta {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default, alias = "reasoning")]
    pub reasoning_content: Option<String>,
    /// LiteLLM's pieces of thinking blocks: what they add to
    /// `reasoning_content` is the signature and redacted blocks.
    #[serde(default)]
    pub thinking_blocks: Option<Vec<ThinkingBlock>>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// The error body OpenAI and most compatible providers send.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ErrorDetail {
    Object {
        #[serde(default)]
        message: Option<String>,
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        param: Option<serde_json::Value>,
        #[serde(default)]
        code: Option<serde_json::Value>,
    },
    Text(String),
}
