//! The catalog through the whole gateway with in-memory ports: a provider
//! never named in code, costs on every kind of answer, the deprecation
//! header, the context-window refusal, and the catalog endpoints.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{Body, Bound, Config, GatewayResponse, IncomingRequest};
use futures::executor::block_on;
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

/// What the upstream received: URL, `Authorization`, JSON body.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

#[derive(Clone)]
struct Ports {
    body: Bytes,
    seen: Seen,
}

impl HttpClient for Ports {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
        self.seen
            .lock()
            .unwrap()
            .push((req.uri().to_string(), auth, body));
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            HeaderMap::new(),
            self.body.clone(),
        ))
    }
}
impl Clock for Ports {
    fn now_ms(&self) -> u64 {
        1_784_917_423_000
    }
}
impl Sleep for Ports {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Ports {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Ports {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "DX_MASTER_KEY" => Some("sk-master".into()),
            "DEEPSEEK_API_KEY" | "OPENAI_API_KEY" => Some("sk-upstream".into()),
            "DEEPSEEK_API_BASE" | "OPENAI_API_BASE" => Some("http://fleet.local/openai/v1".into()),
            "ANTHROPIC_API_KEY" => Some("sk-ant-upstream".into()),
            "ANTHROPIC_API_BASE" => Some("http://fleet.local/anthropic".into()),
            _ => None,
        }
    }
}
impl Log for Ports {
    fn log(&self, _line: &str) {}
}

const CONFIG: &str = r#"
[[model_list]]
model_name = "tiny-window"
provider = "deepseek"
model = "deepseek-chat"
max_input_tokens = 50

[[model_list]]
model_name = "priced-by-config"
provider = "openai_compatible"
model = "house-model"
api_base = "http://fleet.local/openai/v1"
input_cost_per_token = 0.000002
output_cost_per_token = 0.000004

[[model_list]]
model_name = "translated-deepseek"
provider = "deepseek"
model = "deepseek-chat"
passthrough = false
"#;

fn gateway(upstream: &'static [u8]) -> (Bound<Ports>, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let ports = Ports {
        body: Bytes::from_static(upstream),
        seen: seen.clone(),
    };
    (
        Bound::new(ports, Arc::new(Config::parse(CONFIG).unwrap())),
        seen,
    )
}

fn request(method: Method, path: &str, query: Option<&str>, body: Value) -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer sk-master".parse().unwrap());
    IncomingRequest {
        method,
        path: path.into(),
        query: query.map(str::to_owned),
        headers,
        body: Bytes::from(body.to_string()),
    }
}

fn chat(model: &str, stream: bool) -> IncomingRequest {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    request(Method::POST, "/v1/chat/completions", None, body)
}

fn read(resp: GatewayResponse) -> (StatusCode, HeaderMap, Vec<u8>) {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Full(b) => b.to_vec(),
        Body::Stream(s) => block_on(s.collect::<Vec<Bytes>>()).concat(),
    };
    (parts.status, parts.headers, bytes)
}

const COMPLETION: &[u8] = br#"{"id":"c1","object":"chat.completion","created":1,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Echo: hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200}}}"#;

const STREAM: &[u8] = b"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Echo\"},\"finish_reason\":null}],\"usage\":null}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500,\"prompt_tokens_details\":{\"cached_tokens\":200}}}\n\n\
data: [DONE]\n\n";

/// deepseek-chat in the snapshot: i=0.14, o=0.28, cr=0.0028 (USD per 1M).
/// text 800 × 0.14 = 112; cached 200 × 0.0028 = 0.56; out 500 × 0.28 = 140 → 252.56 µ$
const DEEPSEEK_COST: f64 = 0.00025256;

fn usage_chunk(sse: &[u8]) -> Value {
    let text = String::from_utf8_lossy(sse);
    let line = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|v| v["choices"] == json!([]))
        .expect("a usage chunk");
    line
}

#[test]
fn a_catalog_provider_answers_with_its_cost() {
    let (gw, seen) = gateway(COMPLETION);
    let (status, headers, body) = read(block_on(gw.handle(chat("deepseek/deepseek-chat", false))));
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (url, auth, sent) = seen.lock().unwrap()[0].clone();
    assert_eq!(url, "http://fleet.local/openai/v1/chat/completions");
    assert_eq!(auth.as_deref(), Some("Bearer sk-upstream"));
    assert_eq!(sent["model"], "deepseek-chat");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        (v["cost"].as_f64().unwrap() - DEEPSEEK_COST).abs() < 1e-12,
        "{v}"
    );
    assert_eq!(v["usage"]["prompt_tokens"], 1000);
    let header: f64 = headers["x-dx-cost-usd"].to_str().unwrap().parse().unwrap();
    assert!((header - DEEPSEEK_COST).abs() < 1e-12);
    assert_eq!(headers["x-dx-provider"], "deepseek");
    assert!(headers.get("x-dx-deprecated").is_none());
}

