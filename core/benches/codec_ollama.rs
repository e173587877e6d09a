//! Ollama stream translation per chunk: NDJSON line → unified chunk → OpenAI
//! chunk event, the work the gateway does for every line Ollama sends.

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

const FIRST: &[u8] = b"{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\",\"images\":null},\"done\":false}\n";
const LINE: &[u8] = b"{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.396612Z\",\"message\":{\"role\":\"assistant\",\"content\":\" sky\"},\"done\":false}\n";
const TOOLS: &[u8] = include_bytes!("../../fixtures/ollama/api-chat-stream-tools.ndjson");
const FIRST_AND_FINAL: &[u8] =
    include_bytes!("../../fixtures/ollama/api-chat-stream-first-and-final.ndjson");

fn per_chunk(c: &mut Criterion) {
    let mut g = c.benchmark_group("ollama_chunk");
    g.throughput(Throughput::Elements(1));
    let mut decoder = StreamDecoder::new(Codec::Ollama, &DECODE).unwrap_or_else(|_| unreachable!());
    let mut renderer = ChunkRenderer::new(true);
    for c in decoder.push(FIRST).unwrap_or_default() {
        renderer.chunk(&c);
    }
    g.bench_function("decode_and_render_content_line", |b| {
        b.iter(|| {
            let mut n = 0;
            for chunk in decoder.push(LINE).unwrap_or_default() {
                n += renderer.chunk(&chunk).map_or(0, |b| b.len());
            }
            n
        })
    });
    // A tool-call line: arguments re-serialized, an id derived.
    let tool_line = TOOLS.split(|&b| b == b'\n').next().unwrap_or_default();
    let tool_line = [tool_line, b"\n"].concat();
    g.bench_function("decode_and_render_tool_call_line", |b| {
        b.iter(|| {
            let mut d =
                StreamDecoder::new(Codec::Ollama, &DECODE).unwrap_or_else(|_| unreachable!());
            let mut r = ChunkRenderer::new(true);
            let mut n = 0;
            for chunk in d.push(&tool_line).unwrap_or_default() {
                n += r.chunk(&chunk).map_or(0, |b| b.len());
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ollama_stream");
    g.throughput(Throughput::Elements(2));
    g.bench_function("recorded_first_and_final_translated", |b| {
        b.iter(|| {
            let decoder =
                StreamDecoder::new(Codec::Ollama, &DECODE).unwrap_or_else(|_| unreachable!());
            let mut state = TranslateState::new(decoder, ChunkRenderer::new(true));
            let n = state.push(FIRST_AND_FINAL).map_or(0, |b| b.len());
            n + state.end().map_or(0, |b| b.len())
        })
    });
    g.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
