//! Errors as the gateway reports them: a precise kind, the status it maps to,
//! and renderers for each ingress API's own error shape.

use http::StatusCode;
use serde::Serialize;

use crate::secret::Secret;

/// Longest text of an upstream's error relayed in one field: a whole HTML
/// error page is no use to a client.
const MAX_UPSTREAM_TEXT_CHARS: usize = 1000;

/// What went wrong, precisely enough to pick a status and a client exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The client's request is malformed or asks for something impossible.
    InvalidRequest,
    /// Missing or wrong gateway key, or the upstream rejected our credential.
    Authentication,
    PermissionDenied,
    /// Unknown route or model.
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    RateLimited,
    ContextWindowExceeded,
    ContentFiltered,
    /// The upstream sent no response headers in time, or went silent mid-stream.
    UpstreamTimeout,
    /// The upstream could not be reached, or answered with something unusable.
    UpstreamUnavailable,
    /// The upstream answered with a server error (5xx) or said it is overloaded.
    UpstreamServer,
    /// A gateway misconfiguration (missing provider key, invalid config).
    Configuration,
}

impl ErrorKind {
    fn default_status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::ContextWindowExceeded
            | ErrorKind::ContentFiltered => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            ErrorKind::UpstreamServer | ErrorKind::Configuration => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// OpenAI's `error.type` for errors the gateway raises itself.
    pub(crate) fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::PayloadTooLarge
            | ErrorKind::ContextWindowExceeded
            | ErrorKind::ContentFiltered => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
            ErrorKind::UpstreamUnavailable | ErrorKind::UpstreamServer => "api_error",
            ErrorKind::Configuration => "server_error",
        }
    }

    /// Anthropic's `error.type`.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::MethodNotAllowed
            | ErrorKind::ContextWindowExceeded
            | ErrorKind::ContentFiltered => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::PayloadTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
            ErrorKind::UpstreamServer => "api_error",
            ErrorKind::UpstreamUnavailable | ErrorKind::Configuration => "api_error",
        }
    }

    /// Whether trying again (same or another deployment) may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::UpstreamTimeout
                | ErrorKind::UpstreamUnavailable
                | ErrorKind::UpstreamServer
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub status: StatusCode,
    pub message: String,
    pub param: Option<Box<str>>,
    pub code: Option<Box<str>>,
    /// The upstream's own `error.type`, kept when it is relayed.
    pub upstream_type: Option<Box<str>>,
    /// `Retry-After` to hand back to the client, verbatim.
    pub retry_after: Option<Box<str>>,
    /// What the operator needs to fix it (the variable to set, where the
    /// config is wrong): written to the log, never sent to the client.
    pub operator_note: Option<Box<str>>,
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError {
            kind,
            status: kind.default_status(),
            message: message.into(),
            param: None,
            code: None,
            upstream_type: None,
            retry_after: None,
            operator_note: None,
        }
    }

    pub fn with_operator_note(mut self, note: impl Into<String>) -> Self {
        self.operator_note = Some(note.into().into());
        self
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        GatewayError::new(ErrorKind::InvalidRequest, message)
    }

    pub fn invalid_json(detail: impl std::fmt::Display) -> Self {
        GatewayError::invalid_request(format!(
            "We could not parse the JSON body of your request: {detail}"
        ))
        .with_code("invalid_json")
    }

    pub fn model_not_found(model: &str) -> Self {
        GatewayError::new(
            ErrorKind::NotFound,
            format!("The model `{model}` does not exist or is not configured on this gateway."),
        )
        .with_code("model_not_found")
        .with_param("model")
    }

    /// A provider this deployment has no credentials or settings for. Not
    /// the client's fault, but nothing the client can retry either: a 404
    /// naming only the provider (SDKs retry 5xx). `note` says what to set.
    pub fn provider_not_configured(provider: &str, note: impl Into<String>) -> Self {
        GatewayError::new(
            ErrorKind::NotFound,
            format!("The provider `{provider}` is not configured on this gateway."),
        )
        .with_code("provider_not_configured")
        .with_param("model")
        .with_operator_note(note)
    }

    /// The deployment's configuration does not load. The detail (which may
    /// sit next to a literal key in the config) goes to the log only.
    pub fn config_invalid(note: impl Into<String>) -> Self {
        GatewayError::new(
            ErrorKind::Configuration,
            "This gateway's configuration is invalid; its operator can find the reason in the gateway's log.",
        )
        .with_code("config_error")
        .with_operator_note(note)
    }

    /// The line for the access log: the client's message, and the operator's note.
    pub fn log_text(&self) -> String {
        match &self.operator_note {
            Some(note) => format!("{} [{note}]", self.message),
            None => self.message.clone(),
        }
    }

    /// Makes an error built from an upstream's words fit to send: every
    /// field the client sees loses each of `secrets` (upstreams echo the
    /// credential they refused, in any field), then is cut to a sane length.
    /// Cutting after redacting means a cut never leaves part of a key.
    pub fn redact(mut self, secrets: &[&Secret]) -> Self {
        if let Some(m) = scrub(&self.message, secrets) {
            self.message = m;
        }
        for field in [
            &mut self.param,
            &mut self.code,
            &mut self.upstream_type,
            &mut self.retry_after,
        ] {
            if let Some(cleaned) = field.as_deref().and_then(|v| scrub(v, secrets)) {
                *field = Some(cleaned.into());
            }
        }
        self
    }

    /// The OpenAI error body: `{"error":{"message","type","param","code"}}`.
    pub fn to_openai_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            param: Option<&'a str>,
            code: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        let body = Outer {
            error: Inner {
                message: &self.message,
                kind: self
                    .upstream_type
                    .as_deref()
                    .unwrap_or(self.kind.openai_type()),
                param: self.param.as_deref(),
                code: self.code.as_deref(),
            },
        };
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":{}}".to_vec())
    }

    /// The Anthropic error body: `{"type":"error","error":{"type","message"}}`.
    /// An overloaded upstream (Anthropic's 529) stays `overloaded_error`.
    pub fn to_anthropic_json(&self) -> Vec<u8> {
        let overloaded = self.status.as_u16() == 529
            || self.upstream_type.as_deref() == Some("overloaded_error");
        let kind = if overloaded {
            "overloaded_error"
        } else {
            self.kind.anthropic_type()
        };
        let body = serde_json::json!({
            "type": "error",
            "error": {"type": kind, "message": self.message},
        });
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"type\":\"error\"}".to_vec())
    }
}

