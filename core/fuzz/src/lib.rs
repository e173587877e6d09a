//! Shared by the fuzz targets: a reader over the fuzzer's bytes, in-memory
//! ports for `Gateway::handle`, and one deployment per wire format.
//!
//! Input layouts are plain bytes (selector bytes, then length-prefixed
//! parts) rather than `arbitrary` structures, so `seed_corpus.py` can write
//! seeds from the recorded fixtures without knowing Rust's derive rules.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{Codec, Config, Deployment};
use http::{HeaderMap, HeaderValue, StatusCode};

/// Reads the fuzzer's bytes front to back; past the end everything is zero
/// or empty, so every input is valid.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A part prefixed by its length (u16, little-endian), cut short at the end.
    pub fn part(&mut self) -> &'a [u8] {
        let len = usize::from(u16::from_le_bytes([self.byte(), self.byte()]));
        let (part, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        part
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Splits `data` into pieces whose sizes follow `seed`, so stream decoders
/// see frame boundaries fall anywhere (inside a UTF-8 character, a CRC, a
/// `data:` prefix), not only where the recording put them.
pub fn pieces(data: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![data];
    }
    let mut out = Vec::new();
    let mut rest = data;
    let mut state = u32::from(seed);
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = 1 + (state >> 16) as usize % (usize::from(seed) * 4);
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

/// The secrets the fake environment hands out. Targets may check that none
/// of them reaches a client or a log line.
pub const MASTER_KEY: &str = "sk-fuzz-master-0000";

/// Provider keys and bases for every wire format, all pointing at the fake
/// upstream (no request ever leaves the process).
const ENV: &[(&str, &str)] = &[
    ("DX_MASTER_KEY", MASTER_KEY),
    ("OPENAI_API_KEY", "sk-fuzz-openai-0001"),
    ("OPENAI_API_BASE", "http://upstream.fuzz/openai/v1"),
    ("ANTHROPIC_API_KEY", "sk-ant-fuzz-0002"),
    ("ANTHROPIC_API_BASE", "http://upstream.fuzz/anthropic"),
    ("GEMINI_API_KEY", "AIzaFuzzKey0003"),
    ("GEMINI_API_BASE", "http://upstream.fuzz/gemini"),
    ("COHERE_API_KEY", "fuzz-cohere-0004"),
    ("COHERE_API_BASE", "http://upstream.fuzz/cohere"),
    ("OLLAMA_API_BASE", "http://upstream.fuzz/ollama"),
    ("AZURE_API_KEY", "fuzz-azure-0005"),
    ("AZURE_API_BASE", "http://upstream.fuzz/azure"),
    ("AZURE_AI_API_KEY", "fuzz-azure-ai-0006"),
    ("AZURE_AI_API_BASE", "http://upstream.fuzz/azure"),
    ("AWS_ACCESS_KEY_ID", "AKIAFUZZ000000000007"),
    ("AWS_SECRET_ACCESS_KEY", "fuzz+secret/access/key/0007"),
    ("AWS_REGION", "us-east-1"),
    (
        "AWS_BEDROCK_RUNTIME_ENDPOINT",
        "http://upstream.fuzz/bedrock",
    ),
    ("GROQ_API_KEY", "gsk_fuzz0008"),
    ("DEEPSEEK_API_KEY", "sk-fuzz-deepseek-0009"),
    ("FUZZ_VERTEX_TOKEN", "ya29.fuzz-token-0010"),
];

/// The environment as the targets see it.
#[derive(Clone, Copy)]
pub struct FakeEnv;

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        ENV.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Every provider secret of [`ENV`] (not the master key, bases, region or
/// endpoint).
pub fn secrets() -> impl Iterator<Item = &'static str> {
    ENV.iter()
        .filter(|(k, _)| *k != "DX_MASTER_KEY" && (k.ends_with("_KEY") || k.ends_with("_TOKEN")))
        .map(|(_, v)| *v)
}

/// A deployment config that reaches every codec and the router, in the
/// shapes operators write (aliases, wildcards, translated OpenAI, Azure,
/// Vertex Claude with a pre-minted token, mock).
pub const CONFIG: &str = r#"
[[model_list]]
model_name = "fast"
provider = "openai"
model = "gpt-4o-mini"

[[model_list]]
model_name = "translated/*"
provider = "openai_compatible"
model = "*"
api_base = "http://upstream.fuzz/compat/v1"
api_key = "env:OPENAI_API_KEY"
passthrough = false

[[model_list]]
model_name = "responses/*"
provider = "openai"
model = "*"
api_mode = "responses"

[[model_list]]
model_name = "azure-dep/*"
provider = "azure"
model = "*"
api_version = "2025-01-01-preview"

[[model_list]]
model_name = "vertex-claude"
provider = "vertex_anthropic"
model = "claude-sonnet-4-5@20250929"
vertex_project = "fuzz-project"
api_key = "env:FUZZ_VERTEX_TOKEN"

[[model_list]]
model_name = "claude-auto"
provider = "anthropic"
model = "claude-sonnet-4-5"
auto_cache = true
max_output_tokens = 1000

[[model_list]]
model_name = "priced"
provider = "openai_compatible"
model = "house"
api_base = "http://upstream.fuzz/compat/v1"
input_cost_per_token = 0.000002
output_cost_per_token = 0.000004
max_input_tokens = 200

[[model_list]]
model_name = "mock-chat"
provider = "mock"

[router]
default = "fast"
background = "mock-chat"
think = "responses/o3"
long_context = "claude-auto"
long_context_threshold = 2000
websearch = "claude-auto"
"#;

pub fn config() -> &'static Arc<Config> {
    static CONFIG_CELL: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG_CELL.get_or_init(|| Arc::new(Config::parse(CONFIG).expect("the fuzz config parses")))
}

