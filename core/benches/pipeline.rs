//! The core's cost per request and per stream chunk, with in-memory ports:
//! everything the gateway does except the network.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dx_core::codec::openai_chat::decode_chunk;
use dx_core::ingress::openai_chat::render_chunk_event;
use dx_core::relays::openai_relay::RelayState;
use dx_core::{Bound, Config, IncomingRequest};
use http::{HeaderMap, Method};

const COMPLETION: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");
const STREAM: &[u8] = include_bytes!("../../fixtures/openai/chat-stream-text-usage.sse");

#[path = "support/canned.rs"]
mod canned;
use canned::{run, Canned};

fn gateway(body: &'static [u8]) -> Bound<Canned> {
    let config = Config::parse(
        r#"
        [[model_list]]
        model_name = "fast"
        provider = "openai_compatible"
        model = "gpt-4.1-nano"
        api_base = "http://upstream.invalid/v1"
        api_key = "sk-upstream"
        "#,
    )
    .unwrap_or_default();
    Bound::new(
        Canned {
            body: Bytes::from_static(body),
        },
        Arc::new(config),
    )
}

fn request(body: Vec<u8>) -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer sk-bench".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers,
        body: Bytes::from(body),
    }
}

fn chat_body(prompt: &str, stream: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "fast",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": prompt}
        ],
        "temperature": 0.2,
        "stream": stream,
    }))
    .unwrap()
}

fn pipeline(c: &mut Criterion) {
    let gw = gateway(COMPLETION);
    let small = chat_body("What is the capital of France? Answer in one word.", false);
    let mut g = c.benchmark_group("request");
    g.bench_function("small_chat_non_stream", |b| {
        b.iter_batched(
            || request(small.clone()),
            |r| run(&gw, r),
            BatchSize::SmallInput,
        )
    });
    let big_prompt = "lorem ipsum dolor sit amet ".repeat(200 * 1024 / 27);
    let big = chat_body(&big_prompt, false);
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("prompt_200kb_non_stream", |b| {
        b.iter_batched(
            || request(big.clone()),
            |r| run(&gw, r),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let gw_stream = gateway(STREAM);
    let stream_req = chat_body("Weather in San Francisco?", true);
    let events = STREAM.windows(2).filter(|w| w == b"\n\n").count() as u64;
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(events));
    g.bench_function("whole_stream_passthrough", |b| {
        b.iter_batched(
            || request(stream_req.clone()),
            |r| run(&gw_stream, r),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn per_chunk(c: &mut Criterion) {
    let event = STREAM
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"data: {") && l.windows(9).any(|w| w == b"\"content\""))
        .map(|l| [l, b"\n\n"].concat())
        .unwrap_or_default();
    let data = event[6..event.len() - 2].to_vec();
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Elements(1));
    g.bench_function("relay_passthrough", |b| {
        let mut relay = RelayState::new(true);
        b.iter(|| relay.push(&event))
    });
    g.bench_function("decode_to_unified", |b| b.iter(|| decode_chunk(&data)));
    let chunk = decode_chunk(&data).unwrap();
    g.bench_function("decode_and_render_translation", |b| {
        b.iter(|| render_chunk_event(&decode_chunk(&data).unwrap()))
    });
    g.bench_function("render_from_unified", |b| {
        b.iter(|| render_chunk_event(&chunk))
    });
    g.finish();
}

criterion_group!(benches, pipeline, per_chunk);
criterion_main!(benches);
