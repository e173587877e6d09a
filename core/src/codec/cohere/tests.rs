//! Cohere v2 against its recordings (`fixtures/cohere/`), the request it
//! receives, and its error bodies.

use crate::codec::test_support::decode_ctx;
use http::header::RETRY_AFTER;

use super::*;
use crate::codec::test_support::{assemble, decode_in_pieces, deployment, sse_from_chunks};
use crate::codec::StreamDecoder as AnyDecoder;
use crate::ingress::openai_chat::ChatEnvelope;
use crate::providers::Codec;
use http::HeaderValue;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/cohere/",
            $name
        ))
    };
}

fn cohere_usage(input: u64, output: u64, cached: u64) -> Option<Usage> {
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cached,
        ..Usage::default()
    })
}

fn co() -> Deployment {
    deployment(
        "cohere",
        "command-a-03-2025",
        "https://api.cohere.com",
        Some("co-key-98765"),
    )
}

// ---- recordings ------------------------------------------------------------

#[test]
fn non_stream_text() {
    let r = decode_response(fixture!("chat-v2-text.json"), &decode_ctx()).unwrap();
    assert_eq!(r.id, "e7592632-1e3d-424f-b129-bd5f9f980f7b");
    assert_eq!(r.choices.len(), 1);
    assert_eq!(
        r.choices[0].text().as_deref(),
        Some("The capital of France is Paris.")
    );
    assert_eq!(r.choices[0].content.len(), 1, "no reasoning, no tool calls");
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, cohere_usage(507, 10, 448));
}

#[test]
fn non_stream_tool_calls_with_plan_as_reasoning() {
    let r = decode_response(fixture!("chat-v2-tool-call.json"), &decode_ctx()).unwrap();
    let c = &r.choices[0];
    assert_eq!(
        c.content[0],
        Part::Thinking {
            text: "I will use the weather tool to find out the weather in San Francisco. I will also use the cityAttractions tool to find out what attractions are in San Francisco.".into(),
            signature: None,
        }
    );
    assert_eq!(c.text(), None);
    let calls: Vec<_> = c.tool_uses().collect();
    assert_eq!(
        calls,
        vec![
            (
                "weather_dqgshstja6p9",
                "weather",
                r#"{"location":"San Francisco"}"#
            ),
            (
                "cityAttractions_dcxfx4myvx68",
                "cityAttractions",
                r#"{"city":"San Francisco"}"#
            ),
        ]
    );
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.usage, cohere_usage(1549, 103, 992));
}

#[test]
fn stream_text() {
    for event_lines in [true, false] {
        let wire = sse_from_chunks(
            fixture!("chat-v2-stream-text.chunks.jsonl"),
            event_lines,
            false,
        );
        for split in [1, 9, 100_000] {
            let mut d = AnyDecoder::new(Codec::Cohere, &decode_ctx()).unwrap();
            let chunks = decode_in_pieces(&mut d, &wire, split).unwrap();
            assert!(d.is_done());
            assert!(chunks
                .iter()
                .all(|c| c.id == "321d178c-2c12-44d3-ae42-2f5510f6b1cc"));
            let a = assemble(&chunks);
            assert_eq!(a.text, "The capital of France is Paris.");
            assert_eq!(a.reasoning, "");
            assert_eq!(a.roles, 1);
            assert_eq!(a.finish, Some(FinishReason::Stop));
            assert_eq!(a.usage, cohere_usage(507, 10, 448));
            // message-start, 7 content deltas, message-end.
            assert_eq!(chunks.len(), 9);
        }
    }
}

#[test]
fn stream_tool_calls_with_plan() {
    let wire = sse_from_chunks(
        fixture!("chat-v2-stream-tool-call.chunks.jsonl"),
        true,
        false,
    );
    let mut d = AnyDecoder::new(Codec::Cohere, &decode_ctx()).unwrap();
    let chunks = decode_in_pieces(&mut d, &wire, 64).unwrap();
    assert!(d.is_done());
    let a = assemble(&chunks);
    assert_eq!(
        a.reasoning,
        "I will use the weather tool to find the weather in San Francisco and the cityAttractions tool to find attractions in San Francisco."
    );
    assert_eq!(a.text, "");
    assert_eq!(
        a.tools,
        vec![
            (
                "weather_e8p4pn45zt0t".to_string(),
                "weather".to_string(),
                r#"{"location": "San Francisco"}"#.to_string()
            ),
            (
                "cityAttractions_pyxssbwnq9fq".to_string(),
                "cityAttractions".to_string(),
                r#"{"city": "San Francisco"}"#.to_string()
            ),
        ]
    );
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!(a.usage, cohere_usage(1549, 95, 1504));
}

