//! Telemetry out: each finished exchange as a [`Record`], exported to the
//! `[[telemetry]]` sinks after the response, through the `Background` port.
//!
//! - `otlp`: OTLP/HTTP with JSON encoding, one span per request (GenAI
//!   semantic conventions plus `dx.*` gateway attributes) to
//!   `<endpoint>/v1/traces`, and metrics (requests, tokens, cost, duration,
//!   errors by class) to `<endpoint>/v1/metrics`;
//! - `langfuse`: Langfuse's public ingestion API (`<endpoint>/api/public/
//!   ingestion`, Basic auth with the project's key pair): a trace and a
//!   generation per request, with usage and cost;
//! - `webhook`: one JSON per request, signed with HMAC-SHA256 over the body
//!   (`x-dx-signature: sha256=<hex>`), retried with backoff.
//!
//! Records carry no key value (the key's hash prefix, alias and team only),
//! and a prompt and its completion only for sinks with `include_content =
//! true` ([`Content`]). Delivery is batched and bounded: an
//! instance queues at most [`MAX_QUEUED`] records (the oldest is dropped and
//! counted), one flush at a time drains them, every send has a timeout, and
//! a failure is counted and logged, never seen by a client.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::fmt::Write;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::ports::{
    with_timeout, Background, Clock, Env, HttpClient, Log, MaybeSend, MaybeSync, Sleep,
};
use crate::secret::Secret;

pub mod content;

/// Records an instance holds for export at most.
pub const MAX_QUEUED: usize = 512;

/// One `[[telemetry]]` table.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub kind: SinkKind,
    pub endpoint: String,
    /// Extra request headers (`env:NAME` values are read from the environment).
    pub headers: Vec<(String, String)>,
    /// Webhook: the HMAC-SHA256 key (`env:NAME` or a literal).
    pub secret: Option<String>,
    /// Time allowed per send.
    pub timeout_ms: u64,
    /// Langfuse: the project's key pair (`env:NAME` or literals).
    pub public_key: Option<String>,
    pub secret_key: Option<String>,
    /// Export prompts and completions (masked, capped) to this sink.
    pub include_content: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Otlp,
    Langfuse,
    Webhook,
}

impl SinkConfig {
    /// One entry as written (by hand, not serde's derive: Worker size).
    pub fn read(v: &serde_json::Value) -> Result<Self, String> {
        let m = v.as_object().ok_or("expected a table")?;
        let text = |k: &str| -> Result<Option<String>, String> {
            match m.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_owned()))
                    .ok_or_else(|| format!("`{k}` is a string")),
            }
        };
        if let Some(k) = m.keys().find(|k| {
            ![
                "kind",
                "endpoint",
                "protocol",
                "headers",
                "secret",
                "timeout_ms",
                "public_key",
                "secret_key",
                "include_content",
            ]
            .contains(&k.as_str())
        }) {
            return Err(format!(
                "unknown field `{}`, expected kind, endpoint, protocol, headers, secret, timeout_ms or include_content",
                k.escape_debug()
            ));
        }
        let kind = match text("kind")?.as_deref() {
            Some("otlp") => SinkKind::Otlp,
            Some("webhook") => SinkKind::Webhook,
            Some("langfuse") => SinkKind::Langfuse,
            _ => return Err("`kind` is \"otlp\", \"langfuse\" or \"webhook\"".into()),
        };
        let endpoint = text("endpoint")?.ok_or("missing `endpoint`")?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err("`endpoint` must be an http(s) URL".into());
        }
        if kind == SinkKind::Otlp
            && !matches!(text("protocol")?.as_deref(), None | Some("http/json"))
        {
            return Err("kind = \"otlp\" supports protocol = \"http/json\" only".into());
        }
        let secret = text("secret")?;
        if kind == SinkKind::Webhook && secret.is_none() {
            return Err("kind = \"webhook\" needs a `secret` (env:NAME) to sign with".into());
        }
        let (public_key, secret_key) = (text("public_key")?, text("secret_key")?);
        if kind == SinkKind::Langfuse && (public_key.is_none() || secret_key.is_none()) {
            return Err(
                "kind = \"langfuse\" needs `public_key` and `secret_key` (env:NAME)".into(),
            );
        }
        let mut headers = Vec::new();
        if let Some(h) = m.get("headers") {
            for (k, v) in h.as_object().ok_or("`headers` is a table")? {
                let v = v.as_str().ok_or("`headers` values are strings")?;
                headers.push((k.clone(), v.to_owned()));
            }
        }
        let timeout_ms = match m.get("timeout_ms") {
            None => 2_000,
            Some(v) => v.as_u64().ok_or("`timeout_ms` is a whole number")?,
        };
        let include_content = match m.get("include_content") {
            None => false,
            Some(v) => v.as_bool().ok_or("`include_content` is true or false")?,
        };
        Ok(SinkConfig {
            include_content,
            kind,
            endpoint,
            headers,
            secret,
            timeout_ms,
            public_key,
            secret_key,
        })
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
    /// A stream's time to its first content, from the request's start.
    pub ttft_ms: Option<u64>,
    /// Each upstream attempt; when there was more than one (retries and
    /// fallbacks), a child span each.
    pub tries: Vec<Try>,
    /// The prompt and the completion, when a sink exports them.
    pub content: Option<Arc<Content>>,
}

