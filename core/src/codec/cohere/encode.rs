//! The unified request as a Cohere Chat v2 body.

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
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict_tools: Option<bool>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<FormatOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<serde_json::Value>,
}

/// Cohere's `response_format`; the schema goes out as the client's raw
/// bytes (a `Value` cannot hold everything a raw value lets through).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FormatOut<'a> {
    Text,
    JsonObject {
        #[serde(skip_serializing_if = "Option::is_none")]
        json_schema: Option<&'a RawValue>,
    },
}

#[derive(Serialize)]
struct Msg<'a> {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_plan: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(String),
    Parts(Vec<PartOut<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum PartOut<'a> {
    #[serde(rename = "text")]
    Text { text: &'a str },
    #[serde(rename = "image_url")]
    ImageUrl { image_url: ImageUrl },
}

#[derive(Serialize)]
struct ImageUrl {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
struct ToolCallOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: &'a str,
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
    parameters: &'a RawValue,
}

/// Cohere wants a schema for every tool; this is "no arguments".
const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(GatewayError::invalid_request(
            "Cohere returns one choice per request: `n` must be 1.",
        )
        .with_param("n"));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        push_message(&mut messages, i, m)?;
    }
    let empty_schema: &RawValue = serde_json::from_str(EMPTY_SCHEMA)
        .map_err(|e| GatewayError::new(crate::error::ErrorKind::Configuration, e.to_string()))?;
    // Cohere cannot be told to call one named tool; offering only that one
    // and requiring a call says the same.
    let named = match &req.tool_choice {
        Some(ToolChoice::Named(name)) if req.tools.iter().any(|t| &t.name == name) => {
            Some(name.as_str())
        }
        _ => None,
    };
    let tools: Vec<ToolOut> = req
        .tools
        .iter()
        .filter(|t| named.is_none_or(|n| n == t.name))
        .map(|t| ToolOut {
            kind: "function",
            function: ToolDef {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: t.parameters.as_deref().unwrap_or(empty_schema),
            },
        })
        .collect();
    let tool_choice = match (&req.tool_choice, tools.is_empty()) {
        (_, true) => None,
        (Some(ToolChoice::None), _) => Some("NONE"),
        (Some(ToolChoice::Required | ToolChoice::Named(_)), _) => Some("REQUIRED"),
        (Some(ToolChoice::Auto) | None, _) => None,
    };
    let extra_f64 = |name: &str| -> Option<f64> {
        req.extra
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| serde_json::from_str(v.get()).ok())
    };
    let body = Body {
        model,
        messages,
        strict_tools: req
            .tools
            .iter()
            .any(|t| t.strict == Some(true))
            .then_some(true),
        tools,
        tool_choice,
        stream: req.stream,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        // Cohere's ranges are narrower than OpenAI's: values are clamped into them.
        p: req.top_p.map(|p| p.clamp(0.01, 0.99)),
        k: extra_f64("top_k").map(|k| k.clamp(0.0, 500.0) as u32),
        stop_sequences: req.stop.iter().map(String::as_str).collect(),
        seed: req.seed,
        frequency_penalty: extra_f64("frequency_penalty").map(|v| v.clamp(0.0, 1.0)),
        presence_penalty: extra_f64("presence_penalty").map(|v| v.clamp(0.0, 1.0)),
        response_format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => FormatOut::Text,
            ResponseFormat::JsonObject => FormatOut::JsonObject { json_schema: None },
            ResponseFormat::JsonSchema { schema, .. } => FormatOut::JsonObject {
                json_schema: schema.as_deref(),
            },
        }),
        thinking: req.reasoning_effort.as_deref().map(|effort| match effort {
            "none" | "minimal" => serde_json::json!({"type": "disabled"}),
            _ => serde_json::json!({"type": "enabled"}),
        }),
    };
    serde_json::to_vec(&body)
        .map_err(|e| GatewayError::new(crate::error::ErrorKind::Configuration, e.to_string()))
}

fn push_message<'a>(
    out: &mut Vec<Msg<'a>>,
    i: usize,
    m: &'a crate::unified::Message,
) -> Result<(), GatewayError> {
    let role = match m.role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let mut parts: Vec<PartOut<'a>> = Vec::new();
    let mut calls = Vec::new();
    let mut thinking = String::new();
    for part in &m.content {
        match part {
            Part::Text { text, .. } => parts.push(PartOut::Text { text }),
            Part::Image { source, detail, .. } if m.role == Role::User => {
                parts.push(PartOut::ImageUrl {
                    image_url: ImageUrl {
                        url: match source {
                            MediaSource::Url(u) => u.clone(),
                            MediaSource::Base64 { media_type, data } => {
                                format!("data:{media_type};base64,{data}")
                            }
                        },
                        detail: detail.clone(),
                    },
                })
            }
            Part::ToolUse {
                id,
                name,
                arguments,
                ..
            } => calls.push(ToolCallOut {
                id,
                kind: "function",
                function: FunctionOut {
                    name,
                    arguments: if arguments.is_empty() {
                        "{}"
                    } else {
                        arguments
                    },
                },
            }),
            // Tool results go out as their own `tool` turns, in order, wherever
            // the ingress put them (Anthropic puts them in user turns).
            Part::ToolResult {
                tool_use_id,
                content,
                ..
            } => out.push(Msg {
                role: "tool",
                content: Some(Content::Text(text_of(content))),
                tool_plan: None,
                tool_calls: Vec::new(),
                tool_call_id: Some(tool_use_id),
            }),
            Part::Thinking { text, .. } => thinking.push_str(text),
            Part::RedactedThinking { .. } => {}
            Part::Image { .. } | Part::Document { .. } | Part::Audio { .. } => {
                let what = match part {
                    Part::Image { .. } => "image parts outside user turns",
                    Part::Document { .. } => "file parts",
                    _ => "audio parts",
                };
                return Err(GatewayError::invalid_request(format!(
                    "Cohere does not accept {what} (messages[{i}])."
                ))
                .with_param(&format!("messages[{i}].content")));
            }
        }
    }
    if parts.is_empty() && calls.is_empty() {
        // A turn that held only tool results (or nothing Cohere can carry).
        let only_results = m
            .content
            .iter()
            .any(|p| matches!(p, Part::ToolResult { .. }));
        if only_results || m.role == Role::Assistant {
            return Ok(());
        }
    }
    let all_text = parts.iter().all(|p| matches!(p, PartOut::Text { .. }));
    let content = if parts.is_empty() {
        (role != "assistant").then(|| Content::Text(String::new()))
    } else if all_text {
        let texts: Vec<&str> = parts
            .iter()
            .filter_map(|p| match p {
                PartOut::Text { text } => Some(*text),
                PartOut::ImageUrl { .. } => None,
            })
            .collect();
        Some(Content::Text(texts.join("\n")))
    } else {
        Some(Content::Parts(parts))
    };
    out.push(Msg {
        role,
        content,
        tool_plan: (!calls.is_empty() && !thinking.is_empty()).then_some(thinking),
        tool_calls: calls,
        tool_call_id: None,
    });
    Ok(())
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
