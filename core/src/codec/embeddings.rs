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

use serde_json::value::RawValue;

use crate::error::{ErrorKind, GatewayError};
use crate::ingress::openai_chat::Fields;
use crate::providers::Codec;
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
    let list = |each: &dyn Fn(String) -> String| {
        texts
            .iter()
            .map(|t| each(quoted(t)))
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
            list(&|t| t),
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
            let size = size("outputDimensionality");
            let each = |t| {
                format!("{{\"model\":{name},\"content\":{{\"parts\":[{{\"text\":{t}}}]}}{size}}}")
            };
            format!("{{\"requests\":[{}]}}", list(&each))
        }
        Api::Vertex => format!(
            "{{\"instances\":[{}]{}}}",
            list(&|t| format!("{{\"content\":{t}}}")),
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
            list(&|t| t),
            size("dimensions")
        ),
    };
    body.into_bytes()
}

fn invalid_answer(api: Api) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("upstream returned a body that is not a valid {api:?} embeddings answer"),
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
    let text = std::str::from_utf8(body).map_err(|_| invalid_answer(api))?;
    let at = |path: &[&str]| raw_at(text, path);
    let mut tokens = None;
    let vectors: Vec<&RawValue> = match api {
        Api::Gemini => items(at(&["embeddings"]))
            .into_iter()
            .filter_map(|e| raw_at(e.get(), &["values"]))
            .collect(),
        Api::Vertex => {
            let mut sum = 0;
            let vectors = items(at(&["predictions"]))
                .into_iter()
                .filter_map(|p| {
                    let stats = ["embeddings", "statistics", "token_count"];
                    sum += u64_of(raw_at(p.get(), &stats)).unwrap_or(0);
                    raw_at(p.get(), &["embeddings", "values"])
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
    if vectors.len() != texts.len() || !vectors.iter().all(|v| v.get().starts_with('[')) {
        return Err(invalid_answer(api));
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
            let b64 = base64_f32(vector.get()).ok_or_else(|| invalid_answer(api))?;
            let _ = write!(out, "\"{b64}\"}}");
        } else {
            out.push_str(vector.get());
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
fn raw_at<'a>(json: &'a str, path: &[&str]) -> Option<&'a RawValue> {
    let mut text = json;
    let mut found = None;
    for key in path {
        let Fields(fields) = serde_json::from_str(text).ok()?;
        let raw = fields.into_iter().find(|(k, _)| k == key)?.1;
        text = raw.get();
        found = Some(raw);
    }
    found
}

/// The items of a raw JSON array (none when it is not one).
fn items(raw: Option<&RawValue>) -> Vec<&RawValue> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
}

fn u64_of(raw: Option<&RawValue>) -> Option<u64> {
    raw?.get().parse().ok()
}

/// A JSON array of numbers as OpenAI's `base64`: f32 little-endian bytes.
pub fn base64_f32(vector: &str) -> Option<String> {
    let numbers: Vec<f32> = serde_json::from_str(vector).ok()?;
    let bytes: Vec<u8> = numbers.iter().flat_map(|x| x.to_le_bytes()).collect();
    Some(Base64::encode_string(&bytes))
}

#[cfg(test)]
mod tests;