#[test]
fn stream_cut_before_message_end_is_not_done() {
    let wire = sse_from_chunks(fixture!("chat-v2-stream-text.chunks.jsonl"), true, false);
    // Cut between two events: what came is relayed, the end never comes.
    let boundary = wire[..wire.len() / 2]
        .windows(2)
        .rposition(|w| w == b"\n\n")
        .unwrap()
        + 2;
    let mut d = AnyDecoder::new(Codec::Cohere, &decode_ctx()).unwrap();
    let chunks = decode_in_pieces(&mut d, &wire[..boundary], 100).unwrap();
    assert!(!d.is_done());
    assert!(!chunks.is_empty());
    assert!(assemble(&chunks).finish.is_none());
    // Cut inside an event: the torn JSON is an error.
    let mut d = AnyDecoder::new(Codec::Cohere, &decode_ctx()).unwrap();
    assert!(decode_in_pieces(&mut d, &wire[..boundary + 30], 100).is_err());
    assert!(!d.is_done());
}

#[test]
fn stream_garbage_and_error_payloads_are_errors() {
    let mut d = AnyDecoder::new(Codec::Cohere, &decode_ctx()).unwrap();
    let e = d
        .push(b"event: content-delta\ndata: {not json\n\n")
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("upstream_stream_error"));
    let mut d = AnyDecoder::new(Codec::Cohere, &decode_ctx()).unwrap();
    let e = d
        .push(b"data: {\"message\":\"internal server error\"}\n\n")
        .unwrap_err();
    assert_eq!(e.message, "internal server error");
}

#[test]
fn finish_reasons() {
    assert_eq!(finish_reason("COMPLETE"), FinishReason::Stop);
    assert_eq!(finish_reason("STOP_SEQUENCE"), FinishReason::Stop);
    assert_eq!(finish_reason("MAX_TOKENS"), FinishReason::Length);
    assert_eq!(finish_reason("TOOL_CALL"), FinishReason::ToolCalls);
    assert_eq!(finish_reason("ERROR_TOXIC"), FinishReason::ContentFilter);
    assert_eq!(finish_reason("ERROR"), FinishReason::Other("error".into()));
}

// ---- errors ----------------------------------------------------------------

#[test]
fn error_bodies_by_status() {
    let d = co();
    let e = decode_error(
        StatusCode::UNAUTHORIZED,
        &HeaderMap::new(),
        br#"{"id":"a1","message":"invalid api token"}"#,
        &d,
    );
    assert_eq!(
        (e.kind, e.status),
        (ErrorKind::Authentication, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(e.message, "invalid api token");
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("12"));
    let e = decode_error(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        br#"{"message":"You are using a Trial key, which is limited to 10 API calls / minute."}"#,
        &d,
    );
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after.as_deref(), Some("12"));
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"message":"invalid request: message must be at least 1 token long."}"#,
        &d,
    );
    assert_eq!(
        (e.kind, e.status),
        (ErrorKind::InvalidRequest, StatusCode::BAD_REQUEST)
    );
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"message":"too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 140000."}"#,
        &d,
    );
    assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);
    assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    let e = decode_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderMap::new(),
        b"upstream connect error",
        &d,
    );
    assert_eq!(
        (e.kind, e.status),
        (
            ErrorKind::UpstreamUnavailable,
            StatusCode::SERVICE_UNAVAILABLE
        )
    );
    assert_eq!(e.message, "upstream connect error");
    let e = decode_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        b"",
        &d,
    );
    assert_eq!(e.kind, ErrorKind::UpstreamServer);
    assert!(e.message.contains("500"));
    // Cohere's non-standard "invalid token" status becomes a plain 401.
    let e = decode_error(
        StatusCode::from_u16(498).unwrap(),
        &HeaderMap::new(),
        br#"{"message":"invalid token co-key-98765"}"#,
        &d,
    );
    let e = crate::codec::redact_credentials(e, &d, &HeaderMap::new());
    assert_eq!(
        (e.kind, e.status),
        (ErrorKind::Authentication, StatusCode::UNAUTHORIZED)
    );
    assert!(!e.message.contains("co-key-98765"));
}

// ---- the request Cohere receives ----------------------------------------------

fn unified(body: &str) -> ChatRequest {
    ChatEnvelope::parse(body.as_bytes())
        .unwrap()
        .to_unified()
        .unwrap()
}

