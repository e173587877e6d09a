//! OpenAI Responses ingress: `POST /v1/responses`, as the Codex CLI, the
//! Agents SDK and `client.responses` send it.
//!
//! Like the chat ingress, the body is read as an envelope of raw top-level
//! fields: an OpenAI upstream gets those bytes back with the model swapped;
//! any other upstream gets the unified request built from `input` items.
//! Tools only OpenAI runs (web search, file search, ...) cannot be
//! translated: they are refused, or dropped and reported when the config
//! says `drop_params`.

mod input;
pub mod render;

pub use render::{error_event, EventRenderer, Head};

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::GatewayError;
use crate::ingress::openai_chat::{fields_json, raw_number, write_key};
use crate::raw_json::Fields;
use crate::unified::{ChatRequest, Message, Part, ResponseFormat, Role, Tool, ToolChoice};

/// How ids the gateway makes up for Responses clients begin.
pub const ID_PREFIX: &str = "resp_";

/// A parsed request body that still holds its fields as raw JSON.
#[derive(Debug)]
pub struct ResponsesEnvelope<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    pub model: String,
    pub stream: bool,
    /// OpenAI's default is to keep the response.
    pub store: bool,
    pub max_output_tokens: Option<u32>,
    pub previous_response_id: Option<String>,
}

/// The tools a request declares in shapes other than a plain function: how
/// a model's call to them is said back in this format.
#[derive(Debug, Default, Clone)]
pub struct ToolShapes {
    /// `custom` (free-form) tools: called with one string, `input`.
    pub custom: Vec<String>,
    /// Functions inside a `namespace` tool: (flat name sent upstream, namespace, name).
    pub namespaced: Vec<(String, String, String)>,
    /// Tools of any other type (web search, file search, MCP, ...): OpenAI
    /// runs them, so a translated upstream cannot.
    pub hosted: Vec<String>,
}

impl ToolShapes {
    pub fn is_custom(&self, name: &str) -> bool {
        self.custom.iter().any(|c| c == name)
    }

    /// The namespace and name of a flat function name.
    pub fn namespace_of(&self, flat: &str) -> Option<(&str, &str)> {
        self.namespaced
            .iter()
            .find(|(f, _, _)| f == flat)
            .map(|(_, ns, name)| (ns.as_str(), name.as_str()))
    }
}

/// The schema a free-form tool is offered with to function-only upstreams.
const CUSTOM_TOOL_SCHEMA: &str = r#"{"type":"object","properties":{"input":{"type":"string","description":"The raw input for this tool, exactly as its format describes."}},"required":["input"],"additionalProperties":false}"#;

#[derive(Deserialize)]
struct ToolIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Box<RawValue>>,
    #[serde(default)]
    strict: Option<bool>,
    /// A custom tool's input grammar or format.
    #[serde(default)]
    format: Option<&'a RawValue>,
    /// A namespace's own tools.
    #[serde(default, borrow)]
    tools: Option<Vec<ToolIn<'a>>>,
}

#[derive(Deserialize)]
struct NamedChoice {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
struct TextIn<'a> {
    #[serde(default, borrow)]
    format: Option<FormatIn<'a>>,
}

#[derive(Deserialize)]
struct FormatIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Box<RawValue>>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct ReasoningIn {
    #[serde(default)]
    effort: Option<String>,
}

