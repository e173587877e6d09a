//! Model groups through `Gateway::handle`: where each request went (the
//! fake upstream records the host of every attempt, one host per
//! deployment) and what the client saw, for failures before headers, in
//! a stream before its first content, and after it; cooldowns across
//! requests; context-window fallbacks decided before sending; residency
//! and the nearest region. The clock is fake: a sleep moves it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::{Body, Bound, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

#[derive(Clone, Debug)]
enum Act {
    /// An error status with an OpenAI-shaped body, and `retry-after`.
    Status(u16, Option<&'static str>),
    /// An OpenAI chat stream saying `text`.
    Says(&'static str),
    /// The role chunk, then an in-stream error.
    ErrorBeforeContent,
    /// The role chunk, then the connection breaks.
    CutBeforeContent,
    /// The role chunk, then nothing: the stream stalls.
    StallBeforeContent,
    /// Content, then the connection breaks.
    CutAfterContent,
    /// OpenAI's 400 for a prompt over the model's window.
    ContextLength,
}

#[derive(Clone, Default)]
struct Fleet {
    /// Per host: what it does next (the last act repeats).
    script: Arc<Mutex<HashMap<String, Vec<Act>>>>,
    seen: Arc<Mutex<Vec<String>>>,
    clock: Arc<AtomicU64>,
    env: Arc<HashMap<&'static str, &'static str>>,
}

impl Fleet {
    fn new(script: &[(&str, &[Act])]) -> Fleet {
        let f = Fleet::default();
        f.clock.store(1_700_000_000_000, Ordering::SeqCst);
        *f.script.lock().unwrap() = script
            .iter()
            .map(|(h, a)| (h.to_string(), a.to_vec()))
            .collect();
        f
    }

    fn seen(&self) -> Vec<String> {
        std::mem::take(&mut self.seen.lock().unwrap())
    }
}

fn chunk(delta: &str) -> Bytes {
    Bytes::from(format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":null}}]}}\n\n"
    ))
}

fn says(text: &str) -> Vec<Result<Bytes, TransportError>> {
    vec![
        Ok(chunk(r#"{"role":"assistant","content":""}"#)),
        Ok(chunk(&format!(r#"{{"content":"{text}"}}"#))),
        Ok(Bytes::from(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\ndata: [DONE]\n\n",
        )),
    ]
}

impl HttpClient for Fleet {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let host = req.uri().host().unwrap_or("").to_owned();
        self.seen.lock().unwrap().push(host.clone());
        let act = {
            let mut s = self.script.lock().unwrap();
            let acts = s.get_mut(&host).expect("a scripted host");
            if acts.len() > 1 {
                acts.remove(0)
            } else {
                acts[0].clone()
            }
        };
        let stream_body: bool = serde_json::from_slice::<serde_json::Value>(req.body())
            .map(|v| v["stream"] == true)
            .unwrap_or(false);
        let mut headers = HeaderMap::new();
        let role = || Ok(chunk(r#"{"role":"assistant","content":""}"#));
        let (status, body): (u16, Vec<Result<Bytes, TransportError>>) = match act {
            Act::Status(code, retry_after) => {
                if let Some(r) = retry_after {
                    headers.insert("retry-after", r.parse().unwrap());
                }
                let body = format!(
                    r#"{{"error":{{"message":"fault {code}","type":"server_error","code":null}}}}"#
                );
                headers.insert("content-type", "application/json".parse().unwrap());
                (code, vec![Ok(Bytes::from(body))])
            }
            Act::ContextLength => {
                headers.insert("content-type", "application/json".parse().unwrap());
                let body = r#"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
                (400, vec![Ok(Bytes::from_static(body.as_bytes()))])
            }
            Act::Says(text) if !stream_body => {
                headers.insert("content-type", "application/json".parse().unwrap());
                let body = format!(
                    r#"{{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}}}"#
                );
                (200, vec![Ok(Bytes::from(body))])
            }
            Act::Says(text) => (200, says(text)),
            Act::ErrorBeforeContent => (
                200,
                vec![
                    role(),
                    Ok(Bytes::from(
                        "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n",
                    )),
                ],
            ),
            Act::CutBeforeContent => (
                200,
                vec![role(), Err(TransportError::Interrupted("reset".into()))],
            ),
            Act::StallBeforeContent => {
                headers.insert("content-type", "text/event-stream".parse().unwrap());
                let body = futures::stream::iter([role()]).chain(futures::stream::pending());
                return Ok(UpstreamResponse {
                    status: StatusCode::OK,
                    headers,
                    body: body.boxed(),
                });
            }
            Act::CutAfterContent => (
                200,
                vec![
                    role(),
                    Ok(chunk(r#"{"content":"partial"}"#)),
                    Err(TransportError::Interrupted("reset".into())),
                ],
            ),
        };
        if status == 200 && !headers.contains_key("content-type") {
            headers.insert("content-type", "text/event-stream".parse().unwrap());
        }
        Ok(UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Box::pin(futures::stream::iter(body)),
        })
    }
}
impl Clock for Fleet {
    fn now_ms(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }
}
impl Sleep for Fleet {
    async fn sleep(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }
}
impl Background for Fleet {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Fleet {
    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).map(|v| v.to_string())
    }
}
impl Log for Fleet {
    fn log(&self, _: &str) {}
}

fn deployment(group: &str, host: &str, extra: &str) -> String {
    format!(
        "[[model_list]]\nmodel_name = \"{group}\"\nid = \"{host}\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_base = \"http://{host}/v1\"\napi_key = \"k\"\n{extra}\n"
    )
}

fn gateway(fleet: &Fleet, config: &str) -> Bound<Fleet> {
    Bound::new(fleet.clone(), Arc::new(Config::parse(config).unwrap()))
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

fn ask(gw: &Bound<Fleet>, model: &str, stream: bool, extra_headers: &[(&str, &str)]) -> Got {
    ask_with(gw, model, stream, "hi", extra_headers)
}

/// The gateway's response to a chat request, its body not yet read.
fn post(
    gw: &Bound<Fleet>,
    headers: HeaderMap,
    body: serde_json::Value,
) -> dx_core::GatewayResponse {
    futures::executor::block_on(gw.handle(IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers,
        body: Bytes::from(body.to_string()),
    }))
}

fn ask_with(
    gw: &Bound<Fleet>,
    model: &str,
    stream: bool,
    prompt: &str,
    extra_headers: &[(&str, &str)],
) -> Got {
    let body = serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    for (k, v) in extra_headers {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let resp = post(gw, headers, body);
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = match resp.into_body() {
        Body::Stream(mut s) => futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(b) = s.next().await {
                out.extend_from_slice(&b);
            }
            out
        }),
        Body::Full(b) => b.to_vec(),
        Body::Empty => Vec::new(),
    };
    Got {
        status,
        headers,
        body: String::from_utf8(bytes).unwrap(),
    }
}

fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// The text of an OpenAI stream or answer, and how many role chunks it had.
fn text_of(g: &Got) -> (String, usize) {
    if !g.body.starts_with("data:") {
        let v: serde_json::Value = serde_json::from_str(&g.body).unwrap();
        return (
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .into(),
            0,
        );
    }
    let mut text = String::new();
    let mut roles = 0;
    for data in g.body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
            continue;
        };
        let delta = &v["choices"][0]["delta"];
        roles += usize::from(delta.get("role").is_some());
        text.push_str(delta["content"].as_str().unwrap_or(""));
    }
    (text, roles)
}

const ONE_FAIL_COOLS: &str = "[router_settings]\nallowed_fails = 0\ncooldown_time = 30\n";

#[test]
fn a_failing_deployment_is_passed_over_for_its_sibling_and_then_cooled() {
    for stream in [false, true] {
        let fleet = Fleet::new(&[
            ("a", &[Act::Status(500, None)]),
            ("b", &[Act::Says("from b")]),
        ]);
        let config = format!(
            "{}{}{}",
            deployment("g", "a", "order = 1"),
            deployment("g", "b", "order = 2"),
            ONE_FAIL_COOLS
        );
        let gw = gateway(&fleet, &config);
        let got = ask(&gw, "g", stream, &[]);
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(text_of(&got).0, "from b");
        assert_eq!(fleet.seen(), ["a", "b"]);
        assert_eq!(header(&got, "x-dx-deployment"), "b");
        assert_eq!(header(&got, "x-dx-attempts"), "2");
        assert_eq!(header(&got, "x-dx-fallback"), "", "same group: no fallback");
        // a is cooling: the next request goes straight to b.
        let got = ask(&gw, "g", stream, &[]);
        assert_eq!(fleet.seen(), ["b"]);
        assert_eq!(header(&got, "x-dx-attempts"), "1");
        // After the cooldown a is tried first again.
        fleet.clock.fetch_add(31_000, Ordering::SeqCst);
        ask(&gw, "g", stream, &[]);
        assert_eq!(fleet.seen(), ["a", "b"]);
    }
}

#[test]
fn a_stream_that_fails_before_its_first_content_falls_over_invisibly() {
    for act in [
        Act::ErrorBeforeContent,
        Act::CutBeforeContent,
        Act::StallBeforeContent,
        Act::Status(429, Some("1")),
    ] {
        let fleet = Fleet::new(&[
            ("a", std::slice::from_ref(&act)),
            ("b", &[Act::Says("clean answer")]),
        ]);
        let config = format!(
            "{}{}[router_settings]\nttft_timeout_ms = 2000\n[router_settings.fallbacks]\nprimary = [\"backup\"]\n",
            deployment("primary", "a", ""),
            deployment("backup", "b", ""),
        );
        let gw = gateway(&fleet, &config);
        let got = ask(&gw, "primary", true, &[]);
        assert_eq!(got.status, StatusCode::OK, "{act:?}: {}", got.body);
        let (text, roles) = text_of(&got);
        assert_eq!(text, "clean answer", "{act:?}");
        assert_eq!(
            roles, 1,
            "{act:?}: one answer, not two spliced: {}",
            got.body
        );
        assert!(!got.body.contains("error"), "{act:?}: {}", got.body);
        assert!(got.body.trim_end().ends_with("data: [DONE]"), "{act:?}");
        assert_eq!(fleet.seen(), ["a", "b"], "{act:?}");
        assert_eq!(header(&got, "x-dx-deployment"), "b");
        assert!(
            header(&got, "x-dx-fallback").starts_with("primary -> backup ("),
            "{act:?}: {}",
            header(&got, "x-dx-fallback")
        );
    }
}

#[test]
fn after_content_a_broken_stream_ends_with_an_error_event_not_a_second_answer() {
    let fleet = Fleet::new(&[("a", &[Act::CutAfterContent]), ("b", &[Act::Says("never")])]);
    let config = format!(
        "{}{}[router_settings.fallbacks]\nprimary = [\"backup\"]\n",
        deployment("primary", "a", ""),
        deployment("backup", "b", ""),
    );
    let gw = gateway(&fleet, &config);
    let got = ask(&gw, "primary", true, &[]);
    assert_eq!(got.status, StatusCode::OK);
    let (text, _) = text_of(&got);
    assert_eq!(text, "partial");
    assert!(got.body.contains("\"error\""), "{}", got.body);
    assert!(!got.body.contains("data: [DONE]"), "{}", got.body);
    assert_eq!(fleet.seen(), ["a"]);
}

#[test]
fn the_client_s_own_errors_are_not_retried_anywhere() {
    let fleet = Fleet::new(&[("a", &[Act::Status(400, None)]), ("b", &[Act::Says("b")])]);
    let config = format!(
        "{}{}[general]\nnum_retries = 3\n[router_settings.fallbacks]\ng = [\"backup\"]\n",
        deployment("g", "a", ""),
        deployment("backup", "b", ""),
    );
    let gw = gateway(&fleet, &config);
    let got = ask(&gw, "g", false, &[]);
    assert_eq!(got.status, StatusCode::BAD_REQUEST, "{}", got.body);
    assert_eq!(fleet.seen(), ["a"]);
}

#[test]
fn retries_wait_as_asked_then_fall_back_and_give_up_honestly() {
    let fleet = Fleet::new(&[
        (
            "a",
            &[
                Act::Status(429, Some("2")),
                Act::Status(503, None),
                Act::Says("a at last"),
            ],
        ),
        ("b", &[Act::Status(500, None)]),
    ]);
    let config = format!(
        "{}[router_settings]\nnum_retries = 2\n",
        deployment("g", "a", "")
    );
    let gw = gateway(&fleet, &config);
    let t0 = fleet.clock.load(Ordering::SeqCst);
    let got = ask(&gw, "g", false, &[]);
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(fleet.seen(), ["a", "a", "a"]);
    assert_eq!(header(&got, "x-dx-attempts"), "3");
    let waited = fleet.clock.load(Ordering::SeqCst) - t0;
    assert!(
        waited >= 2_000,
        "the 2 s retry-after was honoured: {waited}"
    );

    // Everything fails: the last error, in the client's format, after the
    // fallback was tried too.
    let config = format!(
        "{}{}[router_settings.fallbacks]\ng = [\"backup\"]\n",
        deployment("g", "b", ""),
        deployment("backup", "b", ""),
    );
    let gw = gateway(&fleet, &config);
    let got = ask(&gw, "g", true, &[]);
    assert_eq!(got.status.as_u16(), 500, "{}", got.body);
    assert!(got.body.contains("\"error\""));
    assert_eq!(fleet.seen(), ["b", "b"]);
}

#[test]
fn a_prompt_over_a_window_goes_to_the_larger_group_without_being_sent() {
    let fleet = Fleet::new(&[
        ("small", &[Act::Says("small")]),
        ("big", &[Act::Says("big")]),
    ]);
    let config = format!(
        "{}{}[router_settings.context_window_fallbacks]\nsmall = [\"big\"]\n",
        deployment("small", "small", "max_input_tokens = 50"),
        deployment("big", "big", "max_input_tokens = 100000"),
    );
    let gw = gateway(&fleet, &config);
    let got = ask_with(&gw, "small", false, &"word ".repeat(400), &[]);
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(text_of(&got).0, "big");
    assert_eq!(fleet.seen(), ["big"], "never sent to the small one");
    assert_eq!(
        header(&got, "x-dx-fallback"),
        "small -> big (context_window)"
    );
    assert_eq!(header(&got, "x-dx-attempts"), "1");
    // A short prompt stays.
    ask(&gw, "small", false, &[]);
    assert_eq!(fleet.seen(), ["small"]);
}

#[test]
fn a_provider_s_context_length_error_tries_a_sibling_then_the_window_fallback() {
    for stream in [false, true] {
        let fleet = Fleet::new(&[
            ("small1", &[Act::ContextLength]),
            ("small2", &[Act::ContextLength]),
            ("big", &[Act::Says("big")]),
            ("other", &[Act::Says("other")]),
        ]);
        let config = format!(
            "{}{}{}{}[router_settings.context_window_fallbacks]\nsmall = [\"big\"]\n[router_settings.fallbacks]\nsmall = [\"other\"]\n",
            deployment("small", "small1", "order = 1"),
            deployment("small", "small2", "order = 2"),
            deployment("big", "big", ""),
            deployment("other", "other", ""),
        );
        let gw = gateway(&fleet, &config);
        let got = ask(&gw, "small", stream, &[]);
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(text_of(&got).0, "big");
        assert_eq!(
            fleet.seen(),
            ["small1", "small2", "big"],
            "not the generic fallback"
        );
        assert_eq!(
            header(&got, "x-dx-fallback"),
            "small -> big (context_window)"
        );
    }
}

#[test]
fn residency_refuses_rather_than_crossing_and_nearest_follows_the_client() {
    let fleet = Fleet::new(&[("us", &[Act::Says("us")]), ("eu", &[Act::Says("eu")])]);
    let config = format!(
        "{}{}{}[router_settings]\nrouting_strategy = \"nearest\"\n[router_settings.residency]\neu-only = \"eu\"\n",
        deployment("g", "us", "region = \"us-east-1\""),
        deployment("g", "eu", "region = \"europe-west4\""),
        deployment("eu-only", "us", "region = \"us-east-1\""),
    );
    let gw = gateway(&fleet, &config);
    for (place, want) in [
        ("50.11,8.68", "eu"),
        ("38.9,-77.0", "us"),
        ("1.35,103.8", "eu"),
    ] {
        for _ in 0..5 {
            let got = ask(&gw, "g", false, &[("x-dx-geo", place)]);
            assert_eq!(text_of(&got).0, want, "from {place}");
        }
        fleet.seen();
    }
    let got = ask(&gw, "eu-only", false, &[]);
    assert_eq!(got.status, StatusCode::FORBIDDEN, "{}", got.body);
    assert!(got.body.contains("residency_violation"), "{}", got.body);
    assert!(fleet.seen().is_empty());
}

#[test]
fn weights_share_a_group_s_traffic() {
    let fleet = Fleet::new(&[("a", &[Act::Says("a")]), ("b", &[Act::Says("b")])]);
    let config = format!(
        "{}{}",
        deployment("g", "a", "weight = 3"),
        deployment("g", "b", "weight = 1"),
    );
    let gw = gateway(&fleet, &config);
    for _ in 0..400 {
        ask(&gw, "g", false, &[]);
    }
    let seen = fleet.seen();
    let a = seen.iter().filter(|h| *h == "a").count();
    assert!(
        (260..=340).contains(&a),
        "expected ~300 of 400 to a, got {a}"
    );
}

#[test]
fn the_readme_s_model_group_example_loads_as_written() {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("### Model groups, retries and fallbacks")
        .nth(1)
        .expect("the section");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its TOML block");
    let config = Config::parse(block).unwrap();
    assert_eq!(config.model_list.len(), 4);
    assert_eq!(config.model_list[0].order, Some(1));
    assert_eq!(config.model_list[1].region.as_deref(), Some("eastus"));
    let r = &config.router_settings;
    assert_eq!(r.num_retries, Some(2));
    assert_eq!(r.fallbacks["chat"], ["claude"]);
    assert_eq!(r.context_window_fallbacks["chat"], ["chat-long"]);
}

#[test]
fn model_group_info_shows_each_deployment_s_health_on_this_instance() {
    let fleet = Fleet::new(&[("a", &[Act::Status(500, None)]), ("b", &[Act::Says("b")])]);
    let config = format!(
        "{}{}{}[router_settings.fallbacks]\ng = [\"g\"]\n",
        deployment("g", "a", "order = 1\nregion = \"eu-west-1\""),
        deployment("g", "b", "order = 2\nweight = 2"),
        ONE_FAIL_COOLS
    );
    let gw = gateway(&fleet, &config);
    ask(&gw, "g", false, &[]);
    let req = IncomingRequest {
        method: Method::GET,
        path: "/model_group/info".into(),
        query: None,
        headers: HeaderMap::new(),
        body: Bytes::new(),
    };
    let resp = futures::executor::block_on(gw.handle(req));
    assert_eq!(resp.status(), StatusCode::OK);
    let Body::Full(b) = resp.into_body() else {
        panic!("a whole body")
    };
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let g = &v["data"][0];
    assert_eq!(g["model_group"], "g");
    assert_eq!(g["routing_strategy"], "simple-shuffle");
    let d = g["deployments"].as_array().unwrap();
    assert_eq!(d[0]["id"], "a");
    assert_eq!(d[0]["region"], "eu-west-1");
    assert_eq!(d[0]["healthy"], false);
    assert_eq!(d[0]["cooling_for_s"], 30);
    assert_eq!(d[1]["healthy"], true);
    assert_eq!(d[1]["weight"], 2.0);
    assert!(d[1]["ttfb_ms"].is_number(), "{v}");
    assert!(!v.to_string().contains("\"k\""), "no keys: {v}");
}

#[test]
fn least_busy_counts_a_stream_in_flight_until_it_ends() {
    let fleet = Fleet::new(&[("a", &[Act::Says("x")]), ("b", &[Act::Says("x")])]);
    let config = format!(
        "{}{}[router_settings]\nrouting_strategy = \"least-busy\"\n",
        deployment("g", "a", ""),
        deployment("g", "b", "")
    );
    let gw = gateway(&fleet, &config);
    let body = serde_json::json!({
        "model": "g", "stream": true, "messages": [{"role": "user", "content": "hi"}],
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let open = post(&gw, headers, body);
    assert_eq!(open.status(), StatusCode::OK);
    let busy = open.headers()["x-dx-deployment"]
        .to_str()
        .unwrap()
        .to_owned();
    let other = if busy == "a" { "b" } else { "a" };
    fleet.seen();
    // The open stream's first content has been relayed, its end has not:
    // its deployment stays busy, so every request goes to the other one.
    for stream in (0..16).map(|i| i % 2 == 0) {
        let got = ask(&gw, "g", stream, &[]);
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(header(&got, "x-dx-deployment"), other);
    }
    // Read to its end: both are idle again and share the load.
    let Body::Stream(mut s) = open.into_body() else {
        panic!("a stream")
    };
    futures::executor::block_on(async { while s.next().await.is_some() {} });
    drop(s);
    let mut served = std::collections::BTreeSet::new();
    for _ in 0..20 {
        served.insert(header(&ask(&gw, "g", false, &[]), "x-dx-deployment").to_owned());
    }
    assert_eq!(served.len(), 2, "{served:?}");
}