#[test]
fn streams_carry_the_cost_in_their_usage_chunk() {
    for model in ["deepseek/deepseek-chat", "translated-deepseek"] {
        let (gw, _) = gateway(STREAM);
        let (status, headers, body) = read(block_on(gw.handle(chat(model, true))));
        assert_eq!(status, StatusCode::OK);
        // headers leave before usage is known
        assert!(headers.get("x-dx-cost-usd").is_none());
        let chunk = usage_chunk(&body);
        assert!(
            (chunk["cost"].as_f64().unwrap() - DEEPSEEK_COST).abs() < 1e-12,
            "{model}: {chunk}"
        );
        assert!(String::from_utf8_lossy(&body).ends_with("data: [DONE]\n\n"));
    }
}

#[test]
fn config_prices_and_mock_costs() {
    // 1000 × 2e-6 + 500 × 4e-6 = 0.002 + 0.002 = 0.004 (cached tokens at the input price: no cache price given)
    let (gw, _) = gateway(COMPLETION);
    let (_, headers, body) = read(block_on(gw.handle(chat("priced-by-config", false))));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!((v["cost"].as_f64().unwrap() - 0.004).abs() < 1e-12, "{v}");
    assert_eq!(headers["x-dx-cost-usd"], "0.004");
    // the mock provider is free
    let (_, headers, body) = read(block_on(gw.handle(chat("mock/anything", false))));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["cost"], json!(0));
    assert_eq!(headers["x-dx-cost-usd"], "0");
    let (_, _, body) = read(block_on(gw.handle(chat("mock/anything", true))));
    assert_eq!(usage_chunk(&body)["cost"], json!(0));
}

#[test]
fn deprecated_models_get_a_header() {
    let (gw, _) = gateway(COMPLETION);
    let (status, headers, _) = read(block_on(gw.handle(chat("openai/gpt-4-0613", false))));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-dx-deprecated"], "2025-06-06");
}

#[test]
fn prompts_over_the_window_are_refused_before_sending() {
    let (gw, seen) = gateway(COMPLETION);
    let long = "lorem ipsum dolor sit amet ".repeat(40);
    let body = json!({"model": "tiny-window", "messages": [{"role": "user", "content": long}]});
    let (status, _, body) = read(block_on(gw.handle(request(
        Method::POST,
        "/v1/chat/completions",
        None,
        body,
    ))));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert_eq!(v["error"]["param"], "messages");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("50 tokens"));
    assert!(seen.lock().unwrap().is_empty(), "nothing went upstream");
    // a short prompt passes
    let (status, _, _) = read(block_on(gw.handle(chat("tiny-window", false))));
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn unknown_models_get_suggestions() {
    let (gw, seen) = gateway(COMPLETION);
    // a known provider forwards any model id (new models appear before the catalog knows them)
    let (status, headers, _) = read(block_on(gw.handle(chat("deepseek/deepseek-chta", false))));
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-dx-cost-usd").is_none(), "no price is known");
    assert_eq!(seen.lock().unwrap().len(), 1);
    // an unknown bare id is a 404 naming the closest ids
    let (status, _, body) = read(block_on(gw.handle(chat("deepseek-chta", false))));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`deepseek-chat`"),
        "{v}"
    );
}