/// One deployment per wire format, for the decoders that need one (error
/// decoders read the provider's name and model from it).
pub fn deployments() -> &'static [(Codec, Deployment)] {
    static CELL: OnceLock<Vec<(Codec, Deployment)>> = OnceLock::new();
    CELL.get_or_init(|| {
        [
            "openai/gpt-4o",
            "responses/o3-pro",
            "gemini/gemini-2.5-flash",
            "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
            "anthropic/claude-sonnet-4-5",
            "vertex-claude",
            "azure/gpt-4o",
            "azure_ai/DeepSeek-R1",
            "cohere/command-r-plus",
            "ollama/llama3.1",
        ]
        .iter()
        .map(|name| {
            let d = dx_core::resolve_model(name, config(), &FakeEnv)
                .unwrap_or_else(|e| panic!("fuzz deployment {name}: {}", e.message));
            (d.codec(), d)
        })
        .collect()
    })
}

/// What the fake upstream answers to every request of one run.
#[derive(Clone)]
pub enum Upstream {
    /// The connection could not be made.
    Refused,
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        pieces: Vec<Bytes>,
        /// The body breaks off after the last piece.
        interrupted: bool,
    },
}

impl Upstream {
    /// Status, content type, piece sizes and a cut from three selector
    /// bytes; the body is the fuzzer's.
    pub fn from_selectors(status: u8, kind: u8, split: u8, body: &[u8]) -> Upstream {
        const STATUSES: [u16; 12] = [200, 200, 200, 200, 400, 401, 404, 413, 429, 500, 503, 529];
        const TYPES: [&str; 6] = [
            "application/json",
            "text/event-stream",
            "application/x-ndjson",
            "application/vnd.amazon.eventstream",
            "text/html",
            "",
        ];
        if status == 0xff {
            return Upstream::Refused;
        }
        let mut headers = HeaderMap::new();
        let ctype = TYPES[usize::from(kind) % TYPES.len()];
        if !ctype.is_empty() {
            headers.insert("content-type", HeaderValue::from_static(ctype));
        }
        if kind & 0x80 != 0 {
            headers.insert("retry-after", HeaderValue::from_static("1"));
            headers.insert("x-request-id", HeaderValue::from_static("req_fuzz"));
        }
        Upstream::Answer {
            status: StatusCode::from_u16(STATUSES[usize::from(status) % STATUSES.len()])
                .unwrap_or(StatusCode::OK),
            headers,
            pieces: pieces(body, split & 0x3f)
                .into_iter()
                .map(Bytes::copy_from_slice)
                .collect(),
            interrupted: split & 0x40 != 0,
        }
    }

    fn respond(&self) -> Result<UpstreamResponse, TransportError> {
        match self {
            Upstream::Refused => Err(TransportError::Connect("refused by the fuzzer".into())),
            Upstream::Answer {
                status,
                headers,
                pieces,
                interrupted,
            } => {
                let mut items: Vec<Result<Bytes, TransportError>> =
                    pieces.iter().cloned().map(Ok).collect();
                if *interrupted {
                    items.push(Err(TransportError::Interrupted("cut by the fuzzer".into())));
                }
                Ok(UpstreamResponse {
                    status: *status,
                    headers: headers.clone(),
                    body: Box::pin(futures::stream::iter(items)),
                })
            }
        }
    }
}