impl<'a> ResponsesEnvelope<'a> {
    pub fn parse(body: &'a [u8]) -> Result<ResponsesEnvelope<'a>, GatewayError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(GatewayError::invalid_request(
                "The request body is empty: expected a JSON object with `model` and `input`.",
            )
            .with_code("invalid_json"));
        }
        let Fields(fields) = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
        let mut env = ResponsesEnvelope {
            fields: Vec::new(),
            model: String::new(),
            stream: false,
            store: true,
            max_output_tokens: None,
            previous_response_id: None,
        };
        let mut has_input = false;
        for (name, raw) in &fields {
            let json = raw.get();
            match name.as_ref() {
                "model" => env.model = typed(name, json)?,
                "stream" => env.stream = typed::<Option<bool>>(name, json)?.unwrap_or(false),
                "store" => env.store = typed::<Option<bool>>(name, json)?.unwrap_or(true),
                "max_output_tokens" => env.max_output_tokens = typed(name, json)?,
                "previous_response_id" => env.previous_response_id = typed(name, json)?,
                "input" => {
                    if !(json.starts_with('[') || json.starts_with('"')) {
                        return Err(field_error(
                            "input",
                            "must be a string or an array of items",
                        ));
                    }
                    has_input = true;
                }
                _ => {}
            }
        }
        if env.model.is_empty() {
            return Err(missing("model"));
        }
        if !has_input {
            return Err(missing("input"));
        }
        env.fields = fields;
        Ok(env)
    }

    pub fn raw_field(&self, name: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// The body for an OpenAI upstream: every field as the client sent it,
    /// in order, with the model swapped, and `max_output_tokens` set to
    /// `bound` when a budget lowered it.
    pub fn render_passthrough(&self, upstream_model: &str, bound: Option<u32>) -> Vec<u8> {
        let bound = bound.and_then(raw_number);
        let set = bound.as_deref().map(|n| ("max_output_tokens", n));
        fields_json(&self.fields, upstream_model, false, set)
    }

    /// The body with `input` replaced (the whole conversation) and no
    /// `previous_response_id`: what a resumed request becomes.
    pub fn with_input(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + 256);
        out.push(b'{');
        for (name, raw) in &self.fields {
            let value = match name.as_ref() {
                "previous_response_id" => continue,
                "input" => input,
                _ => raw.get().as_bytes(),
            };
            if out.len() > 1 {
                out.push(b',');
            }
            write_key(&mut out, name);
            out.extend_from_slice(value);
        }
        out.push(b'}');
        out
    }

    /// The request's tools in other shapes than a function.
    pub fn tool_shapes(&self) -> Result<ToolShapes, GatewayError> {
        let mut shapes = ToolShapes::default();
        let Some(raw) = self.raw_field("tools") else {
            return Ok(shapes);
        };
        let tools: Option<Vec<ToolIn<'_>>> = typed("tools", raw.get())?;
        for t in tools.unwrap_or_default() {
            match t.kind.as_ref() {
                "function" => {}
                "custom" => shapes.custom.push(t.name.unwrap_or_default()),
                "namespace" => {
                    let ns = t.name.unwrap_or_default();
                    for inner in t.tools.unwrap_or_default() {
                        let name = inner.name.unwrap_or_default();
                        shapes
                            .namespaced
                            .push((flat_name(&ns, &name), ns.clone(), name.clone()));
                        if inner.kind == "custom" {
                            shapes.custom.push(flat_name(&ns, &name));
                        }
                    }
                }
                other => shapes.hosted.push(other.to_owned()),
            }
        }
        Ok(shapes)
    }

    /// The full unified request, for upstreams that speak another format.
    /// Hosted tools are left out: the caller decides whether that is allowed.
    pub fn to_unified(&self) -> Result<ChatRequest, GatewayError> {
        let mut req = ChatRequest {
            model: self.model.clone(),
            stream: self.stream,
            include_usage: true,
            ..ChatRequest::default()
        };
        let mut instructions = None;
        for (name, raw) in &self.fields {
            let json = raw.get();
            match name.as_ref() {
                "instructions" => instructions = typed::<Option<String>>(name, json)?,
                "input" => req.messages = input::messages(json)?,
                "tools" => req.tools = tools(json)?,
                "tool_choice" => req.tool_choice = tool_choice(json)?,
                "parallel_tool_calls" => req.parallel_tool_calls = typed(name, json)?,
                "max_output_tokens" => req.max_tokens = typed(name, json)?,
                "temperature" => req.temperature = typed(name, json)?,
                "top_p" => req.top_p = typed(name, json)?,
                "top_logprobs" => req.top_logprobs = typed(name, json)?,
                "user" | "safety_identifier" => {
                    req.user = typed::<Option<String>>(name, json)?.or(req.user)
                }
                "reasoning" => {
                    req.reasoning_effort =
                        typed::<Option<ReasoningIn>>(name, json)?.and_then(|r| r.effort)
                }
                "text" => {
                    req.response_format = match typed::<Option<TextIn<'_>>>(name, json)? {
                        Some(TextIn { format: Some(f) }) => Some(response_format(f)?),
                        _ => None,
                    }
                }
                // Said elsewhere (model, stream), kept by the gateway (store,
                // previous_response_id), or meaningful to OpenAI only.
                _ => {}
            }
        }
        if let Some(text) = instructions.filter(|t| !t.is_empty()) {
            req.messages.insert(
                0,
                Message {
                    role: Role::System,
                    content: vec![Part::Text {
                        text,
                        cache_control: None,
                    }],
                    name: None,
                },
            );
        }
        if req.messages.is_empty() {
            return Err(field_error("input", "must contain at least one item"));
        }
        Ok(req)
    }
}

