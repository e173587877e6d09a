//! The Anthropic codec per stream event: SSE bytes → unified chunk → the
//! OpenAI chunk a client receives (the translated path's per-chunk cost),
//! plus a whole recorded stream and request encoding.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dx_core::codec::anthropic::{decode_response, render_request, Options, StreamDecoder, Target};
use dx_core::codec::DecodeContext;
use dx_core::ingress::openai_chat::render_chunk_event;
use dx_core::unified::{ChatRequest, Message, Part, Role};

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

const STREAM: &[u8] = include_bytes!("../../fixtures/anthropic/messages-stream-tool-use.sse");
const TEXT: &[u8] = include_bytes!("../../fixtures/anthropic/messages-text.json");

const HEAD: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
const TEXT_DELTA: &[u8] = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"'m doing well, thank you for asking\"}}\n\n";

fn per_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("anthropic_chunk");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_text_delta", |b| {
        let mut d = StreamDecoder::new(&DECODE);
        let _ = d.push(HEAD);
        b.iter(|| d.push(TEXT_DELTA))
    });
    g.bench_function("decode_and_render_openai_chunk", |b| {
        let mut d = StreamDecoder::new(&DECODE);
        let _ = d.push(HEAD);
        b.iter(|| {
            let chunks = d.push(TEXT_DELTA).unwrap_or_default();
            chunks
                .iter()
                .map(|c| render_chunk_event(c).len())
                .sum::<usize>()
        })
    });
    g.finish();

    let events = STREAM.windows(2).filter(|w| w == b"\n\n").count() as u64;
    let mut g = c.benchmark_group("anthropic_stream");
    g.throughput(Throughput::Elements(events));
    g.bench_function("whole_tool_use_stream_decode_and_render", |b| {
        b.iter(|| {
            let mut d = StreamDecoder::new(&DECODE);
            let mut n = 0;
            for c in d.push(STREAM).unwrap_or_default() {
                n += render_chunk_event(&c).len();
            }
            n
        })
    });
    g.finish();
}

fn per_request(c: &mut Criterion) {
    let req = ChatRequest {
        messages: vec![
            Message {
                role: Role::System,
                content: vec![Part::Text {
                    text: "You are a helpful assistant.".into(),
                    cache_control: None,
                }],
                name: None,
            },
            Message {
                role: Role::User,
                content: vec![Part::Text {
                    text: "What is the capital of France? Answer in one word.".into(),
                    cache_control: None,
                }],
                name: None,
            },
        ],
        temperature: Some(0.2),
        ..ChatRequest::default()
    };
    let opts = Options {
        model: "claude-sonnet-4-5-20250929",
        target: Target::Anthropic,
        auto_cache: true,
    };
    let mut g = c.benchmark_group("anthropic_request");
    g.bench_function("encode_small_request", |b| {
        b.iter(|| render_request(&req, &opts))
    });
    g.bench_function("decode_text_response", |b| {
        b.iter(|| decode_response(TEXT, &DECODE))
    });
    g.finish();
}

criterion_group!(benches, per_event, per_request);
criterion_main!(benches);