struct State {
    now_ms: AtomicU64,
    upstream: Upstream,
    sent: Mutex<Vec<String>>,
    deferred: Mutex<Vec<BoxFuture<'static, ()>>>,
    logs: Mutex<Vec<String>>,
}

/// In-memory ports: the upstream answers from the fuzz input at once, sleeping
/// moves the clock instead of waiting (so retries and timeouts run without
/// hanging), and deferred work is kept for [`FakePorts::run_deferred`].
#[derive(Clone)]
pub struct FakePorts(Arc<State>);

impl FakePorts {
    pub fn new(upstream: Upstream) -> Self {
        FakePorts(Arc::new(State {
            now_ms: AtomicU64::new(1_784_917_423_000),
            upstream,
            sent: Mutex::new(Vec::new()),
            deferred: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
        }))
    }

    /// Runs the work handed to `Background::defer`, and whatever it defers.
    pub fn run_deferred(&self) {
        loop {
            let work = std::mem::take(&mut *self.0.deferred.lock().unwrap());
            if work.is_empty() {
                return;
            }
            for w in work {
                futures::executor::block_on(w);
            }
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.0.logs.lock().unwrap().clone()
    }

    /// Each request sent upstream as text: URI, headers, body.
    pub fn sent(&self) -> Vec<String> {
        self.0.sent.lock().unwrap().clone()
    }
}

impl HttpClient for FakePorts {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let mut text = format!("{} {}\n", req.method(), req.uri());
        for (name, value) in req.headers() {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text.push_str(&String::from_utf8_lossy(req.body()));
        self.0.sent.lock().unwrap().push(text);
        self.0.upstream.respond()
    }
}

impl Clock for FakePorts {
    fn now_ms(&self) -> u64 {
        self.0.now_ms.load(Ordering::Relaxed)
    }
}

impl Sleep for FakePorts {
    async fn sleep(&self, ms: u64) {
        self.0.now_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Background for FakePorts {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.0.deferred.lock().unwrap().push(work);
    }
}

impl Env for FakePorts {
    fn var(&self, name: &str) -> Option<String> {
        FakeEnv.var(name)
    }
}

impl Log for FakePorts {
    fn log(&self, line: &str) {
        self.0.logs.lock().unwrap().push(line.to_owned());
    }
}

/// Bedrock ConverseStream frames, with valid checksums, from lines of
/// `eventType payload` (`!exceptionType payload` for an exception message):
/// the recorded `events.jsonl` fixtures in a shape mutations keep valid, so
/// the fuzzer reaches the event handling behind the CRCs.
pub fn bedrock_frames(lines: &[u8]) -> Vec<u8> {
    use dx_core::stream::eventstream::{encode_frame, HeaderValue};
    let mut out = Vec::new();
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let (name, payload) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let name = String::from_utf8_lossy(name);
        let headers = match name.strip_prefix('!') {
            Some(kind) => vec![
                (":message-type", HeaderValue::String("exception")),
                (":exception-type", HeaderValue::String(kind)),
                (":content-type", HeaderValue::String("application/json")),
            ],
            None => vec![
                (":event-type", HeaderValue::String(&name)),
                (":content-type", HeaderValue::String("application/json")),
                (":message-type", HeaderValue::String("event")),
            ],
        };
        out.extend_from_slice(&encode_frame(&headers, payload));
    }
    out
}

/// What the client received.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One request through `Gateway::handle`, read to the end (streams
/// included), deferred work run, and the gateway's promises checked: an
/// error is in the ingress's own shape, a stream ends its format's way, no
/// provider key the request used reaches an error answer or a log line, and
/// the client's gateway key never goes upstream.
pub fn exchange(upstream: Upstream, req: dx_core::IncomingRequest) -> Answer {
    let ports = FakePorts::new(upstream);
    let gateway = dx_core::Bound::new(ports.clone(), config().clone());
    let anthropic_path = dx_core::ingress::anthropic_messages::is_messages_path(&req.path);
    // A secret the client itself sent may come back (a model name echoed in
    // a 404); only one the gateway holds must not.
    let sent = format!(
        "{}?{}\n{}",
        req.path,
        req.query.as_deref().unwrap_or(""),
        String::from_utf8_lossy(&req.body)
    );
    let resp = futures::executor::block_on(gateway.handle(req));
    let (parts, body) = resp.into_parts();
    let streamed = matches!(body, dx_core::Body::Stream(_));
    let body = match body {
        dx_core::Body::Empty => Vec::new(),
        dx_core::Body::Full(b) => b.to_vec(),
        dx_core::Body::Stream(s) => read_all(s),
    };
    ports.run_deferred();
    // The keys this request used: those that went upstream (an AWS secret
    // only signs, so it counts once a signed request went), and that the
    // client did not send itself (a model name echoed in a 404).
    let upstream = ports.sent();
    let used: Vec<&str> = secrets()
        .filter(|s| {
            upstream
                .iter()
                .any(|u| u.contains(s) || (s.contains("secret") && u.contains("AWS4-HMAC-SHA256")))
        })
        .filter(|s| !sent.contains(s))
        .collect();
    let answer = Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    };
    if streamed && answer.status.is_success() {
        check_client_stream(anthropic_path, &answer.body);
    }
    if answer.status.is_client_error() || answer.status.is_server_error() {
        check_error_shape(&answer, anthropic_path);
        check_no_secret(&answer.body, &used, "an error answer");
    }
    for line in ports.logs() {
        check_no_secret(line.as_bytes(), &used, "a log line");
    }
    if !sent.contains(MASTER_KEY) {
        for upstream in &upstream {
            assert!(
                !upstream.contains(MASTER_KEY),
                "the gateway key went upstream: {upstream}"
            );
        }
    }
    answer
}

