//! The Responses API codec per stream event: decode a typed event into a
//! unified chunk and render it as an OpenAI chat chunk (budget: 2 µs).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dx_core::codec::openai_responses::StreamDecoder as ResponsesDecoder;
use dx_core::codec::DecodeContext;
use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::{render_chunk_event, ChunkRenderer};
use dx_core::relays::translate::TranslateState;
use dx_core::Codec;

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

const TOOLS: &[u8] =
    include_bytes!("../../fixtures/openai/responses-stream-reasoning-function-calls.chunks.jsonl");
const TEXT: &[u8] = include_bytes!("../../fixtures/openai/responses-stream-text.chunks.jsonl");

/// The first run of a recording, one framed SSE event per element.
fn events(jsonl: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        let kind = v["type"].as_str().unwrap_or_default().to_owned();
        out.push([format!("event: {kind}\ndata: ").as_bytes(), line, b"\n\n"].concat());
        if kind == "response.completed" {
            break;
        }
    }
    out
}

fn data_of<'a>(events: &'a [Vec<u8>], kind: &str) -> &'a [u8] {
    let e = events
        .iter()
        .find(|e| e.starts_with(format!("event: {kind}\n").as_bytes()))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let start = e
        .windows(6)
        .position(|w| w == b"data: ")
        .map_or(0, |i| i + 6);
    &e[start..e.len().saturating_sub(2)]
}

fn per_event(c: &mut Criterion) {
    let tools = events(TOOLS);
    let created = data_of(&tools, "response.created").to_vec();
    let mut g = c.benchmark_group("responses_event");
    g.throughput(Throughput::Elements(1));
    for kind in [
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
    ] {
        let data = data_of(&tools, kind).to_vec();
        g.bench_function(format!("decode_and_render/{kind}"), |b| {
            b.iter_batched(
                || {
                    let mut d = ResponsesDecoder::new(&DECODE);
                    let mut out = Vec::new();
                    let _ = d.event(&created, &mut out);
                    (d, Vec::with_capacity(1))
                },
                |(mut d, mut out)| {
                    let _ = d.event(&data, &mut out);
                    let rendered: Vec<_> = out.iter().map(render_chunk_event).collect();
                    (d, rendered)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn whole_streams(c: &mut Criterion) {
    let mut g = c.benchmark_group("responses_stream");
    for (name, evs) in [
        ("reasoning_and_call", events(TOOLS)),
        ("two_messages", events(TEXT)),
    ] {
        g.throughput(Throughput::Elements(evs.len() as u64));
        g.bench_function(format!("translate_per_event/{name}"), |b| {
            b.iter_batched(
                || {
                    let decoder = StreamDecoder::new(Codec::OpenAiResponses, &DECODE).ok();
                    decoder.map(|d| TranslateState::new(d, ChunkRenderer::new(true)))
                },
                |state| {
                    let mut state = state?;
                    let mut n = 0;
                    for e in &evs {
                        n += state.push(e).map_or(0, |b| b.len());
                    }
                    Some(n)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, per_event, whole_streams);
criterion_main!(benches);
