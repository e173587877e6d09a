//! Telemetry out: each finished exchange as a [`Record`], exported to the
//! `[[telemetry]]` sinks after the response, through the `Background` port.
//!
//! - `otlp`: OTLP/HTTP with JSON encoding, one span per request (GenAI
//!   semantic conventions plus `dx.*` gateway attributes) to
//!   `<endpoint>/v1/traces`, and metrics (requests, tokens, cost, duration,
//!   errors by class) to `<endpoint>/v1/metrics`;
//! - `webhook`: one JSON per request, signed with HMAC-SHA256 over the body
//!   (`x-dx-signature: sha256=<hex>`), retried with backoff.
//!
//! Records carry no prompt or completion, no key value (the key's hash
//! prefix, alias and team only). Delivery is batched and bounded: an
//! instance queues at most [`MAX_QUEUED`] records (the oldest is dropped and
//! counted), one flush at a time drains them, every send has a timeout, and
//! a failure is counted and logged, never seen by a client.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ports::{with_timeout, Background, Clock, Env, HttpClient, Log, MaybeSend, MaybeSync, Sleep};
use crate::secret::Secret;

/// Records an instance holds for export at most.
pub const MAX_QUEUED: usize = 512;

/// One `[[telemetry]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub kind: SinkKind,
    pub endpoint: String,
    /// OTLP only: `http/json` (the only encoding exported).
    #[serde(default)]
    pub protocol: Option<String>,
    /// Extra request headers (`env:NAME` values are read from the environment).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Webhook: the HMAC-SHA256 key (`env:NAME` or a literal).
    #[serde(default)]
    pub secret: Option<String>,
    /// Time allowed per send.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    2_000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Otlp,
    Webhook,
}

impl SinkConfig {
    pub fn check(&self) -> Result<(), String> {
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err("a [[telemetry]] endpoint must be an http(s) URL".into());
        }
        match (self.kind, self.protocol.as_deref()) {
            (SinkKind::Otlp, None | Some("http/json")) => Ok(()),
            (SinkKind::Otlp, Some(_)) => {
                Err("[[telemetry]] kind = \"otlp\" supports protocol = \"http/json\" only".into())
            }
            (SinkKind::Webhook, _) if self.secret.is_none() => {
                Err("[[telemetry]] kind = \"webhook\" needs a secret (env:NAME) to sign with".into())
            }
            _ => Ok(()),
        }
    }
}

/// What is exported of one exchange.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub start_ms: u64,
    pub end_ms: u64,
    pub path: String,
    pub status: u16,
    pub stream: bool,
    /// The model as the client named it, and as the upstream was asked.
    pub request_model: String,
    pub response_model: String,
    pub provider: String,
    pub deployment: String,
    pub attempts: u32,
    pub cache: &'static str,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost: Option<f64>,
    /// The error's text class (`rate_limited`, …) when it failed.
    pub error: Option<String>,
    pub key: String,
    pub team: String,
}

impl Record {
    fn operation(&self) -> &'static str {
        if self.path.ends_with("/embeddings") {
            "embeddings"
        } else {
            "chat"
        }
    }
}

