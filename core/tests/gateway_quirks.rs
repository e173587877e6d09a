//! The whole pipeline with in-memory ports: what the quirk stage changes
//! reaches the upstream, the `x-dx-adjusted` header and the access log; the
//! Responses-only models go to `/responses` and come back as chat completions.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{Body, Bound, Config, GatewayResponse, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

const CHAT: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");
const RESPONSE: &[u8] = include_bytes!("../../fixtures/openai/responses-text.json");
const RESPONSE_STREAM: &[u8] =
    include_bytes!("../../fixtures/openai/responses-stream-reasoning-function-calls.chunks.jsonl");

#[derive(Clone, Default)]
struct Recorder {
    sent: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

/// The first recorded run of the stream fixture, framed as the API sends it.
fn responses_sse() -> Bytes {
    let mut out = Vec::new();
    for line in RESPONSE_STREAM
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let kind = v["type"].as_str().unwrap().to_owned();
        out.extend_from_slice(format!("event: {kind}\ndata: ").as_bytes());
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
        if kind == "response.completed" {
            break;
        }
    }
    Bytes::from(out)
}

impl HttpClient for Recorder {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let uri = req.uri().to_string();
        let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        let stream = body["stream"] == true;
        self.sent.lock().unwrap().push((uri.clone(), body));
        let answer = match (uri.ends_with("/responses"), stream) {
            (true, true) => responses_sse(),
            (true, false) => Bytes::from_static(RESPONSE),
            (false, _) => Bytes::from_static(CHAT),
        };
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            HeaderMap::new(),
            answer,
        ))
    }
}
impl Clock for Recorder {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Recorder {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Recorder {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Recorder {
    fn var(&self, name: &str) -> Option<String> {
        (name == "OPENAI_API_KEY").then(|| "sk-upstream".to_owned())
    }
}
impl Log for Recorder {
    fn log(&self, line: &str) {
        self.logs.lock().unwrap().push(line.to_owned());
    }
}

fn gateway(config: &str) -> (Bound<Recorder>, Recorder) {
    let ports = Recorder::default();
    let config = Config::parse(config).unwrap();
    (Bound::new(ports.clone(), Arc::new(config)), ports)
}

fn post(gw: &Bound<Recorder>, body: serde_json::Value) -> (GatewayResponse, Vec<u8>) {
    let req = IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers: HeaderMap::new(),
        body: Bytes::from(serde_json::to_vec(&body).unwrap()),
    };
    futures::executor::block_on(async {
        let mut resp = gw.handle(req).await;
        let body = match std::mem::replace(resp.body_mut(), Body::Empty) {
            Body::Empty => Vec::new(),
            Body::Full(b) => b.to_vec(),
            Body::Stream(s) => s.collect::<Vec<Bytes>>().await.concat(),
        };
        (resp, body)
    })
}

fn adjusted(resp: &GatewayResponse) -> Option<&str> {
    resp.headers()
        .get("x-dx-adjusted")
        .map(|v| v.to_str().unwrap())
}

#[test]
fn passthrough_to_a_reasoning_model_is_normalized_and_says_so() {
    let (gw, ports) = gateway("");
    let (resp, _) = post(
        &gw,
        serde_json::json!({"model": "openai/o3-mini", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2, "max_tokens": 30, "seed": 4}),
    );
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        adjusted(&resp),
        Some("temperature,max_tokens->max_completion_tokens")
    );
    let sent = ports.sent.lock().unwrap();
    let (uri, body) = &sent[0];
    assert_eq!(uri, "https://api.openai.com/v1/chat/completions");
    assert_eq!(
        body,
        &serde_json::json!({"model": "o3-mini", "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 30, "seed": 4})
    );
    let log = ports.logs.lock().unwrap();
    let line: serde_json::Value = serde_json::from_str(&log[0]).unwrap();
    assert_eq!(
        line["adjusted"],
        "temperature,max_tokens->max_completion_tokens"
    );
}

#[test]
fn nothing_to_adjust_means_no_header_and_no_log_field() {
    let (gw, ports) = gateway("");
    let (resp, _) = post(
        &gw,
        serde_json::json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}),
    );
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(adjusted(&resp), None);
    assert_eq!(ports.sent.lock().unwrap()[0].1["temperature"], 0.2);
    assert!(!ports.logs.lock().unwrap()[0].contains("adjusted"));
}

#[test]
fn drop_params_off_refuses_before_sending() {
    let (gw, ports) = gateway("[general]\ndrop_params = false");
    let (resp, body) = post(
        &gw,
        serde_json::json!({"model": "openai/gpt-5", "messages": [{"role": "user", "content": "hi"}], "top_p": 0.5}),
    );
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "unsupported_parameter");
    assert_eq!(err["error"]["param"], "top_p");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(ports.sent.lock().unwrap().is_empty());
}

#[test]
fn responses_only_model_non_stream() {
    let (gw, ports) = gateway("");
    let (resp, body) = post(
        &gw,
        serde_json::json!({"model": "openai/o3-pro", "messages": [{"role": "system", "content": "be brief"},
            {"role": "user", "content": "news?"}], "temperature": 0.7}),
    );
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(adjusted(&resp), Some("temperature"));
    let sent = ports.sent.lock().unwrap();
    assert_eq!(sent[0].0, "https://api.openai.com/v1/responses");
    assert_eq!(sent[0].1["instructions"], "be brief");
    assert_eq!(sent[0].1["input"][0]["content"], "news?");
    let out: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(out["object"], "chat.completion");
    let text = out["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.starts_with("I\u{2019}ll quickly check reliable"));
    assert!(text.contains("links.\n\nHere are some **latest AI updates"));
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(out["usage"]["prompt_tokens"], 7243);
    assert_eq!(out["usage"]["completion_tokens"], 423);
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 3072);
    assert_eq!(
        out["usage"]["completion_tokens_details"]["reasoning_tokens"],
        58
    );
}

#[test]
fn responses_only_model_stream_renders_chat_chunks() {
    let (gw, ports) = gateway("");
    let (resp, body) = post(
        &gw,
        serde_json::json!({"model": "openai/gpt-5.1-codex-max", "messages": [{"role": "user", "content": "12+7"}],
            "stream": true, "stream_options": {"include_usage": true}, "reasoning_effort": "low"}),
    );
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        ports.sent.lock().unwrap()[0].1["reasoning"]["summary"],
        "auto"
    );
    let text = String::from_utf8(body).unwrap();
    let events: Vec<serde_json::Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(text.trim_end().ends_with("data: [DONE]"));
    let reasoning: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert!(reasoning.starts_with("**Calculating step-by-step using calculator**"));
    let args: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"a":12,"b":7,"op":"add"}"#);
    let finish: Vec<&str> = events
        .iter()
        .filter_map(|e| e["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, vec!["tool_calls"]);
    let last = events.last().unwrap();
    assert_eq!(last["choices"], serde_json::json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 134);
    assert_eq!(last["usage"]["completion_tokens"], 28);
}