fn check_error_shape(answer: &Answer, anthropic: bool) {
    let text = || String::from_utf8_lossy(&answer.body).into_owned();
    let v: serde_json::Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{} error body is not JSON ({e}): {}", answer.status, text()));
    let message = if anthropic {
        assert_eq!(
            v["type"],
            "error",
            "not Anthropic's error shape: {}",
            text()
        );
        &v["error"]["message"]
    } else {
        &v["error"]["message"]
    };
    assert!(
        message.is_string(),
        "{} error without a message: {}",
        answer.status,
        text()
    );
}

fn check_no_secret(bytes: &[u8], used: &[&str], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    for secret in used {
        assert!(!text.contains(secret), "{what} holds a secret: {text}");
    }
}

/// A client's read of a streamed body, to the end.
pub fn read_all(stream: dx_core::stream::BodyStream) -> Vec<u8> {
    use futures::StreamExt;
    futures::executor::block_on(stream.fold(Vec::new(), |mut all, piece| async move {
        all.extend_from_slice(&piece);
        all
    }))
}

/// The client's stream is whole SSE events (an SSE client drops an event
/// the stream ends inside), and the last one ends it the client format's
/// way: `[DONE]` or an error object (OpenAI), `message_stop` or `error`
/// (Anthropic).
pub fn check_client_stream(anthropic: bool, out: &[u8]) {
    let mut d = dx_core::stream::sse::Decoder::new();
    d.push(out);
    let mut last = None;
    while let Some(e) = d.next_event() {
        // Comments, keep-alives and stray blank lines dispatch nothing.
        if !e.data.is_empty() || e.event.is_some() {
            last = Some(e);
        }
    }
    let text = || String::from_utf8_lossy(out).into_owned();
    assert!(
        d.finish().is_none(),
        "the client stream ends inside an event: {}",
        text()
    );
    let Some(last) = last else {
        panic!("the client got no event at all");
    };
    // Read as the relays read it: bytes that are not UTF-8 inside a field
    // nobody looks at do not make the event something else.
    let json: Option<serde_json::Value> =
        serde_json::from_str(&String::from_utf8_lossy(&last.data)).ok();
    let ok = match anthropic {
        false => &last.data[..] == b"[DONE]" || json.is_some_and(|v| v.get("error").is_some()),
        true => {
            let name = last.event.as_deref().unwrap_or_default();
            let ty = json
                .as_ref()
                .and_then(|v| v.get("type")?.as_str().map(str::to_owned));
            matches!(name, b"message_stop" | b"error")
                || matches!(ty.as_deref(), Some("message_stop" | "error"))
        }
    };
    assert!(
        ok,
        "the client stream does not end with its end or error event: {}",
        text()
    );
}
