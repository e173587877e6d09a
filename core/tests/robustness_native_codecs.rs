//! The Cohere, Ollama and Azure stream decoders under hostile bytes: a
//! mangled upstream stream, translated for an OpenAI client, never panics and
//! always ends in `[DONE]` or an error event.

use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::relays::translate::TranslateState;
use dx_core::Codec;

const COHERE: &[u8] = include_bytes!("../../fixtures/cohere/chat-v2-stream-tool-call.chunks.jsonl");
const OLLAMA: &[u8] =
    include_bytes!("../../fixtures/ollama/api-chat-stream-first-and-final.ndjson");
const OLLAMA_TOOLS: &[u8] = include_bytes!("../../fixtures/ollama/api-chat-stream-tools.ndjson");
const AZURE: &[u8] = include_bytes!("../../fixtures/azure/chat-stream-content-filter-blocked.sse");

mod support;
use dx_core::codec::DecodeContext;
use support::Rng;

const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "test-model",
    id_prefix: "chatcmpl-",
};

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            break;
        }
        let i = rng.below(out.len());
        match rng.below(4) {
            0 => out[i] = rng.next() as u8,
            1 => {
                out.remove(i);
            }
            2 => out.insert(i, b"{}[]\":,\\\n\r"[rng.below(10)]),
            _ => out.truncate(i),
        }
    }
    out
}

fn cohere_wire() -> Vec<u8> {
    let mut out = Vec::new();
    for line in COHERE.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        out.extend_from_slice(format!("event: {}\ndata: ", v["type"].as_str().unwrap()).as_bytes());
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
    }
    out
}

fn translate(codec: Codec, wire: &[u8], rng: &mut Rng) -> String {
    let decoder = StreamDecoder::new(codec, &DECODE).unwrap();
    let mut state = TranslateState::new(decoder, ChunkRenderer::new(rng.below(2) == 0));
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() && !state.finished {
        let n = 1 + rng.below(rest.len().min(300));
        out.extend_from_slice(&state.push(&rest[..n]).unwrap_or_default());
        rest = &rest[n..];
    }
    out.extend_from_slice(&state.end().unwrap_or_default());
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn untouched_recordings_end_in_done() {
    let mut rng = Rng(7);
    for (codec, wire) in [
        (Codec::Cohere, cohere_wire()),
        (Codec::Ollama, OLLAMA.to_vec()),
        (Codec::Ollama, OLLAMA_TOOLS.to_vec()),
        (Codec::AzureOpenAi, AZURE.to_vec()),
    ] {
        let text = translate(codec, &wire, &mut rng);
        assert!(text.ends_with("data: [DONE]\n\n"), "{codec:?}: {text}");
        assert!(!text.contains("\"error\""), "{codec:?}: {text}");
    }
}

#[test]
fn mangled_streams_end_in_done_or_an_error_event() {
    let mut rng = Rng(0x5eed);
    let cohere = cohere_wire();
    for i in 0..6_000 {
        let (codec, base): (Codec, &[u8]) = match i % 4 {
            0 => (Codec::Cohere, &cohere),
            1 => (Codec::Ollama, OLLAMA),
            2 => (Codec::Ollama, OLLAMA_TOOLS),
            _ => (Codec::AzureOpenAi, AZURE),
        };
        let wire = mutate(&mut rng, base);
        let text = translate(codec, &wire, &mut rng);
        let tail = text.trim_end();
        assert!(
            tail.ends_with("data: [DONE]")
                || tail
                    .rsplit("\n\n")
                    .next()
                    .is_some_and(|last| last.starts_with("data: {\"error\":{")),
            "{codec:?} stream ended without [DONE] or an error: …{}",
            &tail[tail.len().saturating_sub(200)..]
        );
    }
}
