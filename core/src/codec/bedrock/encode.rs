//! The unified request as a Converse / ConverseStream body.
//!
//! Converse is stricter than OpenAI's chat format: system text goes in its own
//! list, roles must alternate starting with `user` (tool results travel in
//! user turns), content blocks may not be blank, and a conversation holding
//! tool blocks must declare tools. The renderer bends the request into that
//! shape instead of letting Bedrock refuse it.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::GatewayError;
use crate::unified::{
    CacheControl, ChatRequest, MediaSource, Part, ResponseFormat, Role, Tool, ToolChoice,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    messages: Vec<Msg<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_config: Option<InferenceConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    additional_model_request_fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guardrail_config: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    performance_config: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_metadata: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Msg<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

/// A Converse content block: a union serialized as `{"<member>": value}`.
#[derive(Serialize)]
enum Block<'a> {
    #[serde(rename = "text")]
    Text(&'a str),
    #[serde(rename = "image")]
    Image(Media<'a>),
    #[serde(rename = "document")]
    Document(Doc<'a>),
    #[serde(rename = "audio")]
    Audio(Media<'a>),
    #[serde(rename = "toolUse")]
    ToolUse(ToolUseOut<'a>),
    #[serde(rename = "toolResult")]
    ToolResult(ToolResultOut<'a>),
    #[serde(rename = "reasoningContent")]
    Reasoning(ReasoningOut<'a>),
    #[serde(rename = "cachePoint")]
    CachePoint(CachePointOut),
    #[serde(rename = "json")]
    Json(Json<'a>),
}

#[derive(Serialize)]
struct Media<'a> {
    format: &'a str,
    source: Source<'a>,
}

#[derive(Serialize)]
struct Doc<'a> {
    format: &'a str,
    name: String,
    source: Source<'a>,
}

#[derive(Serialize)]
enum Source<'a> {
    /// Base64 text: JSON carries blobs that way.
    #[serde(rename = "bytes")]
    Bytes(&'a str),
    #[serde(rename = "s3Location")]
    S3 { uri: &'a str },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolUseOut<'a> {
    tool_use_id: &'a str,
    name: &'a str,
    input: Json<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResultOut<'a> {
    tool_use_id: &'a str,
    content: Vec<Block<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
}

#[derive(Serialize)]
enum ReasoningOut<'a> {
    #[serde(rename = "reasoningText")]
    Text { text: &'a str, signature: &'a str },
    #[serde(rename = "redactedContent")]
    Redacted(&'a str),
}

#[derive(Serialize)]
struct CachePointOut {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<&'static str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    tools: Vec<ToolOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
}

/// A `toolConfig.tools` member: a tool, or the cache point after one.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum ToolOut<'a> {
    ToolSpec(ToolSpec<'a>),
    CachePoint(CachePointOut),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: InputSchema<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Serialize)]
struct InputSchema<'a> {
    json: Json<'a>,
}

/// Thinking budgets for `reasoning_effort` on Claude models.
fn thinking_budget(effort: &str) -> Result<Option<u32>, GatewayError> {
    Ok(match effort {
        "none" => None,
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        other => {
            return Err(GatewayError::invalid_request(format!(
                "Invalid value for `reasoning_effort`: `{other}` is not one of none, minimal, low, medium, high."
            ))
            .with_param("reasoning_effort"))
        }
    })
}

/// Bedrock model ids of Anthropic models: foundation models
/// (`anthropic.claude-…`), inference profiles (`us.anthropic.claude-…`) and
/// ARNs that name one of those.
pub fn is_claude(model_id: &str) -> bool {
    model_id.contains("anthropic.") || model_id.contains("claude")
}

fn is_gpt_oss(model_id: &str) -> bool {
    model_id.contains("openai.gpt-oss")
}

/// A blank text block is refused by Bedrock, so blank text is left out.
fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// A JSON value for a Converse `Document` member: the client's own JSON, or
/// one of the two the encoder fills in.
#[derive(Clone, Copy)]
enum Json<'a> {
    Raw(&'a RawValue),
    /// `{}`: a tool call without arguments, a tool result without content.
    EmptyObject,
    /// `{"type":"object"}`: a tool declared without a schema.
    AnyObject,
}

impl Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Json::Raw(raw) => raw.serialize(s),
            Json::EmptyObject => s.serialize_map(Some(0))?.end(),
            Json::AnyObject => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("type", "object")?;
                m.end()
            }
        }
    }
}

fn cache_point(cc: &CacheControl) -> Block<'static> {
    Block::CachePoint(cache_point_out(cc))
}

fn cache_point_out(cc: &CacheControl) -> CachePointOut {
    CachePointOut {
        kind: "default",
        ttl: (cc.ttl.as_deref() == Some("1h")).then_some("1h"),
    }
}

fn image_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

fn document_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/markdown" => "md",
        _ => return None,
    })
}

