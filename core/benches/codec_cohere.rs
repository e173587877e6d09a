//! Cohere v2 stream translation per chunk: SSE event → unified chunk → OpenAI
//! chunk event, the work the gateway does for every event Cohere sends.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dx_core::codec::DecodeContext;
use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::relays::translate::{Renderer, TranslateState};
use dx_core::Codec;

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

const TEXT: &[u8] = include_bytes!("../../fixtures/cohere/chat-v2-stream-text.chunks.jsonl");
const START: &[u8] = b"event: message-start\ndata: {\"id\":\"321d178c-2c12-44d3-ae42-2f5510f6b1cc\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n";
const TEXT_DELTA: &[u8] = b"event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\" capital\"}}}}\n\n";
const ARGS_DELTA: &[u8] = b"event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"location\"}}}}}\n\n";

/// The recorded payloads back on the wire with their `event:` lines.
fn framed(lines: &[u8]) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut n = 0;
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        out.extend_from_slice(
            format!("event: {}\ndata: ", v["type"].as_str().unwrap_or("")).as_bytes(),
        );
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
        n += 1;
    }
    (out, n)
}

fn started() -> (StreamDecoder, ChunkRenderer) {
    let mut decoder = StreamDecoder::new(Codec::Cohere, &DECODE).unwrap_or_else(|_| unreachable!());
    let mut renderer = ChunkRenderer::new(true).with_fallback("command-a-03-2025", 1_700_000_000);
    for c in decoder.push(START).unwrap_or_default() {
        renderer.chunk(&c);
    }
    (decoder, renderer)
}

fn per_chunk(c: &mut Criterion) {
    let mut g = c.benchmark_group("cohere_chunk");
    g.throughput(Throughput::Elements(1));
    for (name, event) in [
        ("content_delta", TEXT_DELTA),
        ("tool_call_delta", ARGS_DELTA),
    ] {
        let (mut decoder, mut renderer) = started();
        g.bench_function(format!("decode_and_render_{name}"), |b| {
            b.iter(|| {
                let mut n = 0;
                for chunk in decoder.push(event).unwrap_or_default() {
                    n += renderer.chunk(&chunk).map_or(0, |b| b.len());
                }
                n
            })
        });
    }
    g.finish();

    let (wire, events) = framed(TEXT);
    let mut g = c.benchmark_group("cohere_stream");
    g.throughput(Throughput::Elements(events));
    g.bench_function("recorded_text_stream_translated", |b| {
        b.iter(|| {
            let decoder =
                StreamDecoder::new(Codec::Cohere, &DECODE).unwrap_or_else(|_| unreachable!());
            let mut state = TranslateState::new(decoder, ChunkRenderer::new(true));
            let n = state.push(&wire).map_or(0, |b| b.len());
            n + state.end().map_or(0, |b| b.len())
        })
    });
    g.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
