//! Anthropic Messages ingress: `POST /v1/messages` and
//! `POST /v1/messages/count_tokens`, as Claude Code and the Anthropic SDKs
//! send them.
//!
//! Like the OpenAI ingress, the body is read as an envelope of raw top-level
//! fields: an Anthropic upstream gets those bytes back with only the model
//! (and the few fields routing must change) rewritten; any other upstream
//! gets the unified request built from the same fields with the codec's
//! own wire types ([`crate::codec::anthropic::wire`]).

mod adapt;
mod plan;
mod render;
mod tokens;

pub use adapt::{adapt_for, clamp_max_tokens, output_limit, reasons, Adjustments};
pub use plan::{passthrough_body, route, translated_request, Route, COUNT_FIELDS};
pub use render::{error_event, render_response, EventRenderer};
pub use tokens::estimate_tokens;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::codec::anthropic::wire::{self, Block, Content, ThinkingConfig};
use crate::error::GatewayError;
use crate::ingress::openai_chat::{write_json_str, write_key, Fields};
use crate::unified::{
    CacheControl, ChatRequest, MediaSource, Message, Part, Role, ServerTool, Thinking, Tool,
    ToolChoice,
};

/// How ids the gateway makes up for Anthropic clients begin (message ids
/// are `msg_…`).
pub const ID_PREFIX: &str = "msg_";

/// Paths served by this ingress: their errors take Anthropic's shape.
pub fn is_messages_path(path: &str) -> bool {
    path.trim_end_matches('/').starts_with("/v1/messages")
}

/// A parsed request body that still holds its fields as raw JSON.
#[derive(Debug)]
pub struct MessagesEnvelope<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    pub model: String,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    pub thinking: Option<Thinking>,
}

/// How a same-format body is rewritten on its way upstream.
#[derive(Debug, Default)]
pub struct Rewrite<'r> {
    /// The model to send; `None` removes the field (Vertex AI names it in the URL).
    pub model: Option<&'r str>,
    /// Fields whose value is replaced (raw JSON).
    pub replace: Vec<(&'static str, Vec<u8>)>,
    /// Only these fields are kept, when given (count_tokens takes fewer).
    pub keep_only: Option<&'r [&'r str]>,
    /// Fields added at the end (raw JSON).
    pub append: Vec<(&'static str, Vec<u8>)>,
}