#[test]
fn request_body_for_a_full_tool_round_trip() {
    let req = unified(
        r#"{"model":"x","stream":true,"messages":[
        {"role":"system","content":"be brief"},
        {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://img.example/cat.png","detail":"low"}}]},
        {"role":"assistant","content":null,"reasoning_content":"I will look it up.","tool_calls":[{"id":"get_weather_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"get_weather_1","content":"sunny"}],
        "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
                 {"type":"function","function":{"name":"noop"}}],
        "tool_choice":"required","max_tokens":50,"temperature":0.2,"top_p":0.9,"stop":["END"],"seed":7,
        "frequency_penalty":0.5,"response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}}}"#,
    );
    let http = encode(&req, &co()).unwrap();
    assert_eq!(http.uri(), "https://api.cohere.com/v2/chat");
    assert_eq!(http.headers()["authorization"], "Bearer co-key-98765");
    assert_eq!(http.headers()["accept"], "text/event-stream");
    let body: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "model": "command-a-03-2025",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://img.example/cat.png", "detail": "low"}}
                ]},
                {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": [
                    {"id": "get_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "get_weather_1", "content": "sunny"}
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}
            ],
            "tool_choice": "REQUIRED",
            "stream": true,
            "max_tokens": 50,
            "temperature": 0.2,
            "p": 0.9,
            "stop_sequences": ["END"],
            "seed": 7,
            "frequency_penalty": 0.5,
            "response_format": {"type": "json_object", "json_schema": {"type": "object"}}
        })
    );
}

#[test]
fn named_tool_choice_offers_only_that_tool_and_none_says_none() {
    let req = unified(
        r#"{"model":"x","messages":[{"role":"user","content":"hi"}],
        "tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],
        "tool_choice":{"type":"function","function":{"name":"b"}},
        "top_p":1.0,"presence_penalty":-1.5,"top_k":40}"#,
    );
    let body: serde_json::Value =
        serde_json::from_slice(&render_request(&req, "m").unwrap()).unwrap();
    assert_eq!(body["tools"].as_array().unwrap().len(), 1);
    assert_eq!(body["tools"][0]["function"]["name"], "b");
    assert_eq!(body["tool_choice"], "REQUIRED");
    assert_eq!(body["stream"], false);
    // OpenAI's ranges clamped into Cohere's.
    assert_eq!(body["p"], 0.99);
    assert_eq!(body["presence_penalty"], 0.0);
    assert_eq!(body["k"], 40);
    let req = unified(
        r#"{"model":"x","messages":[{"role":"user","content":"hi"}],
        "tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"none"}"#,
    );
    let body: serde_json::Value =
        serde_json::from_slice(&render_request(&req, "m").unwrap()).unwrap();
    assert_eq!(body["tool_choice"], "NONE");
}

#[test]
fn anthropic_style_tool_results_in_user_turns_become_tool_turns() {
    let req = ChatRequest {
        messages: vec![
            crate::unified::Message {
                role: crate::unified::Role::Assistant,
                content: vec![Part::ToolUse {
                    id: "t1".into(),
                    name: "f".into(),
                    arguments: String::new(),
                    cache_control: None,
                }],
                name: None,
            },
            crate::unified::Message {
                role: crate::unified::Role::User,
                content: vec![
                    Part::ToolResult {
                        tool_use_id: "t1".into(),
                        content: vec![Part::Text {
                            text: "42".into(),
                            cache_control: None,
                        }],
                        is_error: false,
                        cache_control: None,
                    },
                    Part::Text {
                        text: "and now?".into(),
                        cache_control: None,
                    },
                ],
                name: None,
            },
        ],
        ..ChatRequest::default()
    };
    let body: serde_json::Value =
        serde_json::from_slice(&render_request(&req, "m").unwrap()).unwrap();
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "42"},
            {"role": "user", "content": "and now?"}
        ])
    );
}

#[test]
fn what_cohere_cannot_carry_is_refused_clearly() {
    let req = unified(r#"{"model":"x","n":2,"messages":[{"role":"user","content":"hi"}]}"#);
    let e = render_request(&req, "m").unwrap_err();
    assert_eq!(
        (e.kind, e.param.as_deref()),
        (ErrorKind::InvalidRequest, Some("n"))
    );
    let req = unified(
        r#"{"model":"x","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}"#,
    );
    let e = render_request(&req, "m").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[0].content"));
    assert!(e.message.contains("audio"));
}