/// Bedrock allows only alphanumerics, single spaces, hyphens, parentheses and
/// square brackets in a document name; `report.pdf` becomes `report-pdf`.
fn document_name(name: Option<&str>, index: usize) -> String {
    let mut out = String::new();
    for c in name.unwrap_or("").chars() {
        let c = if c.is_ascii_alphanumeric() || "-()[]".contains(c) {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '-'
        };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    let out = out.trim().to_owned();
    if out.is_empty() {
        format!("document-{}", index + 1)
    } else {
        out
    }
}

fn unsupported(what: String, param: &str) -> GatewayError {
    GatewayError::invalid_request(what)
        .with_param(param)
        .with_code("unsupported_content")
}

/// Renders media, documents and text: the blocks every role may carry.
fn content_block<'a>(
    part: &'a Part,
    where_: &str,
    doc_index: &mut usize,
) -> Result<Option<Block<'a>>, GatewayError> {
    Ok(Some(match part {
        Part::Text { text, .. } if blank(text) => return Ok(None),
        Part::Text { text, .. } => Block::Text(text),
        Part::Image { source, .. } => Block::Image(match source {
            MediaSource::Base64 { media_type, data } => Media {
                format: image_format(media_type).ok_or_else(|| {
                    unsupported(
                        format!("Bedrock accepts png, jpeg, gif and webp images, not `{media_type}`."),
                        where_,
                    )
                })?,
                source: Source::Bytes(data),
            },
            MediaSource::Url(url) if url.starts_with("s3://") => Media {
                format: url
                    .rsplit('.')
                    .next()
                    .and_then(|ext| image_format(&format!("image/{}", ext.to_ascii_lowercase())))
                    .unwrap_or("png"),
                source: Source::S3 { uri: url },
            },
            MediaSource::Url(_) => {
                return Err(unsupported(
                    "Bedrock cannot fetch image URLs: send the image as a base64 `data:` URL (or an s3:// URI)."
                        .into(),
                    where_,
                ))
            }
        }),
        Part::Document { source, name, .. } => {
            let (format, source) = match source {
                MediaSource::Base64 { media_type, data } => (
                    document_format(media_type).ok_or_else(|| {
                        unsupported(
                            format!("Bedrock does not accept documents of type `{media_type}`."),
                            where_,
                        )
                    })?,
                    Source::Bytes(data),
                ),
                MediaSource::Url(url) if url.starts_with("s3://") => (
                    url.rsplit('.')
                        .next()
                        .filter(|ext| {
                            ["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"]
                                .contains(ext)
                        })
                        .unwrap_or("pdf"),
                    Source::S3 { uri: url },
                ),
                MediaSource::Url(_) => {
                    return Err(unsupported(
                        "Bedrock needs documents inline (base64 `file_data`) or as s3:// URIs."
                            .into(),
                        where_,
                    ))
                }
            };
            let name = document_name(name.as_deref(), *doc_index);
            *doc_index += 1;
            Block::Document(Doc {
                format,
                name,
                source,
            })
        }
        Part::Audio { data, format } => Block::Audio(Media {
            format,
            source: Source::Bytes(data),
        }),
        _ => return Ok(None),
    }))
}

fn tool_input<'a>(arguments: &'a str, where_: &str) -> Result<Json<'a>, GatewayError> {
    if arguments.trim().is_empty() {
        return Ok(Json::EmptyObject);
    }
    serde_json::from_str(arguments).map(Json::Raw).map_err(|e| {
        GatewayError::invalid_request(format!(
            "The tool call arguments at `{where_}` are not valid JSON ({e}); Bedrock needs them as a JSON object."
        ))
        .with_param(where_)
    })
}

/// Pushes a turn, merging it into the previous one when the roles are equal.
fn push_turn<'a>(messages: &mut Vec<Msg<'a>>, role: &'static str, blocks: Vec<Block<'a>>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Msg {
            role,
            content: blocks,
        }),
    }
}

