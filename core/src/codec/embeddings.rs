//! Providers' own embeddings APIs, for `POST /v1/embeddings`: which API a
//! deployment has, its request body for a list of texts, and its answer in
//! OpenAI's shape. Bodies and answers are `serde_json::Value`s, not derived
//! structs (each derive costs the Worker upload).
//!
//! - Gemini AI Studio `models/{m}:batchEmbedContents`: no usage in the answer.
//! - Vertex AI `…/models/{m}:predict`: `statistics.token_count` per input.
//! - Bedrock `…/model/{id}/invoke`: Titan text embeddings (one input a call,
//!   `inputTextTokenCount`) and Cohere embed (`texts`; the token count is
//!   the `x-amzn-bedrock-input-token-count` header).
//! - Cohere `POST /v2/embed`: `meta.billed_units.input_tokens`.
//! - Ollama `POST /api/embed`: `prompt_eval_count`.
//!
//! Where an answer carries no token count, the input is estimated at one
//! token per four characters (rounded up, per input).

use base64ct::{Base64, Encoding};
use http::HeaderMap;
use std::fmt::Write;

use crate::error::{ErrorKind, GatewayError};
use crate::providers::Codec;
use crate::raw_json::Fields;
use crate::resolve::Deployment;
use crate::unified::Usage;

/// The embeddings API a deployment has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI's own format (OpenAI-compatible providers, Azure): the client's body goes as sent.
    OpenAi,
    Gemini,
    Vertex,
    /// Amazon Titan text embeddings on Bedrock.
    Titan,
    /// Cohere embed on Bedrock.
    BedrockCohere,
    Cohere,
    Ollama,
}

/// The embeddings API of `d`, if the gateway knows one.
pub fn api_of(d: &Deployment) -> Option<Api> {
    let model = d.upstream_model.as_str();
    Some(match d.codec() {
        Codec::OpenAiChat | Codec::AzureOpenAi | Codec::AzureAi => Api::OpenAi,
        Codec::Gemini if super::gemini::is_vertex(d) => Api::Vertex,
        Codec::Gemini => Api::Gemini,
        Codec::Bedrock if model.contains("titan-embed") => Api::Titan,
        Codec::Bedrock if model.contains("cohere.embed") => Api::BedrockCohere,
        Codec::Cohere => Api::Cohere,
        Codec::Ollama => Api::Ollama,
        _ => return None,
    })
}

/// Whether the API has a field for the output size (Titan v1 has none).
pub fn takes_dimensions(api: Api, model: &str) -> bool {
    api != Api::Titan || model.contains("-v2")
}

/// The most inputs one call takes, where the API has a limit the gateway
/// cannot split for the client.
pub fn max_inputs(api: Api) -> Option<usize> {
    (api == Api::Titan).then_some(1)
}

