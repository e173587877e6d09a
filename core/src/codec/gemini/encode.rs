//! The unified request rendered as a Gemini `GenerateContentRequest`.
//!
//! * system and developer turns, wherever they are, → `systemInstruction`
//!   (or the first user turn when nothing else is there to answer);
//! * user/assistant → `user`/`model` contents, consecutive same-role turns
//!   merged (Gemini wants them alternating), tool results → `functionResponse`
//!   parts of a `user` turn, named after the call they answer;
//! * thinking blocks are not replayed (Gemini reads thoughts only through
//!   signatures), thought signatures go back on their function calls;
//! * tools → `functionDeclarations` with cleaned schemas, `tool_choice` →
//!   `functionCallingConfig`, sampling and output settings → `generationConfig`,
//!   `reasoning_effort` → `thinkingConfig`.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::GatewayError;
use crate::unified::{ChatRequest, MediaSource, Part, ResponseFormat, Role, ToolChoice};

use super::schema::{self, Json};
use super::split_tool_call_id;

/// Gemini 3 rejects a replayed function call without its thought signature;
/// Google documents this value for calls that never had one (history from
/// another model, or a client that dropped it).
const NO_SIGNATURE: &str = "skip_thought_signature_validator";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolGroup<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    generation_config: GenerationConfig<'a>,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<PartOut<'a>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct PartOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline_data: Option<Blob<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<FileData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_response: Option<FunctionResponse<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    mime_type: Cow<'a, str>,
    data: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileData<'a> {
    mime_type: Cow<'a, str>,
    file_uri: &'a str,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    args: Cow<'a, RawValue>,
}

#[derive(Serialize)]
struct FunctionResponse<'a> {
    name: &'a str,
    response: Cow<'a, RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolGroup<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Json>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_function_names: Vec<&'a str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.max_output_tokens.is_none()
            && self.stop_sequences.is_empty()
            && self.candidate_count.is_none()
            && self.seed.is_none()
            && self.response_mime_type.is_none()
            && self.thinking_config.is_none()
    }
}

#[derive(Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_budget: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_level: Option<&'static str>,
    include_thoughts: bool,
}

/// The request body for `model` (the URL names the model; the body does not).
pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, GatewayError> {
    let names = call_names(req);
    let mut system: Vec<PartOut> = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    for (i, message) in req.messages.iter().enumerate() {
        let (role, parts) = match message.role {
            Role::System | Role::Developer => {
                system.extend(text_parts(&message.content));
                continue;
            }
            Role::Assistant => ("model", model_parts(&message.content)),
            Role::User => ("user", user_parts(i, message, &names)?),
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last.role == Some(role) => last.parts.extend(parts),
            _ => contents.push(Content {
                role: Some(role),
                parts,
            }),
        }
    }
    let system_instruction = if contents.is_empty() && !system.is_empty() {
        // Only instructions: they are the prompt (Gemini needs some content).
        contents.push(Content {
            role: Some("user"),
            parts: system,
        });
        None
    } else {
        (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        })
    };
    if is_gemini_3(model) {
        sign_unsigned_calls(&mut contents);
    }
    let body = Body {
        contents,
        system_instruction,
        tools: tools(req),
        tool_config: tool_config(req),
        generation_config: generation_config(req, model),
    };
    serde_json::to_vec(&body).map_err(|e| {
        GatewayError::invalid_request(format!("The request cannot be sent to Gemini: {e}"))
    })
}

/// Tool-call id → function name, for naming tool results (Gemini matches a
/// `functionResponse` to its call by name). Both the id with its thought
/// signature and without it are known.
fn call_names(req: &ChatRequest) -> HashMap<&str, &str> {
    let mut names = HashMap::new();
    for m in &req.messages {
        for p in &m.content {
            if let Part::ToolUse { id, name, .. } = p {
                names.insert(id.as_str(), name.as_str());
                names.insert(split_tool_call_id(id).0, name.as_str());
            }
        }
    }
    names
}

fn text_parts(content: &[Part]) -> impl Iterator<Item = PartOut<'_>> {
    content.iter().filter_map(|p| match p {
        Part::Text { text, .. } if !text.is_empty() => Some(PartOut {
            text: Some(text),
            ..PartOut::default()
        }),
        _ => None,
    })
}

fn model_parts(content: &[Part]) -> Vec<PartOut<'_>> {
    let mut out = Vec::with_capacity(content.len());
    for p in content {
        match p {
            Part::Text { text, .. } if !text.is_empty() => out.push(PartOut {
                text: Some(text),
                ..PartOut::default()
            }),
            Part::ToolUse {
                id,
                name,
                arguments,
                ..
            } => out.push(PartOut {
                function_call: Some(FunctionCall {
                    name,
                    args: object_arguments(arguments),
                }),
                thought_signature: split_tool_call_id(id).1,
                ..PartOut::default()
            }),
            Part::Image { source, .. } | Part::Document { source, .. } => {
                out.push(media(source, matches!(p, Part::Image { .. })))
            }
            _ => {}
        }
    }
    out
}

