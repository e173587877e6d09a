//! OpenAI Chat Completions ingress: `POST /v1/chat/completions`.
//!
//! The body is first read as an envelope: its top-level fields kept as raw JSON
//! slices in their original order, with only what routing needs interpreted.
//! A same-format upstream gets those slices back with the model swapped (no
//! re-encoding of messages); other upstreams get the full unified request.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::codec::openai_chat::{role_from_openai, usage_to_wire, wire};
use crate::cost::splice_cost;
use crate::error::GatewayError;
pub(crate) use crate::raw_json::Fields;
use crate::stream::Renderer;
use crate::unified::{
    CacheControl, ChatChunk, ChatRequest, ChatResponse, MediaSource, Message, Part, ResponseFormat,
    Role, Tool, ToolChoice, Usage,
};

/// How ids the gateway makes up for OpenAI clients begin.
pub const ID_PREFIX: &str = "chatcmpl-";

/// A parsed request body that still holds its fields as raw JSON.
#[derive(Debug)]
pub struct ChatEnvelope<'a> {
    /// Borrowed from the body until an edit replaces a value.
    fields: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
    pub model: String,
    pub stream: bool,
    /// `stream_options.include_usage` as the client sent it.
    pub include_usage: bool,
}

impl<'a> ChatEnvelope<'a> {
    /// `max_completion_tokens`, or the older `max_tokens`.
    pub fn max_tokens(&self) -> Option<u64> {
        ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|want| {
                self.fields
                    .iter()
                    .find(|(name, _)| name == want)
                    .and_then(|(_, raw)| raw.get().trim().parse::<u64>().ok())
            })
    }

    pub fn parse(body: &'a [u8]) -> Result<ChatEnvelope<'a>, GatewayError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(GatewayError::invalid_request(
                "The request body is empty: expected a JSON object with `model` and `messages`.",
            )
            .with_code("invalid_json"));
        }
        let Fields(fields) = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
        let mut model = None;
        let mut stream = false;
        let mut include_usage = false;
        let mut has_messages = false;
        let mut stream_options = None;
        for (name, raw) in &fields {
            match name.as_ref() {
                "model" => {
                    model = Some(
                        serde_json::from_str::<String>(raw.get())
                            .map_err(|_| field_error("model", "must be a string"))?,
                    )
                }
                "stream" => {
                    stream = serde_json::from_str::<Option<bool>>(raw.get())
                        .map_err(|_| field_error("stream", "must be a boolean"))?
                        .unwrap_or(false)
                }
                "messages" => {
                    if !raw.get().starts_with('[') {
                        return Err(field_error("messages", "must be an array of messages"));
                    }
                    if raw.get()[1..].trim_start().starts_with(']') {
                        return Err(field_error("messages", "must contain at least one message"));
                    }
                    has_messages = true;
                }
                "stream_options" => stream_options = Some(&**raw),
                _ => {}
            }
        }
        let model = match model {
            Some(m) if !m.is_empty() => m,
            _ => return Err(missing("model")),
        };
        if !has_messages {
            return Err(missing("messages"));
        }
        if let Some(raw) = stream_options {
            let opts: Option<wire::StreamOptions> = serde_json::from_str(raw.get())
                .map_err(|_| field_error("stream_options", "must be an object"))?;
            if let Some(opts) = opts {
                if !stream {
                    return Err(field_error(
                        "stream_options",
                        "is only allowed when `stream` is true",
                    ));
                }
                include_usage = opts.include_usage.unwrap_or(false);
            }
        }
        Ok(ChatEnvelope {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, Cow::Borrowed(v)))
                .collect(),
            model,
            stream,
            include_usage,
        })
    }

    /// The body for a same-format upstream: every field as the client sent it,
    /// in order, except `model`, and `stream_options` when usage is forced on
    /// (the gateway always needs usage to account for a stream).
    pub fn render_passthrough(&self, upstream_model: &str, force_usage: bool) -> Vec<u8> {
        fields_json(&self.fields, upstream_model, force_usage, None)
    }

    /// The full unified request, for upstreams that speak another format.
    pub fn to_unified(&self) -> Result<ChatRequest, GatewayError> {
        let mut req = ChatRequest {
            model: self.model.clone(),
            stream: self.stream,
            include_usage: self.include_usage,
            ..ChatRequest::default()
        };
        for (name, raw) in &self.fields {
            let json = raw.get();
            match name.as_ref() {
                "model" | "stream" | "stream_options" => {}
                "messages" => {
                    let msgs: Vec<wire::Message> = typed(name, json)?;
                    req.messages = msgs
                        .into_iter()
                        .enumerate()
                        .map(|(i, m)| message_from_wire(i, m))
                        .collect::<Result<_, _>>()?;
                }
                "tools" => {
                    let tools: Option<Vec<wire::Tool>> = typed(name, json)?;
                    req.tools = tools
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| Tool {
                            name: t.function.name,
                            description: t.function.description,
                            parameters: t.function.parameters,
                            strict: t.function.strict,
                            cache_control: t.cache_control.map(cache_control),
                        })
                        .collect();
                }
                "tool_choice" => {
                    let choice: Option<wire::ToolChoice> = typed(name, json)?;
                    req.tool_choice =
                        match choice {
                            None => None,
                            Some(wire::ToolChoice::Mode(m)) => Some(match m.as_str() {
                                "auto" => ToolChoice::Auto,
                                "none" => ToolChoice::None,
                                "required" | "any" => ToolChoice::Required,
                                _ => return Err(field_error(
                                    "tool_choice",
                                    "must be \"auto\", \"none\", \"required\" or a named function",
                                )),
                            }),
                            Some(wire::ToolChoice::Named { function }) => {
                                Some(ToolChoice::Named(function.name))
                            }
                        };
                }
                "parallel_tool_calls" => req.parallel_tool_calls = typed(name, json)?,
                "n" => req.n = typed(name, json)?,
                "max_tokens" | "max_completion_tokens" => {
                    req.max_tokens = typed::<Option<u32>>(name, json)?.or(req.max_tokens)
                }
                "temperature" => req.temperature = typed(name, json)?,
                "top_p" => req.top_p = typed(name, json)?,
                "stop" => {
                    req.stop = match typed::<Option<wire::Stop>>(name, json)? {
                        None => Vec::new(),
                        Some(wire::Stop::One(s)) => vec![s],
                        Some(wire::Stop::Many(v)) => v,
                    }
                }
                "seed" => req.seed = typed(name, json)?,
                "user" => req.user = typed(name, json)?,
                "logprobs" => req.logprobs = typed(name, json)?,
                "top_logprobs" => req.top_logprobs = typed(name, json)?,
                "reasoning_effort" => req.reasoning_effort = typed(name, json)?,
                "response_format" => {
                    req.response_format = match typed::<Option<wire::ResponseFormat>>(name, json)? {
                        None => None,
                        Some(f) => Some(match (f.kind.as_str(), f.json_schema) {
                            ("text", _) => ResponseFormat::Text,
                            ("json_object", _) => ResponseFormat::JsonObject,
                            ("json_schema", Some(s)) => ResponseFormat::JsonSchema {
                                name: s.name,
                                schema: s.schema,
                                strict: s.strict,
                            },
                            ("json_schema", None) => {
                                return Err(missing("response_format.json_schema"))
                            }
                            _ => {
                                return Err(field_error(
                                    "response_format.type",
                                    "must be \"text\", \"json_object\" or \"json_schema\"",
                                ))
                            }
                        }),
                    }
                }
                _ => req.extra.push((name.to_string(), raw_box(raw))),
            }
        }
        Ok(req)
    }

    /// A top-level field as raw JSON.
    pub fn raw_field(&self, name: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    // ---- edits for the quirk stage: one top-level field at a time, the
    // rest of the body stays the client's bytes.

    /// Removes a top-level field; whether it was there.
    pub fn remove_field(&mut self, name: &str) -> bool {
        let before = self.fields.len();
        self.fields.retain(|(k, _)| k != name);
        self.fields.len() != before
    }

    /// Renames a top-level field in place. When `to` is already present the
    /// client's `to` wins and `from` is removed.
    pub fn rename_field(&mut self, from: &str, to: &'static str) -> bool {
        if self.raw_field(to).is_some() {
            return self.remove_field(from);
        }
        match self.fields.iter_mut().find(|(k, _)| k == from) {
            Some((k, _)) => {
                *k = Cow::Borrowed(to);
                true
            }
            None => false,
        }
    }

    /// Sets the output bound to `n` (lower than the one admission read):
    /// `max_completion_tokens` and `max_tokens` where the request has
    /// them, else `max_tokens` (which the quirk stage renames for models
    /// that take the other).
    pub fn bound_output(&mut self, n: u32) {
        let Some(bound) = raw_number(n) else {
            return;
        };
        let mut named = false;
        for name in ["max_completion_tokens", "max_tokens"] {
            if self.raw_field(name).is_some() {
                named = true;
                self.set_field(name, bound.clone());
            }
        }
        if !named {
            self.set_field("max_tokens", bound);
        }
    }

    /// Replaces (or appends) a top-level field.
    pub fn set_field(&mut self, name: &'static str, value: Box<RawValue>) {
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = Cow::Owned(value),
            None => self.fields.push((Cow::Borrowed(name), Cow::Owned(value))),
        }
    }

    /// Gives every message whose role is one of `from` the role `to`,
    /// re-encoding only those messages; how many changed.
    pub fn rewrite_roles(&mut self, from: &[&str], to: &str) -> Result<usize, GatewayError> {
        let Some(raw) = self.raw_field("messages") else {
            return Ok(0);
        };
        let messages: Vec<&RawValue> = typed("messages", raw.get())?;
        let mut changed = 0;
        let mut out = Vec::with_capacity(raw.get().len() + 16);
        out.push(b'[');
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let Fields(fields) = typed(&format!("messages[{i}]"), m.get())?;
            let role = fields
                .iter()
                .find(|(k, _)| k == "role")
                .and_then(|(_, v)| serde_json::from_str::<&str>(v.get()).ok());
            if !role.is_some_and(|r| from.contains(&r)) {
                out.extend_from_slice(m.get().as_bytes());
                continue;
            }
            changed += 1;
            out.push(b'{');
            for (j, (k, v)) in fields.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                write_key(&mut out, k);
                if k == "role" {
                    write_json_str(&mut out, to);
                } else {
                    out.extend_from_slice(v.get().as_bytes());
                }
            }
            out.push(b'}');
        }
        out.push(b']');
        if changed > 0 {
            let text = String::from_utf8(out).map_err(|_| {
                GatewayError::invalid_request("`messages` is not valid UTF-8.")
                    .with_param("messages")
            })?;
            let value = RawValue::from_string(text).map_err(GatewayError::invalid_json)?;
            self.set_field("messages", value);
        }
        Ok(changed)
    }
}