/// `text` without any of `secrets` and at most [`MAX_UPSTREAM_TEXT_CHARS`]
/// long; `None` when it is fine as it is (the common case allocates nothing).
fn scrub(text: &str, secrets: &[&Secret]) -> Option<String> {
    let mut out: Option<String> = None;
    for secret in secrets {
        let current = out.as_deref().unwrap_or(text);
        if secret.occurs_in(current) {
            out = Some(secret.redact_in(current));
        }
    }
    let current = out.as_deref().unwrap_or(text);
    if let Some((cut, _)) = current.char_indices().nth(MAX_UPSTREAM_TEXT_CHARS) {
        out = Some(format!("{}…", &current[..cut]));
    }
    out
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.kind.openai_type(),
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_carries_type_param_code() {
        let e = GatewayError::model_not_found("nope");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_slice(&e.to_openai_json()).unwrap();
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().unwrap().contains("`nope`"));
    }

    #[test]
    fn anthropic_shape() {
        let e = GatewayError::new(ErrorKind::RateLimited, "slow down");
        let v: serde_json::Value = serde_json::from_slice(&e.to_anthropic_json()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let e = GatewayError::new(ErrorKind::UpstreamServer, "Overloaded")
            .with_status(StatusCode::from_u16(529).unwrap());
        let v: serde_json::Value = serde_json::from_slice(&e.to_anthropic_json()).unwrap();
        assert_eq!(v["error"]["type"], "overloaded_error");
    }

    fn echoing(text: &str) -> GatewayError {
        let mut e = GatewayError::new(ErrorKind::InvalidRequest, text);
        e.param = Some(text.into());
        e.code = Some(text.into());
        e.upstream_type = Some(text.into());
        e.retry_after = Some(text.into());
        e
    }

    #[test]
    fn redact_cleans_every_field_the_client_sees() {
        let key = Secret::new("sk-live-0123456789");
        let token = Secret::new("ya29.minted-token");
        let e = echoing("Bearer sk-live-0123456789 / ya29.minted-token").redact(&[&key, &token]);
        for body in [e.to_openai_json(), e.to_anthropic_json()] {
            let text = String::from_utf8(body).unwrap();
            assert!(!text.contains("sk-live"), "{text}");
            assert!(!text.contains("ya29"), "{text}");
        }
        for field in [&e.param, &e.code, &e.upstream_type, &e.retry_after] {
            assert_eq!(field.as_deref(), Some("Bearer [redacted] / [redacted]"));
        }
        assert_eq!(e.message, "Bearer [redacted] / [redacted]");
    }

    #[test]
    fn redact_cuts_after_redacting_so_no_key_prefix_survives() {
        let key = Secret::new("sk-straddling-the-cut-0123456789");
        // The key starts 10 characters before the 1,000-character cut.
        let text = format!("{}{}{}", "é".repeat(990), key.expose(), "x".repeat(500));
        let e = echoing(&text).redact(&[&key]);
        assert!(!e.message.contains("sk-str"), "{}", &e.message[1900..]);
        assert!(e.message.ends_with('…'));
        assert_eq!(e.message.chars().count(), MAX_UPSTREAM_TEXT_CHARS + 1);
        assert!(e.message.contains("[redacted]"));
        assert!(!e.code.as_deref().unwrap().contains("sk-str"));
    }

    #[test]
    fn redact_leaves_clean_short_text_alone() {
        let key = Secret::new("sk-live-0123456789");
        let e = echoing("Rate limit reached.").redact(&[&key]);
        assert_eq!(e.message, "Rate limit reached.");
        assert_eq!(e.code.as_deref(), Some("Rate limit reached."));
    }

    #[test]
    fn provider_not_configured_keeps_the_variable_for_the_log_only() {
        let e = GatewayError::provider_not_configured("mistral", "set MISTRAL_API_KEY");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let body = String::from_utf8(e.to_openai_json()).unwrap();
        assert!(!body.contains("MISTRAL_API_KEY"), "{body}");
        assert!(body.contains("provider_not_configured"), "{body}");
        let body = String::from_utf8(e.to_anthropic_json()).unwrap();
        assert!(!body.contains("MISTRAL_API_KEY"), "{body}");
        assert!(e.log_text().contains("MISTRAL_API_KEY"));
        assert!(!e.kind.is_retryable());
    }
}
