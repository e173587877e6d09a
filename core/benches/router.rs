//! What a model group adds to a request: the same small chat request to a
//! single deployment and to a group of five under each strategy (every
//! deployment resolved, priced and ordered per request), with in-memory
//! ports that answer at once.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dx_core::{Bound, Config, IncomingRequest};
use http::{HeaderMap, Method};

const COMPLETION: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");

#[path = "support/canned.rs"]
mod canned;
use canned::{run, Canned};

const REGIONS: [&str; 5] = [
    "us-east-1",
    "eu-central-1",
    "ap-southeast-1",
    "europe-west4",
    "westus2",
];

fn config(deployments: usize, strategy: &str) -> Config {
    let mut text = format!("[router_settings]\nrouting_strategy = \"{strategy}\"\n");
    for (i, region) in REGIONS.iter().enumerate().take(deployments) {
        text += &format!(
            "[[model_list]]\nmodel_name = \"fast\"\nid = \"d{i}\"\nprovider = \"openai_compatible\"\nmodel = \"gpt-4.1-nano\"\napi_base = \"http://upstream{i}.invalid/v1\"\napi_key = \"sk-upstream\"\nregion = \"{region}\"\nrpm = 100000\ninput_cost_per_token = 0.000000{}\noutput_cost_per_token = 0.000001\n",
            i + 1
        );
    }
    Config::parse(&text).unwrap()
}

fn request() -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-dx-geo", "50.11,8.68".parse().unwrap());
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

fn router(c: &mut Criterion) {
    let mut g = c.benchmark_group("router");
    let cases = [
        ("single deployment", 1, "simple-shuffle"),
        ("group of 5, simple-shuffle", 5, "simple-shuffle"),
        ("group of 5, least-busy", 5, "least-busy"),
        (
            "group of 5, latency-based-routing",
            5,
            "latency-based-routing",
        ),
        ("group of 5, cost-based-routing", 5, "cost-based-routing"),
        ("group of 5, usage-based-routing", 5, "usage-based-routing"),
        ("group of 5, nearest", 5, "nearest"),
    ];
    for (name, n, strategy) in cases {
        let gw = Bound::new(
            Canned {
                body: Bytes::from_static(COMPLETION),
            },
            Arc::new(config(n, strategy)),
        );
        assert!(run(&gw, request()) > 0);
        g.bench_function(name, |b| {
            b.iter_batched(|| (), |()| run(&gw, request()), BatchSize::SmallInput)
        });
    }
    g.finish();
}

criterion_group!(benches, router);
criterion_main!(benches);
