//! A small DynamoDB client over the core's ports: the JSON 1.0 protocol
//! (`POST /`, `x-amz-target: DynamoDB_20120810.<Operation>`,
//! `content-type: application/x-amz-json-1.0`), SigV4-signed for service
//! `dynamodb`, each attempt under a time limit, throttling and DynamoDB's own
//! failures retried with backoff. Items stay DynamoDB's typed JSON
//! ([`attr`]); [`DynamoDb::call`] takes any operation's request, the typed
//! helpers cover what the gateway uses today.

pub mod attr;
mod error;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};

pub use attr::Item;
pub use error::{DynamoError, DynamoErrorKind};

use super::credentials::{region_from_env, AwsCredentials};
use super::sigv4::sign_request;
use crate::ports::{with_timeout, Clock, Env, HttpClient, Sleep};

/// Points the client at another endpoint (DynamoDB Local in tests).
pub const ENDPOINT_ENV: &str = "DX_DYNAMODB_ENDPOINT";
const TARGET_PREFIX: &str = "DynamoDB_20120810.";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const SIGNING_SERVICE: &str = "dynamodb";
/// Answers larger than this are refused (BatchGetItem answers up to 16 MB).
const MAX_RESPONSE_BYTES: usize = 17 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct DynamoDbConfig {
    /// `https://dynamodb.{region}.amazonaws.com`, or [`ENDPOINT_ENV`].
    pub endpoint: String,
    pub region: String,
    pub credentials: AwsCredentials,
    /// Time allowed for one attempt: sending and reading the whole answer.
    pub timeout_ms: u64,
    /// Attempts per call when a failure is worth retrying (1: no retry).
    pub max_attempts: u32,
}

impl DynamoDbConfig {
    /// From what Lambda puts in the environment: the region and the
    /// execution role's credentials (`AWS_*`).
    pub fn from_env(env: &impl Env) -> Result<Self, String> {
        let region = region_from_env(env)
            .ok_or("DynamoDB needs a region: set AWS_REGION (Lambda sets it)")?;
        let credentials = AwsCredentials::from_env(env).ok_or(
            "DynamoDB needs AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
             (Lambda sets them from the function's role)",
        )?;
        let endpoint = env
            .var(ENDPOINT_ENV)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
        Ok(DynamoDbConfig {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            credentials,
            timeout_ms: 5_000,
            max_attempts: 3,
        })
    }
}

/// How an item is read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Read<'a> {
    /// A strongly consistent read (twice the cost of an eventual one).
    pub consistent: bool,
    /// Only these attributes (all when empty).
    pub attributes: &'a [&'a str],
}

/// A `ConditionExpression` with its `#name` and `:value` placeholders.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    expression: String,
    names: Map<String, Value>,
    values: Item,
}

impl Condition {
    pub fn new(expression: impl Into<String>) -> Self {
        Condition {
            expression: expression.into(),
            ..Condition::default()
        }
    }

    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names
            .insert(placeholder.to_owned(), Value::String(attribute.to_owned()));
        self
    }

    pub fn value(mut self, placeholder: &str, value: Value) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    fn add_to(self, body: &mut Map<String, Value>) {
        body.insert("ConditionExpression".into(), self.expression.into());
        if !self.names.is_empty() {
            body.insert("ExpressionAttributeNames".into(), self.names.into());
        }
        if !self.values.is_empty() {
            body.insert("ExpressionAttributeValues".into(), self.values.into());
        }
    }
}

pub struct DynamoDb<P> {
    ports: P,
    config: DynamoDbConfig,
}

impl<P: HttpClient + Clock + Sleep> DynamoDb<P> {
    pub fn new(ports: P, config: DynamoDbConfig) -> Self {
        DynamoDb { ports, config }
    }