impl<'a> MessagesEnvelope<'a> {
    pub fn parse(body: &'a [u8]) -> Result<MessagesEnvelope<'a>, GatewayError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(GatewayError::invalid_request(
                "The request body is empty: expected a JSON object with `model`, `max_tokens` and `messages`.",
            )
            .with_code("invalid_json"));
        }
        let Fields(fields) = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
        let mut model = None;
        let mut stream = false;
        let mut max_tokens = None;
        let mut thinking = None;
        let mut has_messages = false;
        for (name, raw) in &fields {
            let json = raw.get();
            match name.as_ref() {
                "model" => model = Some(typed::<String>(name, json)?),
                "stream" => stream = typed::<Option<bool>>(name, json)?.unwrap_or(false),
                "max_tokens" => max_tokens = typed::<Option<u32>>(name, json)?,
                "messages" => {
                    if !json.starts_with('[') {
                        return Err(field_error("messages", "Input should be a valid list"));
                    }
                    if json[1..].trim_start().starts_with(']') {
                        return Err(field_error("messages", "at least one message is required"));
                    }
                    has_messages = true;
                }
                "thinking" => {
                    thinking = typed::<Option<ThinkingConfig<'_>>>(name, json)?
                        .map(|t| thinking_from_wire(&t))
                        .transpose()?
                }
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
        Ok(MessagesEnvelope {
            fields,
            model,
            stream,
            max_tokens,
            thinking,
        })
    }

    pub fn raw_field(&self, name: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// Names of the top-level fields, in order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_ref())
    }

    /// The body for an Anthropic-format upstream: every field as the client
    /// sent it, in order, except those `rw` changes.
    pub fn render_passthrough(&self, rw: &Rewrite<'_>) -> Vec<u8> {
        let size: usize = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + 64);
        out.push(b'{');
        let put = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
            if out.len() > 1 {
                out.push(b',');
            }
            write_key(out, key);
            out.extend_from_slice(value);
        };
        for (name, raw) in &self.fields {
            let name = name.as_ref();
            if rw.keep_only.is_some_and(|keep| !keep.contains(&name)) {
                continue;
            }
            if name == "model" {
                if let Some(model) = rw.model {
                    let mut v = Vec::with_capacity(model.len() + 2);
                    write_json_str(&mut v, model);
                    put(&mut out, name, &v);
                }
                continue;
            }
            match rw.replace.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => put(&mut out, name, v),
                None => put(&mut out, name, raw.get().as_bytes()),
            }
        }
        for (name, v) in &rw.append {
            put(&mut out, name, v);
        }
        out.push(b'}');
        out
    }

    /// Whether the request offers a web-search server tool.
    pub fn has_web_search(&self) -> bool {
        #[derive(Deserialize)]
        struct ToolKind<'t> {
            #[serde(rename = "type", borrow, default)]
            kind: Option<Cow<'t, str>>,
        }
        let Some(raw) = self.raw_field("tools") else {
            return false;
        };
        let tools: Vec<ToolKind<'_>> = serde_json::from_str(raw.get()).unwrap_or_default();
        tools.iter().any(|t| {
            t.kind
                .as_deref()
                .is_some_and(|k| k.starts_with("web_search"))
        })
    }

    /// The top-level system prompt's text blocks (a string counts as one).
    pub fn system_blocks(&self) -> Result<Vec<Block<'a>>, GatewayError> {
        let Some(raw) = self.raw_field("system") else {
            return Ok(Vec::new());
        };
        let content: Option<Content<'a>> = typed("system", raw.get())?;
        Ok(match content {
            None | Some(Content::Raw(_)) => Vec::new(),
            Some(Content::Text(t)) => vec![Block::text(t)],
            Some(Content::Blocks(b)) => b,
        })
    }

    /// The full unified request, for upstreams that speak another format.
    /// `betas` are the client's `anthropic-beta` features.
    pub fn to_unified(&self, betas: &[String]) -> Result<ChatRequest, GatewayError> {
        let mut req = ChatRequest {
            model: self.model.clone(),
            stream: self.stream,
            include_usage: self.stream,
            max_tokens: self.max_tokens,
            thinking: self.thinking,
            anthropic_beta: betas.to_vec(),
            ..ChatRequest::default()
        };
        let mut system = Vec::new();
        for (name, raw) in &self.fields {
            let json = raw.get();
            match name.as_ref() {
                "model" | "stream" | "max_tokens" | "thinking" => {}
                "system" => {
                    system = self
                        .system_blocks()?
                        .into_iter()
                        .filter_map(part_from_block)
                        .collect()
                }
                "messages" => {
                    let msgs: Vec<wire::Message<'_>> = typed(name, json)?;
                    req.messages.reserve(msgs.len() + 1);
                    for (i, m) in msgs.into_iter().enumerate() {
                        req.messages.push(message_from_wire(i, m)?);
                    }
                }
                "tools" => {
                    let tools: Option<Vec<&RawValue>> = typed(name, json)?;
                    for (i, raw) in tools.unwrap_or_default().into_iter().enumerate() {
                        let t: wire::Tool<'_> = typed(&format!("tools.{i}"), raw.get())?;
                        if t.is_server_tool() {
                            req.server_tools.push(ServerTool {
                                kind: t.kind.as_deref().unwrap_or_default().to_owned(),
                                name: t.name.into_owned(),
                                raw: raw.to_owned(),
                            });
                        } else {
                            req.tools.push(Tool {
                                name: t.name.into_owned(),
                                description: t.description.map(Cow::into_owned),
                                parameters: t.input_schema.map(RawValue::to_owned),
                                strict: None,
                                cache_control: t.cache_control.map(cache_control),
                            });
                        }
                    }
                }
                "tool_choice" => {
                    if let Some(c) = typed::<Option<wire::ToolChoice<'_>>>(name, json)? {
                        req.tool_choice = Some(match c.kind.as_ref() {
                            "auto" => ToolChoice::Auto,
                            "any" => ToolChoice::Required,
                            "none" => ToolChoice::None,
                            "tool" => ToolChoice::Named(
                                c.name
                                    .ok_or_else(|| missing("tool_choice.name"))?
                                    .into_owned(),
                            ),
                            other => {
                                return Err(field_error(
                                    "tool_choice.type",
                                    &format!("Input should be 'auto', 'any', 'tool' or 'none', not '{other}'"),
                                ))
                            }
                        });
                        if c.disable_parallel_tool_use == Some(true) {
                            req.parallel_tool_calls = Some(false);
                        }
                    }
                }
                "metadata" => {
                    req.user = typed::<Option<wire::Metadata<'_>>>(name, json)?
                        .and_then(|m| m.user_id)
                        .map(Cow::into_owned)
                }
                "stop_sequences" => {
                    req.stop = typed::<Option<Vec<String>>>(name, json)?.unwrap_or_default()
                }
                "temperature" => req.temperature = typed(name, json)?,
                "top_p" => req.top_p = typed(name, json)?,
                "top_k" => req.top_k = typed(name, json)?,
                "output_config" => {
                    let cfg: Option<wire::OutputConfig<'_>> = typed(name, json)?;
                    req.reasoning_effort = cfg.and_then(|c| c.effort).map(Cow::into_owned);
                }
                _ => req.extra.push((name.to_string(), (*raw).to_owned())),
            }
        }
        if !system.is_empty() {
            req.messages.insert(
                0,
                Message {
                    role: Role::System,
                    content: system,
                    name: None,
                },
            );
        }
        Ok(req)
    }
}

