//! The Gemini codec (`generateContent` / `streamGenerateContent?alt=sse`), for
//! Google AI Studio (`x-goog-api-key`) and Vertex AI (OAuth bearer token, the
//! same body on `{location}-aiplatform.googleapis.com`).
//!
//! Gemini has no tool-call ids: the decoder makes them up, and the encoder
//! finds a tool result's function name through the id of the call it answers.
//!
//! Thought signatures (Gemini 3 rejects a replayed function call without the
//! one it came with) travel inside the tool-call id, `<id>__thought__<sig>`:
//! the id is the one thing every client echoes back verbatim, OpenAI SDKs
//! included, and it keeps the unified types free of a Gemini-only field.

mod decode;
mod encode;
mod error;
pub mod schema;
mod stream;
pub mod wire;

pub use decode::decode_response;
pub use encode::render_request;
pub use error::decode_error;
pub use stream::StreamDecoder;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};

use crate::codec::EncodeContext;
use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::unified::ChatRequest;

/// Separates a tool-call id from the thought signature it carries.
pub const THOUGHT_SEPARATOR: &str = "__thought__";

/// Vertex AI's default location: the global endpoint serves every current Gemini model.
const DEFAULT_VERTEX_LOCATION: &str = "global";

/// `id` with `signature` attached, as clients will see and echo it.
pub fn tool_call_id_with_signature(id: &str, signature: Option<&str>) -> String {
    match signature {
        Some(sig) if !sig.is_empty() => format!("{id}{THOUGHT_SEPARATOR}{sig}"),
        _ => id.to_owned(),
    }
}

/// A tool-call id split into the id proper and its thought signature.
pub fn split_tool_call_id(id: &str) -> (&str, Option<&str>) {
    match id.split_once(THOUGHT_SEPARATOR) {
        Some((base, sig)) if !sig.is_empty() => (base, Some(sig)),
        _ => (id, None),
    }
}

/// Where requests go and how they authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `generativelanguage.googleapis.com/v1beta/models/{model}`, API key.
    AiStudio,
    /// `{location}-aiplatform.googleapis.com/v1/projects/…/models/{model}`, bearer token.
    Vertex,
}

/// Whether `deployment` is Gemini on Vertex AI (bearer token, project URL).
pub fn is_vertex(deployment: &Deployment) -> bool {
    endpoint(deployment) == Endpoint::Vertex
}

fn endpoint(deployment: &Deployment) -> Endpoint {
    if deployment.provider.id == "vertex_ai" {
        Endpoint::Vertex
    } else {
        Endpoint::AiStudio
    }
}

pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
    ctx: &EncodeContext,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = render_request(req, &deployment.upstream_model)?;
    build_request(deployment, body, req.stream, ctx.access_token.as_ref())
}

/// The URL of `generateContent` (or its streaming twin) for this deployment.
pub fn url(deployment: &Deployment, stream: bool) -> Result<String, GatewayError> {
    url_for(
        deployment,
        if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        },
    )
}

/// The URL of the model's `method` (`generateContent`, `batchEmbedContents`, `predict` …).
pub fn url_for(deployment: &Deployment, method: &str) -> Result<String, GatewayError> {
    let model = deployment.upstream_model.as_str();
    match endpoint(deployment) {
        Endpoint::AiStudio => {
            let path = match model.strip_prefix("tunedModels/") {
                Some(tuned) => format!("tunedModels/{}", path_segment(tuned)),
                None => format!(
                    "models/{}",
                    path_segment(model.strip_prefix("models/").unwrap_or(model))
                ),
            };
            Ok(format!("{}/v1beta/{path}:{method}", deployment.api_base))
        }
        Endpoint::Vertex => {
            let params = &deployment.params;
            let project = params
                .vertex_project
                .clone()
                .or_else(|| {
                    params
                        .vertex_credentials
                        .as_ref()
                        .and_then(crate::upstream_auth::google::project_id)
                })
                .ok_or_else(|| {
                    GatewayError::provider_not_configured(
                        deployment.provider.id,
                        "Vertex AI needs a project: set vertex_project (or VERTEXAI_PROJECT).",
                    )
                })?;
            let location = params
                .vertex_location
                .as_deref()
                .unwrap_or(DEFAULT_VERTEX_LOCATION);
            // The default base is a template: `global` has no regional prefix.
            let base = if location == "global" {
                deployment.api_base.replace("{location}-", "")
            } else {
                deployment.api_base.replace("{location}", location)
            };
            Ok(format!(
                "{base}/v1/projects/{}/locations/{}/publishers/google/models/{}:{method}",
                path_segment(&project),
                path_segment(location),
                path_segment(model),
            ))
        }
    }
}

/// Builds the upstream request around an already-rendered JSON body.
pub fn build_request(
    deployment: &Deployment,
    body: Vec<u8>,
    stream: bool,
    access_token: Option<&Secret>,
) -> Result<http::Request<Bytes>, GatewayError> {
    let url = url(deployment, stream)?;
    let accept = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    request_to(deployment, &url, accept, body, access_token)
}

/// A POST of `body` to `url` with the deployment's credential.
pub fn request_to(
    deployment: &Deployment,
    url: &str,
    accept: &'static str,
    body: Vec<u8>,
    access_token: Option<&Secret>,
) -> Result<http::Request<Bytes>, GatewayError> {
    let mut builder = http::Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, accept);
    match endpoint(deployment) {
        // The key goes in a header, never `?key=`: URLs end up in logs.
        Endpoint::AiStudio => {
            if let Some(key) = &deployment.api_key {
                builder = builder.header("x-goog-api-key", header_value(key.expose(), deployment)?);
            }
        }
        Endpoint::Vertex => {
            let token = access_token.ok_or_else(|| {
                GatewayError::provider_not_configured(
                    deployment.provider.id,
                    "Vertex AI needs credentials: set vertex_credentials (a service-account JSON) or api_key (an access token).",
                )
            })?;
            let bearer = format!("Bearer {}", token.expose());
            builder = builder.header(AUTHORIZATION, header_value(&bearer, deployment)?);
        }
    }
    for (name, value) in &deployment.params.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Bytes::from(body)).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!(
                "invalid api_base or model for provider `{}`",
                deployment.provider.id
            ),
        )
        .with_code("config_error")
    })
}

fn header_value(value: &str, deployment: &Deployment) -> Result<HeaderValue, GatewayError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!(
                "the credential for provider `{}` is not a valid header value",
                deployment.provider.id
            ),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Percent-encodes what may not appear in one URL path segment (`/`, `?`,
/// `#`, `%`, spaces, `|`, non-ASCII …); model names normally need nothing.
fn path_segment(s: &str) -> String {
    const KEEP: &[u8] = b"-._~!$&'()*+,;=:@";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
