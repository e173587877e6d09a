//! The response cache in the core: the same small chat request with the
//! cache off, as a hit (answered from an in-memory store), and as a refresh
//! (`cache-control: no-cache`: the upstream's answer, then the entry
//! encoded and stored), with ports that answer at once.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::state::{CacheStore, MemoryKv};
use dx_core::{Bound, Config, IncomingRequest};
use http::{HeaderMap, Method, StatusCode};

const COMPLETION: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");

#[derive(Clone, Default)]
struct P {
    deferred: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
}

impl HttpClient for P {
    async fn send(&self, _req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from_static(COMPLETION),
        ))
    }
}
impl Clock for P {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for P {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for P {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.deferred.lock().unwrap().push(work);
    }
}
impl Env for P {
    fn var(&self, name: &str) -> Option<String> {
        (name == "DX_MASTER_KEY").then(|| "sk-bench".to_owned())
    }
}
impl Log for P {
    fn log(&self, line: &str) {
        std::hint::black_box(line);
    }
}

fn request(no_cache: bool) -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("authorization", "Bearer sk-bench".parse().unwrap());
    if no_cache {
        headers.insert("cache-control", "no-cache".parse().unwrap());
    }
    let body = serde_json::json!({
        "model": "fast",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France? Answer in one word."}
        ],
    });
    IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers,
        body: Bytes::from(body.to_string()),
    }
}

/// One request to its last byte, then its deferred work (the store).
fn run(gw: &Bound<P>, p: &P, req: IncomingRequest) -> usize {
    let n = futures::executor::block_on(async { gw.handle(req).await.into_body() });
    let work: Vec<_> = std::mem::take(&mut *p.deferred.lock().unwrap());
    for w in work {
        futures::executor::block_on(w);
    }
    match n {
        dx_core::Body::Full(b) => b.len(),
        _ => 0,
    }
}

fn cache(c: &mut Criterion) {
    let base = "[[model_list]]\nmodel_name = \"fast\"\nprovider = \"openai_compatible\"\nmodel = \"gpt-4.1-nano\"\napi_base = \"http://upstream.invalid/v1\"\napi_key = \"sk-upstream\"\n";
    let mut g = c.benchmark_group("cache");
    for (name, cached, no_cache) in [
        ("off", false, false),
        ("hit", true, false),
        ("refresh (answer, then store)", true, true),
    ] {
        let p = P::default();
        let text = if cached {
            format!("{base}[cache]\nttl_s = 300\n")
        } else {
            base.to_owned()
        };
        let mut gw = Bound::new(p.clone(), Arc::new(Config::parse(&text).unwrap()));
        if cached {
            let store: Arc<dyn CacheStore> = Arc::new(MemoryKv::new(p.clone()));
            gw = gw.with_cache(store);
        }
        assert!(run(&gw, &p, request(false)) > 0);
        g.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| run(&gw, &p, request(no_cache)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, cache);
criterion_main!(benches);
