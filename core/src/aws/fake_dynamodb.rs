//! An in-memory DynamoDB behind the `HttpClient` port, for unit tests: one
//! hash key `pk` per table, GetItem (projection, consistent flag), PutItem
//! and DeleteItem (with the condition forms the gateway writes), the 400 KB
//! item limit, a log of every call and failures injected on demand. The
//! real thing (DynamoDB Local) runs in the end-to-end tests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use crate::ports::{Clock, HttpClient, Sleep, TransportError, UpstreamResponse};

use super::dynamodb::attr::{self, Item};

pub const ITEM_LIMIT: usize = 400 * 1024;

/// One call as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub pk: Option<String>,
    pub body: Value,
    pub headers: HeaderMap,
    pub uri: String,
}

#[derive(Default)]
struct State {
    tables: HashMap<String, BTreeMap<String, Item>>,
    calls: Vec<Call>,
    /// Answers given instead of the real ones, first in first out.
    injected: VecDeque<(u16, String)>,
    hang: bool,
    sleeps: Vec<u64>,
}

#[derive(Clone, Default)]
pub struct FakeDynamo(Arc<Mutex<State>>);

impl FakeDynamo {
    pub fn with_table(name: &str) -> Self {
        let fake = FakeDynamo::default();
        fake.state().tables.insert(name.to_owned(), BTreeMap::new());
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    pub fn sleeps(&self) -> Vec<u64> {
        self.state().sleeps.clone()
    }

    pub fn inject(&self, status: u16, body: &str) {
        self.state().injected.push_back((status, body.to_owned()));
    }

    pub fn hang(&self, on: bool) {
        self.state().hang = on;
    }

    pub fn keys(&self, table: &str) -> Vec<String> {
        self.state()
            .tables
            .get(table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn item(&self, table: &str, pk: &str) -> Option<Item> {
        self.state().tables.get(table)?.get(pk).cloned()
    }

    pub fn put(&self, table: &str, item: Item) {
        let pk = attr::get_s(&item, "pk").unwrap_or_default().to_owned();
        if let Some(t) = self.state().tables.get_mut(table) {
            t.insert(pk, item);
        }
    }

    pub fn remove(&self, table: &str, pk: &str) {
        if let Some(t) = self.state().tables.get_mut(table) {
            t.remove(pk);
        }
    }

    fn answer(&self, operation: &str, body: &Value) -> (u16, Value) {
        let mut state = self.state();
        let table_name = body["TableName"].as_str().unwrap_or_default();
        let Some(table) = state.tables.get_mut(table_name) else {
            return error(
                400,
                "ResourceNotFoundException",
                "Requested resource not found",
            );
        };
        let key_of = |v: &Value| v["pk"]["S"].as_str().map(str::to_owned);
        match operation {
            "GetItem" => {
                let Some(pk) = key_of(&body["Key"]) else {
                    return error(400, "ValidationException", "no pk in Key");
                };
                let Some(item) = table.get(&pk) else {
                    return (200, json!({}));
                };
                let item = match body.get("ProjectionExpression").and_then(Value::as_str) {
                    None => item.clone(),
                    Some(p) => p
                        .split(", ")
                        .map(|n| resolve(n, body))
                        .filter_map(|n| Some((n.clone(), item.get(&n)?.clone())))
                        .collect(),
                };
                (200, json!({ "Item": item }))
            }
            "PutItem" | "DeleteItem" => {
                let source = if operation == "PutItem" {
                    "Item"
                } else {
                    "Key"
                };
                let Some(pk) = key_of(&body[source]) else {
                    return error(400, "ValidationException", "no pk");
                };
                if let Some(cond) = body.get("ConditionExpression").and_then(Value::as_str) {
                    if !holds(cond, body, table.get(&pk)) {
                        return error(
                            400,
                            "ConditionalCheckFailedException",
                            "The conditional request failed",
                        );
                    }
                }
                if operation == "DeleteItem" {
                    table.remove(&pk);
                    return (200, json!({}));
                }
                let item: Item = body["Item"].as_object().cloned().unwrap_or_default();
                if item_size(&item) > ITEM_LIMIT {
                    return error(
                        400,
                        "ValidationException",
                        "Item size has exceeded the maximum allowed size",
                    );
                }
                table.insert(pk, item);
                (200, json!({}))
            }
            _ => error(400, "UnknownOperationException", "not in the fake"),
        }
    }
}

fn error(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message}),
    )
}

fn resolve(name: &str, body: &Value) -> String {
    let name = name.trim();
    match body["ExpressionAttributeNames"].get(name) {
        Some(Value::String(real)) => real.clone(),
        _ => name.to_owned(),
    }
}

/// `attribute_not_exists(a)` and `a = :v` terms joined by `OR`.
fn holds(cond: &str, body: &Value, current: Option<&Item>) -> bool {
    cond.split(" OR ").any(|term| {
        let term = term.trim();
        if let Some(a) = term
            .strip_prefix("attribute_not_exists(")
            .and_then(|t| t.strip_suffix(')'))
        {
            return current.is_none_or(|it| !it.contains_key(&resolve(a, body)));
        }
        if let Some((a, v)) = term.split_once(" = ") {
            let want = &body["ExpressionAttributeValues"][v.trim()];
            return current.and_then(|it| it.get(&resolve(a, body))) == Some(want);
        }
        panic!("the fake does not understand the condition {term:?}")
    })
}

/// DynamoDB's item size: attribute names plus values (binary as raw bytes).
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter()
        .map(|(name, v)| {
            name.len()
                + match (v.get("S"), v.get("N"), v.get("B")) {
                    (Some(Value::String(s)), _, _) | (_, Some(Value::String(s)), _) => s.len(),
                    (_, _, Some(Value::String(b))) => b.len() / 4 * 3,
                    _ => v.to_string().len(),
                }
        })
        .sum()
}

impl HttpClient for FakeDynamo {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let operation = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("DynamoDB_20120810."))
            .unwrap_or_default()
            .to_owned();
        let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
        let pk = ["Key", "Item"]
            .iter()
            .find_map(|k| body[*k]["pk"]["S"].as_str())
            .map(str::to_owned);
        self.state().calls.push(Call {
            operation: operation.clone(),
            pk,
            body: body.clone(),
            headers: req.headers().clone(),
            uri: req.uri().to_string(),
        });
        if self.state().hang {
            futures::future::pending::<()>().await;
        }
        let injected = self.state().injected.pop_front();
        let (status, text) = match injected {
            Some((status, text)) => (status, text),
            None => {
                let (status, v) = self.answer(&operation, &body);
                (status, v.to_string())
            }
        };
        Ok(UpstreamResponse::full(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            HeaderMap::new(),
            Bytes::from(text),
        ))
    }
}

impl Clock for FakeDynamo {
    fn now_ms(&self) -> u64 {
        1_440_938_160_000 // 2015-08-30T12:36:00Z, the AWS signing suite's time
    }
}

impl Sleep for FakeDynamo {
    async fn sleep(&self, ms: u64) {
        self.state().sleeps.push(ms);
    }
}
