//! A LiteLLM `config.yaml` loads unchanged (the Lambda build reads YAML;
//! the same config as JSON loads on every build) and routes as LiteLLM
//! would: one name balanced over its deployments, keys and base URLs from
//! `os.environ/` variables, a failing group falling back, LiteLLM's
//! timeouts in seconds, settings without meaning here reported, not refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{Bound, Config, IncomingRequest};
use http::{HeaderMap, Method, StatusCode};

#[cfg(feature = "yaml")]
const YAML: &str = include_str!("data/litellm_config.yaml");

#[derive(Clone, Default)]
struct Up {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    failing: Arc<Mutex<Vec<&'static str>>>,
}

impl HttpClient for Up {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let host = req.uri().host().unwrap_or("").to_owned();
        let auth = ["api-key", "authorization"]
            .iter()
            .find_map(|h| req.headers().get(*h))
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        self.seen.lock().unwrap().push((host.clone(), auth));
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        if self
            .failing
            .lock()
            .unwrap()
            .iter()
            .any(|h| host.starts_with(h))
        {
            return Ok(UpstreamResponse::full(
                StatusCode::SERVICE_UNAVAILABLE,
                headers,
                Bytes::from_static(br#"{"error":{"message":"down","type":"server_error"}}"#),
            ));
        }
        let body: &[u8] = if host.contains("bedrock") {
            br#"{"output":{"message":{"role":"assistant","content":[{"text":"from bedrock"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5}}"#
        } else {
            br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#
        };
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            headers,
            Bytes::from_static(body),
        ))
    }
}
impl Clock for Up {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Up {
    async fn sleep(&self, _ms: u64) {}
}
impl Background for Up {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Up {
    fn var(&self, name: &str) -> Option<String> {
        let vars: HashMap<&str, &str> = [
            ("AZURE_API_KEY_EU", "az-eu-key"),
            ("AZURE_API_KEY_CA", "az-ca-key"),
            (
                "AZURE_API_BASE_CA",
                "https://canada.example.openai.azure.com",
            ),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("LITELLM_MASTER_KEY", "sk-1234"),
        ]
        .into_iter()
        .collect();
        vars.get(name).map(|v| v.to_string())
    }
}
impl Log for Up {
    fn log(&self, _: &str) {}
}

fn ask(gw: &Bound<Up>, model: &str) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("authorization", "Bearer sk-1234".parse().unwrap());
    let body = format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#);
    let req = IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers,
        body: Bytes::from(body),
    };
    let resp = futures::executor::block_on(gw.handle(req));
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.into_body() {
        dx_core::Body::Full(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    (status, headers, body)
}

fn check_routes_as_litellm_would(config: Config) {
    assert_eq!(config.general.request_timeout_ms, 60_000);
    assert_eq!(config.model_list[3].request_timeout_ms, Some(20_000));
    let notes = config.import_notes.join("\n");
    for left in [
        "redis_host",
        "success_callback",
        "alerting",
        "model_info.version",
    ] {
        assert!(notes.contains(left), "{left} not reported: {notes}");
    }
    let up = Up::default();
    let gw = Bound::new(up.clone(), Arc::new(config));
    // The master key comes from os.environ/LITELLM_MASTER_KEY.
    let mut seen_hosts = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let (status, _, body) = ask(&gw, "gpt-4o");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (host, auth) in up.seen.lock().unwrap().drain(..) {
        let want = if host.starts_with("europe") {
            "az-eu-key"
        } else {
            "az-ca-key"
        };
        assert_eq!(auth, want, "{host}");
        seen_hosts.insert(host);
    }
    assert_eq!(
        seen_hosts.into_iter().collect::<Vec<_>>(),
        [
            "canada.example.openai.azure.com",
            "europe.example.openai.azure.com"
        ],
        "one name, balanced over both regions"
    );
    // Both Azure deployments down: the fallback to `claude` (Bedrock).
    up.failing.lock().unwrap().extend(["europe", "canada"]);
    let (status, headers, body) = ask(&gw, "gpt-4o");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("from bedrock"), "{body}");
    assert_eq!(
        headers.get("x-dx-fallback").unwrap(),
        "gpt-4o -> claude (unavailable)"
    );
    let hosts: Vec<String> = up.seen.lock().unwrap().drain(..).map(|(h, _)| h).collect();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    assert!(
        hosts[2].starts_with("bedrock-runtime.us-east-1"),
        "{hosts:?}"
    );
    // The OpenAI-compatible server by its `openai/` prefix and api_base.
    let (status, headers, _) = ask(&gw, "vllm-models");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("x-dx-deployment").unwrap(), "vllm-1");
    assert_eq!(up.seen.lock().unwrap().last().unwrap().0, "vllm.example");
}

#[cfg(feature = "yaml")]
#[test]
fn litellm_s_config_yaml_loads_unchanged() {
    check_routes_as_litellm_would(Config::parse(YAML).unwrap());
}

#[test]
fn the_same_config_as_json_loads_on_every_build() {
    // What `yq -o json` (or `dx-lambda --check-config`) makes of the file.
    let json = serde_json::json!({
        "model_list": [
            {"model_name": "gpt-4o", "litellm_params": {"model": "azure/gpt-4o-eu",
                "api_base": "https://europe.example.openai.azure.com/", "api_key": "os.environ/AZURE_API_KEY_EU",
                "api_version": "2024-06-01", "rpm": 6}},
            {"model_name": "gpt-4o", "litellm_params": {"model": "azure/gpt-4o-ca",
                "api_base": "os.environ/AZURE_API_BASE_CA", "api_key": "os.environ/AZURE_API_KEY_CA",
                "api_version": "2024-06-01", "rpm": 6}},
            {"model_name": "claude", "litellm_params": {"model": "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
                "aws_region_name": "us-east-1", "aws_access_key_id": "os.environ/AWS_ACCESS_KEY_ID",
                "aws_secret_access_key": "os.environ/AWS_SECRET_ACCESS_KEY"}},
            {"model_name": "vllm-models", "litellm_params": {"model": "openai/facebook/opt-125m",
                "api_base": "http://vllm.example:8000/v1", "api_key": "none", "rpm": 1440, "timeout": 20},
             "model_info": {"id": "vllm-1", "version": 2}},
        ],
        "router_settings": {"routing_strategy": "simple-shuffle", "num_retries": 0, "allowed_fails": 3,
                            "cooldown_time": 30, "redis_host": "os.environ/REDIS_HOST"},
        "litellm_settings": {"drop_params": true, "request_timeout": 60,
                             "fallbacks": [{"gpt-4o": ["claude"]}],
                             "context_window_fallbacks": [{"vllm-models": ["gpt-4o"]}],
                             "success_callback": ["langfuse"]},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "alerting": ["slack"]},
    });
    check_routes_as_litellm_would(Config::parse(&json.to_string()).unwrap());
}

#[test]
fn a_fallback_to_a_group_that_does_not_exist_does_not_load() {
    let text = "[[model_list]]\nmodel_name = \"a\"\nmodel = \"openai/x\"\n[router_settings.fallbacks]\na = [\"nope\"]\n";
    let err = Config::parse(text).unwrap_err();
    assert!(err.0.contains("`nope`"), "{}", err.0);
}
