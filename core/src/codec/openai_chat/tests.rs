//! The OpenAI codec against real recorded responses (`fixtures/openai/`).

use super::*;
use crate::codec::test_support::decode_ctx;
use crate::relays::openai_relay::RelayState;
use crate::resolve::provider;
use crate::secret::Secret;
use crate::stream::sse::Decoder;
use crate::unified::ChatChunk;
use http::HeaderValue;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/openai/",
            $name
        ))
    };
}

/// Per-choice text, refusal, tool calls and finish reason rebuilt from chunks.
#[derive(Debug, Default)]
struct Assembled {
    text: String,
    refusal: String,
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
}

fn sse_chunks(wire: &[u8]) -> (Vec<ChatChunk>, bool) {
    let mut d = Decoder::new();
    d.push(wire);
    let mut chunks = Vec::new();
    let mut done = false;
    while let Some(e) = d.next_event() {
        if &e.data[..] == b"[DONE]" {
            done = true;
        } else {
            chunks.push(decode_chunk(&e.data).unwrap());
        }
    }
    (chunks, done)
}

fn assemble(chunks: &[ChatChunk]) -> (Vec<Assembled>, Option<Usage>) {
    let mut out: Vec<Assembled> = Vec::new();
    let mut usage = None;
    for c in chunks {
        if c.usage.is_some() {
            usage = c.usage;
        }
        for ch in &c.choices {
            let i = ch.index as usize;
            while out.len() <= i {
                out.push(Assembled::default());
            }
            let a = &mut out[i];
            a.text.push_str(ch.delta.text.as_deref().unwrap_or(""));
            a.refusal
                .push_str(ch.delta.refusal.as_deref().unwrap_or(""));
            for t in &ch.delta.tool_calls {
                let ti = t.index as usize;
                while a.tools.len() <= ti {
                    a.tools.push(Default::default());
                }
                let slot = &mut a.tools[ti];
                if let Some(id) = &t.id {
                    slot.0 = id.clone();
                }
                slot.1.push_str(t.name.as_deref().unwrap_or(""));
                slot.2.push_str(t.arguments.as_deref().unwrap_or(""));
            }
            if ch.finish_reason.is_some() {
                a.finish = ch.finish_reason.clone();
            }
        }
    }
    (out, usage)
}

fn usage(input: u64, output: u64) -> Option<Usage> {
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    })
}

#[test]
fn non_stream_text() {
    let r = decode_response(fixture!("chat-completion-text.json"), &decode_ctx()).unwrap();
    assert_eq!(r.model, "gpt-4.1-nano-2025-04-14");
    assert_eq!(r.choices.len(), 1);
    let text = r.choices[0].text().unwrap();
    assert!(text.starts_with("**Holiday Name:** Galaxy Day"));
    assert!(text.ends_with("dream beyond our world."));
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, usage(16, 363));
    assert_eq!(r.system_fingerprint.as_deref(), Some("fp_de604bd877"));
}

#[test]
fn non_stream_parallel_tool_calls() {
    let r = decode_response(
        fixture!("chat-completion-parallel-tool-calls.json"),
        &decode_ctx(),
    )
    .unwrap();
    let calls: Vec<_> = r.choices[0].tool_uses().collect();
    assert_eq!(
        calls,
        vec![
            (
                "call_fdNz3vOBKYgOIpMdWotB9MjY",
                "GetWeatherArgs",
                r#"{"city": "Edinburgh", "country": "GB", "units": "c"}"#
            ),
            (
                "call_h1DWI1POMJLb0KwIyQHWXD4p",
                "get_stock_price",
                r#"{"ticker": "AAPL", "exchange": "NASDAQ"}"#
            ),
        ]
    );
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.usage, usage(149, 60));
}

#[test]
fn stream_text_with_usage() {
    let (chunks, done) = sse_chunks(fixture!("chat-stream-text-usage.sse"));
    assert!(done);
    let (choices, u) = assemble(&chunks);
    assert_eq!(choices[0].text, "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or a weather app.");
    assert_eq!(choices[0].finish, Some(FinishReason::Stop));
    assert_eq!(u, usage(14, 30));
}