struct Sink {
    kind: SinkKind,
    endpoint: String,
    headers: Vec<(String, Secret)>,
    secret: Option<Secret>,
    timeout_ms: u64,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

/// An instance's exporter: its sinks, its queue, its counters.
pub struct Telemetry {
    sinks: Vec<Sink>,
    queue: Mutex<VecDeque<Record>>,
    flushing: AtomicBool,
    seq: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Sends that failed (after their retries).
    pub failed: AtomicU64,
}

impl Telemetry {
    /// `None` when no sink is configured.
    pub fn new(sinks: &[SinkConfig], env: &impl Env) -> Option<Self> {
        if sinks.is_empty() {
            return None;
        }
        let resolve = |v: &str| crate::config::resolve_secret(v, env);
        let sinks = sinks
            .iter()
            .map(|s| Sink {
                kind: s.kind,
                endpoint: s.endpoint.trim_end_matches('/').to_owned(),
                headers: s
                    .headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), resolve(v)?)))
                    .collect(),
                secret: s.secret.as_deref().and_then(resolve),
                timeout_ms: s.timeout_ms,
            })
            .collect();
        Some(Telemetry {
            sinks,
            queue: Mutex::new(VecDeque::new()),
            flushing: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Queues `record` and starts a flush unless one is running.
    pub fn record<P>(self: &Arc<Self>, ports: &P, record: Record)
    where
        P: HttpClient + Sleep + Clock + Background + Log + Clone + MaybeSend + MaybeSync + 'static,
    {
        {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if q.len() >= MAX_QUEUED {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(record);
        }
        if self.flushing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        let p = ports.clone();
        ports.defer_after(Box::pin(async move { me.flush(&p).await }));
    }

    async fn flush<P>(&self, ports: &P)
    where
        P: HttpClient + Sleep + Clock + Log + MaybeSync,
    {
        loop {
            let batch: Vec<Record> = self
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain(..)
                .collect();
            if batch.is_empty() {
                self.flushing.store(false, Ordering::Release);
                // A record queued between the drain and the store starts no
                // flush of its own: take it here.
                if self.queue.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
                    || self.flushing.swap(true, Ordering::AcqRel)
                {
                    return;
                }
                continue;
            }
            for sink in &self.sinks {
                let sent = match sink.kind {
                    SinkKind::Otlp => {
                        let seq = self.seq.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        let traces = otlp_traces(&batch, seq);
                        let metrics = otlp_metrics(&batch);
                        let a = self.send(ports, sink, "/v1/traces", &traces, 1).await;
                        let b = self.send(ports, sink, "/v1/metrics", &metrics, 1).await;
                        a.and(b)
                    }
                    SinkKind::Webhook => {
                        let mut all = Ok(());
                        for r in &batch {
                            let body = webhook_body(r);
                            all = all.and(self.send(ports, sink, "", &body, 3).await);
                        }
                        all
                    }
                };
                if let Err(e) = sent {
                    let line = json!({"event": "telemetry", "outcome": "error",
                        "sink": sink.endpoint, "error": e,
                        "failed": self.failed.load(Ordering::Relaxed),
                        "dropped": self.dropped.load(Ordering::Relaxed)});
                    ports.log(&line.to_string());
                }
            }
        }
    }

    /// One POST with up to `attempts` tries (backoff 200 ms, 400 ms, …).
    async fn send<P>(
        &self,
        ports: &P,
        sink: &Sink,
        path: &str,
        body: &Value,
        attempts: u32,
    ) -> Result<(), String>
    where
        P: HttpClient + Sleep,
    {
        let body = Bytes::from(body.to_string());
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                ports.sleep(200 << (attempt - 1)).await;
            }
            let mut req = http::Request::post(format!("{}{path}", sink.endpoint))
                .header("content-type", "application/json");
            for (k, v) in &sink.headers {
                req = req.header(k.as_str(), v.expose());
            }
            if let Some(secret) = &sink.secret {
                req = req.header("x-dx-signature", format!("sha256={}", hex(&hmac_sha256(secret.expose().as_bytes(), &body))));
            }
            let req = req.body(body.clone()).map_err(|e| e.to_string())?;
            match with_timeout(ports, sink.timeout_ms, ports.send(req)).await {
                Some(Ok(resp)) if resp.status.is_success() => return Ok(()),
                Some(Ok(resp)) => {
                    last = format!("HTTP {}", resp.status.as_u16());
                    if resp.status.is_client_error() && resp.status.as_u16() != 429 {
                        break;
                    }
                }
                Some(Err(e)) => last = e.to_string(),
                None => last = format!("no answer within {} ms", sink.timeout_ms),
            }
        }
        self.failed.fetch_add(1, Ordering::Relaxed);
        Err(last)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 (RFC 2104) over `sha2`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn s(key: &str, v: &str) -> Value {
    json!({"key": key, "value": {"stringValue": v}})
}

fn i(key: &str, v: u64) -> Value {
    json!({"key": key, "value": {"intValue": v.to_string()}})
}

fn d(key: &str, v: f64) -> Value {
    json!({"key": key, "value": {"doubleValue": v}})
}

fn nanos(ms: u64) -> String {
    format!("{ms}000000")
}

/// The attributes a span and the metrics share.
fn common(r: &Record) -> Vec<Value> {
    let mut a = vec![
        s("gen_ai.operation.name", r.operation()),
        s("gen_ai.request.model", &r.request_model),
    ];
    if !r.provider.is_empty() {
        a.push(s("gen_ai.provider.name", &r.provider));
    }
    a
}

fn resource() -> Value {
    json!({"attributes": [s("service.name", "dx-gateway")]})
}

const SCOPE: &str = "dx-gateway";

/// OTLP/JSON `ExportTraceServiceRequest`: one span per record.
pub fn otlp_traces(batch: &[Record], seq: u64) -> Value {
    let spans: Vec<Value> = batch
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let id = Sha256::new()
                .chain_update(r.start_ms.to_be_bytes())
                .chain_update((seq + n as u64).to_be_bytes())
                .chain_update(r.path.as_bytes())
                .finalize();
            let mut a = common(r);
            if !r.response_model.is_empty() {
                a.push(s("gen_ai.response.model", &r.response_model));
            }
            if let Some(t) = r.input_tokens {
                a.push(i("gen_ai.usage.input_tokens", t));
            }
            if let Some(t) = r.output_tokens {
                a.push(i("gen_ai.usage.output_tokens", t));
            }
            if let Some(c) = r.cost {
                a.push(d("dx.cost_usd", c));
            }
            a.push(s("dx.cache", r.cache));
            a.push(i("dx.attempts", u64::from(r.attempts)));
            a.push(s("dx.ingress", &r.path));
            a.push(i("http.response.status_code", u64::from(r.status)));
            a.push(json!({"key": "dx.stream", "value": {"boolValue": r.stream}}));
            for (k, v) in [
                ("dx.deployment", &r.deployment),
                ("dx.key", &r.key),
                ("dx.team", &r.team),
            ] {
                if !v.is_empty() {
                    a.push(s(k, v));
                }
            }
            if let Some(e) = &r.error {
                a.push(s("error.type", e));
            }
            let status = if r.status >= 400 { 2 } else { 1 };
            json!({
                "traceId": hex(&id[..16]),
                "spanId": hex(&id[16..24]),
                "name": format!("{} {}", r.operation(), r.request_model),
                "kind": 3,
                "startTimeUnixNano": nanos(r.start_ms),
                "endTimeUnixNano": nanos(r.end_ms),
                "attributes": a,
                "status": {"code": status},
            })
        })
        .collect();
    json!({"resourceSpans": [{"resource": resource(),
        "scopeSpans": [{"scope": {"name": SCOPE}, "spans": spans}]}]})
}

