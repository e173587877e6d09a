//! `input` items as unified turns: messages, function and custom tool calls
//! with their outputs, and reasoning items. Consecutive items of one side
//! (an assistant's text, then its calls) merge into one turn, as every
//! other format wants them.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{field_error, flat_name, typed};
use crate::codec::openai_chat::role_from_openai;
use crate::error::GatewayError;
use crate::ingress::openai_chat::{media_source, write_json_str};
use crate::unified::{MediaSource, Message, Part, Role};

/// Every item kind in one flat shape: fields a kind lacks stay `None`.
#[derive(Deserialize)]
struct Item<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
    /// A custom tool call's free-form input.
    #[serde(default)]
    input: Option<String>,
    #[serde(default, borrow)]
    output: Option<&'a RawValue>,
    #[serde(default)]
    summary: Option<Vec<Summary>>,
    #[serde(default)]
    encrypted_content: Option<String>,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct ContentPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    file_data: Option<String>,
    #[serde(default)]
    file_url: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

/// `input` (a string, or a list of items) as unified turns.
pub(super) fn messages(json: &str) -> Result<Vec<Message>, GatewayError> {
    if json.starts_with('"') {
        let text: String = typed("input", json)?;
        return Ok(vec![turn(Role::User, vec![text_part(text)])]);
    }
    let items: Vec<Item<'_>> = typed("input", json)?;
    let mut out: Vec<Message> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |field: &str| format!("input[{i}].{field}");
        let kind = item.kind.as_deref().unwrap_or("message");
        let (role, parts) = match kind {
            "message" => {
                let role_name = item.role.as_deref().unwrap_or("");
                let role = role_from_openai(role_name).ok_or_else(|| {
                    field_error(
                        &at("role"),
                        "must be one of user, assistant, system, developer",
                    )
                })?;
                let content = item.content.ok_or_else(|| field_error(&at("content"), "is required"))?;
                (role, content_parts(content.get(), &at("content"))?)
            }
            "function_call" | "custom_tool_call" => {
                let name = item.name.unwrap_or_default();
                let name = match &item.namespace {
                    Some(ns) => flat_name(ns, &name),
                    None => name,
                };
                let arguments = match (kind, item.input) {
                    ("custom_tool_call", Some(input)) => {
                        let mut args = b"{\"input\":".to_vec();
                        write_json_str(&mut args, &input);
                        args.push(b'}');
                        String::from_utf8(args).unwrap_or_default()
                    }
                    _ => item.arguments.unwrap_or_default(),
                };
                let part = Part::ToolUse {
                    id: item.call_id.ok_or_else(|| field_error(&at("call_id"), "is required"))?,
                    name,
                    arguments,
                    cache_control: None,
                };
                (Role::Assistant, vec![part])
            }
            "function_call_output" | "custom_tool_call_output" => {
                let output = item.output.ok_or_else(|| field_error(&at("output"), "is required"))?;
                let part = Part::ToolResult {
                    tool_use_id: item
                        .call_id
                        .ok_or_else(|| field_error(&at("call_id"), "is required"))?,
                    content: content_parts(output.get(), &at("output"))?,
                    is_error: false,
                    cache_control: None,
                };
                (Role::User, vec![part])
            }
            "reasoning" => {
                let text: Vec<String> = item
                    .summary
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.text)
                    .collect();
                let part = match (text.is_empty(), item.encrypted_content) {
                    (true, Some(data)) => Part::RedactedThinking { data },
                    (true, None) => continue,
                    (false, signature) => Part::Thinking {
                        text: text.join("\n\n"),
                        signature,
                    },
                };
                (Role::Assistant, vec![part])
            }
            other => {
                return Err(GatewayError::invalid_request(format!(
                    "`input[{i}]` is a `{other}` item, which only OpenAI itself can read; this request goes to another provider."
                ))
                .with_param(&format!("input[{i}].type")))
            }
        };
        // Items of one side make one turn: reasoning, text, then the calls
        // of an assistant turn; several tool outputs in a row.
        let joins = match out.last() {
            Some(last) if last.role == role => match role {
                Role::Assistant => parts.iter().all(is_call) || !last.content.iter().any(is_call),
                Role::User => kind != "message" && last.content.iter().all(is_result),
                _ => false,
            },
            _ => false,
        };
        match out.last_mut() {
            Some(last) if joins => last.content.extend(parts),
            _ => out.push(turn(role, parts)),
        }
    }
    Ok(out)
}

fn is_result(p: &Part) -> bool {
    matches!(p, Part::ToolResult { .. })
}

fn is_call(p: &Part) -> bool {
    matches!(p, Part::ToolUse { .. })
}

fn turn(role: Role, content: Vec<Part>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

fn text_part(text: String) -> Part {
    Part::Text {
        text,
        cache_control: None,
    }
}

/// A message's `content` or a tool's `output`: a string or a list of parts.
fn content_parts(json: &str, field: &str) -> Result<Vec<Part>, GatewayError> {
    if json.starts_with('"') {
        let text: String = typed(field, json)?;
        return Ok(vec![text_part(text)]);
    }
    let parts: Vec<ContentPart<'_>> = typed(field, json)?;
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        out.push(match p.kind.as_ref() {
            "input_text" | "output_text" | "text" | "summary_text" => {
                text_part(p.text.unwrap_or_default())
            }
            "refusal" => text_part(p.refusal.unwrap_or_default()),
            "input_image" => {
                let url = p.image_url.or(p.file_id).ok_or_else(|| {
                    field_error(field, "has an input_image without image_url or file_id")
                })?;
                Part::Image {
                    source: media_source(url),
                    detail: p.detail.filter(|d| d != "auto"),
                    cache_control: None,
                }
            }
            "input_file" => Part::Document {
                source: match (p.file_data, p.file_url, p.file_id) {
                    (Some(data), _, _) => media_source(data),
                    (None, Some(url), _) => MediaSource::Url(url),
                    (None, None, Some(id)) => MediaSource::Url(id),
                    (None, None, None) => {
                        return Err(field_error(
                            field,
                            "has an input_file without file_data, file_url or file_id",
                        ))
                    }
                },
                name: p.filename,
                cache_control: None,
            },
            other => {
                return Err(field_error(
                    field,
                    &format!("has a `{other}` part, which this provider cannot read"),
                ))
            }
        });
    }
    Ok(out)
}
