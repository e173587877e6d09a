//! What Gemini sends back (`GenerateContentResponse`, `google.rpc.Status`),
//! as far as the gateway reads it. Everything else is skipped unparsed.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

// Strings borrow from the body when they hold no escapes: a stream event is
// decoded per chunk, and most of its strings are read once and dropped.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Response<'a> {
    #[serde(borrow)]
    pub candidates: Vec<Candidate<'a>>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(borrow)]
    pub model_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub response_id: Option<Cow<'a, str>>,
    /// An error reported in-band (inside a stream) instead of an answer.
    pub error: Option<Status>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Candidate<'a> {
    #[serde(borrow)]
    pub content: Option<Content<'a>>,
    #[serde(borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
    pub index: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Content<'a> {
    #[serde(borrow)]
    pub parts: Vec<Part<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Part<'a> {
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    /// The text is a thought summary, not the answer.
    pub thought: bool,
    #[serde(borrow)]
    pub thought_signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub function_call: Option<FunctionCall<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FunctionCall<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub args: Option<&'a RawValue>,
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
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
    /// The audio part of the prompt, from `promptTokensDetails`.
    #[serde(rename = "promptTokensDetails", deserialize_with = "audio_tokens")]
    pub prompt_audio_tokens: u64,
    /// The audio part of the answer, from `candidatesTokensDetails`.
    #[serde(rename = "candidatesTokensDetails", deserialize_with = "audio_tokens")]
    pub candidates_audio_tokens: u64,
}

/// The `AUDIO` entries of a `[{"modality", "tokenCount"}]` list, summed as
/// the list is read (usage comes with every stream event: no allocation).
fn audio_tokens<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::de::{SeqAccess, Visitor};
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Count<'a> {
        #[serde(borrow, default)]
        modality: Option<Cow<'a, str>>,
        #[serde(default)]
        token_count: u64,
    }
    struct Sum;
    impl<'de> Visitor<'de> for Sum {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of modality token counts")
        }
        fn visit_unit<E>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut n = 0u64;
            while let Some(c) = seq.next_element::<Count<'de>>()? {
                if c.modality.as_deref() == Some("AUDIO") {
                    n = n.saturating_add(c.token_count);
                }
            }
            Ok(n)
        }
    }
    d.deserialize_any(Sum)
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
