//! Azure stream chunks (OpenAI's plus `content_filter_results`, about three
//! times the bytes) through the same-format relay and through translation.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dx_core::codec::DecodeContext;
use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::relays::openai_relay::RelayState;
use dx_core::relays::translate::Renderer;
use dx_core::Codec;

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

const RECORDED: &str =
    include_str!("../../fixtures/azure/chat-stream-content-filter-results.chunks.jsonl");

fn per_chunk(c: &mut Criterion) {
    // A content chunk as recorded: a word plus four filter verdicts.
    let line = RECORDED
        .lines()
        .find(|l| l.contains("\"content\":\" Denmark\""))
        .unwrap_or_default();
    let event = format!("data: {line}\n\n").into_bytes();
    let mut g = c.benchmark_group("azure_chunk");
    g.throughput(Throughput::Elements(1));
    g.bench_function("relay_passthrough", |b| {
        let mut relay = RelayState::new(true);
        b.iter(|| relay.push(&event))
    });
    g.bench_function("decode_and_render_translation", |b| {
        let mut decoder =
            StreamDecoder::new(Codec::AzureOpenAi, &DECODE).unwrap_or_else(|_| unreachable!());
        let mut renderer = ChunkRenderer::new(true);
        b.iter(|| {
            let mut n = 0;
            for chunk in decoder.push(&event).unwrap_or_default() {
                n += renderer.chunk(&chunk).map_or(0, |b| b.len());
            }
            n
        })
    });
    // The same bytes through the plain OpenAI decoder: what Azure's annotation
    // handling adds on top.
    g.bench_function("decode_and_render_openai_decoder_baseline", |b| {
        let mut decoder =
            StreamDecoder::new(Codec::OpenAiChat, &DECODE).unwrap_or_else(|_| unreachable!());
        let mut renderer = ChunkRenderer::new(true);
        b.iter(|| {
            let mut n = 0;
            for chunk in decoder.push(&event).unwrap_or_default() {
                n += renderer.chunk(&chunk).map_or(0, |b| b.len());
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