/// `s` as a JSON string. Bodies here are written as text, not built as
/// `Value`s: smaller code in the Worker's upload.
pub fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The native request body for `texts` (never `Api::OpenAi`).
pub fn request_body(
    api: Api,
    model: &str,
    texts: &[String],
    dimensions: Option<u64>,
    input_type: Option<&str>,
) -> Vec<u8> {
    // Each text quoted, between `pre` and `post`, comma-separated.
    let list = |pre: &str, post: &str| {
        texts
            .iter()
            .map(|t| format!("{pre}{}{post}", quoted(t)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let size = |name: &str| {
        dimensions
            .map(|n| format!(",\"{name}\":{n}"))
            .unwrap_or_default()
    };
    let texts_and_type = || {
        format!(
            "\"texts\":[{}],\"input_type\":{},\"embedding_types\":[\"float\"]{}}}",
            list("", ""),
            quoted(input_type.unwrap_or("search_document")),
            size("output_dimension")
        )
    };
    let body = match api {
        Api::Gemini => {
            let name = quoted(&format!(
                "models/{}",
                model.strip_prefix("models/").unwrap_or(model)
            ));
            let pre = format!("{{\"model\":{name},\"content\":{{\"parts\":[{{\"text\":");
            let post = format!("}}]}}{}}}", size("outputDimensionality"));
            format!("{{\"requests\":[{}]}}", list(&pre, &post))
        }
        Api::Vertex => format!(
            "{{\"instances\":[{}]{}}}",
            list("{\"content\":", "}"),
            dimensions
                .map(|n| format!(",\"parameters\":{{\"outputDimensionality\":{n}}}"))
                .unwrap_or_default()
        ),
        Api::Titan => format!(
            "{{\"inputText\":{}{}}}",
            quoted(texts.first().map_or("", String::as_str)),
            size("dimensions")
        ),
        Api::BedrockCohere => format!("{{{}", texts_and_type()),
        Api::Cohere => format!("{{\"model\":{},{}", quoted(model), texts_and_type()),
        Api::Ollama | Api::OpenAi => format!(
            "{{\"model\":{},\"input\":[{}]{}}}",
            quoted(model),
            list("", ""),
            size("dimensions")
        ),
    };
    body.into_bytes()
}

fn invalid_answer() -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        "upstream returned a body that is not a valid embeddings answer",
    )
    .with_code("invalid_upstream_response")
}

/// Estimated tokens of `texts` where an answer reports none.
pub fn estimate_tokens(texts: &[String]) -> u64 {
    texts
        .iter()
        .map(|t| (t.chars().count() as u64).div_ceil(4))
        .sum()
}

/// A native answer as OpenAI's embeddings list (`encoding_format` float or
/// `base64`: the f32 little-endian bytes), and its usage. Vectors are found
/// as raw JSON and copied as they came (no number is parsed and printed
/// again for floats).
pub fn openai_answer(
    api: Api,
    body: &[u8],
    headers: &HeaderMap,
    model: &str,
    base64: bool,
    texts: &[String],
) -> Result<(Vec<u8>, Usage), GatewayError> {
    let text = std::str::from_utf8(body).map_err(|_| invalid_answer())?;
    let at = |path: &[&str]| raw_at(text, path);
    let mut tokens = None;
    let vectors: Vec<&str> = match api {
        Api::Gemini => items(at(&["embeddings"]))
            .into_iter()
            .filter_map(|e| raw_at(e, &["values"]))
            .collect(),
        Api::Vertex => {
            let mut sum = 0;
            let vectors = items(at(&["predictions"]))
                .into_iter()
                .filter_map(|p| {
                    let stats = ["embeddings", "statistics", "token_count"];
                    sum += u64_of(raw_at(p, &stats)).unwrap_or(0);
                    raw_at(p, &["embeddings", "values"])
                })
                .collect();
            tokens = Some(sum);
            vectors
        }
        Api::Titan => {
            tokens = u64_of(at(&["inputTextTokenCount"]));
            at(&["embedding"]).into_iter().collect()
        }
        Api::BedrockCohere | Api::Cohere => {
            tokens = u64_of(at(&["meta", "billed_units", "input_tokens"])).or_else(|| {
                headers
                    .get("x-amzn-bedrock-input-token-count")
                    .and_then(|h| h.to_str().ok()?.parse().ok())
            });
            // `embedding_types` asked for: `{float: [...]}`; v3 without it: a plain list.
            items(at(&["embeddings", "float"]).or_else(|| at(&["embeddings"])))
        }
        Api::Ollama | Api::OpenAi => {
            tokens = u64_of(at(&["prompt_eval_count"]));
            items(at(&["embeddings"]))
        }
    };
    if vectors.len() != texts.len() || !vectors.iter().all(|v| v.starts_with('[')) {
        return Err(invalid_answer());
    }
    let tokens = tokens.unwrap_or_else(|| estimate_tokens(texts));
    let mut out = String::from("{\"object\":\"list\",\"data\":[");
    for (i, vector) in vectors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"object\":\"embedding\",\"index\":{i},\"embedding\":"
        );
        if base64 {
            let b64 = base64_f32(vector).ok_or_else(invalid_answer)?;
            let _ = write!(out, "\"{b64}\"}}");
        } else {
            out.push_str(vector);
            out.push('}');
        }
    }
    let _ = write!(
        out,
        "],\"model\":{},\"usage\":{{\"prompt_tokens\":{tokens},\"total_tokens\":{tokens}}}}}",
        quoted(model)
    );
    let usage = Usage {
        input_tokens: tokens,
        ..Usage::default()
    };
    Ok((out.into_bytes(), usage))
}

/// The raw JSON at `path` (object keys, outermost first) in `json`.
pub fn raw_at<'a>(json: &'a str, path: &[&str]) -> Option<&'a str> {
    let mut text = json;
    for key in path {
        let Fields(fields) = serde_json::from_str(text).ok()?;
        text = fields.into_iter().find(|(k, _)| k == key)?.1.get();
    }
    Some(text)
}

/// The items of a raw JSON array as raw JSON (none when it is not one).
/// The text came out of the JSON parser, so only strings and nesting need
/// minding.
pub fn items(raw: Option<&str>) -> Vec<&str> {
    let inner = raw
        .map(str::trim)
        .and_then(|t| t.strip_prefix('[')?.strip_suffix(']'));
    let Some(inner) = inner else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (mut depth, mut start, mut in_str, mut escaped) = (0u32, 0, false, false);
    for (i, b) in inner.bytes().enumerate() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                out.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

pub fn u64_of(raw: Option<&str>) -> Option<u64> {
    raw?.parse().ok()
}

/// A JSON array of numbers as OpenAI's `base64`: f32 little-endian bytes.
pub fn base64_f32(vector: &str) -> Option<String> {
    let mut bytes = Vec::new();
    for x in items(Some(vector)) {
        // Read as f64 (the parser already in the binary), then narrowed as serde would.
        bytes.extend_from_slice(&(x.parse::<f64>().ok()? as f32).to_le_bytes());
    }
    Some(Base64::encode_string(&bytes))
}

#[cfg(test)]
mod tests;
