//! The response cache through `Gateway::handle`, over an in-memory store
//! and a fake clock: what is stored and replayed, in which shape, and what
//! never is. The upstream numbers its answers, so a replay is told from a
//! fresh answer by its text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::state::{CacheStore, MemoryKv};
use dx_core::{Body, Bound, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Answer,
    Status500,
    CutStream,
}

#[derive(Clone)]
struct Fake {
    clock: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
    act: Arc<Mutex<Act>>,
    deferred: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            clock: Arc::new(AtomicU64::new(1_700_000_000_000)),
            calls: Arc::new(AtomicU64::new(0)),
            act: Arc::new(Mutex::new(Act::Answer)),
            deferred: Arc::new(Mutex::new(Vec::new())),
            lines: Arc::new(Mutex::new(Vec::new())),
        }
    }
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
    fn run_deferred(&self) {
        let work: Vec<_> = std::mem::take(&mut *self.deferred.lock().unwrap());
        for w in work {
            futures::executor::block_on(w);
        }
    }
}

fn chunk(delta: &str, finish: &str, usage: &str) -> String {
    format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]{usage}}}\n\n"
    )
}

impl HttpClient for Fake {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        let stream = v["stream"] == true;
        let act = *self.act.lock().unwrap();
        let mut headers = HeaderMap::new();
        let text = format!("answer {n}");
        let (status, body): (u16, Vec<Result<Bytes, TransportError>>) = match act {
            Act::Status500 => {
                headers.insert("content-type", "application/json".parse().unwrap());
                let body = r#"{"error":{"message":"boom","type":"server_error","code":null}}"#;
                (500, vec![Ok(Bytes::from_static(body.as_bytes()))])
            }
            Act::Answer if !stream => {
                headers.insert("content-type", "application/json".parse().unwrap());
                let body = format!(
                    r#"{{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}}}"#
                );
                (200, vec![Ok(Bytes::from(body))])
            }
            Act::Answer => {
                headers.insert("content-type", "text/event-stream".parse().unwrap());
                let usage =
                    r#","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}"#;
                (
                    200,
                    vec![
                        Ok(chunk(r#"{"role":"assistant","content":""}"#, "null", "").into()),
                        Ok(chunk(&format!(r#"{{"content":"{text}"}}"#), "null", "").into()),
                        Ok(format!("{}data: [DONE]\n\n", chunk("{}", "\"stop\"", usage)).into()),
                    ],
                )
            }
            Act::CutStream => {
                headers.insert("content-type", "text/event-stream".parse().unwrap());
                (
                    200,
                    vec![
                        Ok(chunk(r#"{"role":"assistant","content":""}"#, "null", "").into()),
                        Ok(chunk(&format!(r#"{{"content":"{text}"}}"#), "null", "").into()),
                        Err(TransportError::Interrupted("reset".into())),
                    ],
                )
            }
        };
        Ok(UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Box::pin(futures::stream::iter(body)),
        })
    }
}
impl Clock for Fake {
    fn now_ms(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }
}
impl Sleep for Fake {
    async fn sleep(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }
}
impl Background for Fake {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.deferred.lock().unwrap().push(work);
    }
}
impl Env for Fake {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}
impl Log for Fake {
    fn log(&self, line: &str) {
        self.lines.lock().unwrap().push(line.to_owned());
    }
}

const CONFIG: &str = r#"
[[model_list]]
model_name = "g"
provider = "openai"
model = "gpt-4o-mini"
api_base = "http://up.test/v1"
api_key = "k"

[[model_list]]
model_name = "nocache"
provider = "openai"
model = "gpt-4o-mini"
api_base = "http://up.test/v1"
api_key = "k"

[cache]
ttl_s = 300

[cache.groups]
nocache = 0
"#;

fn gateway(fake: &Fake, config: &str) -> Bound<Fake> {
    let store: Arc<dyn CacheStore> = Arc::new(MemoryKv::new(fake.clone()));
    Bound::new(fake.clone(), Arc::new(Config::parse(config).unwrap())).with_cache(store)
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The answer's text, from a whole answer or a stream.
    fn text(&self) -> String {
        if !self.body.starts_with("data:") {
            let v: serde_json::Value = serde_json::from_str(&self.body).unwrap();
            return v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .into();
        }
        assert!(self.body.ends_with("data: [DONE]\n\n"), "{}", self.body);
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }

    fn has_usage_chunk(&self) -> bool {
        self.body.contains("\"prompt_tokens\":3")
    }
}

fn ask(gw: &Bound<Fake>, fake: &Fake, body: serde_json::Value, headers: &[(&str, &str)]) -> Got {
    let mut h = HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    for (k, v) in headers {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let req = IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers: h,
        body: Bytes::from(body.to_string()),
    };
    let resp = futures::executor::block_on(gw.handle(req));
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
    fake.run_deferred();
    Got {
        status,
        headers,
        body: String::from_utf8(bytes).unwrap(),
    }
}

fn chat(prompt: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "g",
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    })
}

#[test]
fn a_whole_answer_is_stored_then_replayed_whole_and_as_a_stream_for_free() {
    let fake = Fake::new();
    let gw = gateway(&fake, CONFIG);
    let first = ask(&gw, &fake, chat("hi", false), &[]);
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.header("x-dx-cache"), "stored");
    assert_eq!(first.text(), "answer 1");

    fake.clock.fetch_add(7_500, Ordering::SeqCst);
    let again = ask(&gw, &fake, chat("hi", false), &[]);
    assert_eq!(again.header("x-dx-cache"), "hit");
    assert_eq!(again.header("age"), "7");
    assert_eq!(again.header("x-dx-cost-usd"), "0");
    assert_eq!(again.text(), "answer 1");
    assert_eq!(fake.calls(), 1, "a hit never goes upstream");
    let line = fake.lines.lock().unwrap().last().cloned().unwrap();
    assert!(
        line.contains(r#""cache":"hit""#),
        "the access log marks it: {line}"
    );
    assert!(line.contains(r#""cost":0.0"#), "{line}");

    // a streaming client gets the stored answer as a proper stream
    let mut body = chat("hi", true);
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let streamed = ask(&gw, &fake, body, &[]);
    assert_eq!(streamed.header("x-dx-cache"), "hit");
    assert_eq!(
        streamed.header("content-type"),
        "text/event-stream",
        "{}",
        streamed.body
    );
    assert_eq!(streamed.text(), "answer 1");
    assert!(streamed.has_usage_chunk(), "{}", streamed.body);
    assert_eq!(fake.calls(), 1);

    // another prompt is a miss
    let other = ask(&gw, &fake, chat("hello", false), &[]);
    assert_eq!(other.text(), "answer 2");
}

#[test]
fn entries_expire_after_their_ttl_by_the_injected_clock() {
    let fake = Fake::new();
    let gw = gateway(&fake, CONFIG);
    ask(&gw, &fake, chat("hi", false), &[]);
    fake.clock.fetch_add(299_999, Ordering::SeqCst);
    assert_eq!(ask(&gw, &fake, chat("hi", false), &[]).text(), "answer 1");
    fake.clock.fetch_add(1, Ordering::SeqCst);
    let after = ask(&gw, &fake, chat("hi", false), &[]);
    assert_eq!(after.text(), "answer 2");
    assert_eq!(after.header("x-dx-cache"), "stored");

    // the request's own ttl (LiteLLM's `cache` field)
    let mut short = chat("brief", false);
    short["cache"] = serde_json::json!({"ttl": 2});
    ask(&gw, &fake, short.clone(), &[]);
    fake.clock.fetch_add(2_000, Ordering::SeqCst);
    assert_eq!(ask(&gw, &fake, short, &[]).header("x-dx-cache"), "stored");
}

#[test]
fn a_clean_stream_is_stored_after_it_ends_and_replayed_byte_for_byte() {
    let fake = Fake::new();
    let gw = gateway(&fake, CONFIG);
    let first = ask(&gw, &fake, chat("hi", true), &[]);
    assert_eq!(first.header("x-dx-cache"), "miss");
    assert_eq!(first.text(), "answer 1");
    let again = ask(&gw, &fake, chat("hi", true), &[]);
    assert_eq!(again.header("x-dx-cache"), "hit");
    assert_eq!(again.body, first.body);
    assert_eq!(fake.calls(), 1);
    // a stored stream without usage does not serve a client that wants it,
    // nor a whole-answer client: those miss and store their own
    let mut with_usage = chat("hi", true);
    with_usage["stream_options"] = serde_json::json!({"include_usage": true});
    assert_eq!(ask(&gw, &fake, with_usage, &[]).text(), "answer 2");
    let whole = ask(&gw, &fake, chat("hi", false), &[]);
    assert_eq!(whole.text(), "answer 3");
    assert_eq!(whole.header("x-dx-cache"), "stored");
}

#[test]
fn errors_and_cut_streams_are_never_stored() {
    let fake = Fake::new();
    let gw = gateway(&fake, CONFIG);
    *fake.act.lock().unwrap() = Act::Status500;
    let failed = ask(&gw, &fake, chat("hi", false), &[]);
    assert!(failed.status.is_server_error(), "{}", failed.status);
    assert_eq!(failed.header("x-dx-cache"), "miss");
    *fake.act.lock().unwrap() = Act::CutStream;
    let cut = ask(&gw, &fake, chat("hi", true), &[]);
    assert!(cut.body.contains("error"), "{}", cut.body);
    *fake.act.lock().unwrap() = Act::Answer;
    let after = ask(&gw, &fake, chat("hi", true), &[]);
    assert_eq!(after.header("x-dx-cache"), "miss");
    assert_eq!(after.text(), "answer 3", "nothing was stored before");
}

#[test]
fn no_cache_refreshes_no_store_leaves_alone_and_groups_can_opt_out() {
    let fake = Fake::new();
    let gw = gateway(&fake, CONFIG);
    ask(&gw, &fake, chat("hi", false), &[]);
    let refreshed = ask(
        &gw,
        &fake,
        chat("hi", false),
        &[("cache-control", "no-cache")],
    );
    assert_eq!(refreshed.header("x-dx-cache"), "stored");
    assert_eq!(refreshed.text(), "answer 2");
    assert_eq!(ask(&gw, &fake, chat("hi", false), &[]).text(), "answer 2");

    let both = ask(
        &gw,
        &fake,
        chat("hi", false),
        &[("cache-control", "no-cache, no-store")],
    );
    assert_eq!(both.header("x-dx-cache"), "bypass");
    assert_eq!(both.text(), "answer 3");
    assert_eq!(ask(&gw, &fake, chat("hi", false), &[]).text(), "answer 2");

    let mut not_stored = chat("new", false);
    not_stored["cache"] = serde_json::json!({"no-store": true});
    assert_eq!(
        ask(&gw, &fake, not_stored.clone(), &[]).header("x-dx-cache"),
        "miss"
    );
    assert_eq!(ask(&gw, &fake, not_stored, &[]).text(), "answer 5");

    let mut off = chat("hi", false);
    off["model"] = "nocache".into();
    let got = ask(&gw, &fake, off.clone(), &[]);
    assert_eq!(got.header("x-dx-cache"), "");
    assert_eq!(ask(&gw, &fake, off, &[]).text(), "answer 7");
}

#[test]
fn without_a_cache_section_nothing_is_cached() {
    let fake = Fake::new();
    let config = CONFIG.split("[cache]").next().unwrap();
    let gw = gateway(&fake, config);
    let first = ask(&gw, &fake, chat("hi", false), &[]);
    assert_eq!(first.header("x-dx-cache"), "");
    assert_eq!(ask(&gw, &fake, chat("hi", false), &[]).text(), "answer 2");
}

#[test]
fn the_cache_section_loads_as_written() {
    let config = Config::parse("[cache]\nttl_s = 300\n").unwrap();
    let cache = config.cache.expect("[cache] turns the cache on");
    assert_eq!(cache.ttl_ms("any-model"), 300_000);
}