/// Bucket bounds of the duration histogram (seconds), as GenAI's
/// semantic conventions advise.
const DURATION_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TOKEN_BOUNDS: [f64; 10] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0,
];

fn histogram_point(attrs: Vec<Value>, r: &Record, value: f64, bounds: &[f64]) -> Value {
    let mut counts = vec![0u64; bounds.len() + 1];
    let slot = bounds.iter().position(|b| value <= *b).unwrap_or(bounds.len());
    counts[slot] = 1;
    json!({
        "attributes": attrs,
        "startTimeUnixNano": nanos(r.start_ms),
        "timeUnixNano": nanos(r.end_ms),
        "count": "1",
        "sum": value,
        "bucketCounts": counts.iter().map(u64::to_string).collect::<Vec<_>>(),
        "explicitBounds": bounds,
    })
}

fn sum_point(attrs: Vec<Value>, r: &Record, value: Value) -> Value {
    let mut p = json!({
        "attributes": attrs,
        "startTimeUnixNano": nanos(r.start_ms),
        "timeUnixNano": nanos(r.end_ms),
    });
    if let Value::Object(m) = &mut p {
        let field = if value.is_f64() { "asDouble" } else { "asInt" };
        let value = if value.is_f64() { value } else { Value::String(value.to_string()) };
        m.insert(field.into(), value);
    }
    p
}

/// OTLP/JSON `ExportMetricsServiceRequest`: delta points per record.
pub fn otlp_metrics(batch: &[Record]) -> Value {
    const DELTA: u8 = 1;
    let (mut duration, mut tokens, mut requests, mut cost, mut errors) =
        (vec![], vec![], vec![], vec![], vec![]);
    for r in batch {
        let secs = r.end_ms.saturating_sub(r.start_ms) as f64 / 1000.0;
        duration.push(histogram_point(common(r), r, secs, &DURATION_BOUNDS));
        for (kind, n) in [("input", r.input_tokens), ("output", r.output_tokens)] {
            if let Some(n) = n {
                let mut a = common(r);
                a.push(s("gen_ai.token.type", kind));
                tokens.push(histogram_point(a, r, n as f64, &TOKEN_BOUNDS));
            }
        }
        let mut a = common(r);
        a.push(s("dx.cache", r.cache));
        a.push(i("http.response.status_code", u64::from(r.status)));
        requests.push(sum_point(a, r, json!(1)));
        if let Some(c) = r.cost {
            cost.push(sum_point(common(r), r, json!(c)));
        }
        if let Some(e) = &r.error {
            let mut a = common(r);
            a.push(s("error.type", e));
            errors.push(sum_point(a, r, json!(1)));
        }
    }
    let histogram = |name: &str, unit: &str, points: Vec<Value>| {
        json!({"name": name, "unit": unit,
            "histogram": {"aggregationTemporality": DELTA, "dataPoints": points}})
    };
    let sum = |name: &str, unit: &str, points: Vec<Value>| {
        json!({"name": name, "unit": unit,
            "sum": {"aggregationTemporality": DELTA, "isMonotonic": true, "dataPoints": points}})
    };
    let mut metrics = vec![
        histogram("gen_ai.client.operation.duration", "s", duration),
        sum("dx.requests", "{request}", requests),
    ];
    for (m, empty) in [
        (histogram("gen_ai.client.token.usage", "{token}", tokens.clone()), tokens.is_empty()),
        (sum("dx.cost", "USD", cost.clone()), cost.is_empty()),
        (sum("dx.errors", "{error}", errors.clone()), errors.is_empty()),
    ] {
        if !empty {
            metrics.push(m);
        }
    }
    json!({"resourceMetrics": [{"resource": resource(),
        "scopeMetrics": [{"scope": {"name": SCOPE}, "metrics": metrics}]}]})
}