fn thinking_from_wire(t: &ThinkingConfig<'_>) -> Result<Thinking, GatewayError> {
    Ok(match t.kind.as_ref() {
        "enabled" => Thinking::Enabled {
            budget_tokens: t
                .budget_tokens
                .ok_or_else(|| missing("thinking.enabled.budget_tokens"))?,
        },
        "adaptive" => Thinking::Adaptive,
        "disabled" => Thinking::Disabled,
        other => {
            return Err(field_error(
                "thinking.type",
                &format!("Input should be 'enabled', 'disabled' or 'adaptive', not '{other}'"),
            ))
        }
    })
}

fn message_from_wire(i: usize, m: wire::Message<'_>) -> Result<Message, GatewayError> {
    let role = match m.role.as_ref() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        // Mid-conversation system turns (Claude Code's beta) stay in place.
        "system" => Role::System,
        other => {
            return Err(field_error(
                &format!("messages.{i}.role"),
                &format!("Input should be 'user' or 'assistant', not '{other}'"),
            ))
        }
    };
    let content = match m.content {
        Content::Text(t) => vec![Part::Text {
            text: t.into_owned(),
            cache_control: None,
        }],
        Content::Blocks(blocks) => blocks.into_iter().filter_map(part_from_block).collect(),
        Content::Raw(_) => Vec::new(),
    };
    Ok(Message {
        role,
        content,
        name: None,
    })
}

/// One Anthropic block as a unified part; `None` for blocks that only mean
/// something to Anthropic itself (server tool calls and their results,
/// search results, container uploads, tool references).
fn part_from_block(b: Block<'_>) -> Option<Part> {
    let owned = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned).unwrap_or_default();
    let cache_control = b.cache_control.map(cache_control);
    Some(match b.kind.as_ref() {
        "text" => Part::Text {
            text: owned(b.text),
            cache_control,
        },
        "image" => Part::Image {
            source: media_source(b.source?)?,
            detail: None,
            cache_control,
        },
        "document" => {
            let source = b.source?;
            if source.kind == "text" {
                // A plain-text document is text to any other model.
                return Some(Part::Text {
                    text: owned(source.data),
                    cache_control,
                });
            }
            Part::Document {
                source: media_source(source)?,
                name: b.title.map(Cow::into_owned),
                cache_control,
            }
        }
        "tool_use" => Part::ToolUse {
            id: owned(b.id),
            name: owned(b.name),
            arguments: b
                .input
                .map_or_else(|| "{}".to_owned(), |i| i.get().to_owned()),
            cache_control,
        },
        "tool_result" => Part::ToolResult {
            tool_use_id: owned(b.tool_use_id),
            content: match b.content {
                Some(Content::Text(t)) => vec![Part::Text {
                    text: t.into_owned(),
                    cache_control: None,
                }],
                Some(Content::Blocks(inner)) => {
                    inner.into_iter().filter_map(part_from_block).collect()
                }
                Some(Content::Raw(_)) | None => Vec::new(),
            },
            is_error: b.is_error.unwrap_or(false),
            cache_control,
        },
        "thinking" => Part::Thinking {
            text: owned(b.thinking),
            signature: b.signature.map(Cow::into_owned).filter(|s| !s.is_empty()),
        },
        "redacted_thinking" => Part::RedactedThinking {
            data: owned(b.data),
        },
        _ => return None,
    })
}

fn cache_control(c: wire::CacheControl<'_>) -> CacheControl {
    CacheControl {
        kind: c.kind.into_owned(),
        ttl: c.ttl.map(Cow::into_owned),
    }
}

fn media_source(s: wire::Source<'_>) -> Option<MediaSource> {
    Some(match s.kind.as_ref() {
        "base64" => MediaSource::Base64 {
            media_type: s.media_type?.into_owned(),
            data: s.data?.into_owned(),
        },
        "url" => MediaSource::Url(s.url?.into_owned()),
        "file" => MediaSource::Url(s.file_id?.into_owned()),
        _ => return None,
    })
}

fn typed<'de, T: Deserialize<'de>>(field: &str, json: &'de str) -> Result<T, GatewayError> {
    serde_json::from_str(json)
        .map_err(|e| GatewayError::invalid_request(format!("{field}: {e}")).with_param(field))
}

fn field_error(field: &str, what: &str) -> GatewayError {
    GatewayError::invalid_request(format!("{field}: {what}")).with_param(field)
}

fn missing(field: &str) -> GatewayError {
    GatewayError::invalid_request(format!("{field}: Field required"))
        .with_param(field)
        .with_code("missing_required_parameter")
}

/// The client's `anthropic-beta` features (comma-separated, possibly repeated headers).
pub fn beta_features(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
