//! Hostile input never panics and always gets a well-formed answer: mutated
//! request bodies get a 400 in OpenAI's shape, mangled upstream streams end in
//! `[DONE]` or an error event.

use dx_core::ingress::openai_chat::ChatEnvelope;
use dx_core::relays::openai_relay::RelayState;

const BODY: &[u8] = br#"{"model":"fast","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"stream":true,"stream_options":{"include_usage":true},"n":2}"#;
const STREAM: &[u8] =
    include_bytes!("../../fixtures/openai/chat-stream-parallel-tool-calls-usage.sse");

mod support;
use support::Rng;

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

#[test]
fn mutated_bodies_get_400s_not_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let body = mutate(&mut rng, BODY);
        match ChatEnvelope::parse(&body) {
            Ok(env) => {
                accepted += 1;
                let _ = env.render_passthrough("m", true);
                if let Err(e) = env.to_unified() {
                    assert_eq!(e.status, 400);
                }
            }
            Err(e) => {
                assert_eq!(e.status, 400, "{}", e.message);
                let v: serde_json::Value = serde_json::from_slice(&e.to_openai_json()).unwrap();
                assert_eq!(v["error"]["type"], "invalid_request_error");
            }
        }
    }
    // The mutations must leave some bodies valid, or the Ok branch went untested.
    assert!(accepted > 100, "only {accepted} mutated bodies parsed");
}

#[test]
fn mangled_streams_end_in_done_or_an_error_event() {
    let mut rng = Rng(42);
    for _ in 0..3_000 {
        let wire = mutate(&mut rng, STREAM);
        let mut relay = RelayState::new(rng.below(2) == 0);
        let mut out = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(300));
            if let Some(b) = relay.push(&rest[..n]) {
                out.extend_from_slice(&b);
            }
            rest = &rest[n..];
        }
        if let Some(b) = relay.end() {
            out.extend_from_slice(&b);
        }
        let text = String::from_utf8_lossy(&out);
        let tail = text.trim_end();
        assert!(
            tail.ends_with("data: [DONE]")
                || tail.contains("\"code\":\"upstream_stream_error\"")
                || tail.contains("\"error\""),
            "stream ended without [DONE] or an error: …{}",
            &tail[tail.len().saturating_sub(200)..]
        );
    }
}