fn user_parts<'a>(
    i: usize,
    message: &'a crate::unified::Message,
    names: &HashMap<&str, &'a str>,
) -> Result<Vec<PartOut<'a>>, GatewayError> {
    let mut out = Vec::with_capacity(message.content.len());
    for p in &message.content {
        match p {
            Part::Text { text, .. } if !text.is_empty() => out.push(PartOut {
                text: Some(text),
                ..PartOut::default()
            }),
            Part::Image { source, .. } => out.push(media(source, true)),
            Part::Document { source, .. } => out.push(media(source, false)),
            Part::Audio { data, format } => out.push(PartOut {
                inline_data: Some(Blob {
                    mime_type: Cow::Owned(format!("audio/{format}")),
                    data,
                }),
                ..PartOut::default()
            }),
            Part::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                let name = names
                    .get(tool_use_id.as_str())
                    .copied()
                    .or(message.name.as_deref())
                    .ok_or_else(|| {
                        GatewayError::invalid_request(format!(
                            "messages[{i}] answers tool call `{}`, which no earlier assistant message made: Gemini needs the function's name.",
                            split_tool_call_id(tool_use_id).0
                        ))
                        .with_param(&format!("messages[{i}].tool_call_id"))
                    })?;
                out.push(PartOut {
                    function_response: Some(FunctionResponse {
                        name,
                        response: tool_response(content, *is_error),
                    }),
                    ..PartOut::default()
                });
                // Media a tool returned follows its response as ordinary parts.
                for inner in content {
                    match inner {
                        Part::Image { source, .. } => out.push(media(source, true)),
                        Part::Document { source, .. } => out.push(media(source, false)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn media(source: &MediaSource, image: bool) -> PartOut<'_> {
    match source {
        MediaSource::Base64 { media_type, data } => PartOut {
            inline_data: Some(Blob {
                mime_type: Cow::Borrowed(media_type),
                data,
            }),
            ..PartOut::default()
        },
        MediaSource::Url(url) => PartOut {
            file_data: Some(FileData {
                mime_type: Cow::Borrowed(mime_from_url(url, image)),
                file_uri: url,
            }),
            ..PartOut::default()
        },
    }
}

/// `fileData` needs a MIME type; a URL's extension is the only hint.
fn mime_from_url(url: &str, image: bool) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("heic") => "image/heic",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("mp4") => "video/mp4",
        _ if image => "image/jpeg",
        _ => "application/pdf",
    }
}

/// Function-call arguments as the JSON object Gemini wants: `{}` when empty,
/// `{"value": …}` around anything that is not an object.
fn object_arguments(arguments: &str) -> Cow<'_, RawValue> {
    let trimmed = arguments.trim();
    if trimmed.starts_with('{') {
        if let Ok(raw) = serde_json::from_str::<&RawValue>(trimmed) {
            return Cow::Borrowed(raw);
        }
    }
    let wrapped = match serde_json::from_str::<&RawValue>(trimmed) {
        Ok(raw) if !trimmed.is_empty() => format!("{{\"value\":{}}}", raw.get()),
        _ if trimmed.is_empty() => "{}".to_owned(),
        // Not JSON at all (a model's broken output): keep it as a string.
        _ => serde_json::json!({ "value": trimmed }).to_string(),
    };
    Cow::Owned(RawValue::from_string(wrapped).unwrap_or_else(|_| empty_object()))
}

fn empty_object() -> Box<RawValue> {
    // `{}` is valid JSON: the default (`null`) is never used.
    RawValue::from_string("{}".to_owned()).unwrap_or_default()
}

/// A tool's output as the `response` object: a JSON object output as is,
/// anything else under `content` (or `error` when the tool failed).
fn tool_response(content: &[Part], is_error: bool) -> Cow<'_, RawValue> {
    let mut text = String::new();
    for p in content {
        if let Part::Text { text: t, .. } = p {
            text.push_str(t);
        }
    }
    let trimmed = text.trim();
    if !is_error && trimmed.starts_with('{') {
        if let Ok(raw) = serde_json::from_str::<Box<RawValue>>(trimmed) {
            return Cow::Owned(raw);
        }
    }
    let key = if is_error { "error" } else { "content" };
    let mut value = serde_json::Map::new();
    value.insert(key.to_owned(), serde_json::Value::String(text));
    Cow::Owned(serde_json::value::to_raw_value(&value).unwrap_or_else(|_| empty_object()))
}

