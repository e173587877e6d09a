//! `POST /v1/responses` beside `/v1/chat/completions`: the core's cost per
//! small request, passed through to OpenAI and translated to Anthropic, and
//! per streamed event (rendered from a unified chunk, and relayed as is).

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dx_core::ingress::openai_chat::render_chunk_event;
use dx_core::ingress::openai_responses::{EventRenderer, Head};
use dx_core::relays::responses_relay::ResponsesRelay;
use dx_core::stream::Renderer;
use dx_core::unified::{ChatChunk, ChunkChoice, Delta};
use dx_core::{Bound, Config, IncomingRequest};
use http::{HeaderMap, Method};

const RESPONSES: &[u8] = include_bytes!("../../fixtures/openai/responses-text.json");
const CHAT: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");
const MESSAGE: &[u8] = include_bytes!("../../fixtures/anthropic/messages-text.json");

#[path = "support/canned.rs"]
mod canned;
use canned::{run, Canned};

fn gateway(provider: &str, model: &str, body: &'static [u8]) -> Bound<Canned> {
    let config = Config::parse(&format!(
        r#"
        [[model_list]]
        model_name = "fast"
        provider = "{provider}"
        model = "{model}"
        api_base = "http://upstream.invalid/v1"
        api_key = "sk-upstream"
        "#
    ))
    .unwrap_or_default();
    Bound::new(
        Canned {
            body: Bytes::from_static(body),
        },
        Arc::new(config),
    )
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

fn requests(c: &mut Criterion) {
    let question = "What is the capital of France? Answer in one word.";
    let responses = serde_json::json!({
        "model": "fast", "instructions": "You are a helpful assistant.",
        "input": question, "temperature": 0.2, "store": false,
    });
    let chat = serde_json::json!({
        "model": "fast", "temperature": 0.2,
        "messages": [{"role": "system", "content": "You are a helpful assistant."},
                     {"role": "user", "content": question}],
    });
    let mut g = c.benchmark_group("request");
    let cases = [
        (
            "chat_passthrough",
            gateway("openai", "gpt-4.1-nano", CHAT),
            "/v1/chat/completions",
            &chat,
        ),
        (
            "responses_passthrough",
            gateway("openai", "gpt-4.1-nano", RESPONSES),
            "/v1/responses",
            &responses,
        ),
        (
            "chat_to_anthropic",
            gateway("anthropic", "claude-3-5-haiku-20241022", MESSAGE),
            "/v1/chat/completions",
            &chat,
        ),
        (
            "responses_to_anthropic",
            gateway("anthropic", "claude-3-5-haiku-20241022", MESSAGE),
            "/v1/responses",
            &responses,
        ),
    ];
    for (name, gw, path, body) in &cases {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || request(path, body),
                |r| run(gw, r),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn per_event(c: &mut Criterion) {
    let chunk = ChatChunk {
        id: "msg_1".into(),
        created: 1,
        model: "small-model".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta: Delta {
                text: Some(" Paris".into()),
                ..Delta::default()
            },
            finish_reason: None,
        }],
        usage: None,
    };
    let head = Head {
        id: "resp_1".into(),
        created_at: 1,
        model: "fast".into(),
        echo: Arc::from(&b",\"tools\":[]"[..]),
        shapes: Arc::default(),
    };
    let delta = Bytes::from_static(
        b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\" Paris\",\"logprobs\":[]}\n\n",
    );
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("chat_render_from_unified", |b| {
        b.iter(|| render_chunk_event(&chunk))
    });
    g.bench_function("responses_render_from_unified", |b| {
        let mut r = EventRenderer::new(head.clone());
        let _ = r.chunk(&chunk);
        b.iter(|| r.chunk(&chunk))
    });
    g.bench_function("responses_relay_passthrough", |b| {
        let mut relay = ResponsesRelay::default();
        b.iter(|| relay.push(&delta))
    });
    g.finish();
}

criterion_group!(benches, requests, per_event);
criterion_main!(benches);
