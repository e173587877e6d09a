//! Model names are client text: arbitrary Unicode, any length, any bytes a
//! JSON string can hold. Every function that reads a name, and every route
//! that resolves one, must answer (a model, a 400, a 404), never panic, and
//! never copy an unbounded name into a header.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use dx_core::catalog::{self, ids};
use dx_core::model_name::MAX_MODEL_NAME_BYTES;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{resolve_entry, Body, Bound, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};
use std::sync::Mutex;
use support::Rng;

/// Characters chosen to land a byte offset inside a character: two-, three-
/// and four-byte ones, combining marks, right-to-left text, controls, and the
/// ASCII a model id is made of (so dates, prefixes and `/` show up too).
const POOL: &[char] = &[
    'a', 'z', 'C', '0', '2', '9', '-', '-', '.', '/', '@', ':', '_', ' ', 'é', 'ß', '€', '中', '𝔘',
    '😀', '\u{301}', '\u{200f}', 'ا', '\u{0}', '\t', '%', '"', '\\',
];

const SUFFIXES: &[&str] = &[
    "",
    "-20250929",
    "-2024-08-06",
    "@20250514",
    "@default",
    "/..",
];
const PREFIXES: &[&str] = &[
    "",
    "openai/",
    "anthropic/",
    "bedrock/",
    "us.",
    "eu/",
    "azure/",
    "zz/",
];

fn name(rng: &mut Rng) -> String {
    let len = match rng.below(10) {
        0 => 200 + rng.below(400),
        _ => rng.below(24),
    };
    let mut s = PREFIXES[rng.below(PREFIXES.len())].to_owned();
    for _ in 0..len {
        s.push(POOL[rng.below(POOL.len())]);
    }
    s.push_str(SUFFIXES[rng.below(SUFFIXES.len())]);
    s
}

#[test]
fn every_name_function_takes_any_unicode() {
    let cat = catalog::embedded();
    let openai = cat.provider("openai").unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let n = name(&mut rng);
        if let Some((base, date)) = ids::split_date(&n) {
            // What it splits off is a date, and the two halves rebuild the name.
            assert!(
                date.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
                "{n:?}"
            );
            assert_eq!(base.len() + 1 + date.len(), n.len(), "{n:?}");
        }
        let _ = ids::version_spellings(&n);
        let _ = ids::fallbacks(&n);
        let _ = ids::strip_region_prefix(&n);
        let _ = ids::strip_region_segment(&n);
        let _ = ids::is_aws_region(&n);
        let _ = cat.lookup(openai, &n);
        let _ = cat.first_party(&n);
        let close = cat.suggest(&n, &["fast"]);
        if n.len() > ids::SUGGEST_MAX_NAME {
            assert!(close.is_empty(), "{n:?}");
        }
        let env = NoEnv;
        match resolve_entry(&n, &Config::default(), dx_core::catalog::embedded(), &env) {
            Ok(_) => assert!(n.len() <= MAX_MODEL_NAME_BYTES),
            Err(e) => assert!(e.status.as_u16() < 500, "{n:?}: {} {}", e.status, e.message),
        }
    }
}

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// No provider keys: a name that resolves is answered by a 404/400 before any
/// upstream call, and every upstream call is recorded.
#[derive(Clone, Default)]
struct Fake {
    sent: Arc<Mutex<Vec<String>>>,
}