#[test]
fn stream_recorded_chunks_with_obfuscation_and_cache_details() {
    let lines = fixture!("chat-stream-text-usage.chunks.jsonl");
    let chunks: Vec<ChatChunk> = lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| decode_chunk(l).unwrap())
        .collect();
    let (choices, u) = assemble(&chunks);
    assert!(choices[0].text.starts_with("**Holiday Name:** Harmony Day"));
    assert_eq!(choices[0].finish, Some(FinishReason::Stop));
    assert_eq!(u, usage(16, 300));
}

#[test]
fn stream_single_tool_call() {
    let (chunks, _) = sse_chunks(fixture!("chat-stream-tool-call-usage.sse"));
    let (choices, u) = assemble(&chunks);
    assert_eq!(
        choices[0].tools,
        vec![(
            "call_4XzlGBLtUe9dy3GVNV4jhq7h".to_string(),
            "get_weather".to_string(),
            r#"{"city":"New York City"}"#.to_string()
        )]
    );
    assert_eq!(choices[0].finish, Some(FinishReason::ToolCalls));
    assert_eq!(u, usage(44, 16));
}

#[test]
fn stream_parallel_tool_calls() {
    let (chunks, _) = sse_chunks(fixture!("chat-stream-parallel-tool-calls-usage.sse"));
    let (choices, u) = assemble(&chunks);
    let tools = &choices[0].tools;
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0].0, "call_JMW1whyEaYG438VE1OIflxA2");
    assert_eq!(tools[0].1, "GetWeatherArgs");
    assert_eq!(
        tools[0].2,
        r#"{"city": "Edinburgh", "country": "GB", "units": "c"}"#
    );
    assert_eq!(tools[1].0, "call_DNYTawLBoN8fj3KN6qU9N1Ou");
    assert_eq!(tools[1].1, "get_stock_price");
    let args: serde_json::Value = serde_json::from_str(&tools[1].2).unwrap();
    assert_eq!(args["ticker"], "AAPL");
    assert_eq!(choices[0].finish, Some(FinishReason::ToolCalls));
    assert_eq!(u, usage(149, 60));
}

#[test]
fn stream_refusal() {
    let (chunks, _) = sse_chunks(fixture!("chat-stream-refusal.sse"));
    let (choices, u) = assemble(&chunks);
    assert_eq!(
        choices[0].refusal,
        "I'm sorry, I can't assist with that request."
    );
    assert_eq!(choices[0].text, "");
    assert_eq!(choices[0].finish, Some(FinishReason::Stop));
    assert_eq!(u, usage(79, 11));
}

