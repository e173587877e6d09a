//! The whole pipeline with in-memory ports, on what must not leak or break:
//! provider keys echoed in any field of an upstream error, a stream request
//! answered with one JSON body or an HTML page, providers this deployment has
//! no credentials for, and local servers nobody configured.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{Body, Bound, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

const OPENAI_KEY: &str = "sk-live-openai-0123456789abcdef";
const ANTHROPIC_KEY: &str = "sk-ant-live-0123456789abcdef";
const CHAT: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");
const MESSAGE: &[u8] = include_bytes!("../../fixtures/anthropic/messages-text.json");

/// One canned upstream answer for every request; records where requests went.
#[derive(Clone, Default)]
struct Fake {
    status: u16,
    content_type: Option<&'static str>,
    body: Bytes,
    env: Arc<HashMap<&'static str, &'static str>>,
    sent: Arc<Mutex<Vec<String>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl HttpClient for Fake {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        self.sent.lock().unwrap().push(req.uri().to_string());
        let mut headers = HeaderMap::new();
        if let Some(ct) = self.content_type {
            headers.insert("content-type", HeaderValue::from_static(ct));
        }
        Ok(UpstreamResponse::full(
            StatusCode::from_u16(self.status).unwrap(),
            headers,
            self.body.clone(),
        ))
    }
}
impl Clock for Fake {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Fake {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Fake {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Fake {
    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).map(|v| v.to_string())
    }
}
impl Log for Fake {
    fn log(&self, line: &str) {
        self.logs.lock().unwrap().push(line.to_owned());
    }
}

fn with_keys() -> Arc<HashMap<&'static str, &'static str>> {
    Arc::new(HashMap::from([
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
    ]))
}

fn upstream(status: u16, content_type: Option<&'static str>, body: impl Into<Bytes>) -> Fake {
    Fake {
        status,
        content_type,
        body: body.into(),
        env: with_keys(),
        ..Fake::default()
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

fn call(fake: &Fake, path: &str, body: serde_json::Value) -> Answer {
    let gw = Bound::new(fake.clone(), Arc::new(Config::default()));
    let req = IncomingRequest {
        method: Method::POST,
        path: path.into(),
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
        Answer {
            status: resp.status(),
            content_type: resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: String::from_utf8(body).unwrap(),
        }
    })
}

fn chat(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": stream, "stream_options": if stream {
        serde_json::json!({"include_usage": true}) } else { serde_json::Value::Null },
        "messages": [{"role": "user", "content": "hi"}]})
}

fn messages(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": stream, "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]})
}

/// Every route an upstream error reaches a client by, with the key that
/// route's upstream was called with.
fn routes() -> Vec<(&'static str, serde_json::Value, &'static str)> {
    vec![
        // OpenAI ingress, OpenAI upstream: passthrough.
        (
            "/v1/chat/completions",
            chat("openai/gpt-4o-mini", false),
            OPENAI_KEY,
        ),
        // OpenAI ingress, Anthropic upstream: translated.
        (
            "/v1/chat/completions",
            chat("anthropic/claude-sonnet-4-5", false),
            ANTHROPIC_KEY,
        ),
        // Anthropic ingress, Anthropic upstream: passthrough.
        (
            "/v1/messages",
            messages("anthropic/claude-sonnet-4-5", false),
            ANTHROPIC_KEY,
        ),
        // Anthropic ingress, OpenAI upstream: translated.
        (
            "/v1/messages",
            messages("openai/gpt-4o-mini", false),
            OPENAI_KEY,
        ),
    ]
}

#[test]
fn a_key_echoed_in_any_error_field_never_reaches_the_client() {
    for (path, body, key) in routes() {
        let bearer = format!("Bearer {key}");
        // OpenAI's error shape and Anthropic's, each field echoing the credential.
        let error = if key == OPENAI_KEY {
            serde_json::json!({"error": {"message": bearer, "type": bearer, "param": bearer, "code": bearer}})
        } else {
            serde_json::json!({"type": "error", "error": {"type": bearer, "message": bearer}})
        };
        let fake = upstream(400, Some("application/json"), error.to_string());
        let got = call(&fake, path, body);
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{path}: {}", got.body);
        assert!(!got.body.contains(&key[..8]), "{path}: {}", got.body);
        assert!(got.body.contains("[redacted]"), "{path}: {}", got.body);
    }
}

#[test]
fn a_long_text_error_is_cut_after_the_key_is_removed() {
    for (path, body, key) in routes() {
        // The key starts 10 characters before the 1,000th.
        let page = format!("{}{key}{}", "x".repeat(990), "y".repeat(3000));
        let fake = upstream(503, Some("text/html"), page);
        let got = call(&fake, path, body);
        assert_eq!(got.status.as_u16(), 503, "{path}: {}", got.body);
        assert!(!got.body.contains(&key[..6]), "{path}: {}", got.body);
        assert!(
            !got.body.contains("yyyyyyyyyy".repeat(100).as_str()),
            "{path}: not cut"
        );
    }
}

fn sse_data(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .collect()
}