fn raw_box(raw: &RawValue) -> Box<RawValue> {
    raw.to_owned()
}

fn typed<'de, T: Deserialize<'de>>(field: &str, json: &'de str) -> Result<T, GatewayError> {
    serde_json::from_str(json).map_err(|e| {
        GatewayError::invalid_request(format!("Invalid value for `{field}`: {e}")).with_param(field)
    })
}

fn field_error(field: &str, what: &str) -> GatewayError {
    GatewayError::invalid_request(format!("`{field}` {what}.")).with_param(field)
}

fn missing(field: &str) -> GatewayError {
    GatewayError::invalid_request(format!("Missing required parameter: `{field}`."))
        .with_param(field)
        .with_code("missing_required_parameter")
}

/// A JSON object of raw fields, in order, with `model` swapped: the body a
/// same-format upstream gets.
pub(crate) fn with_model(fields: &[(Cow<'_, str>, &RawValue)], model: &str) -> Vec<u8> {
    fields_json(fields, model, false, None)
}

/// The JSON number `n`, for a field set to it.
pub(crate) fn raw_number(n: u32) -> Option<Box<RawValue>> {
    RawValue::from_string(n.to_string()).ok()
}

/// [`with_model`], and with `force_usage` a stream's
/// `stream_options.include_usage` set (added or merged), so that the
/// gateway learns what the answer used; `set`: a top-level field set to a
/// value (in place, or appended).
pub(crate) fn fields_json<V: std::ops::Deref<Target = RawValue>>(
    fields: &[(Cow<'_, str>, V)],
    model: &str,
    force_usage: bool,
    mut set: Option<(&str, &RawValue)>,
) -> Vec<u8> {
    let size: usize = fields
        .iter()
        .map(|(k, v)| k.len() + v.get().len() + 4)
        .sum();
    let mut out = Vec::with_capacity(size + model.len() + 48);
    out.push(b'{');
    let mut wrote_options = false;
    for (name, raw) in fields {
        if out.len() > 1 {
            out.push(b',');
        }
        write_key(&mut out, name);
        match name.as_ref() {
            "model" => write_json_str(&mut out, model),
            "stream_options" if force_usage => {
                out.extend_from_slice(&merged_stream_options(raw));
                wrote_options = true;
            }
            n if set.is_some_and(|(s, _)| s == n) => {
                if let Some((_, v)) = set.take() {
                    out.extend_from_slice(v.get().as_bytes());
                }
            }
            _ => out.extend_from_slice(raw.get().as_bytes()),
        }
    }
    if let Some((name, v)) = set {
        if out.len() > 1 {
            out.push(b',');
        }
        write_key(&mut out, name);
        out.extend_from_slice(v.get().as_bytes());
    }
    if force_usage && !wrote_options {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
    }
    out.push(b'}');
    out
}

pub(crate) fn write_key(out: &mut Vec<u8>, key: &str) {
    write_json_str(out, key);
    out.push(b':');
}

pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a `&str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn merged_stream_options(raw: &RawValue) -> Vec<u8> {
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw.get()).unwrap_or_default();
    map.insert("include_usage".into(), serde_json::Value::Bool(true));
    serde_json::to_vec(&map).unwrap_or_else(|_| br#"{"include_usage":true}"#.to_vec())
}

fn message_from_wire(i: usize, m: wire::Message) -> Result<Message, GatewayError> {
    // A tool's answer (`tool`, or the legacy `function`) is a user turn
    // holding a tool result: the one way the unified request says it.
    let tool_result = matches!(m.role.as_str(), "tool" | "function");
    let role = match role_from_openai(&m.role) {
        Some(role) => role,
        None if tool_result => Role::User,
        None => {
            return Err(GatewayError::invalid_request(format!(
                "Invalid value for `messages[{i}].role`: `{}` is not one of system, developer, user, assistant, tool.",
                m.role
            ))
            .with_param(&format!("messages[{i}].role")))
        }
    };
    let mut content = Vec::new();
    // LiteLLM's signed thinking blocks come back first, as Anthropic wants
    // them; `reasoning_content` beside them says the same text unsigned.
    let blocks = m.thinking_blocks.unwrap_or_default();
    if !blocks.is_empty() {
        content.extend(
            blocks
                .into_iter()
                .filter_map(wire::ThinkingBlock::into_part),
        );
    } else if let Some(reasoning) = m.reasoning_content {
        content.push(Part::Thinking {
            text: reasoning,
            signature: None,
        });
    }
    // A message-level breakpoint (LiteLLM's) marks a string content, or,
    // on a tool message, the result.
    let message_cache = m.cache_control.map(cache_control);
    match m.content {
        None => {}
        Some(wire::Content::Text(text)) => content.push(Part::Text {
            text,
            cache_control: message_cache.clone().filter(|_| !tool_result),
        }),
        Some(wire::Content::Parts(parts)) => {
            for p in parts {
                content.push(part_from_wire(p));
            }
        }
    }
    if let Some(refusal) = m.refusal {
        content.push(Part::Text {
            text: refusal,
            cache_control: None,
        });
    }
    for call in m.tool_calls.unwrap_or_default() {
        content.push(Part::ToolUse {
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
            cache_control: None,
        });
    }
    if tool_result {
        content = vec![Part::ToolResult {
            tool_use_id: m.tool_call_id.unwrap_or_default(),
            content,
            is_error: false,
            cache_control: message_cache,
        }];
    }
    Ok(Message {
        role,
        content,
        name: m.name,
    })
}

fn cache_control(c: wire::CacheControl) -> CacheControl {
    CacheControl {
        kind: c.kind,
        ttl: c.ttl,
    }
}

fn part_from_wire(p: wire::ContentPart) -> Part {
    match p {
        wire::ContentPart::Text {
            text,
            cache_control: cc,
        } => Part::Text {
            text,
            cache_control: cc.map(cache_control),
        },
        wire::ContentPart::ImageUrl {
            image_url,
            cache_control: cc,
        } => {
            let (url, detail) = match image_url {
                wire::ImageUrl::Object { url, detail } => (url, detail),
                wire::ImageUrl::Bare(url) => (url, None),
            };
            Part::Image {
                source: media_source(url),
                detail,
                cache_control: cc.map(cache_control),
            }
        }
        wire::ContentPart::InputAudio { input_audio } => Part::Audio {
            data: input_audio.data,
            format: input_audio.format,
        },
        wire::ContentPart::File {
            file,
            cache_control: cc,
        } => Part::Document {
            source: match (file.file_data, file.file_id) {
                (Some(data), _) => media_source(data),
                (None, Some(id)) => MediaSource::Url(id),
                (None, None) => MediaSource::Url(String::new()),
            },
            name: file.filename,
            cache_control: cc.map(cache_control),
        },
        wire::ContentPart::Refusal { refusal } => Part::Text {
            text: refusal,
            cache_control: None,
        },
    }
}

/// `data:<type>;base64,<data>` becomes inline bytes; anything else stays a URL.
pub fn media_source(url: String) -> MediaSource {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            if let Some(media_type) = meta.strip_suffix(";base64") {
                return MediaSource::Base64 {
                    media_type: media_type.to_owned(),
                    data: data.to_owned(),
                };
            }
        }
    }
    MediaSource::Url(url)
}

// ---- rendering unified responses for OpenAI clients ----------------------

#[derive(Serialize)]
struct OutResponse<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<OutChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<wire::Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'a str>,
}

#[derive(Serialize)]
struct OutChoice<'a> {
    index: u32,
    message: OutMessage<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: Option<String>,
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    /// LiteLLM's field: the thinking with its signatures, which a client
    /// sends back for Claude to accept the turn.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    thinking_blocks: Vec<OutThinking<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
}

/// One of LiteLLM's `thinking_blocks`, whole or (on a stream) a piece.
#[derive(Serialize)]
struct OutThinking<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

impl<'a> OutThinking<'a> {
    fn thinking(text: &'a str, signature: Option<&'a str>) -> Self {
        OutThinking {
            kind: "thinking",
            thinking: Some(text),
            signature,
            data: None,
        }
    }

    fn redacted(data: &'a str) -> Self {
        OutThinking {
            kind: "redacted_thinking",
            thinking: None,
            signature: None,
            data: Some(data),
        }
    }
}

#[derive(Serialize)]
struct OutToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutFunction<'a>,
}

#[derive(Serialize)]
struct OutFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

pub fn render_response(r: &ChatResponse) -> Vec<u8> {
    let choices = r
        .choices
        .iter()
        .map(|c| {
            let reasoning: String = c
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::Thinking { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            OutChoice {
                index: c.index,
                message: OutMessage {
                    role: "assistant",
                    content: c.text(),
                    refusal: c.refusal.as_deref(),
                    reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                    thinking_blocks: c
                        .content
                        .iter()
                        .filter_map(|p| match p {
                            Part::Thinking { text, signature } => {
                                Some(OutThinking::thinking(text, signature.as_deref()))
                            }
                            Part::RedactedThinking { data } => Some(OutThinking::redacted(data)),
                            _ => None,
                        })
                        .collect(),
                    tool_calls: c
                        .tool_uses()
                        .map(|(id, name, arguments)| OutToolCall {
                            id,
                            kind: "function",
                            function: OutFunction { name, arguments },
                        })
                        .collect(),
                },
                logprobs: None,
                finish_reason: c.finish_reason.as_ref().map(|f| f.as_openai()),
            }
        })
        .collect();
    let out = OutResponse {
        id: &r.id,
        object: "chat.completion",
        created: r.created,
        model: &r.model,
        choices,
        usage: r.usage.as_ref().map(usage_to_wire),
        system_fingerprint: r.system_fingerprint.as_deref(),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

#[derive(Serialize)]
struct OutChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<OutChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<wire::Usage>,
}

#[derive(Serialize)]
struct OutChunkChoice<'a> {
    index: u32,
    delta: OutDelta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct OutDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "DeltaThinking::is_empty")]
    thinking_blocks: DeltaThinking<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolDelta<'a>>,
}

/// A delta's `thinking_blocks`, as LiteLLM streams them: the reasoning text
/// and the signature that closes it as a thinking block, a redacted block
/// whole. Written without collecting them (it is on every reasoning chunk).
struct DeltaThinking<'a> {
    text: Option<&'a str>,
    signature: Option<&'a str>,
    redacted: Option<&'a str>,
}

impl DeltaThinking<'_> {
    fn is_empty(&self) -> bool {
        self.text.is_none() && self.signature.is_none() && self.redacted.is_none()
    }
}

impl Serialize for DeltaThinking<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        if self.text.is_some() || self.signature.is_some() {
            seq.serialize_element(&OutThinking::thinking(
                self.text.unwrap_or(""),
                self.signature,
            ))?;
        }
        if let Some(data) = self.redacted {
            seq.serialize_element(&OutThinking::redacted(data))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct OutToolDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: OutFunctionDelta<'a>,
}

#[derive(Serialize)]
struct OutFunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a str>,
}

/// One chunk as an SSE event: `data: {...}\n\n`.
pub fn render_chunk_event(c: &ChatChunk) -> Bytes {
    render_chunk_as(c, &c.id, &c.model, c.created, true)
}

/// `c` under the given id, model and time, with or without its usage.
fn render_chunk_as(c: &ChatChunk, id: &str, model: &str, created: u64, usage: bool) -> Bytes {
    let out = OutChunk {
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: c
            .choices
            .iter()
            .map(|ch| OutChunkChoice {
                index: ch.index,
                delta: OutDelta {
                    role: ch.delta.role.map(Role::as_str),
                    content: ch.delta.text.as_deref(),
                    reasoning_content: ch.delta.reasoning.as_deref(),
                    thinking_blocks: DeltaThinking {
                        text: ch.delta.reasoning.as_deref(),
                        signature: ch.delta.reasoning_signature.as_deref(),
                        redacted: ch.delta.redacted_reasoning.as_deref(),
                    },
                    refusal: ch.delta.refusal.as_deref(),
                    tool_calls: ch
                        .delta
                        .tool_calls
                        .iter()
                        .map(|t| OutToolDelta {
                            index: t.index,
                            id: t.id.as_deref(),
                            kind: t.id.as_ref().map(|_| "function"),
                            function: OutFunctionDelta {
                                name: t.name.as_deref(),
                                arguments: t.arguments.as_deref(),
                            },
                        })
                        .collect(),
                },
                logprobs: None,
                finish_reason: ch.finish_reason.as_ref().map(|f| f.as_openai()),
            })
            .collect(),
        usage: c.usage.as_ref().filter(|_| usage).map(usage_to_wire),
    };
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    let _ = serde_json::to_writer(&mut buf, &out);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

pub const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// An error inside a stream, as the OpenAI SDKs recognise it: a `data:` event
/// whose JSON has an `error` member (they raise `APIError`).
pub fn render_error_event(e: &GatewayError) -> Bytes {
    let mut buf = Vec::with_capacity(160);
    buf.extend_from_slice(b"data: ");
    buf.extend_from_slice(&e.to_openai_json());
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// Unified chunks as OpenAI chat chunks. Usage is held back and sent as the
/// final `choices: []` chunk, only when the client asked for it.
#[derive(Default)]
pub struct ChunkRenderer {
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    prices: Option<std::sync::Arc<crate::catalog::Prices>>,
}

impl ChunkRenderer {
    pub fn new(include_usage: bool) -> Self {
        ChunkRenderer {
            include_usage,
            ..ChunkRenderer::default()
        }
    }

    /// The model and time to show when the upstream's chunks carry none
    /// (Cohere names neither).
    pub fn with_fallback(mut self, model: &str, created: u64) -> Self {
        self.model = model.to_owned();
        self.created = created;
        self
    }

    /// The usage chunk gains `cost`, priced with these.
    pub fn with_prices(mut self, prices: Option<std::sync::Arc<crate::catalog::Prices>>) -> Self {
        self.prices = prices;
        self
    }
}

impl Renderer for ChunkRenderer {
    fn chunk(&mut self, chunk: &ChatChunk) -> Option<Bytes> {
        if self.id.is_empty() {
            self.id = chunk.id.clone();
            if !chunk.model.is_empty() {
                self.model = chunk.model.clone();
            }
            if chunk.created != 0 {
                self.created = chunk.created;
            }
        }
        if chunk.choices.is_empty() {
            return None;
        }
        let id = if chunk.id.is_empty() {
            &self.id
        } else {
            &chunk.id
        };
        let model = if chunk.model.is_empty() {
            &self.model
        } else {
            &chunk.model
        };
        let created = if chunk.created == 0 {
            self.created
        } else {
            chunk.created
        };
        Some(render_chunk_as(chunk, id, model, created, false))
    }

    fn end(&mut self, usage: Option<Usage>) -> Bytes {
        let mut out = Vec::new();
        if let (true, Some(u)) = (self.include_usage, usage) {
            let event = render_chunk_event(&ChatChunk {
                id: self.id.clone(),
                created: self.created,
                model: self.model.clone(),
                choices: Vec::new(),
                usage: Some(u),
            });
            let cost = self
                .prices
                .as_deref()
                .and_then(|p| crate::cost::completion_cost(p, &crate::cost::TokenUsage::from(u)));
            match cost {
                Some(cost) => out.extend_from_slice(&event_with_cost(&event, cost)),
                None => out.extend_from_slice(&event),
            }
        }
        out.extend_from_slice(DONE_EVENT);
        Bytes::from(out)
    }

    fn error(&mut self, error: &GatewayError) -> Bytes {
        render_error_event(error)
    }
}

/// An SSE `data: {...}` event with `"cost"` added to its JSON.
pub fn event_with_cost(event: &[u8], cost: f64) -> Bytes {
    let Some(json) = event
        .strip_prefix(b"data: ")
        .and_then(|rest| rest.strip_suffix(b"\n\n"))
    else {
        return Bytes::copy_from_slice(event);
    };
    match splice_cost(json, cost) {
        Some(j) => {
            let mut out = Vec::with_capacity(j.len() + 8);
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&j);
            out.extend_from_slice(b"\n\n");
            Bytes::from(out)
        }
        None => Bytes::copy_from_slice(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_reads_routing_fields_and_keeps_the_rest_raw() {
        let body = br#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"x_custom":{"a":[1,2]}}"#;
        let env = ChatEnvelope::parse(body).unwrap();
        assert_eq!(env.model, "fast");
        assert!(env.stream && env.include_usage);
        assert_eq!(env.raw_field("x_custom").unwrap().get(), r#"{"a":[1,2]}"#);
    }

    #[test]
    fn passthrough_swaps_model_and_keeps_order() {
        let body = br#"{"messages":[{"role":"user","content":"h\u00e9"}],"model":"fast","seed":7}"#;
        let env = ChatEnvelope::parse(body).unwrap();
        let out = env.render_passthrough("llama \"3\"", false);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"messages":[{"role":"user","content":"h\u00e9"}],"model":"llama \"3\"","seed":7}"#
        );
    }

    #[test]
    fn a_budget_bound_lowers_the_output_limits_the_request_names() {
        let bound = |body: &[u8]| {
            let mut env = ChatEnvelope::parse(body).unwrap();
            env.bound_output(40);
            String::from_utf8(env.render_passthrough("m", false)).unwrap()
        };
        assert_eq!(
            bound(br#"{"model":"x","messages":[1],"max_tokens":900}"#),
            r#"{"model":"m","messages":[1],"max_tokens":40}"#
        );
        // Neither named: `max_tokens` is added.
        assert_eq!(
            bound(br#"{"model":"x","messages":[1]}"#),
            r#"{"model":"m","messages":[1],"max_tokens":40}"#
        );
        // Both named (or null): both are set.
        assert_eq!(
            bound(br#"{"model":"x","max_completion_tokens":300,"max_tokens":null,"messages":[1]}"#),
            r#"{"model":"m","max_completion_tokens":40,"max_tokens":40,"messages":[1]}"#
        );
    }

    #[test]
    fn passthrough_forces_usage_on_streams() {
        let env = ChatEnvelope::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}"#,
        )
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&env.render_passthrough("u", true)).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        let env = ChatEnvelope::parse(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":false,"other":1}}"#).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&env.render_passthrough("u", true)).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream_options"]["other"], 1);
        assert!(!env.include_usage);
    }

    #[test]
    fn clear_errors_for_bad_bodies() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"{\"model\":", "JSON"),
            (b"[1,2]", "JSON"),
            (br#"{"messages":[{"role":"user","content":"x"}]}"#, "`model`"),
            (br#"{"model":"m"}"#, "`messages`"),
            (br#"{"model":"m","messages":[]}"#, "at least one"),
            (br#"{"model":"m","messages":{}}"#, "array"),
            (br#"{"model":5,"messages":[{"role":"user"}]}"#, "string"),
            (br#"{"model":"m","messages":[{"role":"user"}],"stream_options":{"include_usage":true}}"#, "only allowed"),
        ];
        for (body, needle) in cases {
            let e = ChatEnvelope::parse(body).unwrap_err();
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
            assert!(
                e.message.contains(needle),
                "{:?} -> {}",
                String::from_utf8_lossy(body),
                e.message
            );
        }
    }

    #[test]
    fn unified_request_from_a_full_body() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"look","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"a cat"}],
            "tools":[{"type":"function","function":{"name":"look","parameters":{"type":"object"}}}],
            "tool_choice":"required","n":2,"stop":"END","max_completion_tokens":50,"vendor_knob":true}"#;
        let req = ChatEnvelope::parse(body).unwrap().to_unified().unwrap();
        assert_eq!(req.messages.len(), 4);
        assert_eq!(req.messages[0].role, Role::System);
        assert!(
            matches!(&req.messages[1].content[1], Part::Image { source: MediaSource::Base64 { media_type, .. }, detail: Some(d), .. } if media_type == "image/png" && d == "low")
        );
        assert!(
            matches!(&req.messages[2].content[0], Part::ToolUse { name, .. } if name == "look")
        );
        assert!(
            matches!(&req.messages[3].content[0], Part::ToolResult { tool_use_id, .. } if tool_use_id == "c1")
        );
        assert_eq!(req.messages[3].text(), "a cat");
        assert_eq!(req.tool_choice, Some(ToolChoice::Required));
        assert_eq!(req.stop, vec!["END".to_string()]);
        assert_eq!(req.max_tokens, Some(50));
        assert_eq!(req.n, Some(2));
        assert_eq!(req.extra.len(), 1);
        assert_eq!(req.extra[0].0, "vendor_knob");
    }

    #[test]
    fn renderer_fills_what_an_upstream_leaves_out() {
        use crate::unified::{ChunkChoice, Delta};
        let mut r = ChunkRenderer::new(true).with_fallback("command-a", 1_700_000_000);
        let chunk = ChatChunk {
            id: "abc".into(),
            created: 0,
            model: String::new(),
            choices: vec![ChunkChoice {
                index: 0,
                delta: Delta {
                    text: Some("hi".into()),
                    ..Delta::default()
                },
                finish_reason: None,
            }],
            usage: Some(Usage::default()),
        };
        let out = r.chunk(&chunk).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out[6..out.len() - 2]).unwrap();
        assert_eq!(v["model"], "command-a");
        assert_eq!(v["created"], 1_700_000_000);
        assert_eq!(v["id"], "abc");
        assert!(v.get("usage").is_none(), "usage waits for the end");
        let end = String::from_utf8(r.end(Some(Usage::default())).to_vec()).unwrap();
        assert!(end.contains("\"model\":\"command-a\"") && end.contains("\"id\":\"abc\""));
    }

    #[test]
    fn json_schema_response_format_keeps_the_schema() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "response_format":{"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object"},"strict":true}}}"#;
        let req = ChatEnvelope::parse(body).unwrap().to_unified().unwrap();
        match req.response_format {
            Some(ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            }) => {
                assert_eq!(name, "out");
                assert_eq!(schema.unwrap().get(), r#"{"type":"object"}"#);
                assert_eq!(strict, Some(true));
            }
            other => panic!("{other:?}"),
        }
        let e = ChatEnvelope::parse(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}"#)
            .unwrap()
            .to_unified()
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("response_format.type"));
    }

    /// LiteLLM's `cache_control` on OpenAI-format requests: on text, image
    /// and file parts, on a whole message (its string content, or a tool
    /// message's result) and on tool definitions.
    const LITELLM_CACHED: &[u8] = br#"{"model":"m","messages":[
        {"role":"system","content":"be brief","cache_control":{"type":"ephemeral"}},
        {"role":"user","content":[
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"},"cache_control":{"type":"ephemeral"}},
            {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"r.pdf"},"cache_control":{"type":"ephemeral","ttl":"1h"}},
            {"type":"text","text":"what is this"}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"look","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"c1","content":"a cat","cache_control":{"type":"ephemeral"}}],
        "tools":[{"type":"function","function":{"name":"look","parameters":{"type":"object"}},"cache_control":{"type":"ephemeral"}}]}"#;

    #[test]
    fn cache_control_on_every_part_reaches_anthropic() {
        use crate::codec::anthropic::{render_request, Options, Target};
        let req = ChatEnvelope::parse(LITELLM_CACHED)
            .unwrap()
            .to_unified()
            .unwrap();
        let opts = Options {
            model: "claude-sonnet-4-5",
            target: Target::Anthropic,
            auto_cache: false,
        };
        let out: serde_json::Value =
            serde_json::from_slice(&render_request(&req, &opts).unwrap()).unwrap();
        let eph = serde_json::json!({"type": "ephemeral"});
        assert_eq!(out["system"][0]["cache_control"], eph);
        let user = &out["messages"][0]["content"];
        assert_eq!(user[0]["type"], "image");
        assert_eq!(user[0]["cache_control"], eph);
        assert_eq!(user[1]["type"], "document");
        assert_eq!(
            user[1]["cache_control"],
            serde_json::json!({"type": "ephemeral", "ttl": "1h"})
        );
        assert!(user[2].get("cache_control").is_none());
        let result = &out["messages"][2]["content"][0];
        assert_eq!(result["type"], "tool_result");
        assert_eq!(result["content"], "a cat");
        assert_eq!(result["cache_control"], eph);
        assert_eq!(out["tools"][0]["cache_control"], eph);
        // auto_cache counts the client's marks (five, over Anthropic's four
        // already) wherever they are, and adds none.
        let auto = Options {
            auto_cache: true,
            ..opts
        };
        let with_auto: serde_json::Value =
            serde_json::from_slice(&render_request(&req, &auto).unwrap()).unwrap();
        assert!(with_auto["messages"][0]["content"][2]
            .get("cache_control")
            .is_none());
    }

    #[test]
    fn cache_control_on_every_part_reaches_bedrock() {
        let req = ChatEnvelope::parse(LITELLM_CACHED)
            .unwrap()
            .to_unified()
            .unwrap();
        let out: serde_json::Value = serde_json::from_slice(
            &crate::codec::bedrock::render_request(
                &req,
                "anthropic.claude-3-7-sonnet-20250219-v1:0",
            )
            .unwrap(),
        )
        .unwrap();
        let point = serde_json::json!({"cachePoint": {"type": "default"}});
        assert_eq!(out["system"][1], point);
        let user: Vec<String> = out["messages"][0]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_object().unwrap().keys().next().unwrap().clone())
            .collect();
        assert_eq!(
            user,
            ["image", "cachePoint", "document", "cachePoint", "text"]
        );
        assert_eq!(
            out["messages"][0]["content"][3],
            serde_json::json!({"cachePoint": {"type": "default", "ttl": "1h"}})
        );
        let result = &out["messages"][2]["content"];
        assert!(result[0].get("toolResult").is_some());
        assert_eq!(result[1], point);
        let tools = &out["toolConfig"]["tools"];
        assert_eq!(tools[0]["toolSpec"]["name"], "look");
        assert_eq!(tools[1], point);
    }

    const THINKING: &[u8] = include_bytes!("../../../fixtures/anthropic/messages-thinking.json");
    const THINKING_STREAM: &[u8] =
        include_bytes!("../../../fixtures/anthropic/messages-stream-thinking.chunks.jsonl");

    fn decode_ctx() -> crate::codec::DecodeContext<'static> {
        crate::codec::DecodeContext {
            now_ms: 1_700_000_000_000,
            model: "claude-sonnet-4-5",
            id_prefix: ID_PREFIX,
        }
    }

    /// Claude's signed thinking reaches an OpenAI client as LiteLLM's
    /// `thinking_blocks`, and what the client sends back with its next turn
    /// (the tool loop) reaches Claude with the signature intact.
    #[test]
    fn thinking_blocks_round_trip_openai_client_to_anthropic() {
        use crate::codec::anthropic::{decode_response, render_request, Options, Target};
        let fixture: serde_json::Value = serde_json::from_slice(THINKING).unwrap();
        let signature = fixture["content"][0]["signature"].as_str().unwrap();
        let r = decode_response(THINKING, &decode_ctx()).unwrap();
        let out: serde_json::Value = serde_json::from_slice(&render_response(&r)).unwrap();
        let msg = &out["choices"][0]["message"];
        assert_eq!(msg["reasoning_content"], "925 divided by 5 = 185");
        assert_eq!(
            msg["thinking_blocks"],
            serde_json::json!([{"type": "thinking", "thinking": "925 divided by 5 = 185", "signature": signature}])
        );
        // The client's next request: the assistant turn as it received it
        // (with a tool call, as in an agent loop), then the tool's answer.
        let mut assistant = msg.clone();
        assistant["tool_calls"] = serde_json::json!([{"id": "toolu_1", "type": "function",
            "function": {"name": "calc", "arguments": "{\"x\":185}"}}]);
        let next = serde_json::json!({"model": "m", "messages": [
            {"role": "user", "content": "925 / 5?"},
            assistant,
            {"role": "tool", "tool_call_id": "toolu_1", "content": "185"}],
            "tools": [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}],
            "thinking": {"type": "enabled", "budget_tokens": 1024}});
        let body = serde_json::to_vec(&next).unwrap();
        let req = ChatEnvelope::parse(&body).unwrap().to_unified().unwrap();
        let opts = Options {
            model: "claude-sonnet-4-5",
            target: Target::Anthropic,
            auto_cache: false,
        };
        let sent: serde_json::Value =
            serde_json::from_slice(&render_request(&req, &opts).unwrap()).unwrap();
        let turn = &sent["messages"][1];
        assert_eq!(turn["role"], "assistant");
        assert_eq!(
            turn["content"][0],
            serde_json::json!({"type": "thinking", "thinking": "925 divided by 5 = 185", "signature": signature}),
            "thinking first, signed, said once"
        );
        assert_eq!(turn["content"].as_array().unwrap().len(), 3);
        assert_eq!(turn["content"][2]["type"], "tool_use");
        assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
        // Without thinking_blocks, reasoning_content alone is unsigned: not sent.
        let mut unsigned = next.clone();
        unsigned["messages"][1]
            .as_object_mut()
            .unwrap()
            .remove("thinking_blocks");
        let body = serde_json::to_vec(&unsigned).unwrap();
        let req = ChatEnvelope::parse(&body).unwrap().to_unified().unwrap();
        let sent: serde_json::Value =
            serde_json::from_slice(&render_request(&req, &opts).unwrap()).unwrap();
        assert_eq!(sent["messages"][1]["content"][0]["type"], "text");
    }

    /// On a stream each reasoning delta carries its piece of the block and
    /// the signature delta closes it, as LiteLLM streams them.
    #[test]
    fn thinking_blocks_stream_to_openai_clients() {
        let mut wire = Vec::new();
        for line in THINKING_STREAM
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            wire.extend_from_slice(b"data: ");
            wire.extend_from_slice(line);
            wire.extend_from_slice(b"\n\n");
        }
        let fixture = std::str::from_utf8(THINKING_STREAM).unwrap();
        let signature = fixture
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["delta"]["signature"].as_str().map(str::to_owned))
            .unwrap();
        let mut decoder =
            crate::codec::StreamDecoder::new(crate::providers::Codec::Anthropic, &decode_ctx())
                .unwrap();
        let mut r = ChunkRenderer::new(false);
        let mut events = Vec::new();
        for c in decoder.push(&wire).unwrap() {
            if let Some(b) = r.chunk(&c) {
                events.push(b);
            }
        }
        let (mut reasoning, mut thought, mut signatures) =
            (String::new(), String::new(), Vec::new());
        for e in &events {
            let v: serde_json::Value = serde_json::from_slice(&e[6..e.len() - 2]).unwrap();
            let delta = &v["choices"][0]["delta"];
            reasoning.push_str(delta["reasoning_content"].as_str().unwrap_or(""));
            for b in delta["thinking_blocks"].as_array().into_iter().flatten() {
                assert_eq!(b["type"], "thinking");
                thought.push_str(b["thinking"].as_str().unwrap());
                if let Some(s) = b["signature"].as_str() {
                    signatures.push(s.to_owned());
                }
            }
            if delta.get("content").is_some() {
                assert!(
                    delta.get("thinking_blocks").is_none(),
                    "text deltas carry none"
                );
            }
        }
        assert!(reasoning.starts_with("The previous result was 925."));
        assert_eq!(thought, reasoning);
        assert_eq!(signatures, [signature]);
    }

    /// An OpenAI-format upstream in LiteLLM's dialect: its signed blocks are
    /// read too (and reach Anthropic clients signed).
    #[test]
    fn thinking_blocks_from_a_litellm_upstream() {
        let body = br#"{"id":"x","created":1,"model":"claude","choices":[{"index":0,"finish_reason":"stop",
            "message":{"role":"assistant","content":"185","reasoning_content":"925 / 5",
            "thinking_blocks":[{"type":"thinking","thinking":"925 / 5","signature":"sig"},{"type":"redacted_thinking","data":"enc"}]}}]}"#;
        let r = crate::codec::openai_chat::decode_response(body, &decode_ctx()).unwrap();
        assert_eq!(
            r.choices[0].content[..2],
            [
                Part::Thinking {
                    text: "925 / 5".into(),
                    signature: Some("sig".into())
                },
                Part::RedactedThinking { data: "enc".into() }
            ]
        );
        let anthropic: serde_json::Value =
            serde_json::from_slice(&crate::ingress::anthropic_messages::render_response(&r))
                .unwrap();
        assert_eq!(anthropic["content"][0]["signature"], "sig");
        let chunk = br#"{"id":"x","created":1,"model":"claude","choices":[{"index":0,"delta":{"reasoning_content":"",
            "thinking_blocks":[{"type":"thinking","thinking":"","signature":"sig"}]}}]}"#;
        let c = crate::codec::openai_chat::decode_chunk(chunk).unwrap();
        assert_eq!(
            c.choices[0].delta.reasoning_signature.as_deref(),
            Some("sig")
        );
    }

    #[test]
    fn bad_role_is_named() {
        let e =
            ChatEnvelope::parse(br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#)
                .unwrap()
                .to_unified()
                .unwrap_err();
        assert!(e.message.contains("messages[0].role"), "{}", e.message);
    }
}
