//! The unified request as a Responses API body: turns become `input` items,
//! tool calls and results become `function_call` / `function_call_output`
//! items, leading system turns become `instructions`.

use std::collections::BTreeMap;

use crate::unified::{ChatRequest, MediaSource, Message, Part, ResponseFormat, Role, ToolChoice};

use super::reasoning_item;
use super::wire::{
    ContentPart, FunctionTool, InputItem, MessageContent, Reasoning, Request, SummaryText,
    TextConfig, TextFormat, ToolChoice as WireToolChoice,
};

/// Client fields with the same name and meaning in both APIs.
const PASSED_THROUGH: &[&str] = &[
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
];

pub fn render_request(req: &ChatRequest, model: &str) -> Vec<u8> {
    let leading_system = req
        .messages
        .iter()
        .take_while(|m| matches!(m.role, Role::System | Role::Developer))
        .count();
    let instructions = (leading_system > 0).then(|| {
        req.messages[..leading_system]
            .iter()
            .map(Message::text)
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    let mut input = Vec::with_capacity(req.messages.len());
    for m in &req.messages[leading_system..] {
        push_message(m, &mut input);
    }
    let reasoning = req.reasoning_effort.as_deref().map(|effort| Reasoning {
        effort,
        summary: "auto",
    });
    let body = Request {
        model,
        instructions,
        input,
        tools: req
            .tools
            .iter()
            .map(|t| FunctionTool {
                kind: "function",
                name: &t.name,
                description: t.description.as_deref(),
                parameters: t.parameters.as_deref(),
                strict: t.strict,
            })
            .collect(),
        tool_choice: req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => WireToolChoice::Mode("auto"),
            ToolChoice::None => WireToolChoice::Mode("none"),
            ToolChoice::Required => WireToolChoice::Mode("required"),
            ToolChoice::Named(name) => WireToolChoice::Function {
                kind: "function",
                name,
            },
        }),
        parallel_tool_calls: req.parallel_tool_calls,
        max_output_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        // Reasoning items come back encrypted only when asked; without them a
        // stateless (`store: false`) conversation loses the model's reasoning
        // between tool-calling turns.
        include: if reasoning.is_some() {
            vec!["reasoning.encrypted_content"]
        } else {
            Vec::new()
        },
        reasoning,
        text: req.response_format.as_ref().map(|f| TextConfig {
            format: match f {
                ResponseFormat::Text => TextFormat::Text,
                ResponseFormat::JsonObject => TextFormat::JsonObject,
                ResponseFormat::JsonSchema {
                    name,
                    schema,
                    strict,
                } => TextFormat::JsonSchema {
                    name,
                    schema: schema.as_deref(),
                    strict: *strict,
                },
            },
        }),
        // The gateway keeps no conversation state upstream: every request
        // carries its whole history, so nothing needs storing.
        store: false,
        stream: req.stream,
        user: req.user.as_deref(),
        passed: req
            .extra
            .iter()
            .filter(|(k, _)| PASSED_THROUGH.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), &**v))
            .collect::<BTreeMap<_, _>>(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// One turn as input items, in the order its parts came: text runs become
/// messages, tool calls/results and reasoning become their own items.
fn push_message<'a>(m: &'a Message, out: &mut Vec<InputItem<'a>>) {
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
        // A system turn after the conversation started cannot go into
        // `instructions` without moving it; developer is its place in `input`.
        Role::System | Role::Developer => "developer",
    };
    let mut parts: Vec<ContentPart<'a>> = Vec::new();
    let mut text_only = true;
    let flush = |parts: &mut Vec<ContentPart<'a>>, text_only: &mut bool, out: &mut Vec<_>| {
        if parts.is_empty() {
            return;
        }
        out.push(InputItem::Message {
            role,
            content: content(std::mem::take(parts), *text_only),
        });
        *text_only = true;
    };
    for part in &m.content {
        match part {
            Part::Text { text, .. } => parts.push(ContentPart::InputText { text }),
            Part::Image { source, detail, .. } => {
                text_only = false;
                parts.push(ContentPart::InputImage {
                    image_url: data_url(source),
                    detail: detail.as_deref().unwrap_or("auto"),
                });
            }
            Part::Document { source, name, .. } => {
                text_only = false;
                parts.push(file_part(source, name.as_deref()));
            }
            // The Responses API takes no audio input.
            Part::Audio { .. } => {}
            Part::ToolUse {
                id,
                name,
                arguments,
                ..
            } => {
                flush(&mut parts, &mut text_only, out);
                out.push(InputItem::FunctionCall {
                    call_id: id,
                    name,
                    arguments,
                });
            }
            Part::ToolResult {
                tool_use_id,
                content: result,
                ..
            } => {
                flush(&mut parts, &mut text_only, out);
                out.push(InputItem::FunctionCallOutput {
                    call_id: tool_use_id,
                    output: tool_output(result),
                });
            }
            Part::Thinking {
                text,
                signature: Some(sig),
            } => {
                // Reasoning goes back only as the encrypted item it came as;
                // plain or foreign reasoning text cannot be replayed.
                if let Some((id, encrypted)) = reasoning_item(sig) {
                    flush(&mut parts, &mut text_only, out);
                    out.push(InputItem::Reasoning {
                        id,
                        summary: summary(text),
                        encrypted_content: encrypted,
                    });
                }
            }
            Part::RedactedThinking { data } => {
                if let Some((id, encrypted)) = reasoning_item(data) {
                    flush(&mut parts, &mut text_only, out);
                    out.push(InputItem::Reasoning {
                        id,
                        summary: Vec::new(),
                        encrypted_content: encrypted,
                    });
                }
            }
            Part::Thinking { .. } => {}
        }
    }
    flush(&mut parts, &mut text_only, out);
}