#[test]
fn a_json_answer_to_a_stream_request_becomes_a_stream() {
    for content_type in [Some("application/json"), None] {
        let fake = upstream(200, content_type, CHAT);
        let got = call(
            &fake,
            "/v1/chat/completions",
            chat("openai/gpt-4o-mini", true),
        );
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert!(got.content_type.starts_with("text/event-stream"));
        let data = sse_data(&got.body);
        assert_eq!(data.last(), Some(&"[DONE]"), "{}", got.body);
        let chunks: Vec<serde_json::Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        let whole: serde_json::Value = serde_json::from_slice(CHAT).unwrap();
        assert_eq!(
            text,
            whole["choices"][0]["message"]["content"].as_str().unwrap()
        );
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], serde_json::json!([]));
        assert_eq!(
            usage["usage"]["prompt_tokens"],
            whole["usage"]["prompt_tokens"]
        );
        assert!(usage["cost"].as_f64().unwrap() > 0.0, "{usage}");
    }
}

#[test]
fn an_error_json_in_a_200_to_a_stream_request_is_a_502_without_the_key() {
    let body = format!(r#"{{"error":{{"message":"bad key {OPENAI_KEY}","type":"x"}}}}"#);
    let fake = upstream(200, Some("application/json"), body);
    let got = call(
        &fake,
        "/v1/chat/completions",
        chat("openai/gpt-4o-mini", true),
    );
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{}", got.body);
    assert!(!got.body.contains(&OPENAI_KEY[..8]), "{}", got.body);
}

#[test]
fn an_html_answer_to_a_stream_request_is_a_clean_502() {
    let page = "<!DOCTYPE html><html><body>Bad gateway</body></html>";
    let fake = upstream(200, Some("text/html"), page);
    let got = call(
        &fake,
        "/v1/chat/completions",
        chat("openai/gpt-4o-mini", true),
    );
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{}", got.body);
    let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_upstream_response");
    let got = call(
        &fake,
        "/v1/messages",
        messages("anthropic/claude-sonnet-4-5", true),
    );
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{}", got.body);
    let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(v["type"], "error");
}

#[test]
fn an_event_stream_without_its_content_type_is_still_relayed() {
    let stream = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let fake = upstream(200, Some("text/plain"), stream);
    let got = call(
        &fake,
        "/v1/chat/completions",
        chat("openai/gpt-4o-mini", true),
    );
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, stream);
}

#[test]
fn a_json_answer_to_an_anthropic_stream_request_becomes_its_events() {
    let fake = upstream(200, Some("application/json"), MESSAGE);
    let got = call(
        &fake,
        "/v1/messages",
        messages("anthropic/claude-sonnet-4-5", true),
    );
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    let kinds: Vec<String> = sse_data(&got.body)
        .iter()
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("message_start"));
    assert_eq!(kinds.last().map(String::as_str), Some("message_stop"));
    assert!(
        kinds.iter().any(|k| k == "content_block_delta"),
        "{kinds:?}"
    );
}

#[test]
fn providers_without_credentials_are_a_404_naming_no_variable() {
    let fake = Fake {
        env: Arc::new(HashMap::new()),
        ..Fake::default()
    };
    for model in [
        "mistral/x",
        "openai_compatible/x",
        "cloudflare/x",
        "databricks/x",
        "bedrock/x",
        "vertex_ai/x",
        "vertex_ai/claude-sonnet-4-5@20250929",
        "azure/x",
    ] {
        for (path, body) in [
            ("/v1/chat/completions", chat(model, false)),
            ("/v1/messages", messages(model, false)),
        ] {
            let got = call(&fake, path, body);
            assert_eq!(
                got.status,
                StatusCode::NOT_FOUND,
                "{model} {path}: {}",
                got.body
            );
            for var in [
                "_KEY",
                "_TOKEN",
                "_BASE",
                "ACCOUNT_ID",
                "HOST",
                "AWS_",
                "CREDENTIALS",
            ] {
                assert!(!got.body.contains(var), "{model} {path}: {}", got.body);
            }
            let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
            if path == "/v1/messages" {
                assert_eq!(v["error"]["type"], "not_found_error", "{model}");
            } else {
                assert_eq!(v["error"]["code"], "provider_not_configured", "{model}");
            }
        }
    }
    // The operator reads which variable is missing in the access log.
    let logs = fake.logs.lock().unwrap();
    assert!(
        logs.iter().any(|l| l.contains("MISTRAL_API_KEY")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("DATABRICKS_HOST")),
        "{logs:?}"
    );
    assert!(fake.sent.lock().unwrap().is_empty());
}

#[test]
fn local_servers_are_not_reachable_unless_configured() {
    let fake = upstream(200, Some("application/json"), CHAT);
    for model in [
        "lmstudio/x",
        "atomic-chat/x",
        "vllm/x",
        "llamacpp/x",
        "lemonade/x",
        "localai/x",
        "privatemode-ai/x",
        "ollama/llama3.2",
    ] {
        let got = call(&fake, "/v1/chat/completions", chat(model, false));
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{model}: {}", got.body);
        assert!(!got.body.contains("127.0.0.1") && !got.body.contains("localhost"));
    }
    assert!(fake.sent.lock().unwrap().is_empty(), "{:?}", fake.sent);
    // Pointed somewhere by the operator, the same provider works.
    let mut env = (*with_keys()).clone();
    env.insert("LMSTUDIO_API_BASE", "http://127.0.0.1:1234/v1");
    let fake = Fake {
        env: Arc::new(env),
        ..upstream(200, Some("application/json"), CHAT)
    };
    let got = call(&fake, "/v1/chat/completions", chat("lmstudio/x", false));
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(
        fake.sent.lock().unwrap().as_slice(),
        ["http://127.0.0.1:1234/v1/chat/completions"]
    );
}