/// What was asked and answered, as GenAI semantic conventions list
/// messages (`[{"role":…,"parts":[{"type":"text","content":…}]}]`, JSON
/// texts): masked by every guardrail set of the request, each side capped
/// at [`CONTENT_CAP`] bytes of text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    pub input: String,
    pub output: String,
}

/// Text exported per side of a record at most; what is cut ends in
/// [`TRUNCATED`].
pub const CONTENT_CAP: usize = 32 * 1024;
pub const TRUNCATED: &str = "…[truncated by dx-gateway]";

/// One upstream attempt of an exchange.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Try {
    pub deployment: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Its error's class (see [`error_class`]); `None` for the answer.
    pub error: Option<&'static str>,
}

/// The class an HTTP status is exported as.
pub fn error_class(status: u16) -> Option<&'static str> {
    match status {
        429 => Some("rate_limited"),
        400..=499 => Some("client_error"),
        500.. => Some("server_error"),
        _ => None,
    }
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
    /// `Basic base64(public:secret)` (Langfuse).
    auth: Option<Secret>,
    timeout_ms: u64,
    content: bool,
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
        let resolve = |v: &str| crate::secret::resolve_secret(v, env);
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
                auth: match (
                    s.public_key.as_deref().and_then(resolve),
                    s.secret_key.as_deref().and_then(resolve),
                ) {
                    (Some(p), Some(k)) => {
                        use base64ct::{Base64, Encoding};
                        let pair = format!("{}:{}", p.expose(), k.expose());
                        Some(Secret::new(format!(
                            "Basic {}",
                            Base64::encode_string(pair.as_bytes())
                        )))
                    }
                    _ => None,
                },
                timeout_ms: s.timeout_ms,
                content: s.include_content,
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

    /// Whether some sink exports content (else none is captured).
    pub fn wants_content(&self) -> bool {
        self.sinks.iter().any(|s| s.content)
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
                if self
                    .queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_empty()
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
                        let traces = otlp_traces(&batch, seq, sink.content);
                        let metrics = otlp_metrics(&batch);
                        let a = self.send(ports, sink, "/v1/traces", &traces, 1).await;
                        let b = self.send(ports, sink, "/v1/metrics", &metrics, 1).await;
                        a.and(b)
                    }
                    SinkKind::Langfuse => {
                        let seq = self.seq.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        let body = langfuse_batch(&batch, seq, sink.content);
                        self.send(ports, sink, "/api/public/ingestion", &body, 2)
                            .await
                    }
                    SinkKind::Webhook => {
                        let mut all = Ok(());
                        for r in &batch {
                            let body = webhook_body(r, sink.content);
                            all = all.and(self.send(ports, sink, "", &body, 3).await);
                        }
                        all
                    }
                };
                if let Err(e) = sent {
                    let mut j = J::default();
                    j.raw("{")
                        .key("event")
                        .str("telemetry")
                        .key("outcome")
                        .str("error");
                    j.key("sink").str(&sink.endpoint).key("error").str(&e);
                    j.key("failed").num(self.failed.load(Ordering::Relaxed));
                    j.key("dropped")
                        .num(self.dropped.load(Ordering::Relaxed))
                        .raw("}");
                    ports.log(&j.0);
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
        body: &str,
        attempts: u32,
    ) -> Result<(), String>
    where
        P: HttpClient + Sleep,
    {
        let body = Bytes::from(body.to_owned());
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
            if let Some(auth) = &sink.auth {
                req = req.header("authorization", auth.expose());
            }
            if let Some(secret) = &sink.secret {
                req = req.header(
                    "x-dx-signature",
                    format!(
                        "sha256={}",
                        hex(&hmac_sha256(secret.expose().as_bytes(), &body))
                    ),
                );
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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
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

/// A JSON text written by hand: serde's derive and `json!` cost the Worker
/// upload more than these few lines (README, Telemetry).
struct J(String);

impl Default for J {
    fn default() -> Self {
        J(String::with_capacity(2048))
    }
}

impl J {
    fn raw(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    fn str(&mut self, text: &str) -> &mut Self {
        self.0.push('"');
        if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            self.0.push_str(text);
        } else {
            for c in text.chars() {
                match c {
                    '"' => self.0.push_str("\\\""),
                    '\\' => self.0.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(self.0, "\\u{:04x}", c as u32);
                    }
                    c => self.0.push(c),
                }
            }
        }
        self.0.push('"');
        self
    }

    fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    fn float(&mut self, f: f64) -> &mut Self {
        if f.is_finite() {
            self.num(f)
        } else {
            self.raw("0")
        }
    }

    /// `"key":` after a comma unless first.
    fn key(&mut self, key: &str) -> &mut Self {
        if !matches!(self.0.chars().last(), Some('{' | '[') | None) {
            self.0.push(',');
        }
        self.str(key).raw(":")
    }

    fn sep(&mut self) -> &mut Self {
        if !matches!(self.0.chars().last(), Some('{' | '[') | None) {
            self.0.push(',');
        }
        self
    }

    /// An OTLP attribute: `{"key":k,"value":{"<kind>":v}}`.
    fn attr(&mut self, key: &str, kind: &str, write: impl FnOnce(&mut J)) -> &mut Self {
        self.sep()
            .raw("{")
            .key("key")
            .str(key)
            .key("value")
            .raw("{")
            .key(kind);
        write(self);
        self.raw("}}")
    }

    fn s(&mut self, key: &str, v: &str) -> &mut Self {
        self.attr(key, "stringValue", |j| {
            j.str(v);
        })
    }

    fn i(&mut self, key: &str, v: u64) -> &mut Self {
        self.attr(key, "intValue", |j| {
            j.raw("\"").num(v).raw("\"");
        })
    }

    fn d(&mut self, key: &str, v: f64) -> &mut Self {
        self.attr(key, "doubleValue", |j| {
            j.float(v);
        })
    }

    fn nanos(&mut self, key: &str, ms: u64) -> &mut Self {
        self.key(key).raw("\"").num(ms).raw("000000\"")
    }

    /// The attributes a span and the metrics share.
    fn common(&mut self, r: &Record) -> &mut Self {
        self.s("gen_ai.operation.name", r.operation());
        self.s("gen_ai.request.model", &r.request_model);
        if !r.provider.is_empty() {
            self.s("gen_ai.provider.name", &r.provider);
        }
        self
    }

    /// A span's status (OTLP: 1 ok, 2 error), closing the span.
    fn status(&mut self, error: bool) -> &mut Self {
        self.key("status")
            .raw("{")
            .key("code")
            .raw(if error { "2" } else { "1" })
            .raw("}}")
    }

    fn head(&mut self, top: &str, scoped: &str) -> &mut Self {
        self.raw("{")
            .key(top)
            .raw("[{")
            .key("resource")
            .raw("{")
            .key("attributes")
            .raw("[");
        self.s("service.name", SCOPE)
            .raw("]}")
            .key(scoped)
            .raw("[{")
            .key("scope");
        self.raw("{").key("name").str(SCOPE).raw("}")
    }
}

const SCOPE: &str = "dx-gateway";

/// OTLP/JSON `ExportTraceServiceRequest`: one span per record.
pub fn otlp_traces(batch: &[Record], seq: u64, content: bool) -> String {
    let mut j = J::default();
    j.head("resourceSpans", "scopeSpans").key("spans").raw("[");
    for (n, r) in batch.iter().enumerate() {
        let id = Sha256::new()
            .chain_update(r.start_ms.to_be_bytes())
            .chain_update((seq + n as u64).to_be_bytes())
            .chain_update(r.path.as_bytes())
            .finalize();
        j.sep().raw("{").key("traceId").str(&hex(&id[..16]));
        j.key("spanId").str(&hex(&id[16..24]));
        j.key("name")
            .str(&format!("{} {}", r.operation(), r.request_model));
        j.key("kind").raw("3");
        j.nanos("startTimeUnixNano", r.start_ms);
        j.nanos("endTimeUnixNano", r.end_ms);
        j.key("attributes").raw("[").common(r);
        if !r.response_model.is_empty() {
            j.s("gen_ai.response.model", &r.response_model);
        }
        if let Some(t) = r.input_tokens {
            j.i("gen_ai.usage.input_tokens", t);
        }
        if let Some(t) = r.output_tokens {
            j.i("gen_ai.usage.output_tokens", t);
        }
        if let Some(c) = r.cost {
            j.d("dx.cost_usd", c);
        }
        j.s("dx.cache", r.cache);
        j.i("dx.attempts", u64::from(r.attempts));
        j.s("dx.ingress", &r.path);
        j.i("http.response.status_code", u64::from(r.status));
        j.attr("dx.stream", "boolValue", |j| {
            j.raw(if r.stream { "true" } else { "false" });
        });
        for (k, v) in [
            ("dx.deployment", &r.deployment),
            ("dx.key", &r.key),
            ("dx.team", &r.team),
        ] {
            if !v.is_empty() {
                j.s(k, v);
            }
        }
        if let Some(e) = &r.error {
            j.s("error.type", e);
        }
        if let Some(ms) = r.ttft_ms {
            j.i("dx.ttft_ms", ms);
        }
        if let Some(c) = r.content.as_ref().filter(|_| content) {
            j.s("gen_ai.input.messages", &c.input);
            j.s("gen_ai.output.messages", &c.output);
        }
        j.raw("]").status(r.status >= 400);
        // Retries and fallbacks: one client span per attempt, under the
        // request's span.
        let tries = if r.tries.len() > 1 { &r.tries[..] } else { &[] };
        for (i, t) in tries.iter().enumerate() {
            let child = Sha256::new()
                .chain_update(id)
                .chain_update((i as u64).to_be_bytes())
                .finalize();
            j.sep().raw("{").key("traceId").str(&hex(&id[..16]));
            j.key("spanId").str(&hex(&child[..8]));
            j.key("parentSpanId").str(&hex(&id[16..24]));
            j.key("name").str(&format!("attempt {}", t.deployment));
            j.key("kind").raw("3");
            j.nanos("startTimeUnixNano", t.start_ms);
            j.nanos("endTimeUnixNano", t.end_ms);
            j.key("attributes").raw("[");
            j.s("dx.deployment", &t.deployment);
            j.i("dx.attempt", i as u64 + 1);
            if let Some(e) = t.error {
                j.s("error.type", e);
            }
            j.raw("]").status(t.error.is_some());
        }
    }
    j.raw("]}]}]}");
    j.0
}

/// Bucket bounds of the duration histogram (seconds), as GenAI's
/// semantic conventions advise.
const DURATION_BOUNDS: &str =
    "[0.01,0.02,0.04,0.08,0.16,0.32,0.64,1.28,2.56,5.12,10.24,20.48,40.96,81.92]";
const DURATION_MS: [u64; 14] = [
    10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 40960, 81920,
];
const TOKEN_BOUNDS: &str = "[1,4,16,64,256,1024,4096,16384,65536,262144]";
const TOKENS: [u64; 10] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144];

