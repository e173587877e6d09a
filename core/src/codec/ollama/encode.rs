//! The unified request as an Ollama `/api/chat` body.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::GatewayError;
use crate::unified::{ChatRequest, MediaSource, Part, ResponseFormat, Role, ToolChoice};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Msg<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolOut<'a>>,
    /// Ollama streams unless told otherwise: always said explicitly.
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format<'a>>,
    #[serde(skip_serializing_if = "Options::is_empty")]
    options: Options<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    think: Option<Think>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Format<'a> {
    Json(&'static str),
    Schema(&'a RawValue),
}

#[derive(Serialize)]
#[serde(untagged)]
enum Think {
    On(bool),
    Level(&'static str),
}

#[derive(Serialize, Default)]
struct Options<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_predict: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
}

impl Options<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.top_k.is_none()
            && self.num_predict.is_none()
            && self.stop.is_empty()
            && self.seed.is_none()
            && self.frequency_penalty.is_none()
            && self.presence_penalty.is_none()
    }
}

#[derive(Serialize)]
struct Msg<'a> {
    role: &'static str,
    content: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'a str>,
}

#[derive(Serialize)]
struct ToolCallOut<'a> {
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: Box<RawValue>,
}

#[derive(Serialize)]
struct ToolOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: ToolDef<'a>,
}

#[derive(Serialize)]
struct ToolDef<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a RawValue>,
}

pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(GatewayError::invalid_request(
            "Ollama returns one choice per request: `n` must be 1.",
        )
        .with_param("n"));
    }
    // Ollama names the tool a result answers; the unified request only
    // carries the call id, so the name is looked up from the calls.
    let names: HashMap<&str, &str> = req
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|p| match p {
            Part::ToolUse { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        push_message(&mut messages, i, m, &names)?;
    }
    let named = match &req.tool_choice {
        Some(ToolChoice::Named(name)) if req.tools.iter().any(|t| &t.name == name) => {
            Some(name.as_str())
        }
        _ => None,
    };
    let tools = if req.tool_choice == Some(ToolChoice::None) {
        Vec::new()
    } else {
        req.tools
            .iter()
            .filter(|t| named.is_none_or(|n| n == t.name))
            .map(|t| ToolOut {
                kind: "function",
                function: ToolDef {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: t.parameters.as_deref(),
                },
            })
            .collect()
    };
    let extra = |name: &str| -> Option<f64> {
        req.extra
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| serde_json::from_str(v.get()).ok())
    };
    let body = Body {
        model,
        messages,
        tools,
        stream: req.stream,
        format: req.response_format.as_ref().and_then(|f| match f {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(Format::Json("json")),
            ResponseFormat::JsonSchema { schema, .. } => Some(match schema {
                Some(s) => Format::Schema(s),
                None => Format::Json("json"),
            }),
        }),
        options: Options {
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: extra("top_k").map(|k| k as u32),
            num_predict: req.max_tokens,
            stop: req.stop.iter().map(String::as_str).collect(),
            seed: req.seed,
            frequency_penalty: extra("frequency_penalty"),
            presence_penalty: extra("presence_penalty"),
        },
        think: req
            .reasoning_effort
            .as_deref()
            .map(|effort| think(effort, model)),
    };
    serde_json::to_vec(&body)
        .map_err(|e| GatewayError::new(crate::error::ErrorKind::Configuration, e.to_string()))
}

/// gpt-oss takes a level and cannot turn thinking off; the other thinking
/// models take a switch.
fn think(effort: &str, model: &str) -> Think {
    let levels = model.starts_with("gpt-oss");
    match effort {
        "none" if !levels => Think::On(false),
        "none" | "minimal" | "low" if levels => Think::Level("low"),
        "high" if levels => Think::Level("high"),
        _ if levels => Think::Level("medium"),
        _ => Think::On(true),
    }
}

fn push_message<'a>(
    out: &mut Vec<Msg<'a>>,
    i: usize,
    m: &'a crate::unified::Message,
    names: &HashMap<&str, &'a str>,
) -> Result<(), GatewayError> {
    let role = match m.role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let mut texts: Vec<&str> = Vec::new();
    let mut images = Vec::new();
    let mut calls = Vec::new();
    let mut thinking = String::new();
    let mut only_results = !m.content.is_empty();
    for part in &m.content {
        if !matches!(part, Part::ToolResult { .. }) {
            only_results = false;
        }
        match part {
            Part::Text { text, .. } => texts.push(text),
            Part::Image { source, .. } => match source {
                MediaSource::Base64 { data, .. } => images.push(data.as_str()),
                MediaSource::Url(_) => {
                    return Err(GatewayError::invalid_request(format!(
                        "Ollama takes images inline only (messages[{i}]): send them as `data:` URLs with base64 content; the gateway does not fetch URLs."
                    ))
                    .with_param(&format!("messages[{i}].content"))
                    .with_code("image_url_not_supported"))
                }
            },
            Part::ToolUse {
                name, arguments, ..
            } => calls.push(ToolCallOut {
                function: FunctionOut {
                    name,
                    arguments: arguments_object(arguments, i)?,
                },
            }),
            Part::ToolResult {
                tool_use_id,
                content,
                ..
            } => out.push(Msg {
                role: "tool",
                content: text_of(content),
                images: Vec::new(),
                thinking: None,
                tool_calls: Vec::new(),
                tool_name: names.get(tool_use_id.as_str()).copied(),
            }),
            Part::Thinking { text, .. } => thinking.push_str(text),
            Part::RedactedThinking { .. } => {}
            Part::Document { .. } | Part::Audio { .. } => {
                return Err(GatewayError::invalid_request(format!(
                    "Ollama does not accept file or audio parts (messages[{i}])."
                ))
                .with_param(&format!("messages[{i}].content")))
            }
        }
    }
    if only_results {
        return Ok(());
    }
    out.push(Msg {
        role,
        content: texts.join("\n"),
        images,
        thinking: (role == "assistant" && !thinking.is_empty()).then_some(thinking),
        tool_calls: calls,
        tool_name: None,
    });
    Ok(())
}

/// Tool arguments are JSON text in the unified request and an object on
/// Ollama's wire.
fn arguments_object(arguments: &str, i: usize) -> Result<Box<RawValue>, GatewayError> {
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    match serde_json::from_str::<Box<RawValue>>(text) {
        Ok(raw) if raw.get().starts_with('{') => Ok(raw),
        _ => Err(GatewayError::invalid_request(format!(
            "The tool call arguments in messages[{i}] are not a JSON object, which Ollama requires."
        ))
        .with_param(&format!("messages[{i}].tool_calls"))),
    }
}

fn text_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}
