//! The unified request rendered as an OpenAI Chat Completions body, for
//! ingress formats other than OpenAI's own (Anthropic Messages → OpenAI-compatible).

use serde::Serialize;
use serde_json::value::RawValue;

use crate::unified::{ChatRequest, MediaSource, Part, ResponseFormat, Role, ToolChoice};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Msg<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<FormatOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_logprobs: Option<u32>,
}

/// `response_format` as sent. The schema goes out as the client's raw
/// bytes: turning it into a `Value` fails on what a raw value lets through
/// (a lone surrogate escape), and the upstream is the one to judge it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FormatOut<'a> {
    Text,
    JsonObject,
    JsonSchema { json_schema: SchemaOut<'a> },
}

#[derive(Serialize)]
struct SchemaOut<'a> {
    name: &'a str,
    schema: Option<&'a RawValue>,
    strict: Option<bool>,
}

#[derive(Serialize)]
struct Msg<'a> {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

#[derive(Serialize)]
struct ToolOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

/// The request as an OpenAI chat body for `model`. Tool results become
/// `tool` messages (one per result), thinking becomes `reasoning_content`.
pub fn render_request(req: &ChatRequest, model: &str) -> Vec<u8> {
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let mut parts = Vec::new();
        let mut tool_calls = Vec::new();
        let mut reasoning = String::new();
        let mut had_tool_results = false;
        for part in &m.content {
            match part {
                Part::ToolResult {
                    tool_use_id,
                    content,
                    ..
                } => {
                    had_tool_results = true;
                    messages.push(Msg {
                        role: "tool",
                        content: Some(serde_json::Value::String(text_of(content))),
                        name: None,
                        tool_calls: Vec::new(),
                        tool_call_id: Some(tool_use_id),
                        reasoning_content: None,
                    })
                }
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => tool_calls.push(serde_json::json!({
                    "id": id, "type": "function",
                    "function": {"name": name, "arguments": arguments},
                })),
                Part::Thinking { text, .. } => reasoning.push_str(text),
                Part::RedactedThinking { .. } => {}
                other => parts.extend(content_part(other)),
            }
        }
        if parts.is_empty() && tool_calls.is_empty() && had_tool_results {
            continue;
        }
        let only_text = parts.iter().all(|p| p["type"] == "text");
        let content = if parts.is_empty() {
            (m.role != Role::Assistant).then(|| serde_json::Value::String(String::new()))
        } else if only_text {
            Some(serde_json::Value::String(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ))
        } else {
            Some(serde_json::Value::Array(parts))
        };
        messages.push(Msg {
            role: m.role.as_str(),
            content,
            name: m.name.as_deref(),
            tool_calls,
            tool_call_id: None,
            reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
        });
    }
    let body = Body {
        model,
        messages,
        tools: req
            .tools
            .iter()
            .map(|t| ToolOut {
                kind: "function",
                function: FunctionOut {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: t.parameters.as_deref(),
                    strict: t.strict,
                },
            })
            .collect(),
        tool_choice: req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => "auto".into(),
            ToolChoice::None => "none".into(),
            ToolChoice::Required => "required".into(),
            ToolChoice::Named(name) => {
                serde_json::json!({"type": "function", "function": {"name": name}})
            }
        }),
        parallel_tool_calls: req.parallel_tool_calls,
        stream: req.stream,
        stream_options: req
            .stream
            .then(|| serde_json::json!({"include_usage": true})),
        n: req.n,
        max_tokens: req.max_tokens.filter(|_| !req.use_max_completion_tokens),
        max_completion_tokens: req.max_tokens.filter(|_| req.use_max_completion_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        stop: req.stop.iter().map(String::as_str).collect(),
        seed: req.seed,
        user: req.user.as_deref(),
        response_format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => FormatOut::Text,
            ResponseFormat::JsonObject => FormatOut::JsonObject,
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => FormatOut::JsonSchema {
                json_schema: SchemaOut {
                    name,
                    schema: schema.as_deref(),
                    strict: *strict,
                },
            },
        }),
        reasoning_effort: req.reasoning_effort.as_deref(),
        logprobs: req.logprobs,
        top_logprobs: req.top_logprobs,
    };
    serde_json::to_vec(&body).unwrap_or_default()
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

fn content_part(part: &Part) -> Option<serde_json::Value> {
    Some(match part {
        Part::Text { text, .. } => serde_json::json!({"type": "text", "text": text}),
        Part::Image { source, detail, .. } => {
            let mut image = serde_json::json!({"url": data_url(source)});
            if let Some(d) = detail {
                image["detail"] = d.as_str().into();
            }
            serde_json::json!({"type": "image_url", "image_url": image})
        }
        Part::Document { source, name, .. } => serde_json::json!({"type": "file", "file": {
            "file_data": data_url(source), "filename": name,
        }}),
        Part::Audio { data, format } => {
            serde_json::json!({"type": "input_audio", "input_audio": {"data": data, "format": format}})
        }
        _ => return None,
    })
}

fn data_url(source: &MediaSource) -> String {
    match source {
        MediaSource::Url(u) => u.clone(),
        MediaSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::openai_chat::ChatEnvelope;

    #[test]
    fn round_trips_through_the_openai_ingress() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"look","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"a cat"}],
            "tools":[{"type":"function","function":{"name":"look","parameters":{"type":"object"}}}],
            "tool_choice":{"type":"function","function":{"name":"look"}},"stream":true,"stop":["x"],"seed":3}"#;
        let req = ChatEnvelope::parse(body).unwrap().to_unified().unwrap();
        let out: serde_json::Value = serde_json::from_slice(&render_request(&req, "up")).unwrap();
        assert_eq!(out["model"], "up");
        assert_eq!(
            out["messages"][0],
            serde_json::json!({"role":"system","content":"be brief"})
        );
        assert_eq!(
            out["messages"][1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(
            out["messages"][2]["tool_calls"][0]["function"]["name"],
            "look"
        );
        assert!(out["messages"][2].get("content").is_none());
        assert_eq!(
            out["messages"][3],
            serde_json::json!({"role":"tool","content":"a cat","tool_call_id":"c1"})
        );
        assert_eq!(out["tool_choice"]["function"]["name"], "look");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["stop"], serde_json::json!(["x"]));
        assert_eq!(out["seed"], 3);
    }
}
