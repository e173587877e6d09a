//! Azure OpenAI and Azure AI Foundry. Both speak OpenAI's chat format, so the
//! bodies, responses and chunks are the OpenAI codec's; what differs is where
//! a request goes (deployment URLs, the `api-version` query), how it is
//! authenticated (`api-key` or a Microsoft Entra bearer token), and Azure's
//! content filter: annotation-only stream chunks and filtered-prompt errors.

mod stream;

pub use stream::StreamDecoder;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;

use crate::codec::openai_chat;
use crate::error::{ErrorKind, GatewayError};
use crate::providers::Codec;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::unified::ChatRequest;

/// The GA `api-version` used when a deployment names none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";
/// The Foundry model-inference API has its own versions.
pub const DEFAULT_FOUNDRY_API_VERSION: &str = "2024-05-01-preview";

/// The unified request as an OpenAI chat body, sent the Azure way.
pub fn encode(
    req: &ChatRequest,
    deployment: &Deployment,
) -> Result<http::Request<Bytes>, GatewayError> {
    let body = openai_chat::render_request(req, &deployment.upstream_model);
    build_request(deployment, body, req.stream)
}

/// The upstream request around an already-rendered OpenAI chat body.
pub fn build_request(
    deployment: &Deployment,
    body: Vec<u8>,
    stream: bool,
) -> Result<http::Request<Bytes>, GatewayError> {
    request_to(deployment, &url(deployment), body, stream)
}

/// A POST of an OpenAI-format `body` to `url`, with Azure's credential.
pub fn request_to(
    deployment: &Deployment,
    url: &str,
    body: Vec<u8>,
    stream: bool,
) -> Result<http::Request<Bytes>, GatewayError> {
    let (name, value) = credential(deployment)?;
    let mut builder = http::Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(CONTENT_TYPE, "application/json")
        .header(
            ACCEPT,
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        )
        .header(name, value);
    for (name, value) in &deployment.params.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Bytes::from(body)).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!("invalid api_base for provider `{}`", deployment.provider.id),
        )
        .with_code("config_error")
    })
}

/// Where the request goes.
///
/// Azure OpenAI: `{base}/openai/deployments/{deployment}/chat/completions?api-version=…`,
/// or the version-less `{base}/openai/v1/chat/completions` when `api_version = "v1"`.
/// Foundry: `{base}/models/chat/completions?api-version=…`.
/// A base that already ends in `/openai` or `/models` is not doubled.
pub fn url(deployment: &Deployment) -> String {
    url_for(deployment, "chat/completions")
}

/// The URL of the operation `op` (`chat/completions`, `embeddings`).
pub fn url_for(deployment: &Deployment, op: &str) -> String {
    let base = deployment.api_base.trim_end_matches('/');
    let version = deployment.params.api_version.as_deref();
    if deployment.codec() == Codec::AzureAi {
        let base = base.strip_suffix("/models").unwrap_or(base);
        let version = version.unwrap_or(DEFAULT_FOUNDRY_API_VERSION);
        return format!(
            "{base}/models/{op}?api-version={}",
            encode_component(version, false)
        );
    }
    let base = base.strip_suffix("/openai").unwrap_or(base);
    match version {
        Some("v1") => format!("{base}/openai/v1/{op}"),
        _ => format!(
            "{base}/openai/deployments/{}/{op}?api-version={}",
            encode_component(&deployment.upstream_model, true),
            encode_component(version.unwrap_or(DEFAULT_API_VERSION), false)
        ),
    }
}

/// Azure OpenAI's Responses API, which names the deployment in the body's
/// `model`: `{base}/openai/v1/responses`, or with a dated `api_version`
/// `{base}/openai/responses?api-version=…` (dates before the first that
/// served Responses get that one).
pub fn responses_url(deployment: &Deployment) -> String {
    let base = deployment.api_base.trim_end_matches('/');
    let base = base.strip_suffix("/openai").unwrap_or(base);
    match deployment.params.api_version.as_deref() {
        None | Some("v1") => format!("{base}/openai/v1/responses"),
        Some(v) => format!(
            "{base}/openai/responses?api-version={}",
            encode_component(v.max("2025-03-01-preview"), false)
        ),
    }
}

/// The auth header. A configured Entra token wins; a key written as
/// `Bearer …` is sent as is; any other key goes in `api-key`.
fn credential(deployment: &Deployment) -> Result<(http::HeaderName, HeaderValue), GatewayError> {
    let (name, value) = match (&deployment.params.azure_ad_token, &deployment.api_key) {
        (Some(token), _) => (AUTHORIZATION, bearer(token)),
        (None, Some(key)) if key.expose().starts_with("Bearer ") => {
            (AUTHORIZATION, key.expose().to_owned())
        }
        (None, Some(key)) => (
            http::HeaderName::from_static("api-key"),
            key.expose().to_owned(),
        ),
        (None, None) => {
            let hint = deployment
                .provider
                .key_env
                .first()
                .copied()
                .unwrap_or("api_key");
            return Err(GatewayError::provider_not_configured(
                deployment.provider.id,
                format!(
                    "No credential configured for provider `{}`: set {hint} or api_key, or an Entra token with azure_ad_token / AZURE_AD_TOKEN.",
                    deployment.provider.id
                ),
            ));
        }
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!(
                "the credential for provider `{}` is not a valid header value",
                deployment.provider.id
            ),
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn bearer(token: &Secret) -> String {
    format!("Bearer {}", token.expose())
}

/// Percent-encodes `s` for a URL path segment (`path`) or a query value.
fn encode_component(s: &str, path: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (path
                && matches!(
                    b,
                    b'!' | b'$'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b','
                        | b';'
                        | b':'
                        | b'@'
                        | b'='
                        | b'&'
                        | b'+'
                ));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Azure error bodies are OpenAI's shape; a filtered prompt also says which
/// categories tripped the filter, which the message keeps.
pub fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    deployment: &Deployment,
) -> GatewayError {
    let mut err = openai_chat::decode_error(status, headers, body, deployment);
    let inner_code = serde_json::from_slice::<FilterErrorBody>(body)
        .ok()
        .and_then(|b| b.error.innererror);
    if let Some(inner) = inner_code {
        let policy_violation = inner.code.as_deref() == Some("ResponsibleAIPolicyViolation");
        if policy_violation && err.kind != ErrorKind::ContentFiltered {
            err.kind = ErrorKind::ContentFiltered;
            err.code = Some("content_filter".into());
        }
        if err.kind == ErrorKind::ContentFiltered {
            let tripped: Vec<&str> = inner
                .content_filter_result
                .iter()
                .filter(|(_, v)| v.filtered)
                .map(|(k, _)| k.as_str())
                .collect();
            if !tripped.is_empty() {
                err.message = format!("{} (filtered: {})", err.message, tripped.join(", "));
            }
        }
    }
    err
}

#[derive(Deserialize)]
struct FilterErrorBody {
    error: FilterError,
}

#[derive(Deserialize)]
struct FilterError {
    #[serde(default)]
    innererror: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(default)]
    code: Option<String>,
    /// Category → verdict, in the order Azure lists them.
    #[serde(default, deserialize_with = "ordered_results")]
    content_filter_result: Vec<(String, Verdict)>,
}

#[derive(Deserialize, Default)]
struct Verdict {
    #[serde(default)]
    filtered: bool,
}

fn ordered_results<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, Verdict)>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<(String, Verdict)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("content filter results")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                let verdict = serde_json::from_value(v).unwrap_or_default();
                out.push((k, verdict));
            }
            Ok(out)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests;
