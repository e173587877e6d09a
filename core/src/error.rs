//! Errors as the gateway reports them: a precise kind, the status it maps to,
//! and renderers for each ingress API's own error shape.

use http::StatusCode;
use serde::Serialize;

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
    fn openai_type(self) -> &'static str {
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
        }
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
}
