//! What Gemini sends back (`GenerateContentResponse`, `google.rpc.Status`),
//! as far as the gateway reads it. Everything else is skipped unparsed.

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Response {
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// An error reported in-band (inside a stream) instead of an answer.
    pub error: Option<Status>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Candidate {
    pub content: Option<Content>,
    pub finish_reason: Option<String>,
    pub index: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Content {
    pub parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Part {
    pub text: Option<String>,
    /// The text is a thought summary, not the answer.
    pub thought: bool,
    pub thought_signature: Option<String>,
    pub function_call: Option<FunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FunctionCall {
    pub name: String,
    pub args: Option<Box<RawValue>>,
    pub id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PromptFeedback {
    pub block_reason: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UsageMetadata {
    pub prompt_token_count: u64,
    pub candidates_token_count: u64,
    pub thoughts_token_count: u64,
    pub cached_content_token_count: u64,
    pub tool_use_prompt_token_count: u64,
}

/// `google.rpc.Status`: `{"code","message","status","details":[...]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub status: Option<String>,
    pub details: Vec<Detail>,
}

/// One `details` entry; only the fields of `ErrorInfo` and `RetryInfo` matter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Detail {
    #[serde(rename = "@type")]
    pub kind: Option<String>,
    pub reason: Option<String>,
    pub retry_delay: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: Status,
}

/// Error bodies come as an object, or wrapped in a one-element array
/// (`streamGenerateContent` without `alt=sse`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ErrorEnvelope {
    One(ErrorBody),
    Many(Vec<ErrorBody>),
}

impl ErrorEnvelope {
    pub fn into_status(self) -> Option<Status> {
        match self {
            ErrorEnvelope::One(b) => Some(b.error),
            ErrorEnvelope::Many(v) => v.into_iter().next().map(|b| b.error),
        }
    }
}
