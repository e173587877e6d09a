//! Upstream error responses of formats whose bodies say little more than a
//! message: status → error kind, `Retry-After` kept. Credentials are
//! redacted (and long texts cut) where every upstream error passes: see
//! [`GatewayError::redact`].

use http::{HeaderMap, StatusCode};

use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::secret::Secret;

/// Request headers that carry a credential, as the codecs write them.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-amz-security-token",
];

/// The one place upstream errors are made safe to relay (see
/// [`GatewayError::redact`]): every secret the request to `deployment` used
/// is removed — the deployment's own keys and tokens, and whatever the sent
/// request's auth headers held (tokens minted for this request only).
pub fn redact_credentials(
    err: GatewayError,
    deployment: &Deployment,
    sent: &HeaderMap,
) -> GatewayError {
    let minted: Vec<Secret> = CREDENTIAL_HEADERS
        .iter()
        .filter_map(|name| sent.get(*name)?.to_str().ok())
        .map(|v| {
            let v = v.trim();
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
        })
        .map(Secret::new)
        .collect();
    let mut secrets: Vec<&Secret> = deployment.secrets().collect();
    secrets.extend(minted.iter());
    err.redact(&secrets)
}

/// The gateway error for an upstream that answered `status` with `message`.
/// The status is kept (so the SDK raises the same class it would against the
/// provider), except where a provider uses a non-standard one.
pub fn from_status(status: StatusCode, headers: &HeaderMap, message: String) -> GatewayError {
    let (kind, status) = match status.as_u16() {
        400 | 422 => (ErrorKind::InvalidRequest, status),
        // Cohere's "invalid token".
        401 | 498 => (ErrorKind::Authentication, StatusCode::UNAUTHORIZED),
        402 | 403 => (ErrorKind::PermissionDenied, status),
        404 => (ErrorKind::NotFound, status),
        408 | 504 => (ErrorKind::UpstreamTimeout, status),
        413 => (ErrorKind::PayloadTooLarge, status),
        429 => (ErrorKind::RateLimited, status),
        502 | 503 => (ErrorKind::UpstreamUnavailable, status),
        s if (500..=599).contains(&s) => (ErrorKind::UpstreamServer, status),
        s if (400..500).contains(&s) => (ErrorKind::InvalidRequest, status),
        _ => (ErrorKind::UpstreamUnavailable, StatusCode::BAD_GATEWAY),
    };
    let mut err = GatewayError::new(kind, message).with_status(status);
    err.retry_after = crate::codec::openai_chat::retry_after(headers).map(Into::into);
    err
}

/// The message of a body that is not the provider's JSON error shape.
pub fn raw_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream returned HTTP {}", status.as_u16());
    }
    text.to_owned()
}

/// Whether an upstream's message says the prompt does not fit the model.
pub fn says_context_exceeded(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("too many tokens")
        || m.contains("context length")
        || m.contains("context window")
        || m.contains("maximum context")
        || m.contains("exceeds the context")
}

/// Marks an error as a context-window overflow the way OpenAI reports it.
pub fn context_exceeded(err: GatewayError) -> GatewayError {
    let mut err = err.with_code("context_length_exceeded");
    err.kind = ErrorKind::ContextWindowExceeded;
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ports::Env;

    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn credentials_sent_in_headers_are_redacted_too() {
        let config = Config::parse(
            r#"
            [[model_list]]
            model_name = "m"
            provider = "openai_compatible"
            model = "m"
            api_base = "http://up/v1"
            api_key = "sk-configured-key"
            "#,
        )
        .unwrap();
        let d = crate::resolve::resolve_model("m", &config, &NoEnv).unwrap();
        let mut sent = HeaderMap::new();
        sent.insert(
            "authorization",
            "Bearer ya29.minted-for-this".parse().unwrap(),
        );
        sent.insert("x-goog-api-key", "AIza-header-key".parse().unwrap());
        let text = "Bearer ya29.minted-for-this, AIza-header-key, sk-configured-key";
        let mut err = GatewayError::new(ErrorKind::Authentication, text);
        err.param = Some(text.into());
        let err = redact_credentials(err, &d, &sent);
        let body = String::from_utf8(err.to_openai_json()).unwrap();
        for secret in ["ya29", "AIza", "sk-configured"] {
            assert!(!body.contains(secret), "{body}");
        }
    }
}