#[test]
fn stream_three_interleaved_choices() {
    let (chunks, _) = sse_chunks(fixture!("chat-stream-n3-multiple-choices.sse"));
    let (choices, u) = assemble(&chunks);
    let temps: Vec<i64> = choices
        .iter()
        .map(|c| {
            let v: serde_json::Value = serde_json::from_str(&c.text).unwrap();
            assert_eq!(v["city"], "San Francisco");
            v["temperature"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(temps, vec![65, 61, 59]);
    assert!(choices.iter().all(|c| c.finish == Some(FinishReason::Stop)));
    assert_eq!(u, usage(79, 42));
}

#[test]
fn stream_finish_length() {
    let (chunks, _) = sse_chunks(fixture!("chat-stream-finish-length.sse"));
    let (choices, u) = assemble(&chunks);
    assert_eq!(choices[0].text, "{\"");
    assert_eq!(choices[0].finish, Some(FinishReason::Length));
    assert_eq!(u, usage(79, 1));
}

fn deployment(key: &str) -> Deployment {
    Deployment {
        provider: provider(crate::catalog::embedded(), "openai").unwrap(),
        upstream_model: "gpt-4o".into(),
        api_base: "https://api.openai.com/v1".into(),
        api_key: Some(Secret::new(key)),
        mock_response: None,
        request_timeout_ms: None,
        passthrough: true,
        params: Default::default(),
    }
}

#[test]
fn error_insufficient_quota_is_a_rate_limit() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", HeaderValue::from_static("20"));
    let e = decode_error(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        fixture!("error-insufficient-quota-429.json"),
        &deployment("sk-x"),
    );
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
    assert_eq!(e.upstream_type.as_deref(), Some("insufficient_quota"));
    assert_eq!(e.retry_after.as_deref(), Some("20"));
    assert!(e.message.starts_with("You exceeded your current quota"));
}

#[test]
fn error_unsupported_parameter_keeps_param_and_code() {
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        fixture!("error-unsupported-parameter-400.json"),
        &deployment("sk-x"),
    );
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(e.param.as_deref(), Some("max_tokens"));
    assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
    let v: serde_json::Value = serde_json::from_slice(&e.to_openai_json()).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

#[test]
fn error_bodies_that_are_not_openai_shaped() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
    let e = decode_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &headers,
        b"<html>busy</html>",
        &deployment("k"),
    );
    assert_eq!(e.kind, ErrorKind::UpstreamUnavailable);
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.message, "<html>busy</html>");
    assert_eq!(e.retry_after.as_deref(), Some("2"));
    let e = decode_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        b"",
        &deployment("k"),
    );
    assert_eq!(e.kind, ErrorKind::UpstreamServer);
    assert!(e.message.contains("500"));
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"error":"plain string"}"#,
        &deployment("k"),
    );
    assert_eq!(e.message, "plain string");
}

#[test]
fn error_messages_never_echo_the_key() {
    let body = br#"{"error":{"message":"Incorrect API key provided: sk-live-123456. Check it.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let d = deployment("sk-live-123456");
    let e = decode_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body, &d);
    let e = crate::codec::redact_credentials(e, &d, &HeaderMap::new());
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(!e.message.contains("sk-live-123456"));
    assert!(!String::from_utf8_lossy(&e.to_openai_json()).contains("sk-live-123456"));
}

#[test]
fn context_window_code_is_recognised() {
    let body = br#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        body,
        &deployment("k"),
    );
    assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);
}

// ---- the passthrough relay over the same recordings ------------------------

fn relay_all(wire: &[u8], strip: bool, split: usize) -> (Vec<u8>, RelayState) {
    let mut state = RelayState::new(strip);
    let mut out = Vec::new();
    for piece in wire.chunks(split) {
        if let Some(b) = state.push(piece) {
            out.extend_from_slice(&b);
        }
    }
    if let Some(b) = state.end() {
        out.extend_from_slice(&b);
    }
    (out, state)
}

#[test]
fn relay_is_byte_exact_when_the_client_asked_for_usage() {
    for name in [
        &fixture!("chat-stream-text-usage.sse")[..],
        fixture!("chat-stream-tool-call-usage.sse"),
        fixture!("chat-stream-n3-multiple-choices.sse"),
        fixture!("chat-stream-refusal.sse"),
    ] {
        for split in [1, 7, 64, 100_000] {
            let (out, state) = relay_all(name, false, split);
            assert_eq!(out, name, "split {split}");
            assert!(state.completed());
            assert!(state.usage.is_some());
        }
    }
}

#[test]
fn relay_hides_the_usage_chunk_it_asked_for_but_reads_it() {
    let wire = fixture!("chat-stream-parallel-tool-calls-usage.sse");
    let (out, state) = relay_all(wire, true, 13);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("\"usage\":{"));
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(state.usage, usage(149, 60));
    let (chunks, done) = sse_chunks(text.as_bytes());
    assert!(done);
    assert_eq!(assemble(&chunks).0[0].tools.len(), 2);
}

#[test]
fn relay_turns_a_cut_into_an_error_event() {
    let wire = fixture!("chat-stream-text-usage.sse");
    let cut = &wire[..wire.len() / 2];
    let (out, state) = relay_all(cut, false, 50);
    let text = String::from_utf8(out).unwrap();
    assert!(!state.completed());
    assert!(!text.contains("[DONE]"));
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    let v: serde_json::Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "upstream_stream_error");
}