/// Tool results open a user turn: text after them is fine, before them is
/// not. A cache point moves with the block it follows.
fn tool_results_first(msg: &mut Msg<'_>) {
    if msg.role != "user"
        || !msg
            .content
            .iter()
            .any(|b| matches!(b, Block::ToolResult(_)))
    {
        return;
    }
    let mut results = Vec::with_capacity(msg.content.len());
    let mut rest = Vec::new();
    let mut after_result = false;
    for b in std::mem::take(&mut msg.content) {
        let first = match b {
            Block::ToolResult(_) => true,
            Block::CachePoint(_) => after_result,
            _ => false,
        };
        if !matches!(b, Block::CachePoint(_)) {
            after_result = first;
        }
        if first {
            results.push(b);
        } else {
            rest.push(b);
        }
    }
    results.extend(rest);
    msg.content = results;
}

/// The Converse body for `model_id` (which selects model-specific fields:
/// Claude's thinking, gpt-oss's reasoning effort).
pub fn render_request(req: &ChatRequest, model_id: &str) -> Result<Vec<u8>, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(GatewayError::invalid_request(
            "Bedrock returns one choice per request: `n` must be 1.",
        )
        .with_param("n"));
    }
    let mut system = Vec::new();
    let mut messages: Vec<Msg<'_>> = Vec::with_capacity(req.messages.len());
    let mut used_tools: Vec<&str> = Vec::new();
    let mut doc_index = 0;
    for (i, m) in req.messages.iter().enumerate() {
        let where_ = format!("messages[{i}]");
        if matches!(m.role, Role::System | Role::Developer) {
            for part in &m.content {
                if let Part::Text {
                    text,
                    cache_control,
                } = part
                {
                    if !blank(text) {
                        system.push(Block::Text(text));
                        if let Some(cc) = cache_control {
                            system.push(cache_point(cc));
                        }
                    }
                }
            }
            continue;
        }
        let role = if m.role == Role::Assistant {
            "assistant"
        } else {
            "user"
        };
        let mut blocks = Vec::with_capacity(m.content.len());
        for part in &m.content {
            let before = blocks.len();
            match part {
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => {
                    used_tools.push(name);
                    blocks.push(Block::ToolUse(ToolUseOut {
                        tool_use_id: id,
                        name,
                        input: tool_input(arguments, &format!("{where_}.tool_calls"))?,
                    }));
                }
                Part::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    ..
                } => {
                    let mut inner = Vec::with_capacity(content.len());
                    for c in content {
                        inner.extend(content_block(c, &where_, &mut doc_index)?);
                    }
                    if inner.is_empty() {
                        // An empty result is still an answer; Bedrock wants one block.
                        inner.push(Block::Json(Json::EmptyObject));
                    }
                    blocks.push(Block::ToolResult(ToolResultOut {
                        tool_use_id,
                        content: inner,
                        status: is_error.then_some("error"),
                    }));
                }
                // Reasoning goes back only with the signature that vouches for
                // it; unsigned reasoning (from other providers) is dropped.
                Part::Thinking {
                    text,
                    signature: Some(signature),
                } if role == "assistant" => {
                    blocks.push(Block::Reasoning(ReasoningOut::Text { text, signature }))
                }
                Part::RedactedThinking { data } if role == "assistant" => {
                    blocks.push(Block::Reasoning(ReasoningOut::Redacted(data)))
                }
                Part::Thinking { .. } | Part::RedactedThinking { .. } => {}
                other => blocks.extend(content_block(other, &where_, &mut doc_index)?),
            }
            // Converse's breakpoint is a block of its own after the one it closes.
            if let (true, Some(cc)) = (blocks.len() > before, part.cache_control()) {
                blocks.push(cache_point(cc));
            }
        }
        push_turn(&mut messages, role, blocks);
    }
    for m in &mut messages {
        tool_results_first(m);
    }
    // Converse conversations open with a user turn.
    if messages.first().is_none_or(|m| m.role != "user") {
        messages.insert(
            0,
            Msg {
                role: "user",
                content: vec![Block::Text(".")],
            },
        );
    }

    let mut additional = Map::new();
    if let Some(raw) = extra(req, "additionalModelRequestFields") {
        if let Ok(Value::Object(map)) = serde_json::from_str(raw.get()) {
            additional = map;
        }
    }
    let mut max_tokens = req.max_tokens;
    let mut temperature = req.temperature;
    let mut top_p = req.top_p;
    if is_claude(model_id) {
        let thinking: Option<Value> = match (extra(req, "thinking"), &req.reasoning_effort) {
            (Some(raw), _) => serde_json::from_str(raw.get()).ok(),
            (None, Some(effort)) => thinking_budget(effort)?
                .map(|b| serde_json::json!({"type": "enabled", "budget_tokens": b})),
            (None, None) => None,
        };
        if let Some(thinking) = thinking {
            if let Some(budget) = thinking.get("budget_tokens").and_then(Value::as_u64) {
                let budget = u32::try_from(budget).unwrap_or(u32::MAX);
                // Claude counts thinking inside max_tokens: the answer keeps
                // the room the client asked for.
                max_tokens = Some(match max_tokens {
                    Some(m) if m > budget => m,
                    Some(m) => budget.saturating_add(m),
                    None => budget.saturating_add(4096),
                });
                // Claude refuses sampling changes while thinking.
                temperature = temperature.filter(|t| *t == 1.0);
                top_p = top_p.filter(|p| *p >= 0.95);
            }
            additional.insert("thinking".into(), thinking);
        }
    } else if is_gpt_oss(model_id) {
        if let Some(effort) = &req.reasoning_effort {
            additional.insert("reasoning_effort".into(), Value::String(effort.clone()));
        }
    }

    let inference = InferenceConfig {
        max_tokens,
        temperature,
        top_p,
        stop_sequences: req.stop.iter().map(String::as_str).collect(),
    };
    let has_inference = inference.max_tokens.is_some()
        || inference.temperature.is_some()
        || inference.top_p.is_some()
        || !inference.stop_sequences.is_empty();

    let body = Body {
        messages,
        system,
        inference_config: has_inference.then_some(inference),
        tool_config: tool_config(req, &used_tools),
        additional_model_request_fields: additional,
        output_config: output_config(req),
        guardrail_config: extra(req, "guardrailConfig"),
        performance_config: extra(req, "performanceConfig"),
        request_metadata: extra(req, "requestMetadata"),
        service_tier: extra(req, "serviceTier"),
    };
    serde_json::to_vec(&body).map_err(|e| {
        GatewayError::invalid_request(format!("The request cannot be encoded for Bedrock: {e}"))
    })
}

