//! The Anthropic Messages ingress: what the gateway adds per request and per
//! stream event when the upstream speaks Anthropic (passthrough: bytes
//! relayed, usage read) versus another format (translation: parse → unified
//! → encode, decode → unified → Anthropic events). In-memory ports, no network.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dx_core::codec::StreamDecoder;
use dx_core::ingress::anthropic_messages::EventRenderer;
use dx_core::relays::anthropic_relay::RelayState;
use dx_core::relays::translate::TranslateState;
use dx_core::{Bound, Codec, Config, IncomingRequest};
use http::{HeaderMap, Method};

const ANTHROPIC_TEXT: &[u8] = include_bytes!("../../fixtures/anthropic/messages-text.json");
const OPENAI_TEXT: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");
const ANTHROPIC_STREAM: &[u8] =
    include_bytes!("../../fixtures/anthropic/messages-stream-basic.sse");
const OPENAI_STREAM: &[u8] = include_bytes!("../../fixtures/openai/chat-stream-text-usage.sse");

#[path = "support/canned.rs"]
mod canned;
use canned::{run, Canned};
use dx_core::codec::DecodeContext;

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

fn gateway(body: &'static [u8]) -> Bound<Canned> {
    let config = Config::parse(
        r#"
        [[model_list]]
        model_name = "claude"
        provider = "anthropic"
        model = "claude-sonnet-4-5-20250929"
        api_base = "http://upstream.invalid"
        api_key = "sk-upstream"
        [[model_list]]
        model_name = "gpt"
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

fn request(model: &str, stream: bool) -> IncomingRequest {
    let body = serde_json::to_vec(&serde_json::json!({
        "model": model,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a helpful assistant.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        "stream": stream,
    }))
    .unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", "sk-bench".parse().unwrap());
    headers.insert("anthropic-version", "2023-06-01".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    IncomingRequest {
        method: Method::POST,
        path: "/v1/messages".into(),
        query: Some("beta=true".into()),
        headers,
        body: Bytes::from(body),
    }
}

fn per_request(c: &mut Criterion) {
    let mut g = c.benchmark_group("messages_request");
    let claude = gateway(ANTHROPIC_TEXT);
    g.bench_function("passthrough_anthropic", |b| {
        b.iter_batched(
            || request("claude", false),
            |r| run(&claude, r),
            BatchSize::SmallInput,
        )
    });
    let gpt = gateway(OPENAI_TEXT);
    g.bench_function("translated_openai", |b| {
        b.iter_batched(
            || request("gpt", false),
            |r| run(&gpt, r),
            BatchSize::SmallInput,
        )
    });
    let claude_stream = gateway(ANTHROPIC_STREAM);
    g.bench_function("passthrough_anthropic_whole_stream", |b| {
        b.iter_batched(
            || request("claude", true),
            |r| run(&claude_stream, r),
            BatchSize::SmallInput,
        )
    });
    let gpt_stream = gateway(OPENAI_STREAM);
    g.bench_function("translated_openai_whole_stream", |b| {
        b.iter_batched(
            || request("gpt", true),
            |r| run(&gpt_stream, r),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn per_event(c: &mut Criterion) {
    let anthropic_event: &[u8] = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n";
    let anthropic_head: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    let openai_event = OPENAI_STREAM
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"data: {") && l.windows(9).any(|w| w == b"\"content\""))
        .map(|l| [l, b"\n\n"].concat())
        .unwrap_or_default();

    let mut g = c.benchmark_group("messages_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("passthrough_relay", |b| {
        let mut relay = RelayState::new();
        relay.push(anthropic_head);
        b.iter(|| relay.push(anthropic_event))
    });
    g.bench_function("translated_from_openai", |b| {
        let decoder = StreamDecoder::new(Codec::OpenAiChat, &DECODE).unwrap();
        let mut state = TranslateState::new(decoder, EventRenderer::new("gpt"));
        b.iter(|| state.push(&openai_event))
    });
    g.bench_function("translated_from_anthropic", |b| {
        let decoder = StreamDecoder::new(Codec::Anthropic, &DECODE).unwrap();
        let mut state = TranslateState::new(decoder, EventRenderer::new("claude"));
        state.push(anthropic_head);
        b.iter(|| state.push(anthropic_event))
    });
    g.finish();
}

criterion_group!(benches, per_request, per_event);
criterion_main!(benches);
