//! Upstream bytes through every codec: the non-streamed response decoder,
//! the stream decoder and the error decoder of each wire format, and the
//! client renderings of what they decode.
//!
//! Input: codec byte, mode byte (response / stream / error / Bedrock frames
//! built from `eventType payload` lines), split-or-status byte, then the body.

#![no_main]

use dx_core::codec::{self, DecodeContext, StreamDecoder};
use dx_core::ingress::{anthropic_messages, openai_chat};
use dx_fuzz::{bedrock_frames, deployments, pieces, Input};
use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let (codec, deployment) = &deployments()[usize::from(input.byte()) % deployments().len()];
    let mode = input.byte();
    let third = input.byte();
    let body = input.rest();
    match mode % 4 {
        0 => {
            if let Ok(r) = codec::decode_response(*codec, body, &context(deployment)) {
                assert_json(&openai_chat::render_response(&r), "OpenAI response");
                assert_json(
                    &anthropic_messages::render_response(&r),
                    "Anthropic response",
                );
            }
        }
        1 => stream(*codec, deployment, &pieces(body, third)),
        2 => {
            const STATUSES: [u16; 10] = [400, 401, 403, 404, 408, 413, 422, 429, 500, 529];
            let status = StatusCode::from_u16(STATUSES[usize::from(third) % STATUSES.len()])
                .unwrap_or(StatusCode::BAD_REQUEST);
            let mut headers = HeaderMap::new();
            if third & 0x80 != 0 {
                headers.insert("retry-after", HeaderValue::from_static("7"));
                headers.insert("content-type", HeaderValue::from_static("text/html"));
            }
            let e = codec::error_decoder(*codec)(status, &headers, body, deployment);
            assert!(
                e.status.is_client_error() || e.status.is_server_error(),
                "an upstream {status} became {}",
                e.status
            );
            assert_json(&e.to_openai_json(), "OpenAI error");
            assert_json(&e.to_anthropic_json(), "Anthropic error");
        }
        _ => stream(*codec, deployment, &pieces(&bedrock_frames(body), third)),
    }
});

fn stream(codec: dx_core::Codec, deployment: &dx_core::Deployment, chunks: &[&[u8]]) {
    let Ok(mut decoder) = StreamDecoder::new(codec, &context(deployment)) else {
        return;
    };
    let mut events = Vec::new();
    for c in chunks {
        match decoder.push(c) {
            Ok(chunks) => events.extend(chunks),
            Err(e) => {
                assert_json(&e.to_openai_json(), "stream error");
                return;
            }
        }
    }
    if let Ok(chunks) = decoder.finish() {
        events.extend(chunks);
    }
    let _ = decoder.is_done();
    for c in &events {
        let event = openai_chat::render_chunk_event(c);
        let data = event
            .strip_prefix(b"data: ")
            .and_then(|d| d.strip_suffix(b"\n\n"))
            .unwrap_or_else(|| panic!("not one SSE event: {:?}", String::from_utf8_lossy(&event)));
        assert_json(data, "OpenAI chunk");
    }
}

/// JSON by the grammar: lone surrogate escapes (`"\ud800"`), which the
/// grammar allows and clients send, pass through unchecked.
fn assert_json(bytes: &[u8], what: &str) {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        panic!(
            "{what} is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

fn context(deployment: &dx_core::Deployment) -> DecodeContext<'_> {
    DecodeContext {
        now_ms: 1_784_917_423_000,
        model: &deployment.upstream_model,
        id_prefix: "chatcmpl-",
    }
}