    pub fn config(&self) -> &DynamoDbConfig {
        &self.config
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    /// One item by its key; `None` when there is none.
    pub async fn get_item(
        &self,
        table: &str,
        key: Item,
        read: Read<'_>,
    ) -> Result<Option<Item>, DynamoError> {
        let mut body = Map::new();
        body.insert("TableName".into(), table.into());
        body.insert("Key".into(), key.into());
        if read.consistent {
            body.insert("ConsistentRead".into(), true.into());
        }
        if !read.attributes.is_empty() {
            // Through placeholders: many plain words are reserved in
            // expressions (`name`, `data`, ...).
            let mut names = Map::new();
            let mut projection = Vec::with_capacity(read.attributes.len());
            for (i, a) in read.attributes.iter().enumerate() {
                let placeholder = format!("#a{i}");
                names.insert(placeholder.clone(), (*a).into());
                projection.push(placeholder);
            }
            body.insert("ProjectionExpression".into(), projection.join(", ").into());
            body.insert("ExpressionAttributeNames".into(), names.into());
        }
        let out = self.call("GetItem", &Value::Object(body)).await?;
        match out.get("Item") {
            Some(Value::Object(item)) => Ok(Some(item.clone())),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(DynamoError::new(
                "GetItem",
                DynamoErrorKind::BadResponse("`Item` is not an object".into()),
            )),
        }
    }

    /// Writes a whole item; with a condition, only when it holds
    /// ([`DynamoError::is_conditional_check_failed`] otherwise).
    pub async fn put_item(
        &self,
        table: &str,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), DynamoError> {
        self.write("PutItem", table, "Item", item, condition).await
    }

    /// Deletes an item (deleting one that is not there is no error).
    pub async fn delete_item(
        &self,
        table: &str,
        key: Item,
        condition: Option<Condition>,
    ) -> Result<(), DynamoError> {
        self.write("DeleteItem", table, "Key", key, condition).await
    }

    /// PutItem and DeleteItem: one item (or key) and an optional condition.
    async fn write(
        &self,
        operation: &'static str,
        table: &str,
        field: &str,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), DynamoError> {
        let mut body = Map::new();
        body.insert("TableName".into(), table.into());
        body.insert(field.into(), item.into());
        if let Some(c) = condition {
            c.add_to(&mut body);
        }
        self.call(operation, &Value::Object(body)).await.map(drop)
    }

    /// Any operation: its request as DynamoDB's JSON, its answer likewise.
    /// Retries what [`DynamoError`] deems retryable, with exponential backoff.
    /// A retried write may already have been applied once (a 500 after the
    /// write, a connection lost after the request went out): writes that are
    /// not idempotent (`ADD` in an UpdateItem) should carry a condition that
    /// a repeat fails.
    pub async fn call(&self, operation: &'static str, body: &Value) -> Result<Value, DynamoError> {
        let payload = Bytes::from(body.to_string());
        let mut attempt = 1;
        loop {
            match self.attempt(operation, payload.clone()).await {
                Err(e) if e.is_retryable() && attempt < self.config.max_attempts => {
                    self.ports.sleep(backoff_ms(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, operation: &'static str, payload: Bytes) -> Result<Value, DynamoError> {
        let fail = |kind| DynamoError::new(operation, kind);
        let request = self.request(operation, payload).map_err(fail)?;
        let timeout_ms = self.config.timeout_ms;
        let (status, body) = with_timeout(&self.ports, timeout_ms, async {
            let resp = self
                .ports
                .send(request)
                .await
                .map_err(|e| DynamoErrorKind::Transport(e.to_string()))?;
            let body = collect(resp.body).await?;
            Ok::<_, DynamoErrorKind>((resp.status, body))
        })
        .await
        .ok_or(DynamoErrorKind::Timeout(timeout_ms))
        .and_then(|r| r)
        .map_err(fail)?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| fail(DynamoErrorKind::BadResponse(format!("not JSON: {e}"))));
        }
        let creds = &self.config.credentials;
        Err(fail(match error::parse_service_error(&body) {
            Some((error_type, message)) => DynamoErrorKind::Service {
                status: status.as_u16(),
                error_type,
                message: creds.redact(&message),
            },
            None => DynamoErrorKind::Service {
                status: status.as_u16(),
                error_type: "UnknownError".into(),
                message: creds.redact(&String::from_utf8_lossy(&body[..body.len().min(200)])),
            },
        }))
    }

    fn request(
        &self,
        operation: &'static str,
        payload: Bytes,
    ) -> Result<http::Request<Bytes>, DynamoErrorKind> {
        let mut req = http::Request::post(format!("{}/", self.config.endpoint))
            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("x-amz-target", format!("{TARGET_PREFIX}{operation}"))
            .body(payload)
            .map_err(|_| DynamoErrorKind::Request("the DynamoDB endpoint is not a valid URL"))?;
        sign_request(
            &mut req,
            &self.config.credentials.for_signing(),
            &self.config.region,
            SIGNING_SERVICE,
            self.ports.now_ms(),
        )
        .map_err(|e| DynamoErrorKind::Request(e.reason()))?;
        Ok(req)
    }
}

/// 50 ms, 100 ms, 200 ms, ... at most 1 s.
fn backoff_ms(attempt: u32) -> u64 {
    50u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(5))
        .min(1_000)
}

async fn collect(mut body: crate::ports::ByteStream) -> Result<Vec<u8>, DynamoErrorKind> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| DynamoErrorKind::Transport(e.to_string()))?;
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(DynamoErrorKind::BadResponse(format!(
                "more than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
