//! What a DynamoDB call can fail with. Messages never carry credentials:
//! DynamoDB's own messages are redacted before they get here, and signing
//! and transport errors carry fixed texts.

/// One failed DynamoDB operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoError {
    /// `GetItem`, `PutItem`, ...
    pub operation: &'static str,
    pub kind: DynamoErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamoErrorKind {
    /// DynamoDB answered with an error: the exception name from `__type`
    /// (`ConditionalCheckFailedException`, `ResourceNotFoundException`, ...)
    /// and its message.
    Service {
        status: u16,
        error_type: String,
        message: String,
    },
    /// No answer: the connection failed or broke off.
    Transport(String),
    /// No complete answer within the call's time limit (in ms).
    Timeout(u64),
    /// An answer that is not DynamoDB's JSON.
    BadResponse(String),
    /// The request could not be built or signed.
    Request(&'static str),
}

impl DynamoError {
    pub(super) fn new(operation: &'static str, kind: DynamoErrorKind) -> Self {
        DynamoError { operation, kind }
    }

    /// The exception name DynamoDB answered with, if it answered.
    pub fn error_type(&self) -> Option<&str> {
        match &self.kind {
            DynamoErrorKind::Service { error_type, .. } => Some(error_type),
            _ => None,
        }
    }

    /// A `ConditionExpression` was false: the write did not happen.
    pub fn is_conditional_check_failed(&self) -> bool {
        self.error_type() == Some("ConditionalCheckFailedException")
    }

    /// Worth another attempt: throttled, DynamoDB's own failures, or a
    /// connection that could not be made (the AWS SDKs' standard retry set).
    pub(super) fn is_retryable(&self) -> bool {
        match &self.kind {
            DynamoErrorKind::Service {
                status, error_type, ..
            } => {
                *status >= 500
                    || matches!(
                        error_type.as_str(),
                        "ThrottlingException"
                            | "ProvisionedThroughputExceededException"
                            | "RequestLimitExceeded"
                            | "TransactionInProgressException"
                    )
            }
            DynamoErrorKind::Transport(_) => true,
            DynamoErrorKind::Timeout(_)
            | DynamoErrorKind::BadResponse(_)
            | DynamoErrorKind::Request(_) => false,
        }
    }
}

impl std::fmt::Display for DynamoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DynamoDB {}: ", self.operation)?;
        match &self.kind {
            DynamoErrorKind::Service {
                status,
                error_type,
                message,
            } => write!(f, "{error_type} (HTTP {status}): {message}"),
            DynamoErrorKind::Transport(m) => write!(f, "{m}"),
            DynamoErrorKind::Timeout(ms) => write!(f, "no answer within {ms} ms"),
            DynamoErrorKind::BadResponse(m) => write!(f, "unexpected answer: {m}"),
            DynamoErrorKind::Request(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for DynamoError {}

/// The exception name out of `__type`
/// (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`), and the
/// message (`message`, or `Message` for some exceptions).
pub(super) fn parse_service_error(body: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let raw = v.get("__type")?.as_str()?;
    let error_type = raw.rsplit('#').next().unwrap_or(raw).to_owned();
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|m| m.as_str()))
        .unwrap_or("")
        .to_owned();
    Some((error_type, message))
}
