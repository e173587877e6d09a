//! Ollama's native chat API: requests to `{api_base}/api/chat`, responses and
//! NDJSON stream lines into the unified types, `{"error": …}` bodies (and
//! error lines mid-stream) into the gateway's errors.
//!
//! Ollama gives no response or tool-call ids and writes tool arguments as JSON
//! objects: ids are derived from the answer's timestamp, arguments are
//! re-serialized compactly in the order the model wrote them.

mod encode;
mod stream;

pub use encode::render_request;
pub use stream::StreamDecoder;

use bytes::Bytes;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::codec::{upstream_error, DecodeContext};
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::unified::{ChatRequest, ChatResponse, Choice, FinishReason, Part, Usage};

pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = render_request(req, &deployment.upstream_model)?;
    let accept = if req.stream {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    // Local servers need no key; one set means Ollama sits behind a proxy or is ollama.com.
    let url = chat_url(&deployment.api_base);
    super::request::post_json(deployment, &url, accept, super::request::Auth::Bearer, body)
}

/// `OLLAMA_HOST` is often written without a scheme (`0.0.0.0:11434`).
fn chat_url(api_base: &str) -> String {
    api_url(api_base, "chat")
}

/// The URL of `/api/{op}` (`chat`, `embed`).
pub fn api_url(api_base: &str, op: &str) -> String {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix("/api").unwrap_or(base);
    if base.contains("://") {
        format!("{base}/api/{op}")
    } else {
        format!("http://{base}/api/{op}")
    }
}

// ---- responses (also each stream line) -------------------------------------

#[derive(Deserialize)]
pub(crate) struct Line {
    #[serde(default)]
    model: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    message: Option<WireMessage>,
    /// `/api/generate` lines carry the text here instead of in `message`.
    #[serde(default)]
    response: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
}

impl Line {
    fn text(&self) -> Option<&str> {
        self.message
            .as_ref()
            .and_then(|m| m.content.as_deref())
            .or(self.response.as_deref())
            .filter(|t| !t.is_empty())
    }

    fn thinking(&self) -> Option<&str> {
        self.message
            .as_ref()
            .and_then(|m| m.thinking.as_deref())
            .or(self.thinking.as_deref())
            .filter(|t| !t.is_empty())
    }

    /// Token counts come on the last line; `/api/generate` examples have none.
    fn usage(&self) -> Option<Usage> {
        if self.prompt_eval_count.is_none() && self.eval_count.is_none() {
            return None;
        }
        Some(Usage {
            input_tokens: self.prompt_eval_count.unwrap_or(0),
            output_tokens: self.eval_count.unwrap_or(0),
            ..Usage::default()
        })
    }

    fn seed(&self) -> String {
        format!(
            "{}|{}",
            self.created_at.as_deref().unwrap_or(""),
            self.model
        )
    }
}

/// (id, name, arguments as JSON text) of each tool call in a line; `first`
/// is the position of the first one within the whole answer.
fn tool_calls(line: &Line, first: u32) -> Vec<(String, String, String)> {
    let Some(calls) = line.message.as_ref().and_then(|m| m.tool_calls.as_ref()) else {
        return Vec::new();
    };
    let seed = line.seed();
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = first + i as u32;
            let id = c.id.clone().filter(|id| !id.is_empty()).unwrap_or_else(|| {
                format!(
                    "call_{:016x}",
                    fnv1a(&[
                        seed.as_bytes(),
                        &n.to_le_bytes(),
                        c.function.name.as_bytes()
                    ])
                )
            });
            (
                id,
                c.function.name.clone(),
                arguments_text(c.function.arguments.as_deref()),
            )
        })
        .collect()
}

/// Ollama writes arguments as an object; OpenAI-style clients want JSON text.
fn arguments_text(raw: Option<&RawValue>) -> String {
    let Some(raw) = raw else {
        return "{}".into();
    };
    let json = raw.get();
    if json.starts_with('"') {
        // Some servers already send the text.
        return serde_json::from_str::<String>(json).unwrap_or_default();
    }
    if json == "null" {
        return "{}".into();
    }
    compact_json(json)
}

/// Drops the whitespace between JSON tokens, keeping key order and strings.
fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for ch in json.chars() {
        if in_string {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
        } else if ch == '"' {
            in_string = true;
            out.push(ch);
        } else if !ch.is_whitespace() {
            out.push(ch);
        }
    }
    out
}

pub(crate) fn finish_reason(done_reason: Option<&str>, tool_calls: bool) -> FinishReason {
    if tool_calls {
        return FinishReason::ToolCalls;
    }
    match done_reason {
        None | Some("stop") | Some("") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

pub(crate) fn response_id(line: &Line) -> String {
    format!("chatcmpl-ollama-{:016x}", fnv1a(&[line.seed().as_bytes()]))
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Seconds since the epoch of an RFC 3339 time (`2023-08-04T08:52:19.38-07:00`).
pub(crate) fn unix_seconds(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b.get(4) != Some(&b'-') || b.get(10).map(u8::to_ascii_uppercase) != Some(b'T') {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') | None => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let minutes = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(secs).ok()
}

pub fn decode_response(body: &[u8], ctx: &DecodeContext<'_>) -> Result<ChatResponse, GatewayError> {
    let line: Line = serde_json::from_slice(body).map_err(invalid_upstream)?;
    if let Some(error) = line.error.as_deref().filter(|e| !e.is_empty()) {
        return Err(GatewayError::new(ErrorKind::UpstreamServer, error).with_code("upstream_error"));
    }
    let mut content = Vec::new();
    if let Some(thinking) = line.thinking() {
        content.push(Part::Thinking {
            text: thinking.to_owned(),
            signature: None,
        });
    }
    if let Some(text) = line.text() {
        content.push(Part::Text {
            text: text.to_owned(),
            cache_control: None,
        });
    }
    let calls = tool_calls(&line, 0);
    let has_calls = !calls.is_empty();
    for (id, name, arguments) in calls {
        content.push(Part::ToolUse {
            id,
            name,
            arguments,
            cache_control: None,
        });
    }
    Ok(ChatResponse {
        id: response_id(&line),
        created: line
            .created_at
            .as_deref()
            .and_then(unix_seconds)
            .unwrap_or_else(|| ctx.created()),
        model: ctx.model_or_called(line.model.clone()),
        choices: vec![Choice {
            index: 0,
            content,
            refusal: None,
            finish_reason: Some(finish_reason(line.done_reason.as_deref(), has_calls)),
        }],
        usage: line.usage(),
        system_fingerprint: None,
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Ollama answers errors with `{"error": "…"}` and the HTTP status
/// (404 for a model that is not pulled).
pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    _deployment: &Deployment,
) -> GatewayError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if !b.error.is_empty() => b.error,
        _ => upstream_error::raw_message(status, body),
    };
    let not_found = status == StatusCode::NOT_FOUND
        && message.contains("model")
        && message.contains("not found");
    let context =
        status == StatusCode::BAD_REQUEST && upstream_error::says_context_exceeded(&message);
    let err = upstream_error::from_status(status, headers, message);
    if not_found {
        return err.with_code("model_not_found").with_param("model");
    }
    if context {
        return upstream_error::context_exceeded(err);
    }
    err
}

fn invalid_upstream(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("upstream returned a body that is not a valid Ollama chat response: {e}"),
    )
    .with_code("invalid_upstream_response")
}

#[cfg(test)]
mod tests;