fn extra<'a>(req: &'a ChatRequest, name: &str) -> Option<&'a RawValue> {
    req.extra
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_ref())
}

fn tool_spec(t: &Tool) -> ToolOut<'_> {
    ToolOut::ToolSpec(ToolSpec {
        name: &t.name,
        description: t.description.as_deref().filter(|d| !blank(d)),
        input_schema: InputSchema {
            json: t.parameters.as_deref().map_or(Json::AnyObject, Json::Raw),
        },
        strict: t.strict,
    })
}

/// The declared tools, each followed by its cache point when it has one.
fn tool_specs(tools: &[Tool]) -> Vec<ToolOut<'_>> {
    let mut out = Vec::with_capacity(tools.len() + 1);
    for t in tools {
        out.push(tool_spec(t));
        if let Some(cc) = &t.cache_control {
            out.push(ToolOut::CachePoint(cache_point_out(cc)));
        }
    }
    out
}

/// `toolConfig`: the declared tools, or — when the history holds tool blocks
/// but the request declares none (Bedrock refuses that) — stand-ins named
/// after the tools the history used.
fn tool_config<'a>(req: &'a ChatRequest, used: &[&'a str]) -> Option<ToolConfig<'a>> {
    // `none` with no tool history: leave the tools out, the closest Converse has.
    let tools_off = req.tool_choice == Some(ToolChoice::None) && used.is_empty();
    if !req.tools.is_empty() && !tools_off {
        let tool_choice = match &req.tool_choice {
            // Converse cannot forbid tools; without history they are left out above.
            None | Some(ToolChoice::None) => None,
            Some(ToolChoice::Auto) => Some(serde_json::json!({"auto": {}})),
            Some(ToolChoice::Required) => Some(serde_json::json!({"any": {}})),
            Some(ToolChoice::Named(name)) => Some(serde_json::json!({"tool": {"name": name}})),
        };
        return Some(ToolConfig {
            tools: tool_specs(&req.tools),
            tool_choice,
        });
    }
    if used.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    for name in used {
        if !names.contains(name) {
            names.push(name);
        }
    }
    Some(ToolConfig {
        tools: names
            .into_iter()
            .map(|name| {
                ToolOut::ToolSpec(ToolSpec {
                    name,
                    description: None,
                    input_schema: InputSchema {
                        json: Json::AnyObject,
                    },
                    strict: None,
                })
            })
            .collect(),
        tool_choice: None,
    })
}

/// `response_format: json_schema` → Converse structured output. (`json_object`
/// has no Converse counterpart and is left to the prompt.)
fn output_config(req: &ChatRequest) -> Option<Value> {
    match &req.response_format {
        Some(ResponseFormat::JsonSchema {
            name,
            schema: Some(schema),
            ..
        }) => Some(serde_json::json!({"textFormat": {
            "type": "json_schema",
            "structure": {"jsonSchema": {"name": name, "schema": schema.get()}},
        }})),
        _ => None,
    }
}