fn summary(text: &str) -> Vec<SummaryText<'_>> {
    if text.is_empty() {
        return Vec::new();
    }
    vec![SummaryText {
        kind: "summary_text",
        text,
    }]
}

fn content(parts: Vec<ContentPart<'_>>, text_only: bool) -> MessageContent<'_> {
    if !text_only {
        return MessageContent::Parts(parts);
    }
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| match p {
            ContentPart::InputText { text } => Some(*text),
            _ => None,
        })
        .collect();
    MessageContent::Text(texts.join("\n"))
}

fn tool_output(result: &[Part]) -> MessageContent<'_> {
    let mut parts = Vec::new();
    let mut text_only = true;
    for p in result {
        match p {
            Part::Text { text, .. } => parts.push(ContentPart::InputText { text }),
            Part::Image { source, detail, .. } => {
                text_only = false;
                parts.push(ContentPart::InputImage {
                    image_url: data_url(source),
                    detail: detail.as_deref().unwrap_or("auto"),
                });
            }
            Part::Document { source, name, .. } => {
                text_only = false;
                parts.push(file_part(source, name.as_deref()));
            }
            _ => {}
        }
    }
    content(parts, text_only)
}

fn file_part<'a>(source: &'a MediaSource, name: Option<&'a str>) -> ContentPart<'a> {
    match source {
        MediaSource::Base64 { media_type, data } => ContentPart::InputFile {
            file_data: Some(format!("data:{media_type};base64,{data}")),
            file_url: None,
            file_id: None,
            filename: name,
        },
        MediaSource::Url(u) if u.starts_with("http://") || u.starts_with("https://") => {
            ContentPart::InputFile {
                file_data: None,
                file_url: Some(u),
                file_id: None,
                filename: name,
            }
        }
        // The chat ingress keeps an uploaded file's id where a URL would be.
        MediaSource::Url(id) => ContentPart::InputFile {
            file_data: None,
            file_url: None,
            file_id: Some(id),
            filename: name,
        },
    }
}

fn data_url(source: &MediaSource) -> String {
    match source {
        MediaSource::Url(u) => u.clone(),
        MediaSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}
