//! The gateway's one representation of a chat exchange. Every ingress format is
//! parsed into these types and every codec renders them: a superset of what
//! the supported formats can say, so translation loses nothing a client sent.

use serde_json::value::RawValue;

/// Who speaks a turn. There is no tool role: a tool result is a
/// [`Part::ToolResult`] in a user turn, whichever way the client sent it
/// (OpenAI's `role: "tool"` messages become such turns at the ingress), so
/// every encoder and the mock look for results in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// Prompt-cache breakpoint (Anthropic `cache_control`), kept wherever a
/// client puts it: on any part Anthropic takes one on (text, image,
/// document, tool use, tool result) and on tool definitions. Encoders for
/// formats without breakpoints leave it out; Bedrock's is a `cachePoint`
/// block after the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheControl {
    pub kind: String,
    pub ttl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    Url(String),
    Base64 { media_type: String, data: String },
}

/// One content block of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        cache_control: Option<CacheControl>,
    },
    Image {
        source: MediaSource,
        detail: Option<String>,
        cache_control: Option<CacheControl>,
    },
    Document {
        source: MediaSource,
        name: Option<String>,
        cache_control: Option<CacheControl>,
    },
    Audio {
        data: String,
        format: String,
    },
    /// The assistant asks for a tool; `arguments` is JSON text as the model wrote it.
    ToolUse {
        id: String,
        name: String,
        arguments: String,
        cache_control: Option<CacheControl>,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<Part>,
        is_error: bool,
        cache_control: Option<CacheControl>,
    },
    Thinking {
        text: String,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

impl Part {
    /// The cache breakpoint after this part, if the client set one.
    pub fn cache_control(&self) -> Option<&CacheControl> {
        match self {
            Part::Text { cache_control, .. }
            | Part::Image { cache_control, .. }
            | Part::Document { cache_control, .. }
            | Part::ToolUse { cache_control, .. }
            | Part::ToolResult { cache_control, .. } => cache_control.as_ref(),
            Part::Audio { .. } | Part::Thinking { .. } | Part::RedactedThinking { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
    pub name: Option<String>,
}

impl Message {
    /// Whether this turn answers tool calls.
    pub fn has_tool_results(&self) -> bool {
        self.content
            .iter()
            .any(|p| matches!(p, Part::ToolResult { .. }))
    }

    /// The text blocks of this turn, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            match part {
                Part::Text { text, .. } => out.push_str(text),
                Part::ToolResult { content, .. } => {
                    for inner in content {
                        if let Part::Text { text, .. } = inner {
                            out.push_str(text);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments, as the client wrote it.
    pub parameters: Option<Box<RawValue>>,
    pub strict: Option<bool>,
    pub cache_control: Option<CacheControl>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// The model must call some tool (`required` / Anthropic `any`).
    Required,
    Named(String),
}

#[derive(Debug, Clone)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Option<Box<RawValue>>,
        strict: Option<bool>,
    },
}

/// Extended thinking as a client asked for it (Anthropic's `thinking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// Think with at most this many tokens.
    Enabled {
        budget_tokens: u32,
    },
    /// The model decides how much to think (`{"type":"adaptive"}`).
    Adaptive,
    Disabled,
}

/// A tool the provider runs itself (Anthropic web search, code execution, …),
/// kept as the client wrote it: only providers of the same family can honour it.
#[derive(Debug, Clone)]
pub struct ServerTool {
    /// The versioned tool type, e.g. `web_search_20250305`.
    pub kind: String,
    pub name: String,
    pub raw: Box<RawValue>,
}

#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub stream: bool,
    pub include_usage: bool,
    pub n: Option<u32>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub user: Option<String>,
    pub response_format: Option<ResponseFormat>,
    pub reasoning_effort: Option<String>,
    pub logprobs: Option<bool>,
    pub top_logprobs: Option<u32>,
    /// Explicit thinking settings; `reasoning_effort` is the coarse alternative.
    pub thinking: Option<Thinking>,
    pub top_k: Option<u32>,
    pub server_tools: Vec<ServerTool>,
    /// Anthropic beta features the client asked for (`anthropic-beta`).
    pub anthropic_beta: Vec<String>,
    /// Fields the ingress did not interpret, carried to same-format upstreams.
    pub extra: Vec<(String, Box<RawValue>)>,
    /// OpenAI-format encoders send `max_tokens` as `max_completion_tokens`
    /// (the reasoning models refuse the old name). Set by the quirk stage.
    pub use_max_completion_tokens: bool,
}

/// Where the provider says it ran a request (Anthropic's
/// `usage.inference_geo`: `us`, `global`, ...): lowercase ASCII, at most 15
/// bytes, kept inline so usage stays `Copy`. Anything else an upstream sends there is
/// dropped, never priced.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Geo {
    len: u8,
    bytes: [u8; 15],
}

impl Geo {
    /// `None` for an empty, long or non-ASCII-word value.
    pub fn parse(s: &str) -> Option<Geo> {
        let s = s.trim();
        let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if s.is_empty() || s.len() > 15 || !s.bytes().all(ok) {
            return None;
        }
        let mut bytes = [0u8; 15];
        for (d, b) in bytes.iter_mut().zip(s.bytes()) {
            *d = b.to_ascii_lowercase();
        }
        Some(Geo {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        std::str::from_utf8(bytes).unwrap_or("")
    }
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Geo({:?})", self.as_str())
    }
}

impl serde::Serialize for Geo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Geo {
    /// Never fails: a value that is no short region name reads as the
    /// empty geo, which prices like none (an upstream cannot break the
    /// usage it reports with an odd geo).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Geo, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d).unwrap_or_default();
        Ok(Geo::parse(&text).unwrap_or_default())
    }
}

/// Token counts as an upstream reported them, in one meaning for every
/// format: each `*_tokens` field below `input_tokens` / `output_tokens` is a
/// part of that total, priced apart where a model prices it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// All prompt tokens, cached ones included (OpenAI's `prompt_tokens`).
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    /// Every cache write, whatever its lifetime.
    pub cache_write_tokens: u64,
    /// Part of `cache_write_tokens` kept for an hour (Anthropic's
    /// `ephemeral_1h_input_tokens`), dearer than the 5-minute kind.
    pub cache_write_1h_tokens: u64,
    /// Part of `output_tokens` spent reasoning.
    pub reasoning_tokens: u64,
    /// Part of `input_tokens` that was audio.
    pub input_audio_tokens: u64,
    /// Part of `output_tokens` that was audio.
    pub output_audio_tokens: u64,
    /// Where the provider says it ran the request (Anthropic's
    /// `usage.inference_geo`); some models cost more in some geos.
    pub inference_geo: Option<Geo>,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// Anything else an upstream says, verbatim.
    Other(String),
}

impl FinishReason {
    pub fn as_openai(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(s) => s,
        }
    }

    pub fn from_openai(s: &str) -> FinishReason {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub index: u32,
    /// Text, tool uses and thinking, in the order the model produced them.
    pub content: Vec<Part>,
    pub refusal: Option<String>,
    pub finish_reason: Option<FinishReason>,
}

impl Choice {
    pub fn text(&self) -> Option<String> {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.concat())
    }

    pub fn tool_uses(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.content.iter().filter_map(|p| match p {
            Part::ToolUse {
                id,
                name,
                arguments,
                ..
            } => Some((id.as_str(), name.as_str(), arguments.as_str())),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCallDelta {
    /// Position of the call within the turn: deltas with one index belong together.
    pub index: u32,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta {
    pub role: Option<Role>,
    pub text: Option<String>,
    pub reasoning: Option<String>,
    /// Signature closing the reasoning streamed so far (Anthropic `signature_delta`).
    pub reasoning_signature: Option<String>,
    /// An encrypted reasoning block, whole (Anthropic `redacted_thinking`).
    pub redacted_reasoning: Option<String>,
    pub refusal: Option<String>,
    pub tool_calls: Vec<ToolCallDelta>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<FinishReason>,
}

/// One streamed increment of a response.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatChunk {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<Usage>,
}