#[test]
fn relay_turns_garbage_into_an_error_event_and_stops() {
    let wire = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {not json\n\ndata: {\"choices\":[]}\n\n";
    let (out, state) = relay_all(wire, false, 1000);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("data: {\"choices\""));
    assert!(text.contains("malformed stream data"));
    assert_eq!(
        text.matches("\n\n").count(),
        2,
        "nothing after the error: {text}"
    );
    assert!(state.error.is_some());
}

#[test]
fn relay_completes_a_finished_stream_missing_done() {
    let wire = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n";
    let (out, state) = relay_all(wire, false, 1000);
    assert!(String::from_utf8(out)
        .unwrap()
        .ends_with("data: [DONE]\n\n"));
    assert!(state.completed());
}

/// Audio counts travel in the unified usage, whole answer or stream, and
/// the relay prices the usage chunk with them.
#[test]
fn audio_tokens_reach_the_unified_usage() {
    let body = std::str::from_utf8(fixture!("chat-completion-text.json"))
        .unwrap()
        .replacen("\"audio_tokens\": 0", "\"audio_tokens\": 6", 1)
        .replacen("\"audio_tokens\": 0", "\"audio_tokens\": 300", 1);
    let r = decode_response(body.as_bytes(), &decode_ctx()).unwrap();
    let u = r.usage.unwrap();
    assert_eq!((u.input_audio_tokens, u.output_audio_tokens), (6, 300));
    // The passthrough reads the same from its probe.
    let probe: ResponseProbe = serde_json::from_str(&body).unwrap();
    assert_eq!(usage_from_wire(&probe.usage.unwrap()), u);
    // Rendered back for a client, the counts are where OpenAI puts them.
    let wire = serde_json::to_value(usage_to_wire(&u)).unwrap();
    assert_eq!(wire["prompt_tokens_details"]["audio_tokens"], 6);
    assert_eq!(wire["completion_tokens_details"]["audio_tokens"], 300);
    let plain = serde_json::to_value(usage_to_wire(&usage(1, 1).unwrap())).unwrap();
    assert!(plain["prompt_tokens_details"].get("audio_tokens").is_none());

    let stream = std::str::from_utf8(fixture!("chat-stream-text-usage.sse"))
        .unwrap()
        .replace(
            "\"completion_tokens_details\":{\"reasoning_tokens\":0}",
            "\"prompt_tokens_details\":{\"audio_tokens\":10},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":20}",
        );
    let prices = crate::catalog::embedded()
        .provider("openai")
        .and_then(|p| crate::catalog::embedded().lookup(p, "gpt-4o-audio-preview"))
        .unwrap()
        .info
        .prices
        .clone();
    let mut state = RelayState::new(false).with_prices(Some(std::sync::Arc::new(prices.clone())));
    let out = state.push(stream.as_bytes()).unwrap();
    let u = state.usage.unwrap();
    assert_eq!((u.input_audio_tokens, u.output_audio_tokens), (10, 20));
    let want = crate::cost::completion_cost(&prices, &crate::cost::TokenUsage::from(u)).unwrap();
    let text_only = crate::cost::completion_cost(
        &prices,
        &crate::cost::TokenUsage::from(Usage {
            input_audio_tokens: 0,
            output_audio_tokens: 0,
            ..u
        }),
    )
    .unwrap();
    assert!(want > text_only, "audio is dearer than text here");
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(
        text.contains(&format!("\"cost\":{}", crate::cost::format_cost(want))),
        "{text}"
    );
}

#[test]
fn relay_ends_a_last_event_the_upstream_left_unterminated() {
    // A server that closes after its final chunk without the blank line (and
    // without `[DONE]`): the client must see two events, not one glued line.
    let wire = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}";
    let (out, state) = relay_all(wire, false, 7);
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("}]}\n\ndata: [DONE]\n\n"), "{text}");
    assert!(state.completed());
}