impl HttpClient for Fake {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        self.sent.lock().unwrap().push(req.uri().to_string());
        Ok(UpstreamResponse::full(
            StatusCode::SERVICE_UNAVAILABLE,
            HeaderMap::new(),
            Bytes::from_static(b"{}"),
        ))
    }
}
impl Clock for Fake {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Fake {
    async fn sleep(&self, _ms: u64) {}
}
impl Background for Fake {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Fake {
    fn var(&self, name: &str) -> Option<String> {
        matches!(
            name,
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AZURE_API_KEY"
        )
        .then(|| "test-credential".to_owned())
        .or_else(|| (name == "AZURE_API_BASE").then(|| "https://x.openai.azure.com".into()))
        .or_else(|| (name == "AWS_REGION").then(|| "us-east-1".into()))
    }
}
impl Log for Fake {
    fn log(&self, _line: &str) {}
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn call(fake: &Fake, method: Method, path: &str, query: Option<String>, body: Vec<u8>) -> Answer {
    let gw = Bound::new(fake.clone(), Arc::new(Config::default()));
    let req = IncomingRequest {
        method,
        path: path.into(),
        query,
        headers: HeaderMap::new(),
        body: Bytes::from(body),
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
            headers: resp.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    })
}

/// Every route that resolves a model, called with `model`.
fn every_route(fake: &Fake, model: &str) -> Vec<(&'static str, Answer)> {
    let chat = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let stream = serde_json::json!({"model": model, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let messages = serde_json::json!({"model": model, "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let count =
        serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let estimate = serde_json::json!({"model": model, "input_tokens": 10, "output_tokens": 5});
    let to_vec = |v: &serde_json::Value| serde_json::to_vec(v).unwrap();
    vec![
        (
            "chat",
            call(
                fake,
                Method::POST,
                "/v1/chat/completions",
                None,
                to_vec(&chat),
            ),
        ),
        (
            "chat stream",
            call(
                fake,
                Method::POST,
                "/v1/chat/completions",
                None,
                to_vec(&stream),
            ),
        ),
        (
            "messages",
            call(fake, Method::POST, "/v1/messages", None, to_vec(&messages)),
        ),
        (
            "count_tokens",
            call(
                fake,
                Method::POST,
                "/v1/messages/count_tokens",
                None,
                to_vec(&count),
            ),
        ),
        (
            "models/{id}",
            call(
                fake,
                Method::GET,
                &format!("/v1/models/{}", percent_encode(model)),
                None,
                vec![],
            ),
        ),
        (
            "model/info",
            call(
                fake,
                Method::GET,
                "/model/info",
                Some(format!("model={}", percent_encode(model))),
                vec![],
            ),
        ),
        (
            "cost/estimate",
            call(
                fake,
                Method::POST,
                "/cost/estimate",
                None,
                to_vec(&estimate),
            ),
        ),
    ]
}

/// The error's code in OpenAI's shape; Anthropic's shape has none, so there
/// the code stands for "an `invalid_request_error` whose message says why".
fn error_code(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if v["type"] == "error" {
        let message = v["error"]["message"].as_str()?;
        let code = if message.contains("at most") {
            "model_name_too_long"
        } else if message.contains("path segments") {
            "invalid_model_name"
        } else {
            return None;
        };
        return (v["error"]["type"] == "invalid_request_error").then(|| code.to_owned());
    }
    v["error"]["code"].as_str().map(str::to_owned)
}

#[test]
fn every_route_answers_any_name_without_a_server_error() {
    let fake = Fake::default();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..60 {
        let n = name(&mut rng);
        for (route, a) in every_route(&fake, &n) {
            assert!(
                a.status.is_client_error()
                    || a.status.is_success()
                    || a.status == StatusCode::BAD_GATEWAY
                    || a.status == StatusCode::SERVICE_UNAVAILABLE,
                "{route} {n:?}: {} {}",
                a.status,
                a.body
            );
            for v in a.headers.values() {
                assert!(v.len() <= 1024, "{route}: a {}-byte header", v.len());
            }
        }
    }
}

#[test]
fn non_ascii_names_are_unknown_models_not_crashes() {
    let fake = Fake::default();
    for (route, a) in every_route(&fake, "éééééé") {
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{route}: {}", a.body);
    }
    for (route, a) in every_route(&fake, "claude-haiku-4-5-2025-10-0é") {
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{route}: {}", a.body);
    }
}

#[test]
fn over_long_names_are_refused_on_every_route() {
    let fake = Fake::default();
    for model in [
        "a".repeat(MAX_MODEL_NAME_BYTES + 1),
        "openai/".to_owned() + &"é".repeat(200),
    ] {
        for (route, a) in every_route(&fake, &model) {
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{route}: {}", a.body);
            assert_eq!(
                error_code(&a.body).as_deref(),
                Some("model_name_too_long"),
                "{route}"
            );
            assert!(
                !a.body.contains(&model[model.len() - 60..]),
                "{route} echoes the name"
            );
        }
    }
    assert!(fake.sent.lock().unwrap().is_empty());
    // At the limit a name is still a name: an unknown one is a 404.
    let at_limit = "b".repeat(MAX_MODEL_NAME_BYTES);
    let (_, a) = every_route(&fake, &at_limit).remove(0);
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
}

#[test]
fn dot_segments_never_reach_an_upstream_path() {
    let fake = Fake::default();
    for model in [
        "bedrock/..",
        "bedrock/converse/..",
        "bedrock/anthropic.claude-3-haiku-20240307-v1:0/../..",
        "azure/..",
        "azure/.",
    ] {
        for (route, a) in every_route(&fake, model) {
            if route == "cost/estimate" || route == "model/info" || route == "models/{id}" {
                // Describing a name sends nothing upstream; it is still refused.
                assert_eq!(
                    a.status,
                    StatusCode::BAD_REQUEST,
                    "{route} {model}: {}",
                    a.body
                );
                continue;
            }
            assert_eq!(
                a.status,
                StatusCode::BAD_REQUEST,
                "{route} {model}: {}",
                a.body
            );
            assert_eq!(
                error_code(&a.body).as_deref(),
                Some("invalid_model_name"),
                "{route}"
            );
        }
    }
    let sent = fake.sent.lock().unwrap();
    assert!(sent.is_empty(), "{sent:?}");
}
