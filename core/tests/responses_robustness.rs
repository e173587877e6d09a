//! Mangled Responses API streams, translated to chat chunks, never panic and
//! always end in `[DONE]` or an error event.

use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::relays::translate::TranslateState;
use dx_core::Codec;

const RECORDED: &[u8] =
    include_bytes!("../../fixtures/openai/responses-stream-reasoning-function-calls.chunks.jsonl");

mod support;
use dx_core::codec::DecodeContext;
use support::Rng;

const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "test-model",
    id_prefix: "chatcmpl-",
};

/// The first run of the recording, framed as the API sends it.
fn wire() -> Vec<u8> {
    let mut out = Vec::new();
    for line in RECORDED.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let kind = v["type"].as_str().unwrap().to_owned();
        out.extend_from_slice(format!("event: {kind}\ndata: ").as_bytes());
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
        if kind == "response.completed" {
            break;
        }
    }
    out
}

#[test]
fn mangled_responses_streams_end_in_done_or_an_error_event() {
    let clean = wire();
    let mut rng = Rng(7);
    let mut completed = 0;
    for round in 0..2_000 {
        let mut bytes = clean.clone();
        // Round 0 is the clean stream: it must complete.
        for _ in 0..usize::from(round > 0) * (1 + rng.below(3)) {
            let i = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[i] = rng.next() as u8,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.truncate(i),
            }
        }
        let decoder = StreamDecoder::new(Codec::OpenAiResponses, &DECODE).unwrap();
        let mut state = TranslateState::new(decoder, ChunkRenderer::new(true));
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() && !state.finished {
            let n = 1 + rng.below(rest.len().min(400));
            if let Some(b) = state.push(&rest[..n]) {
                out.extend_from_slice(&b);
            }
            rest = &rest[n..];
        }
        if let Some(b) = state.end() {
            out.extend_from_slice(&b);
        }
        let text = String::from_utf8_lossy(&out);
        let tail = text.trim_end();
        if state.completed() {
            completed += 1;
            assert!(
                tail.ends_with("data: [DONE]"),
                "…{}",
                &tail[tail.len().saturating_sub(200)..]
            );
        } else {
            assert!(
                tail.contains("\"error\""),
                "…{}",
                &tail[tail.len().saturating_sub(200)..]
            );
        }
        if round == 0 {
            assert!(state.completed());
        }
    }
    assert!(completed > 10, "only {completed} streams completed");
}