/// The webhook's JSON for one record.
pub fn webhook_body(r: &Record) -> Value {
    json!({
        "event": "request",
        "start_ms": r.start_ms,
        "end_ms": r.end_ms,
        "path": r.path,
        "status": r.status,
        "stream": r.stream,
        "model": r.request_model,
        "upstream_model": r.response_model,
        "provider": r.provider,
        "deployment": r.deployment,
        "attempts": r.attempts,
        "cache": r.cache,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cost": r.cost,
        "error": r.error,
        "key": r.key,
        "team": r.team,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // a key longer than the block is hashed first (RFC 4231 case 6)
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn record() -> Record {
        Record {
            start_ms: 1_000,
            end_ms: 1_250,
            path: "/v1/chat/completions".into(),
            status: 200,
            request_model: "gpt-4o-mini".into(),
            response_model: "gpt-4o-mini-2024-07-18".into(),
            provider: "openai".into(),
            attempts: 1,
            cache: "miss",
            input_tokens: Some(12),
            output_tokens: Some(5),
            cost: Some(0.000_01),
            ..Record::default()
        }
    }

    #[test]
    fn a_span_carries_the_genai_attributes_and_its_times() {
        let t = otlp_traces(&[record()], 0);
        let span = &t["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        let attr = |k: &str| {
            span["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == k)
                .map(|a| a["value"].clone())
        };
        assert_eq!(attr("gen_ai.operation.name").unwrap()["stringValue"], "chat");
        assert_eq!(attr("gen_ai.provider.name").unwrap()["stringValue"], "openai");
        assert_eq!(attr("gen_ai.usage.input_tokens").unwrap()["intValue"], "12");
        assert_eq!(attr("gen_ai.usage.output_tokens").unwrap()["intValue"], "5");
        assert_eq!(attr("dx.cache").unwrap()["stringValue"], "miss");
        assert_eq!(span["startTimeUnixNano"], "1000000000");
        assert_eq!(span["endTimeUnixNano"], "1250000000");
        assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        let other = otlp_traces(&[record()], 1);
        assert_ne!(
            other["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
            span["traceId"]
        );
    }

    #[test]
    fn metrics_count_requests_tokens_cost_and_errors() {
        let mut failed = record();
        failed.status = 429;
        failed.error = Some("rate_limited".into());
        failed.input_tokens = None;
        failed.output_tokens = None;
        failed.cost = None;
        let m = otlp_metrics(&[record(), failed]);
        let metrics = m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap();
        let named = |n: &str| metrics.iter().find(|m| m["name"] == n).unwrap();
        assert_eq!(named("dx.requests")["sum"]["dataPoints"].as_array().unwrap().len(), 2);
        assert_eq!(named("gen_ai.client.token.usage")["histogram"]["dataPoints"].as_array().unwrap().len(), 2);
        assert_eq!(named("dx.errors")["sum"]["dataPoints"][0]["asInt"], "1");
        let dur = &named("gen_ai.client.operation.duration")["histogram"]["dataPoints"][0];
        assert_eq!(dur["sum"], 0.25);
        assert_eq!(dur["bucketCounts"][5], "1", "0.25 s falls in (0.16, 0.32]");
        assert_eq!(named("dx.cost")["sum"]["dataPoints"][0]["asDouble"], 0.000_01);
    }
}
