//! The core's cost per embeddings and rerank request, with in-memory ports
//! (everything but the network): an OpenAI-format passthrough, a Cohere
//! native embeddings request mapped back to OpenAI's shape (float and
//! base64), and a Cohere rerank; 3 inputs of 1,024 numbers each.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dx_core::{Bound, Config, IncomingRequest};
use http::{HeaderMap, Method};

#[path = "support/canned.rs"]
mod canned;
use canned::{run, Canned};

const DIMS: usize = 1024;

fn vector(seed: usize) -> Vec<f64> {
    (0..DIMS)
        .map(|i| ((i * 31 + seed * 17) % 2000) as f64 / 1000.0 - 1.0)
        .collect()
}

fn gateway(answer: serde_json::Value) -> Bound<Canned> {
    let config = Config::parse(
        r#"
        [[model_list]]
        model_name = "oai"
        provider = "openai_compatible"
        model = "text-embedding-3-small"
        api_base = "http://upstream.invalid/v1"
        api_key = "sk-upstream"

        [[model_list]]
        model_name = "co"
        provider = "cohere"
        model = "embed-v4.0"
        api_base = "http://upstream.invalid"
        api_key = "sk-upstream"

        [[model_list]]
        model_name = "rr"
        provider = "cohere"
        model = "rerank-v3.5"
        api_base = "http://upstream.invalid"
        api_key = "sk-upstream"
        "#,
    )
    .unwrap_or_default();
    let body = Bytes::from(serde_json::to_vec(&answer).unwrap());
    Bound::new(Canned { body }, Arc::new(config))
}

fn request(path: &str, body: &serde_json::Value) -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer sk-bench".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    IncomingRequest {
        method: Method::POST,
        path: path.into(),
        query: None,
        headers,
        body: Bytes::from(serde_json::to_vec(body).unwrap()),
    }
}

/// What is measured is a success, not a quick error.
fn assert_ok(gw: &Bound<Canned>, req: IncomingRequest) {
    let resp = futures::executor::block_on(gw.handle(req));
    assert_eq!(resp.status(), 200);
}

fn embeddings(c: &mut Criterion) {
    let texts = ["the quick brown fox", "jumps over", "the lazy dog"];
    let vectors: Vec<Vec<f64>> = (0..3).map(vector).collect();
    let openai = gateway(serde_json::json!({
        "object": "list",
        "data": vectors.iter().enumerate().map(|(i, v)| serde_json::json!({"object": "embedding", "index": i, "embedding": v})).collect::<Vec<_>>(),
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 9, "total_tokens": 9},
    }));
    let cohere = gateway(serde_json::json!({
        "id": "x", "embeddings": {"float": vectors}, "texts": texts,
        "meta": {"billed_units": {"input_tokens": 9}},
    }));
    let rerank = gateway(serde_json::json!({
        "id": "x", "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}, {"index": 2, "relevance_score": 0.1}],
        "meta": {"billed_units": {"search_units": 1}},
    }));
    let mut g = c.benchmark_group("embeddings");
    let cases = [
        ("openai_passthrough_float", &openai, "oai", "float"),
        ("cohere_native_float", &cohere, "co", "float"),
        ("cohere_native_base64", &cohere, "co", "base64"),
    ];
    for (name, gw, model, format) in cases {
        let body = serde_json::json!({"model": model, "input": texts, "encoding_format": format});
        assert_ok(gw, request("/v1/embeddings", &body));
        g.bench_function(name, |b| {
            b.iter_batched(
                || request("/v1/embeddings", &body),
                |r| run(gw, r),
                BatchSize::SmallInput,
            )
        });
    }
    let body = serde_json::json!({"model": "rr", "query": "a fox", "documents": texts, "return_documents": true});
    assert_ok(&rerank, request("/v1/rerank", &body));
    g.bench_function("cohere_rerank", |b| {
        b.iter_batched(
            || request("/v1/rerank", &body),
            |r| run(&rerank, r),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, embeddings);
criterion_main!(benches);
