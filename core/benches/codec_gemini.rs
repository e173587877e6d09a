//! The Gemini codec per stream chunk: one `streamGenerateContent` SSE event
//! decoded into unified chunks and rendered as OpenAI chunk events (the work
//! the gateway does per chunk when translating), plus a whole response.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dx_core::codec::gemini::{decode_response, StreamDecoder};
use dx_core::codec::DecodeContext;
use dx_core::codec::StreamDecoder as AnyDecoder;
use dx_core::ingress::openai_chat::{render_chunk_event, ChunkRenderer};
use dx_core::relays::translate::TranslateState;

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

const TEXT_STREAM: &[u8] = include_bytes!("../../fixtures/gemini/streamGenerateContent-text.sse");
const SAFETY_STREAM: &[u8] =
    include_bytes!("../../fixtures/gemini/streamGenerateContent-error-mid-stream.sse");
const TOOL_CHUNKS: &[u8] =
    include_bytes!("../../fixtures/gemini/streamGenerateContent-tool-call-gemini3.chunks.jsonl");
const TOOL_RESPONSE: &[u8] =
    include_bytes!("../../fixtures/gemini/generateContent-tool-call-gemini3.json");

/// The first complete event of an SSE body (CRLF or LF framed).
fn first_event(body: &[u8]) -> Vec<u8> {
    for sep in [&b"\r\n\r\n"[..], b"\n\n"] {
        if let Some(end) = body.windows(sep.len()).position(|w| w == sep) {
            return body[..end + sep.len()].to_vec();
        }
    }
    body.to_vec()
}

fn per_chunk(c: &mut Criterion) {
    let text = first_event(TEXT_STREAM);
    let safety = first_event(SAFETY_STREAM);
    let tool_line = TOOL_CHUNKS
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let tool = [b"data: ", tool_line, b"\r\n\r\n"].concat();

    let mut g = c.benchmark_group("gemini_chunk");
    g.throughput(Throughput::Elements(1));
    for (name, event) in [
        ("text", &text),
        ("text_with_safety_ratings", &safety),
        ("tool_call_with_signature", &tool),
    ] {
        g.bench_function(format!("decode_and_render/{name}"), |b| {
            let mut decoder = StreamDecoder::new(&DECODE);
            b.iter(|| {
                let mut n = 0;
                for chunk in decoder.push(event).unwrap_or_default() {
                    n += render_chunk_event(&chunk).len();
                }
                n
            })
        });
        g.bench_function(format!("translate/{name}"), |b| {
            let mut state = TranslateState::new(
                AnyDecoder::Gemini(StreamDecoder::new(&DECODE)),
                ChunkRenderer::new(true),
            );
            b.iter(|| state.push(event))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gemini_response");
    g.bench_function("decode_tool_call_gemini3", |b| {
        b.iter(|| decode_response(TOOL_RESPONSE, &DECODE))
    });
    g.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