/// The one name a namespaced function goes upstream by (tool names allow
/// letters, digits, `_` and `-`).
fn flat_name(namespace: &str, name: &str) -> String {
    format!("{namespace}__{name}")
}

fn tools(json: &str) -> Result<Vec<Tool>, GatewayError> {
    let list: Option<Vec<ToolIn<'_>>> = typed("tools", json)?;
    let mut out = Vec::new();
    let mut add = |t: ToolIn<'_>, flat: Option<String>| {
        let name = t.name.unwrap_or_default();
        let name = flat.unwrap_or(name);
        match t.kind.as_ref() {
            "function" => out.push(Tool {
                name,
                description: t.description,
                parameters: t.parameters,
                strict: t.strict,
                cache_control: None,
            }),
            "custom" => {
                let mut description = t.description.unwrap_or_default();
                if let Some(format) = t.format {
                    description.push_str("\n\nInput format: ");
                    description.push_str(format.get());
                }
                out.push(Tool {
                    name,
                    description: Some(description),
                    parameters: RawValue::from_string(CUSTOM_TOOL_SCHEMA.to_owned()).ok(),
                    strict: None,
                    cache_control: None,
                })
            }
            _ => {}
        }
    };
    for t in list.unwrap_or_default() {
        if t.kind == "namespace" {
            let ns = t.name.clone().unwrap_or_default();
            for inner in t.tools.unwrap_or_default() {
                let flat = flat_name(&ns, inner.name.as_deref().unwrap_or_default());
                add(inner, Some(flat));
            }
        } else {
            add(t, None);
        }
    }
    Ok(out)
}

fn tool_choice(json: &str) -> Result<Option<ToolChoice>, GatewayError> {
    if json.starts_with('"') {
        let mode: String = typed("tool_choice", json)?;
        return Ok(Some(match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => {
                return Err(field_error(
                    "tool_choice",
                    "must be \"auto\", \"none\", \"required\" or a named tool",
                ))
            }
        }));
    }
    let Some(named) = typed::<Option<NamedChoice>>("tool_choice", json)? else {
        return Ok(None);
    };
    Ok(match (named.kind.as_str(), named.name) {
        ("function" | "custom", Some(name)) => Some(ToolChoice::Named(name)),
        // `allowed_tools` narrows the list; its mode is what a translated
        // upstream can honour.
        ("allowed_tools", _) => match named.mode.as_deref() {
            Some("required") => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        _ => {
            return Err(field_error(
                "tool_choice",
                "names a tool type this provider cannot be asked to call",
            ))
        }
    })
}

fn response_format(f: FormatIn<'_>) -> Result<ResponseFormat, GatewayError> {
    Ok(match f.kind.as_ref() {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => ResponseFormat::JsonSchema {
            name: f.name.ok_or_else(|| missing("text.format.name"))?,
            schema: f.schema,
            strict: f.strict,
        },
        _ => {
            return Err(field_error(
                "text.format.type",
                "must be \"text\", \"json_object\" or \"json_schema\"",
            ))
        }
    })
}

pub(crate) fn typed<'de, T: Deserialize<'de>>(
    field: &str,
    json: &'de str,
) -> Result<T, GatewayError> {
    serde_json::from_str(json).map_err(|e| {
        GatewayError::invalid_request(format!("Invalid value for `{field}`: {e}")).with_param(field)
    })
}

pub(crate) fn field_error(field: &str, what: &str) -> GatewayError {
    GatewayError::invalid_request(format!("`{field}` {what}.")).with_param(field)
}

fn missing(field: &str) -> GatewayError {
    GatewayError::invalid_request(format!("Missing required parameter: `{field}`."))
        .with_param(field)
        .with_code("missing_required_parameter")
}

#[cfg(test)]
mod tests;