fn is_gemini_3(model: &str) -> bool {
    model.contains("gemini-3")
}

/// Gives each model turn's first function call a signature if none of the
/// turn's calls has one (Gemini 3 validates only the first call of a step).
fn sign_unsigned_calls(contents: &mut [Content]) {
    for content in contents.iter_mut().filter(|c| c.role == Some("model")) {
        let calls = || content.parts.iter().filter(|p| p.function_call.is_some());
        if calls().any(|p| p.thought_signature.is_some()) {
            continue;
        }
        if let Some(first) = content.parts.iter_mut().find(|p| p.function_call.is_some()) {
            first.thought_signature = Some(NO_SIGNATURE);
        }
    }
}

fn tools(req: &ChatRequest) -> Vec<ToolGroup<'_>> {
    if req.tools.is_empty() {
        return Vec::new();
    }
    let declarations = req
        .tools
        .iter()
        .map(|t| FunctionDeclaration {
            name: &t.name,
            description: t.description.as_deref().filter(|d| !d.is_empty()),
            parameters: t
                .parameters
                .as_deref()
                .and_then(cleaned_schema)
                // Gemini refuses an OBJECT without properties: a function
                // without parameters simply has none.
                .filter(|s| !is_empty_object(s)),
        })
        .collect();
    vec![ToolGroup {
        function_declarations: declarations,
    }]
}

fn is_empty_object(schema: &Json) -> bool {
    match schema {
        Json::Object(fields) => {
            !fields
                .iter()
                .any(|(k, _)| k == "properties" || k == "anyOf")
                && fields
                    .iter()
                    .any(|(k, v)| k == "type" && *v == Json::String("object".into()))
        }
        _ => false,
    }
}

fn cleaned_schema(raw: &RawValue) -> Option<Json> {
    let parsed: Json = serde_json::from_str(raw.get()).ok()?;
    schema::clean(&parsed)
}

fn tool_config(req: &ChatRequest) -> Option<ToolConfig<'_>> {
    let (mode, allowed) = match req.tool_choice.as_ref()? {
        ToolChoice::Auto => ("AUTO", Vec::new()),
        ToolChoice::None => ("NONE", Vec::new()),
        ToolChoice::Required => ("ANY", Vec::new()),
        ToolChoice::Named(name) => ("ANY", vec![name.as_str()]),
    };
    Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    })
}

fn generation_config<'a>(req: &'a ChatRequest, model: &str) -> GenerationConfig<'a> {
    let (response_mime_type, response_schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => (
            Some("application/json"),
            schema.as_deref().and_then(cleaned_schema),
        ),
    };
    GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.max_tokens,
        stop_sequences: req.stop.iter().map(String::as_str).collect(),
        candidate_count: req.n.filter(|&n| n > 1),
        seed: req.seed,
        response_mime_type,
        response_schema,
        thinking_config: req
            .reasoning_effort
            .as_deref()
            .and_then(|effort| thinking_config(effort, model)),
    }
}

/// `reasoning_effort` in Gemini's terms: a thinking level on Gemini 3, a
/// token budget on 2.5 (and later models that keep budgets). Models before
/// 2.5 cannot think; they get nothing rather than a 400.
fn thinking_config(effort: &str, model: &str) -> Option<ThinkingConfig> {
    if ["gemini-1.", "gemini-2.0", "gemini-pro", "gemini-ultra"]
        .iter()
        .any(|old| model.contains(old))
    {
        return None;
    }
    let pro = model.contains("-pro");
    let include_thoughts = effort != "none";
    if is_gemini_3(model) {
        let level = match effort {
            // Gemini 3 Pro knows only `low` and `high`.
            "none" | "minimal" if pro => "low",
            "none" | "minimal" => "minimal",
            "low" => "low",
            "medium" if pro => "high",
            "medium" => "medium",
            "high" | "xhigh" => "high",
            _ => return None,
        };
        return Some(ThinkingConfig {
            thinking_budget: None,
            thinking_level: Some(level),
            include_thoughts,
        });
    }
    let budget = match effort {
        // 2.5 Pro cannot switch thinking off; 128 is its floor.
        "none" if pro => 128,
        "none" => 0,
        "minimal" => 512,
        "low" => 1024,
        "medium" => 8192,
        "high" => 24_576,
        "xhigh" if pro => 32_768,
        "xhigh" => 24_576,
        _ => return None,
    };
    Some(ThinkingConfig {
        thinking_budget: Some(budget),
        thinking_level: None,
        include_thoughts,
    })
}