/// OTLP/JSON `ExportMetricsServiceRequest`: delta points per record.
pub fn otlp_metrics(batch: &[Record]) -> String {
    let mut j = J::default();
    j.head("resourceMetrics", "scopeMetrics")
        .key("metrics")
        .raw("[");
    // (name, unit, histogram bounds or sum)
    let point = |j: &mut J, r: &Record, extra: &dyn Fn(&mut J)| {
        j.sep().raw("{").key("attributes").raw("[").common(r);
        extra(j);
        j.raw("]").nanos("startTimeUnixNano", r.start_ms);
        j.nanos("timeUnixNano", r.end_ms);
    };
    let histogram = |j: &mut J,
                     r: &Record,
                     extra: &dyn Fn(&mut J),
                     value: u64,
                     steps: &[u64],
                     bounds: &str,
                     sum: f64| {
        point(j, r, extra);
        let slot = steps
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(steps.len());
        j.key("count")
            .raw("\"1\"")
            .key("sum")
            .float(sum)
            .key("bucketCounts")
            .raw("[");
        for n in 0..=steps.len() {
            j.sep().raw(if n == slot { "\"1\"" } else { "\"0\"" });
        }
        j.raw("]").key("explicitBounds").raw(bounds).raw("}");
    };
    let metric = |j: &mut J, name: &str, unit: &str, hist: bool, body: &dyn Fn(&mut J)| {
        j.sep().raw("{").key("name").str(name).key("unit").str(unit);
        j.key(if hist { "histogram" } else { "sum" }).raw("{");
        j.key("aggregationTemporality").raw("1");
        if !hist {
            j.key("isMonotonic").raw("true");
        }
        j.key("dataPoints").raw("[");
        body(j);
        j.raw("]}}");
    };
    metric(
        &mut j,
        "gen_ai.client.operation.duration",
        "s",
        true,
        &|j| {
            for r in batch {
                let ms = r.end_ms.saturating_sub(r.start_ms);
                histogram(
                    j,
                    r,
                    &|_| {},
                    ms,
                    &DURATION_MS,
                    DURATION_BOUNDS,
                    ms as f64 / 1000.0,
                );
            }
        },
    );
    if batch.iter().any(|r| r.ttft_ms.is_some()) {
        metric(
            &mut j,
            "gen_ai.server.time_to_first_token",
            "s",
            true,
            &|j| {
                for r in batch {
                    if let Some(ms) = r.ttft_ms {
                        let secs = ms as f64 / 1000.0;
                        histogram(j, r, &|_| {}, ms, &DURATION_MS, DURATION_BOUNDS, secs);
                    }
                }
            },
        );
    }
    metric(&mut j, "dx.requests", "{request}", false, &|j| {
        for r in batch {
            point(j, r, &|j| {
                j.s("dx.cache", r.cache);
                j.i("http.response.status_code", u64::from(r.status));
            });
            j.key("asInt").raw("\"1\"}");
        }
    });
    if batch
        .iter()
        .any(|r| r.input_tokens.is_some() || r.output_tokens.is_some())
    {
        metric(&mut j, "gen_ai.client.token.usage", "{token}", true, &|j| {
            for r in batch {
                for (kind, n) in [("input", r.input_tokens), ("output", r.output_tokens)] {
                    if let Some(n) = n {
                        let extra = |j: &mut J| {
                            j.s("gen_ai.token.type", kind);
                        };
                        histogram(j, r, &extra, n, &TOKENS, TOKEN_BOUNDS, n as f64);
                    }
                }
            }
        });
    }
    if batch.iter().any(|r| r.cost.is_some()) {
        metric(&mut j, "dx.cost", "USD", false, &|j| {
            for r in batch {
                if let Some(c) = r.cost {
                    point(j, r, &|_| {});
                    j.key("asDouble").float(c).raw("}");
                }
            }
        });
    }
    if batch.iter().any(|r| r.error.is_some()) {
        metric(&mut j, "dx.errors", "{error}", false, &|j| {
            for r in batch {
                if let Some(e) = &r.error {
                    point(j, r, &|j| {
                        j.s("error.type", e);
                    });
                    j.key("asInt").raw("\"1\"}");
                }
            }
        });
    }
    j.raw("]}]}]}");
    j.0
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for ms since the epoch (civil from days,
/// after Howard Hinnant's algorithm).
pub fn iso8601(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let rem = ms % 86_400_000;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000
    )
}

/// Langfuse's ingestion batch: a trace and its generation per record,
/// with usage and cost.
pub fn langfuse_batch(batch: &[Record], seq: u64, content: bool) -> String {
    let mut j = J::default();
    j.raw("{").key("batch").raw("[");
    for (n, r) in batch.iter().enumerate() {
        let id = hex(&Sha256::new()
            .chain_update(r.start_ms.to_be_bytes())
            .chain_update((seq + n as u64).to_be_bytes())
            .chain_update(b"langfuse")
            .finalize()[..16]);
        let (start, end) = (iso8601(r.start_ms), iso8601(r.end_ms));
        let name = format!("{} {}", r.operation(), r.request_model);
        let meta = |j: &mut J| {
            j.key("metadata").raw("{").key("path").str(&r.path);
            j.key("provider")
                .str(&r.provider)
                .key("deployment")
                .str(&r.deployment);
            j.key("cache").str(r.cache).key("attempts").num(r.attempts);
            j.key("status")
                .num(r.status)
                .key("key")
                .str(&r.key)
                .raw("}");
        };
        j.sep().raw("{").key("id").str(&format!("{id}-t"));
        j.key("timestamp").str(&end).key("type").str("trace-create");
        j.key("body")
            .raw("{")
            .key("id")
            .str(&id)
            .key("timestamp")
            .str(&start);
        j.key("name").str(&name);
        if !r.team.is_empty() {
            j.key("tags").raw("[").str(&r.team).raw("]");
        }
        meta(&mut j);
        j.raw("}}");
        j.sep().raw("{").key("id").str(&format!("{id}-g"));
        j.key("timestamp")
            .str(&end)
            .key("type")
            .str("generation-create");
        j.key("body").raw("{").key("id").str(&format!("{id}-gen"));
        j.key("traceId").str(&id).key("name").str(&name);
        j.key("startTime").str(&start).key("endTime").str(&end);
        j.key("model").str(if r.response_model.is_empty() {
            &r.request_model
        } else {
            &r.response_model
        });
        if let (Some(i), Some(o)) = (r.input_tokens, r.output_tokens) {
            j.key("usageDetails").raw("{").key("input").num(i);
            j.key("output").num(o).key("total").num(i + o).raw("}");
        }
        if let Some(c) = r.cost {
            j.key("costDetails").raw("{").key("total").float(c).raw("}");
        }
        if let Some(e) = &r.error {
            j.key("level").str("ERROR").key("statusMessage").str(e);
        }
        if let Some(c) = r.content.as_ref().filter(|_| content) {
            j.key("input").raw(&c.input).key("output").raw(&c.output);
        }
        meta(&mut j);
        j.raw("}}");
    }
    j.raw("]}");
    j.0
}

/// The webhook's JSON for one record.
pub fn webhook_body(r: &Record, content: bool) -> String {
    let mut j = J::default();
    j.raw("{").key("event").str("request");
    j.key("start_ms")
        .num(r.start_ms)
        .key("end_ms")
        .num(r.end_ms);
    j.key("path").str(&r.path).key("status").num(r.status);
    j.key("stream").raw(if r.stream { "true" } else { "false" });
    j.key("model").str(&r.request_model);
    j.key("upstream_model").str(&r.response_model);
    j.key("provider").str(&r.provider);
    j.key("deployment").str(&r.deployment);
    j.key("attempts").num(r.attempts).key("cache").str(r.cache);
    for (k, v) in [
        ("input_tokens", r.input_tokens),
        ("output_tokens", r.output_tokens),
    ] {
        j.key(k);
        match v {
            Some(n) => j.num(n),
            None => j.raw("null"),
        };
    }
    j.key("cost");
    match r.cost {
        Some(c) => j.float(c),
        None => j.raw("null"),
    };
    j.key("error");
    match &r.error {
        Some(e) => j.str(e),
        None => j.raw("null"),
    };
    j.key("key").str(&r.key).key("team").str(&r.team);
    if let Some(c) = r.content.as_ref().filter(|_| content) {
        j.key("input").raw(&c.input).key("output").raw(&c.output);
    }
    j.raw("}");
    j.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_telemetry_table_loads_as_written_and_bad_ones_do_not() {
        let c = crate::config::Config::parse(
            "[[telemetry]]\nkind = \"otlp\"\nendpoint = \"http://host:4318\"\nprotocol = \"http/json\"\n",
        )
        .unwrap();
        assert_eq!(c.telemetry.len(), 1);
        assert_eq!(c.telemetry[0].kind, SinkKind::Otlp);
        assert_eq!(c.telemetry[0].endpoint, "http://host:4318");
        for bad in [
            "[[telemetry]]\nkind = \"otlp\"\nendpoint = \"http://h\"\nprotocol = \"grpc\"\n",
            "[[telemetry]]\nkind = \"webhook\"\nendpoint = \"http://h\"\n",
            "[[telemetry]]\nkind = \"otlp\"\nendpoint = \"h:4318\"\n",
            "[[telemetry]]\nkind = \"otlp\"\nendpoint = \"http://h\"\ninclude_content = 1\n",
        ] {
            assert!(crate::config::Config::parse(bad).is_err(), "{bad}");
        }
        let c = crate::config::Config::parse("[cache]\nttl_s = 300\n[cache.groups]\nfast = 0\n")
            .unwrap();
        assert_eq!(c.cache.unwrap().ttl_ms("fast"), 0);
        assert!(crate::config::Config::parse("[cache]\nttl = 300\n").is_err());
    }

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(1_764_765_296_789), "2025-12-03T12:34:56.789Z");
    }

    #[test]
    fn langfuse_gets_a_trace_and_its_generation_with_usage_and_cost() {
        let v: serde_json::Value =
            serde_json::from_str(&langfuse_batch(&[record()], 3, false)).unwrap();
        let events = v["batch"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["type"], "trace-create");
        assert_eq!(events[1]["type"], "generation-create");
        let g = &events[1]["body"];
        assert_eq!(g["traceId"], events[0]["body"]["id"]);
        assert_eq!(g["usageDetails"]["input"], 12);
        assert_eq!(g["usageDetails"]["total"], 17);
        assert_eq!(g["costDetails"]["total"], 0.000_01);
        assert_eq!(g["startTime"], "1970-01-01T00:00:01.000Z");
    }

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
        let t: serde_json::Value =
            serde_json::from_str(&otlp_traces(&[record()], 0, false)).unwrap();
        let span = &t["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        let attr = |k: &str| {
            span["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == k)
                .map(|a| a["value"].clone())
        };
        assert_eq!(
            attr("gen_ai.operation.name").unwrap()["stringValue"],
            "chat"
        );
        assert_eq!(
            attr("gen_ai.provider.name").unwrap()["stringValue"],
            "openai"
        );
        assert_eq!(attr("gen_ai.usage.input_tokens").unwrap()["intValue"], "12");
        assert_eq!(attr("gen_ai.usage.output_tokens").unwrap()["intValue"], "5");
        assert_eq!(attr("dx.cache").unwrap()["stringValue"], "miss");
        assert_eq!(span["startTimeUnixNano"], "1000000000");
        assert_eq!(span["endTimeUnixNano"], "1250000000");
        assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        let other: serde_json::Value =
            serde_json::from_str(&otlp_traces(&[record()], 1, false)).unwrap();
        assert_ne!(
            other["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
            span["traceId"]
        );
    }

    #[test]
    fn retries_are_child_spans_of_the_request_span() {
        let mut r = record();
        r.attempts = 2;
        r.tries = vec![
            Try {
                deployment: "primary".into(),
                start_ms: 1_010,
                end_ms: 1_100,
                error: Some("server_error"),
            },
            Try {
                deployment: "backup".into(),
                start_ms: 1_100,
                end_ms: 1_240,
                error: None,
            },
        ];
        let t: serde_json::Value = serde_json::from_str(&otlp_traces(&[r], 0, false)).unwrap();
        let spans = t["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        assert_eq!(spans.len(), 3);
        let (parent, kids) = (&spans[0], &spans[1..]);
        for (kid, (name, code)) in kids
            .iter()
            .zip([("attempt primary", 2), ("attempt backup", 1)])
        {
            assert_eq!(kid["traceId"], parent["traceId"]);
            assert_eq!(kid["parentSpanId"], parent["spanId"]);
            assert_ne!(kid["spanId"], parent["spanId"]);
            assert_eq!(kid["name"], name);
            assert_eq!(kid["status"]["code"], code);
        }
        assert_ne!(kids[0]["spanId"], kids[1]["spanId"]);
        assert_eq!(kids[0]["endTimeUnixNano"], "1100000000");
        assert!(parent.get("parentSpanId").is_none());
    }

    #[test]
    fn a_stream_s_time_to_first_token_is_a_histogram() {
        let mut streamed = record();
        streamed.ttft_ms = Some(300);
        let m: serde_json::Value =
            serde_json::from_str(&otlp_metrics(&[record(), streamed])).unwrap();
        let metrics = m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap();
        let ttft = metrics
            .iter()
            .find(|x| x["name"] == "gen_ai.server.time_to_first_token")
            .unwrap();
        let points = ttft["histogram"]["dataPoints"].as_array().unwrap();
        assert_eq!(points.len(), 1, "only the stream has one");
        assert_eq!(points[0]["sum"], 0.3);
        // 300 ms falls in the (0.16, 0.32] bucket, the sixth.
        assert_eq!(points[0]["bucketCounts"][5], "1");
        let none: serde_json::Value = serde_json::from_str(&otlp_metrics(&[record()])).unwrap();
        assert!(!none.to_string().contains("time_to_first_token"));
    }

    #[test]
    fn the_webhook_body_is_json_with_escaped_strings() {
        let mut r = record();
        r.request_model = "we\"ird\\\n".into();
        let v: serde_json::Value = serde_json::from_str(&webhook_body(&r, false)).unwrap();
        assert_eq!(v["model"], "we\"ird\\\n");
        assert_eq!(v["input_tokens"], 12);
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(v["cost"], 0.000_01);
    }

    #[test]
    fn metrics_count_requests_tokens_cost_and_errors() {
        let mut failed = record();
        failed.status = 429;
        failed.error = Some("rate_limited".into());
        failed.input_tokens = None;
        failed.output_tokens = None;
        failed.cost = None;
        let m: serde_json::Value =
            serde_json::from_str(&otlp_metrics(&[record(), failed])).unwrap();
        let metrics = m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap();
        let named = |n: &str| metrics.iter().find(|m| m["name"] == n).unwrap();
        assert_eq!(
            named("dx.requests")["sum"]["dataPoints"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            named("gen_ai.client.token.usage")["histogram"]["dataPoints"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(named("dx.errors")["sum"]["dataPoints"][0]["asInt"], "1");
        let dur = &named("gen_ai.client.operation.duration")["histogram"]["dataPoints"][0];
        assert_eq!(dur["sum"], 0.25);
        assert_eq!(dur["bucketCounts"][5], "1", "0.25 s falls in (0.16, 0.32]");
        assert_eq!(
            named("dx.cost")["sum"]["dataPoints"][0]["asDouble"],
            0.000_01
        );
    }

    #[test]
    fn content_goes_only_to_sinks_that_asked_for_it() {
        let mut r = record();
        r.content = Some(Arc::new(Content {
            input: r#"[{"role":"user","parts":[{"type":"text","content":"q"}]}]"#.into(),
            output: r#"[{"role":"assistant","parts":[{"type":"text","content":"a"}]}]"#.into(),
        }));
        let attrs = |content: bool| -> Vec<String> {
            let t: serde_json::Value =
                serde_json::from_str(&otlp_traces(std::slice::from_ref(&r), 0, content)).unwrap();
            t["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["key"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(attrs(true).contains(&"gen_ai.input.messages".to_owned()));
        assert!(attrs(true).contains(&"gen_ai.output.messages".to_owned()));
        assert!(!attrs(false).iter().any(|k| k.contains("messages")));
        let hook: serde_json::Value = serde_json::from_str(&webhook_body(&r, true)).unwrap();
        assert_eq!(hook["input"][0]["parts"][0]["content"], "q");
        assert_eq!(hook["output"][0]["parts"][0]["content"], "a");
        let hook: serde_json::Value = serde_json::from_str(&webhook_body(&r, false)).unwrap();
        assert!(hook.get("input").is_none() && hook.get("output").is_none());
        let lf: serde_json::Value =
            serde_json::from_str(&langfuse_batch(std::slice::from_ref(&r), 0, true)).unwrap();
        assert_eq!(
            lf["batch"][1]["body"]["output"][0]["parts"][0]["content"],
            "a"
        );
        let lf = langfuse_batch(std::slice::from_ref(&r), 0, false);
        assert!(!lf.contains("parts"), "{lf}");
    }
}
