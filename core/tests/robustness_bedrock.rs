//! Hostile Bedrock input never panics: mangled ConverseStream bodies (raw bytes,
//! and JSON or headers mangled under valid CRCs, which only the parsers can
//! catch) end in `[DONE]` or an error event; mutated requests encode or fail
//! with a 400.

use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::{ChatEnvelope, ChunkRenderer};
use dx_core::relays::translate::TranslateState;
use dx_core::stream::eventstream::{encode_frame, HeaderValue};
use dx_core::Codec;

const EVENTS: &[&str] = &[
    include_str!("../../fixtures/bedrock/converse-stream-text.events.jsonl"),
    include_str!("../../fixtures/bedrock/converse-stream-tool-call.events.jsonl"),
    include_str!("../../fixtures/bedrock/converse-stream-reasoning.events.jsonl"),
];
const BODY: &[u8] = br#"{"model":"b","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf"}}]},{"role":"assistant","reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required","reasoning_effort":"low","max_tokens":10,"stop":["x"],"stream":true}"#;

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
    for _ in 0..1 + rng.below(3) {
        if out.is_empty() {
            break;
        }
        let i = rng.below(out.len());
        match rng.below(4) {
            0 => out[i] = rng.next() as u8,
            1 => {
                out.remove(i);
            }
            2 => out.insert(i, b"{}[]\":,\\\n\x00"[rng.below(10)]),
            _ => out.truncate(i),
        }
    }
    out
}

fn frame(kind: &str, payload: &[u8], message_type: &str) -> Vec<u8> {
    encode_frame(
        &[
            (":event-type", HeaderValue::String(kind)),
            (":content-type", HeaderValue::String("application/json")),
            (":message-type", HeaderValue::String(message_type)),
        ],
        payload,
    )
}

/// Every event as a frame; some with mangled JSON, event type or message
/// type, all with valid CRCs.
fn wire(rng: &mut Rng, events: &str, mangle: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for line in events.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (kind, payload) = v.as_object().unwrap().iter().next().unwrap();
        let mut payload = payload.to_string().into_bytes();
        let mut kind = kind.clone();
        let mut message_type = "event";
        if mangle && rng.below(6) == 0 {
            match rng.below(3) {
                0 => payload = mutate(rng, &payload),
                1 => kind = String::from_utf8_lossy(&mutate(rng, kind.as_bytes())).into_owned(),
                _ => message_type = ["exception", "error", "", "event"][rng.below(4)],
            }
        }
        out.extend(frame(&kind, &payload, message_type));
    }
    out
}

fn run(rng: &mut Rng, wire: &[u8]) -> String {
    let mut st = TranslateState::new(
        StreamDecoder::new(Codec::Bedrock, &DECODE).unwrap(),
        ChunkRenderer::new(rng.below(2) == 0),
    );
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() && !st.finished {
        let n = 1 + rng.below(rest.len().min(200));
        if let Some(b) = st.push(&rest[..n]) {
            out.extend_from_slice(&b);
        }
        rest = &rest[n..];
    }
    if let Some(b) = st.end() {
        out.extend_from_slice(&b);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ends_well(text: &str) -> bool {
    let tail = text.trim_end();
    tail.ends_with("data: [DONE]") || tail.contains("\"error\"")
}

#[test]
fn mangled_event_streams_end_in_done_or_an_error_event() {
    let mut rng = Rng(7);
    let mut done = 0;
    for i in 0..3_000 {
        let events = EVENTS[i % EVENTS.len()];
        let body = if i % 2 == 0 {
            let intact = wire(&mut rng, events, false);
            mutate(&mut rng, &intact)
        } else {
            wire(&mut rng, events, true)
        };
        let text = run(&mut rng, &body);
        assert!(
            ends_well(&text),
            "stream {i} ended without [DONE] or an error: …{}",
            &text[text.len().saturating_sub(200)..]
        );
        done += usize::from(text.trim_end().ends_with("data: [DONE]"));
    }
    // Some mangling is harmless (an unknown event type is skipped): both
    // endings must have been exercised.
    assert!(
        done > 100 && done < 2_900,
        "{done} of 3000 streams completed"
    );
}

#[test]
fn intact_recordings_complete() {
    let mut rng = Rng(1);
    for events in EVENTS {
        let body = wire(&mut rng, events, false);
        let text = run(&mut rng, &body);
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        assert!(!text.contains("\"error\""));
    }
}

#[test]
fn mutated_requests_encode_or_fail_with_a_400() {
    let mut rng = Rng(0x5eed);
    let mut encoded = 0;
    for _ in 0..10_000 {
        let body = mutate(&mut rng, BODY);
        let Ok(env) = ChatEnvelope::parse(&body) else {
            continue;
        };
        let Ok(req) = env.to_unified() else { continue };
        for model in [
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "amazon.nova-pro-v1:0",
        ] {
            match dx_core::codec::bedrock::render_request(&req, model) {
                Ok(out) => {
                    encoded += 1;
                    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                    assert_eq!(v["messages"][0]["role"], "user");
                }
                Err(e) => assert_eq!(e.status, 400, "{}", e.message),
            }
        }
    }
    assert!(encoded > 100, "only {encoded} mutated requests encoded");
}