#[test]
fn model_info_cost_estimate_token_counter() {
    let (gw, _) = gateway(COMPLETION);
    let get = |q: &str| {
        let (s, _, b) = read(block_on(gw.handle(request(
            Method::GET,
            "/model/info",
            Some(q),
            Value::Null,
        ))));
        (s, serde_json::from_slice::<Value>(&b).unwrap())
    };
    let (status, v) = get("model=deepseek%2Fdeepseek-chat");
    assert_eq!(status, StatusCode::OK);
    let info = &v["data"][0]["model_info"];
    assert_eq!(info["max_input_tokens"], 1_000_000);
    assert_eq!(info["input_cost_per_token"], 1.4e-7);
    assert_eq!(info["output_cost_per_token"], 2.8e-7);
    assert_eq!(info["supports_function_calling"], true);
    assert_eq!(info["is_free"], false);
    assert_eq!(info["sources"], json!(["models.dev", "litellm"]));
    let (_, v) = get("");
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"][0]["model_info"]["max_input_tokens"], 50);

    let post = |path: &str, body: Value| {
        let (s, _, b) = read(block_on(gw.handle(request(Method::POST, path, None, body))));
        (s, serde_json::from_slice::<Value>(&b).unwrap())
    };
    // 1M in × 0.14 + 1M out × 0.28 = 0.42 $ per request; 100 a day → 42; 30 days → 1260
    let (status, v) = post(
        "/cost/estimate",
        json!({"model": "deepseek/deepseek-chat", "input_tokens": 1_000_000, "output_tokens": 1_000_000, "requests_per_day": 100}),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!((v["cost_per_request"].as_f64().unwrap() - 0.42).abs() < 1e-12);
    assert!((v["cost_per_day"].as_f64().unwrap() - 42.0).abs() < 1e-9);
    assert!((v["cost_per_month"].as_f64().unwrap() - 1260.0).abs() < 1e-9);

    let (status, v) = post(
        "/utils/token_counter",
        json!({"model": "tiny-window", "messages": [{"role": "user", "content": "Hello world!"}]}),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    // 3 (reply) + 3 (message) + "Hello" " world" "!" = 9
    assert_eq!(v["total_tokens"], 9);
    assert_eq!(v["tokenizer_type"], "estimate");
    assert_eq!(v["max_input_tokens"], 50);
    assert_eq!(v["fits_context_window"], true);

    // the master key is required
    let mut r = request(Method::GET, "/model/info", None, Value::Null);
    r.headers.clear();
    assert_eq!(read(block_on(gw.handle(r))).0, StatusCode::UNAUTHORIZED);
}

#[test]
fn models_list_can_include_the_catalog() {
    let (gw, _) = gateway(COMPLETION);
    let list = |q: Option<&str>| {
        let (_, _, b) = read(block_on(gw.handle(request(
            Method::GET,
            "/v1/models",
            q,
            Value::Null,
        ))));
        serde_json::from_slice::<Value>(&b).unwrap()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(None),
        ["tiny-window", "priced-by-config", "translated-deepseek"]
    );
    let all = list(Some("catalog=true"));
    assert!(all.len() > 5000);
    assert!(all.contains(&"deepseek/deepseek-chat".to_string()));
    assert!(all.contains(&"openai/gpt-4o".to_string()));
    let groq = list(Some("catalog=true&provider=groq"));
    assert!(!groq.is_empty() && groq.iter().all(|m| m.starts_with("groq/")));
}

fn post_json(gw: &Bound<Ports>, path: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = read(block_on(gw.handle(request(Method::POST, path, None, body))));
    (s, serde_json::from_slice(&b).unwrap())
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-12)
}

/// This gateway has no Azure, Cohere or Anthropic settings (no key, no
/// api_base): an estimate reads the catalog alone.
#[test]
fn cost_estimates_need_no_deployment_settings() {
    let (gw, _) = gateway(COMPLETION);
    // LiteLLM's EU data-zone entry: 1000 × 2.75 + 1000 × 11 = 13750 µ$ (LiteLLM 0.01375)
    let (s, v) = post_json(
        &gw,
        "/cost/estimate",
        json!({"model": "azure/eu/gpt-4o-2024-08-06", "input_tokens": 1000, "output_tokens": 1000}),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(close(&v["cost_per_request"], 0.01375), "{v}");
    assert_eq!(v["catalog_model"], "azure/eu/gpt-4o-2024-08-06");
    // the undated name is the latest dated EU entry (2024-11-20, same prices)
    let (s, v) = post_json(
        &gw,
        "/cost/estimate",
        json!({"model": "azure/eu/gpt-4o", "input_tokens": 1000, "output_tokens": 1000}),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(close(&v["cost_per_request"], 0.01375), "{v}");
    // an Azure deployment name the catalog cannot know: no price, a 400 in
    // OpenAI's shape that says how to give one (was a 500 asking for api_base)
    let (s, v) = post_json(
        &gw,
        "/cost/estimate",
        json!({"model": "azure/my-deployment", "input_tokens": 1000}),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "model_price_unknown");
    assert_eq!(v["error"]["param"], "model");
    // LiteLLM's provider names: cohere/command-r, 1000 × 0.15 + 1000 × 0.6 = 750 µ$ (LiteLLM 0.00075)
    let (s, v) = post_json(
        &gw,
        "/cost/estimate",
        json!({"model": "cohere_chat/command-r", "input_tokens": 1000, "output_tokens": 1000}),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(close(&v["cost_per_request"], 0.00075), "{v}");
    // still a 404 for a name nobody knows
    let (s, v) = post_json(
        &gw,
        "/cost/estimate",
        json!({"model": "nosuchprovider/x", "input_tokens": 1}),
    );
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[test]
fn cost_estimates_take_the_inference_geo() {
    let (gw, _) = gateway(COMPLETION);
    let estimate = |geo: Value| {
        post_json(
            &gw,
            "/cost/estimate",
            json!({"model": "anthropic/claude-opus-4-6", "input_tokens": 1000,
                   "output_tokens": 1000, "inference_geo": geo}),
        )
    };
    // claude-opus-4-6: 1000 × 5 + 1000 × 25 = 30000 µ$; served in the US: × 1.1 = 33000 µ$ (LiteLLM 0.033)
    let (s, v) = estimate(json!("us"));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(close(&v["cost_per_request"], 0.033), "{v}");
    assert!(close(&v["geo_factor"], 1.1), "{v}");
    assert!(close(&v["breakdown"]["output"], 0.0275), "{v}");
    for geo in [json!("global"), json!(null)] {
        let (s, v) = estimate(geo);
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(close(&v["cost_per_request"], 0.03), "{v}");
    }
    let (s, v) = estimate(json!("ünïcode-and-far-too-long"));
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["param"], "inference_geo");
}

#[test]
fn model_info_shows_both_sources_where_they_disagree() {
    let (gw, _) = gateway(COMPLETION);
    let info = |name: &str| {
        let q = format!("model={}", name.replace('/', "%2F"));
        let (s, _, b) = read(block_on(gw.handle(request(
            Method::GET,
            "/model/info",
            Some(&q),
            Value::Null,
        ))));
        assert_eq!(s, StatusCode::OK);
        serde_json::from_slice::<Value>(&b).unwrap()["data"][0]["model_info"].clone()
    };
    // DeepSeek: models.dev 0.14/0.28 per 1M (used), LiteLLM 0.28/0.42
    let ds = info("deepseek/deepseek-chat");
    assert_eq!(
        ds["price_conflicts"]["input_cost_per_token"],
        json!({"models.dev": 1.4e-7, "litellm": 2.8e-7, "used": "models.dev"})
    );
    assert_eq!(
        ds["price_conflicts"]["output_cost_per_token"],
        json!({"models.dev": 2.8e-7, "litellm": 4.2e-7, "used": "models.dev"})
    );
    assert_eq!(ds["input_cost_per_token"], 1.4e-7);
    // Bedrock Llama 3.1 70B: models.dev 0.72, LiteLLM 0.99
    let llama = info("bedrock/meta.llama3-1-70b-instruct-v1:0");
    assert_eq!(
        llama["price_conflicts"]["input_cost_per_token"],
        json!({"models.dev": 7.2e-7, "litellm": 9.9e-7, "used": "models.dev"})
    );
    // a Bedrock profile: LiteLLM's own entry is used
    let us = info("bedrock/us.anthropic.claude-opus-4-6-v1");
    assert_eq!(
        us["price_conflicts"]["input_cost_per_token"],
        json!({"models.dev": 5e-6, "litellm": 5.5e-6, "used": "litellm"})
    );
    assert_eq!(us["input_cost_per_token"], 5.5e-6);
    // no disagreement: an empty object
    assert_eq!(
        info("groq/llama-3.1-8b-instant")["price_conflicts"],
        json!({})
    );
    // the per-geo factor and the new tier prices
    let opus = info("anthropic/claude-opus-4-6");
    assert_eq!(opus["provider_specific_entry"], json!({"us": 1.1}));
    let sonnet = info("anthropic/claude-sonnet-4-5");
    assert_eq!(
        sonnet["tiered_pricing"][0]["cache_creation_input_token_cost_above_1hr"],
        1.2e-5
    );
}

#[test]
fn regional_names_are_not_listed_as_callable() {
    let (gw, _) = gateway(COMPLETION);
    let (_, _, b) = read(block_on(gw.handle(request(
        Method::GET,
        "/v1/models",
        Some("catalog=true&provider=azure"),
        Value::Null,
    ))));
    let v: Value = serde_json::from_slice(&b).unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"azure/gpt-4o"), "{ids:?}");
    assert!(!ids.iter().any(|id| id.starts_with("azure/eu/")), "{ids:?}");
}

/// claude-opus-4-6 run in the US costs 1.1× (LiteLLM's regional factor):
/// (1000 × 5 + 1000 × 25) µ$ × 1.1 = 0.033 USD, on whichever ingress asks.
const OPUS_IN_US: &[u8] = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-6","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1000,"output_tokens":1000,"inference_geo":"us"}}"#;

#[test]
fn live_answers_are_priced_where_the_provider_ran_them() {
    let (gw, _) = gateway(OPUS_IN_US);
    let messages = json!({"model": "anthropic/claude-opus-4-6", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, body) = read(block_on(gw.handle(request(
        Method::POST,
        "/v1/messages",
        None,
        messages,
    ))));
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let header: f64 = headers["x-dx-cost-usd"].to_str().unwrap().parse().unwrap();
    assert!((header - 0.033).abs() < 1e-12, "passthrough: {header}");
    let (status, headers, body) = read(block_on(
        gw.handle(chat("anthropic/claude-opus-4-6", false)),
    ));
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let header: f64 = headers["x-dx-cost-usd"].to_str().unwrap().parse().unwrap();
    assert!((header - 0.033).abs() < 1e-12, "translated: {header}");
}
