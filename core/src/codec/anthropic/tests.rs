//! The Anthropic codec against real recorded responses (`fixtures/anthropic/`)
//! and the request bodies it builds. Expected values are read off the fixtures.

use super::*;
use crate::codec::test_support::decode_ctx;
use crate::resolve::provider;
use crate::resolve::ProviderParams;
use crate::unified::{
    self, CacheControl, ChatChunk, MediaSource, Message, Role, ServerTool, Thinking, Tool,
    ToolChoice,
};
use serde_json::{json, Value};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/anthropic/",
            $name
        ))
    };
}

// ---- helpers -------------------------------------------------------------

/// `.chunks.jsonl` as the API sends it: `event: <type>` then `data: <line>`.
fn reframe(jsonl: &[u8], with_event_lines: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if with_event_lines {
            let v: Value = serde_json::from_slice(line).unwrap();
            out.extend_from_slice(format!("event: {}\n", v["type"].as_str().unwrap()).as_bytes());
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
    }
    out
}

#[derive(Debug, Default)]
struct Assembled {
    id: String,
    model: String,
    role_seen: bool,
    text: String,
    reasoning: String,
    signature: String,
    redacted: Vec<String>,
    /// (id, name, arguments) by tool index.
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
}

fn assemble_chunks(chunks: &[ChatChunk], a: &mut Assembled) {
    for c in chunks {
        a.id = c.id.clone();
        a.model = c.model.clone();
        if c.usage.is_some() {
            a.usage = c.usage;
        }
        for ch in &c.choices {
            assert_eq!(ch.index, 0);
            let d = &ch.delta;
            a.role_seen |= d.role == Some(unified::Role::Assistant);
            a.text.push_str(d.text.as_deref().unwrap_or(""));
            a.reasoning.push_str(d.reasoning.as_deref().unwrap_or(""));
            a.signature
                .push_str(d.reasoning_signature.as_deref().unwrap_or(""));
            a.redacted.extend(d.redacted_reasoning.clone());
            for t in &d.tool_calls {
                let i = t.index as usize;
                while a.tools.len() <= i {
                    a.tools.push(Default::default());
                }
                if let Some(id) = &t.id {
                    a.tools[i].0 = id.clone();
                }
                a.tools[i].1.push_str(t.name.as_deref().unwrap_or(""));
                a.tools[i].2.push_str(t.arguments.as_deref().unwrap_or(""));
            }
            if ch.finish_reason.is_some() {
                a.finish = ch.finish_reason.clone();
            }
        }
    }
}

/// Decodes a whole stream, fed in pieces of `step` bytes.
fn decode_stream(wire: &[u8], step: usize) -> Assembled {
    let mut d = StreamDecoder::new(&decode_ctx());
    let mut a = Assembled::default();
    for piece in wire.chunks(step) {
        let chunks = d.push(piece).unwrap();
        assemble_chunks(&chunks, &mut a);
    }
    let chunks = d.finish().unwrap();
    assemble_chunks(&chunks, &mut a);
    a.done = d.is_done();
    a
}

fn usage(input: u64, output: u64, read: u64, write: u64) -> Option<Usage> {
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: 0,
        ..Usage::default()
    })
}

fn deployment(provider_id: &str, model: &str) -> Deployment {
    Deployment {
        provider: provider(crate::catalog::embedded(), provider_id).unwrap(),
        upstream_model: model.into(),
        api_base: provider(crate::catalog::embedded(), provider_id)
            .unwrap()
            .base_url
            .unwrap()
            .into(),
        api_key: Some(Secret::new("sk-ant-test-key")),
        mock_response: None,
        request_timeout_ms: None,
        passthrough: true,
        params: ProviderParams::default(),
    }
}

fn text(t: &str) -> Part {
    Part::Text {
        text: t.into(),
        cache_control: None,
    }
}

fn msg(role: Role, content: Vec<Part>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

fn body_of(req: &ChatRequest, model: &str) -> Value {
    body_with(req, model, Target::Anthropic, false)
}

fn body_with(req: &ChatRequest, model: &str, target: Target, auto_cache: bool) -> Value {
    let out = render_request(
        req,
        &Options {
            model,
            target,
            auto_cache,
        },
    )
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

// ---- non-stream responses -------------------------------------------------

#[test]
fn non_stream_text() {
    let r = decode_response(fixture!("messages-text.json"), &decode_ctx()).unwrap();
    assert_eq!(r.id, "msg_01VdEjxAP5ahtHKrrRdNBteQ");
    assert_eq!(r.model, "claude-sonnet-4-5-20250929");
    assert_eq!(r.choices.len(), 1);
    assert_eq!(
        r.choices[0].text().as_deref(),
        Some("Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?")
    );
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, usage(12, 29, 0, 0));
}

#[test]
fn non_stream_thinking_keeps_the_signature() {
    let r = decode_response(fixture!("messages-thinking.json"), &decode_ctx()).unwrap();
    assert_eq!(r.id, "msg_01XrsJCi8CQoLcnnWdY8RsJz");
    let content = &r.choices[0].content;
    assert_eq!(content.len(), 2);
    match &content[0] {
        Part::Thinking { text, signature } => {
            assert_eq!(text, "925 divided by 5 = 185");
            let sig = signature.as_deref().unwrap();
            assert!(sig.starts_with("Er4BCkYICxgCKkCoxqLHLrx4mFL9"), "{sig}");
            assert!(sig.ends_with("UIqxRgB"), "{sig}");
        }
        other => panic!("expected thinking first, got {other:?}"),
    }
    assert_eq!(r.choices[0].text().as_deref(), Some("925 ÷ 5 = 185"));
    assert_eq!(r.usage, usage(69, 33, 0, 0));
}

#[test]
fn non_stream_tool_use() {
    let r = decode_response(fixture!("messages-tool-use.json"), &decode_ctx()).unwrap();
    let calls: Vec<_> = r.choices[0].tool_uses().collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "toolu_01Q9ExVZnzZj7E2QQYHYtNUa");
    assert_eq!(calls[0].1, "json");
    let args: Value = serde_json::from_str(calls[0].2).unwrap();
    assert_eq!(args["elements"].as_array().unwrap().len(), 4);
    assert_eq!(
        args["elements"][0],
        json!({"location": "San Francisco", "temperature": -5, "condition": "snowy"})
    );
    assert_eq!(args["elements"][3]["location"], "Berlin");
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.choices[0].text(), None);
    assert_eq!(r.usage, usage(1151, 87, 0, 0));
}

#[test]
fn cached_tokens_are_part_of_input() {
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"ok"},{"type":"redacted_thinking","data":"EmwKAhgB"}],"stop_reason":"pause_turn","usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"output_tokens":5}}"#;
    let r = decode_response(body, &decode_ctx()).unwrap();
    assert_eq!(r.usage, usage(3210, 5, 3000, 200));
    assert_eq!(
        r.choices[0].finish_reason,
        Some(FinishReason::Other("pause_turn".into()))
    );
    assert!(r.choices[0].content.contains(&Part::RedactedThinking {
        data: "EmwKAhgB".into()
    }));
    assert!(decode_response(b"{\"content\": 5}", &decode_ctx()).is_err());
}

#[test]
fn stop_reasons() {
    let cases = [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Other("pause_turn".into())),
    ];
    for (s, want) in cases {
        assert_eq!(finish_reason(s), want, "{s}");
    }
    assert_eq!(stop_reason(&FinishReason::Length), "max_tokens");
    assert_eq!(stop_reason(&FinishReason::ToolCalls), "tool_use");
}

// ---- streams ---------------------------------------------------------------

#[test]
fn stream_basic_sse() {
    let wire = fixture!("messages-stream-basic.sse");
    for step in [1, 7, wire.len()] {
        let a = decode_stream(wire, step);
        assert_eq!(a.id, "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
        assert_eq!(a.model, "claude-3-opus-latest");
        assert!(a.role_seen);
        assert_eq!(a.text, "Hello there!");
        assert_eq!(a.finish, Some(FinishReason::Stop));
        assert_eq!(a.usage, usage(11, 6, 0, 0));
        assert!(a.done, "message_stop ends the stream");
        assert!(a.tools.is_empty());
    }
}

#[test]
fn stream_text_then_tool_use_sse() {
    let a = decode_stream(fixture!("messages-stream-tool-use.sse"), 13);
    assert_eq!(a.model, "claude-sonnet-4-20250514");
    assert_eq!(a.text, "I'll check the current weather in Paris for you.");
    // Block index 1 is the first tool call: tool index 0.
    assert_eq!(
        a.tools,
        vec![(
            "toolu_01NRLabsLyVHZPKxbKvkfSMn".to_string(),
            "get_weather".to_string(),
            r#"{"location": "Paris"}"#.to_string()
        )]
    );
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!(a.usage, usage(377, 65, 0, 0));
    assert!(a.done);
}

#[test]
fn stream_text_chunks_with_and_without_event_lines() {
    for framed in [true, false] {
        let a = decode_stream(
            &reframe(fixture!("messages-stream-text.chunks.jsonl"), framed),
            64,
        );
        assert_eq!(a.id, "msg_01QC4g3HwBThD4BaNtBckFDJ");
        assert_eq!(
            a.text,
            "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?"
        );
        assert_eq!(a.finish, Some(FinishReason::Stop));
        assert_eq!(a.usage, usage(12, 30, 0, 0));
        assert!(a.done);
    }
}

#[test]
fn stream_thinking_with_signature() {
    let a = decode_stream(
        &reframe(fixture!("messages-stream-thinking.chunks.jsonl"), true),
        100,
    );
    assert_eq!(
        a.reasoning,
        "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185"
    );
    assert!(
        a.signature.starts_with("EvQBCkYICxgCKkAxhD4NUKFzudtZ6"),
        "{}",
        a.signature
    );
    assert!(a.signature.ends_with("Ca17BgB"), "{}", a.signature);
    assert_eq!(a.text, "925 ÷ 5 = 185");
    assert_eq!(a.finish, Some(FinishReason::Stop));
    assert_eq!(a.usage, usage(69, 53, 0, 0));
}

#[test]
fn stream_tool_use_chunks() {
    let a = decode_stream(
        &reframe(fixture!("messages-stream-tool-use.chunks.jsonl"), true),
        50,
    );
    assert_eq!(a.model, "claude-haiku-4-5-20251001");
    assert_eq!(a.tools.len(), 1);
    assert_eq!(a.tools[0].0, "toolu_01KFbKqPYSuAKujiL6mTfzYA");
    assert_eq!(a.tools[0].1, "json");
    assert_eq!(
        a.tools[0].2,
        r#"{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}"#
    );
    assert_eq!(a.text, "");
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!(a.usage, usage(849, 47, 0, 0));
}

#[test]
fn stream_server_tools_are_not_client_tool_calls() {
    let a = decode_stream(
        &reframe(
            fixture!("messages-stream-cache-write-server-tool.chunks.jsonl"),
            true,
        ),
        256,
    );
    assert!(
        a.tools.is_empty(),
        "server_tool_use is not a client tool call: {:?}",
        a.tools
    );
    assert_eq!(
        a.text,
        "The sum of the squares of the numbers 1 through 12 is **650**."
    );
    // message_start: 2 + 3068 written + 0 read; message_delta: 6 + 3337 written + 6289 read (final).
    // The recording says where it ran (`inference_geo: "global"`).
    let want = Usage {
        inference_geo: crate::unified::Geo::parse("global"),
        ..usage(6 + 3337 + 6289, 198, 6289, 3337).unwrap()
    };
    assert_eq!(a.usage, Some(want));
    assert_eq!(a.finish, Some(FinishReason::Stop));
}

#[test]
fn stream_message_delta_input_tokens_win() {
    let a = decode_stream(
        &reframe(
            fixture!("messages-stream-message-delta-input-tokens.chunks.jsonl"),
            true,
        ),
        9,
    );
    assert_eq!(a.text, "pong");
    assert_eq!(a.model, "claude-opus-4-5-20251101");
    // message_start says 43, message_delta 61: the later, larger count is final.
    assert_eq!(a.usage, usage(61, 2, 0, 0));
}

#[test]
fn stream_usage_at_start_is_reported_before_the_end() {
    let mut d = StreamDecoder::new(&decode_ctx());
    let first = d
        .push(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n")
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].usage, usage(105, 1, 100, 0));
    assert_eq!(first[0].choices[0].delta.role, Some(Role::Assistant));
    assert!(!d.is_done());
}

#[test]
fn stream_redacted_thinking_block() {
    let wire = b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
    let a = decode_stream(wire, wire.len());
    assert_eq!(a.redacted, vec!["EmwKAhgBEgy".to_string()]);
}

#[test]
fn stream_error_event_is_an_overloaded_error() {
    let mut d = StreamDecoder::new(&decode_ctx());
    let e = d
        .push(fixture!("error-overloaded-stream-event.sse"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UpstreamServer);
    assert!(e.kind.is_retryable());
    assert_eq!(e.status.as_u16(), 529);
    assert_eq!(e.message, "Overloaded");
    assert_eq!(e.upstream_type.as_deref(), Some("overloaded_error"));
    // Mid-stream, after good events, the same.
    let mut d = StreamDecoder::new(&decode_ctx());
    let mut wire = fixture!("messages-stream-basic.sse")[..600].to_vec();
    let cut = wire.windows(2).rposition(|w| w == b"\n\n").unwrap() + 2;
    wire.truncate(cut);
    assert!(!d.push(&wire).unwrap().is_empty());
    let e = d
        .push(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}\n\n")
        .unwrap_err();
    assert_eq!(e.status.as_u16(), 500);
}

#[test]
fn stream_garbage_is_an_error() {
    let mut d = StreamDecoder::new(&decode_ctx());
    assert!(d
        .push(b"event: content_block_delta\ndata: {not json\n\n")
        .is_err());
}

// ---- errors ---------------------------------------------------------------

/// As the gateway sees it: decoded, then made safe to relay.
fn decode_err(status: u16, body: &[u8], headers: HeaderMap) -> GatewayError {
    let d = deployment("anthropic", "claude-sonnet-4-5");
    let e = decode_error(StatusCode::from_u16(status).unwrap(), &headers, body, &d);
    crate::codec::redact_credentials(e, &d, &HeaderMap::new())
}

#[test]
fn error_overloaded_529_keeps_its_status() {
    let e = decode_err(529, fixture!("error-overloaded-529.json"), HeaderMap::new());
    assert_eq!(e.status.as_u16(), 529);
    assert_eq!(e.kind, ErrorKind::UpstreamServer);
    assert!(e.kind.is_retryable());
    assert_eq!(e.message, "Overloaded");
    let v: Value = serde_json::from_slice(&e.to_openai_json()).unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
}

#[test]
fn error_types_map_to_kinds_and_statuses() {
    let body = |t: &str, m: &str| {
        serde_json::to_vec(&json!({"type": "error", "error": {"type": t, "message": m}})).unwrap()
    };
    let cases = [
        (401, "authentication_error", ErrorKind::Authentication),
        (403, "permission_error", ErrorKind::PermissionDenied),
        (404, "not_found_error", ErrorKind::NotFound),
        (400, "invalid_request_error", ErrorKind::InvalidRequest),
        (413, "request_too_large", ErrorKind::PayloadTooLarge),
        (429, "rate_limit_error", ErrorKind::RateLimited),
        (500, "api_error", ErrorKind::UpstreamServer),
    ];
    for (status, t, kind) in cases {
        let e = decode_err(status, &body(t, "m"), HeaderMap::new());
        assert_eq!((e.kind, e.status.as_u16()), (kind, status), "{t}");
        assert_eq!(e.upstream_type.as_deref(), Some(t));
    }
    let e = decode_err(
        400,
        &body(
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
        ),
        HeaderMap::new(),
    );
    assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);
    assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
    assert_eq!(e.status.as_u16(), 400);
}

#[test]
fn error_rate_limit_keeps_retry_after_and_redacts_the_key() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", HeaderValue::from_static("17"));
    let e = decode_err(
        429,
        br#"{"type":"error","error":{"type":"rate_limit_error","message":"key sk-ant-test-key is over its limit"}}"#,
        headers,
    );
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after.as_deref(), Some("17"));
    assert!(!e.message.contains("sk-ant-test-key"), "{}", e.message);
}

#[test]
fn error_in_google_shape_from_vertex() {
    let e = decode_error(
        StatusCode::UNAUTHORIZED,
        &HeaderMap::new(),
        br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        &deployment("vertex_anthropic", "claude-sonnet-4-5@20250929"),
    );
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert_eq!(e.status.as_u16(), 401);
    assert_eq!(e.message, "Request had invalid authentication credentials.");
    let e = decode_err(502, b"<html>bad gateway</html>", HeaderMap::new());
    assert_eq!(e.status.as_u16(), 502);
}

// ---- encoding -------------------------------------------------------------

fn tool_use(id: &str, name: &str, args: &str) -> Part {
    Part::ToolUse {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
        cache_control: None,
    }
}

fn tool_result(id: &str, content: &str) -> Part {
    Part::ToolResult {
        tool_use_id: id.into(),
        content: vec![text(content)],
        is_error: false,
        cache_control: None,
    }
}

fn weather_tool() -> Tool {
    Tool { cache_control: None,
        name: "get_weather".into(),
        description: Some("Weather".into()),
        parameters: Some(
            serde_json::value::RawValue::from_string(
                r#"{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}"#.into(),
            )
            .unwrap(),
        ),
        strict: Some(true),
    }
}

#[test]
fn system_turns_anywhere_become_top_level_blocks() {
    let req = ChatRequest {
        messages: vec![
            msg(Role::System, vec![text("be brief")]),
            msg(Role::User, vec![text("hi")]),
            msg(
                Role::Developer,
                vec![Part::Text {
                    text: "cite sources".into(),
                    cache_control: Some(CacheControl {
                        kind: "ephemeral".into(),
                        ttl: Some("1h".into()),
                    }),
                }],
            ),
            msg(Role::User, vec![text("again")]),
        ],
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-sonnet-4-5-20250929");
    assert_eq!(
        b["system"],
        json!([
            {"type": "text", "text": "be brief"},
            {"type": "text", "text": "cite sources", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ])
    );
    // The two user turns, no longer separated, are merged into one.
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}]}])
    );
    assert_eq!(b["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(b["max_tokens"], 64000);
    assert!(b.get("stream").is_none());
    assert!(b.get("anthropic_version").is_none());
}

#[test]
fn tool_round_trip_alternates_roles() {
    let req = ChatRequest {
        messages: vec![
            msg(Role::User, vec![text("weather in Paris and Rome?")]),
            msg(
                Role::Assistant,
                vec![
                    text(""),
                    tool_use("toolu_1", "get_weather", r#"{"location":"Paris"}"#),
                    tool_use("toolu_2", "get_weather", ""),
                ],
            ),
            msg(Role::User, vec![tool_result("toolu_1", "sunny")]),
            msg(
                Role::User,
                vec![Part::ToolResult {
                    tool_use_id: "toolu_2".into(),
                    content: vec![text("rain")],
                    is_error: true,
                    cache_control: None,
                }],
            ),
            msg(Role::User, vec![text("thanks")]),
        ],
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Required),
        parallel_tool_calls: Some(false),
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-haiku-4-5");
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rain", "is_error": true},
                {"type": "text", "text": "thanks"}
            ]}
        ])
    );
    assert_eq!(
        b["tools"],
        json!([{"name": "get_weather", "description": "Weather", "input_schema":
            {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}])
    );
    assert_eq!(
        b["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
}

#[test]
fn tool_results_go_first_in_their_user_turn() {
    let req = ChatRequest {
        messages: vec![
            msg(Role::User, vec![text("q")]),
            msg(Role::Assistant, vec![tool_use("t1", "f", "{}")]),
            msg(Role::User, vec![text("also this")]),
            msg(Role::User, vec![tool_result("t1", "r")]),
        ],
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-haiku-4-5");
    let kinds: Vec<&str> = b["messages"][2]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["tool_result", "text"]);
}

#[test]
fn tool_choice_variants() {
    let base = ChatRequest {
        messages: vec![msg(Role::User, vec![text("x")])],
        tools: vec![weather_tool()],
        ..ChatRequest::default()
    };
    let cases = [
        (Some(ToolChoice::Auto), json!({"type": "auto"})),
        (Some(ToolChoice::None), json!({"type": "none"})),
        (Some(ToolChoice::Required), json!({"type": "any"})),
        (
            Some(ToolChoice::Named("get_weather".into())),
            json!({"type": "tool", "name": "get_weather"}),
        ),
        (None, Value::Null),
    ];
    for (choice, want) in cases {
        let req = ChatRequest {
            tool_choice: choice.clone(),
            ..base.clone()
        };
        assert_eq!(
            body_of(&req, "claude-haiku-4-5")["tool_choice"],
            want,
            "{choice:?}"
        );
    }
    // No tools: a tool_choice has nothing to apply to.
    let req = ChatRequest {
        tools: Vec::new(),
        tool_choice: Some(ToolChoice::Required),
        ..base
    };
    assert!(body_of(&req, "claude-haiku-4-5")
        .get("tool_choice")
        .is_none());
}

#[test]
fn media_documents_and_request_fields() {
    let req = ChatRequest {
        messages: vec![msg(
            Role::User,
            vec![
                text("what is this"),
                Part::Image {
                    source: MediaSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into(),
                    },
                    detail: Some("low".into()),
                    cache_control: None,
                },
                Part::Image {
                    source: MediaSource::Url("https://example.com/cat.jpg".into()),
                    detail: None,
                    cache_control: None,
                },
                Part::Document {
                    source: MediaSource::Base64 {
                        media_type: "application/pdf".into(),
                        data: "JVBERi0=".into(),
                    },
                    name: Some("report.pdf".into()),
                    cache_control: None,
                },
                Part::Document {
                    source: MediaSource::Url("https://example.com/a.pdf".into()),
                    name: None,
                    cache_control: None,
                },
            ],
        )],
        stop: vec!["END".into(), " \n".into()],
        temperature: Some(1.7),
        top_p: Some(0.9),
        user: Some("user-42".into()),
        stream: true,
        max_tokens: Some(300),
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-3-5-haiku-20241022");
    let c = &b["messages"][0]["content"];
    assert_eq!(
        c[1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        c[2],
        json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}})
    );
    assert_eq!(
        c[3],
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}, "title": "report.pdf"})
    );
    assert_eq!(
        c[4],
        json!({"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}})
    );
    assert_eq!(b["stop_sequences"], json!(["END"]));
    // OpenAI's temperature range is 0..2, Anthropic's 0..1.
    assert_eq!(b["temperature"], 1.0);
    assert_eq!(b["top_p"], 0.9);
    assert_eq!(b["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(b["stream"], true);
    assert_eq!(b["max_tokens"], 300);
}

#[test]
fn audio_is_refused_with_its_position() {
    let req = ChatRequest {
        messages: vec![msg(
            Role::User,
            vec![Part::Audio {
                data: "AAAA".into(),
                format: "wav".into(),
            }],
        )],
        ..ChatRequest::default()
    };
    let e = render_request(
        &req,
        &Options {
            model: "claude-haiku-4-5",
            target: Target::Anthropic,
            auto_cache: false,
        },
    )
    .unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(e.message.contains("messages[0]"), "{}", e.message);
}

#[test]
fn max_tokens_defaults_per_model() {
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("x")])],
        ..ChatRequest::default()
    };
    let cases = [
        ("claude-sonnet-4-5-20250929", 64000),
        ("claude-opus-4-1-20250805", 32000),
        ("claude-opus-4-5-20251101", 64000),
        ("claude-haiku-4-5-20251001", 64000),
        ("claude-3-5-sonnet-20241022", 8192),
        ("some-proxy-model", 4096),
    ];
    for (model, want) in cases {
        assert_eq!(body_of(&req, model)["max_tokens"], want, "{model}");
    }
    // A client value above the model's limit would be refused: clamped.
    let req = ChatRequest {
        max_tokens: Some(100_000),
        ..req
    };
    assert_eq!(body_of(&req, "claude-opus-4-1")["max_tokens"], 32000);
    assert_eq!(body_of(&req, "claude-next")["max_tokens"], 100_000);
}

#[test]
fn reasoning_effort_becomes_a_thinking_budget() {
    let base = ChatRequest {
        messages: vec![msg(Role::User, vec![text("think")])],
        temperature: Some(0.2),
        top_p: Some(0.5),
        top_k: Some(5),
        ..ChatRequest::default()
    };
    for (effort, budget) in [("low", 1024), ("medium", 4096), ("high", 16384)] {
        let req = ChatRequest {
            reasoning_effort: Some(effort.into()),
            ..base.clone()
        };
        let b = body_of(&req, "claude-sonnet-4-5");
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": budget}),
            "{effort}"
        );
        assert_eq!(b["max_tokens"], 64000);
        // Thinking requires temperature 1 and refuses top_k and a low top_p.
        assert_eq!(b["temperature"], 1.0);
        assert!(b.get("top_p").is_none() && b.get("top_k").is_none());
    }
    // max_tokens at or below the budget: the budget comes on top.
    let req = ChatRequest {
        reasoning_effort: Some("medium".into()),
        max_tokens: Some(500),
        temperature: None,
        ..base.clone()
    };
    let b = body_of(&req, "claude-sonnet-4-5");
    assert_eq!(b["max_tokens"], 4596);
    assert!(b.get("temperature").is_none());
    // A model whose default is below the budget still gets room to answer.
    let req = ChatRequest {
        reasoning_effort: Some("high".into()),
        ..base.clone()
    };
    let b = body_of(&req, "claude-3-7-sonnet-20250219");
    assert_eq!(b["max_tokens"], 64000);
    let b = body_of(&req, "claude-3-5-sonnet-20241022");
    // 16384 + 4096 is over that model's 8192: the budget shrinks under the cap.
    assert_eq!(b["max_tokens"], 8192);
    assert_eq!(b["thinking"]["budget_tokens"], 8191);
    let req = ChatRequest {
        reasoning_effort: Some("none".into()),
        ..base
    };
    assert!(body_of(&req, "claude-sonnet-4-5").get("thinking").is_none());
}

#[test]
fn explicit_and_adaptive_thinking() {
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("x")])],
        thinking: Some(Thinking::Adaptive),
        max_tokens: Some(2000),
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-opus-4-5");
    assert_eq!(b["thinking"], json!({"type": "adaptive"}));
    assert_eq!(b["max_tokens"], 2000);
    // An OpenAI client's extra body may carry Anthropic's own thinking object.
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("x")])],
        extra: vec![(
            "thinking".into(),
            serde_json::value::RawValue::from_string(
                r#"{"type":"enabled","budget_tokens":2048}"#.into(),
            )
            .unwrap(),
        )],
        ..ChatRequest::default()
    };
    assert_eq!(
        body_of(&req, "claude-opus-4-5")["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
}

#[test]
fn thinking_and_signatures_round_trip() {
    // The fixture's thinking block, given back on the next turn.
    let first = decode_response(fixture!("messages-thinking.json"), &decode_ctx()).unwrap();
    let mut assistant = first.choices[0].content.clone();
    assistant.push(tool_use("toolu_9", "calc", r#"{"x":1}"#));
    assistant.push(Part::RedactedThinking {
        data: "EmwKAhgB".into(),
    });
    assistant.insert(
        0,
        Part::Thinking {
            text: "unsigned reasoning from another model".into(),
            signature: None,
        },
    );
    let req = ChatRequest {
        messages: vec![
            msg(Role::User, vec![text("What is 925 / 5?")]),
            msg(Role::Assistant, assistant),
            msg(Role::User, vec![tool_result("toolu_9", "185")]),
        ],
        reasoning_effort: Some("low".into()),
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-sonnet-4-5-20250929");
    let blocks = b["messages"][1]["content"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "thinking");
    assert_eq!(blocks[0]["thinking"], "925 divided by 5 = 185");
    assert!(blocks[0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("Er4BCkYICxgCKkCoxqLHLrx4mFL9"));
    assert_eq!(blocks[1], json!({"type": "text", "text": "925 ÷ 5 = 185"}));
    assert_eq!(blocks[2]["type"], "tool_use");
    assert_eq!(
        blocks[3],
        json!({"type": "redacted_thinking", "data": "EmwKAhgB"})
    );
    // The unsigned block is not sent: Claude would reject it.
    assert_eq!(blocks.len(), 4);
}

#[test]
fn conversations_open_with_a_user_turn_and_prefill_is_trimmed() {
    let req = ChatRequest {
        messages: vec![
            msg(Role::System, vec![text("s")]),
            msg(Role::Assistant, vec![text("Hello")]),
            msg(Role::User, vec![text("hi")]),
            msg(Role::Assistant, vec![text("The answer is ")]),
        ],
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-haiku-4-5");
    let roles: Vec<&str> = b["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(b["messages"][0]["content"][0]["text"], ".");
    assert_eq!(b["messages"][3]["content"][0]["text"], "The answer is");
}

#[test]
fn cache_control_passes_through_and_auto_cache_adds_breakpoints() {
    let cc = Some(CacheControl {
        kind: "ephemeral".into(),
        ttl: None,
    });
    let req = ChatRequest {
        messages: vec![
            msg(Role::System, vec![text("sys one"), text("sys two")]),
            msg(Role::User, vec![text("u1")]),
            msg(Role::Assistant, vec![text("a1")]),
            msg(
                Role::User,
                vec![Part::Text {
                    text: "u2 marked".into(),
                    cache_control: cc.clone(),
                }],
            ),
            msg(Role::Assistant, vec![text("a2")]),
            msg(Role::User, vec![text("u3a"), text("u3b")]),
        ],
        ..ChatRequest::default()
    };
    let plain = body_of(&req, "claude-haiku-4-5");
    let marked = |b: &Value| -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in b["system"].as_array().unwrap().iter().enumerate() {
            if s.get("cache_control").is_some() {
                out.push(format!("system[{i}]"));
            }
        }
        for (i, m) in b["messages"].as_array().unwrap().iter().enumerate() {
            for (j, c) in m["content"].as_array().unwrap().iter().enumerate() {
                if c.get("cache_control").is_some() {
                    out.push(format!("messages[{i}][{j}]"));
                }
            }
        }
        out
    };
    assert_eq!(marked(&plain), ["messages[2][0]"]);
    assert_eq!(
        plain["messages"][2]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    let auto = body_with(&req, "claude-haiku-4-5", Target::Anthropic, true);
    // Last system block, and the last block of the last two user turns (one already marked).
    assert_eq!(
        marked(&auto),
        ["system[1]", "messages[2][0]", "messages[4][1]"]
    );
    assert_eq!(
        auto["system"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
}

#[test]
fn auto_cache_stays_within_four_breakpoints() {
    let cc = || Part::Text {
        text: "m".into(),
        cache_control: Some(CacheControl {
            kind: "ephemeral".into(),
            ttl: None,
        }),
    };
    let req = ChatRequest {
        messages: vec![
            msg(Role::System, vec![text("s")]),
            msg(Role::User, vec![cc(), cc(), cc(), text("last")]),
        ],
        ..ChatRequest::default()
    };
    let b = body_with(&req, "claude-haiku-4-5", Target::Anthropic, true);
    let count = b.to_string().matches("cache_control").count();
    assert_eq!(count, 4);
    assert!(b["system"][0].get("cache_control").is_some());
    assert!(b["messages"][0]["content"][3]
        .get("cache_control")
        .is_none());
}

#[test]
fn server_tools_and_top_k_from_extra() {
    let raw = r#"{"type":"web_search_20250305","name":"web_search","max_uses":3}"#;
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("news?")])],
        server_tools: vec![ServerTool {
            kind: "web_search_20250305".into(),
            name: "web_search".into(),
            raw: serde_json::value::RawValue::from_string(raw.into()).unwrap(),
        }],
        extra: vec![(
            "top_k".into(),
            serde_json::value::RawValue::from_string("40".into()).unwrap(),
        )],
        ..ChatRequest::default()
    };
    let b = body_of(&req, "claude-sonnet-4-5");
    assert_eq!(
        b["tools"],
        json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}])
    );
    assert_eq!(b["top_k"], 40);
}

// ---- requests on the wire ---------------------------------------------------

fn ctx(token: Option<&str>) -> EncodeContext {
    EncodeContext {
        now_ms: 0,
        access_token: token.map(Secret::new),
    }
}

#[test]
fn anthropic_request_headers_and_url() {
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("hi")])],
        stream: true,
        anthropic_beta: vec!["a-2025".into(), "b-2026".into()],
        ..ChatRequest::default()
    };
    let d = deployment("anthropic", "claude-sonnet-4-5");
    let r = encode(&req, &d, &ctx(None), Target::Anthropic).unwrap();
    assert_eq!(r.uri(), "https://api.anthropic.com/v1/messages");
    assert_eq!(r.method(), Method::POST);
    let h = r.headers();
    assert_eq!(h["x-api-key"], "sk-ant-test-key");
    assert_eq!(h["anthropic-version"], "2023-06-01");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["accept"], "text/event-stream");
    assert_eq!(h["anthropic-beta"], "a-2025,b-2026");
    assert!(h.get("authorization").is_none());
    let body: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["model"], "claude-sonnet-4-5");
}

#[test]
fn base_urls_with_or_without_version() {
    for base in [
        "http://fleet/anthropic",
        "http://fleet/anthropic/",
        "http://fleet/anthropic/v1",
        "http://fleet/anthropic/v1/messages",
    ] {
        assert_eq!(
            messages_url(base),
            "http://fleet/anthropic/v1/messages",
            "{base}"
        );
    }
    assert_eq!(
        count_tokens_url("http://fleet/anthropic/v1"),
        "http://fleet/anthropic/v1/messages/count_tokens"
    );
}

#[test]
fn vertex_url_body_and_token() {
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("hi")])],
        ..ChatRequest::default()
    };
    let mut d = deployment("vertex_anthropic", "claude-sonnet-4-5@20250929");
    d.params.vertex_project = Some("my-proj".into());
    d.params.vertex_location = Some("us-east5".into());
    let r = encode(&req, &d, &ctx(Some("ya29.minted")), Target::Vertex).unwrap();
    assert_eq!(
        r.uri(),
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    );
    assert_eq!(r.headers()["authorization"], "Bearer ya29.minted");
    assert!(r.headers().get("x-api-key").is_none());
    let body: Value = serde_json::from_slice(r.body()).unwrap();
    assert!(body.get("model").is_none());
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(body["max_tokens"], 64000);

    // Streaming, the global endpoint, and a pre-minted token in api_key.
    let req = ChatRequest {
        stream: true,
        ..req
    };
    d.params.vertex_location = Some("global".into());
    let r = encode(&req, &d, &ctx(None), Target::Vertex).unwrap();
    assert_eq!(
        r.uri(),
        "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );
    assert_eq!(r.headers()["authorization"], "Bearer sk-ant-test-key");

    // api_base overrides the host (tests point it at the fleet).
    d.api_base = "http://127.0.0.1:9/vertex".into();
    d.params.vertex_location = Some("europe-west1".into());
    let r = encode(&req, &d, &ctx(None), Target::Vertex).unwrap();
    assert_eq!(
        r.uri(),
        "http://127.0.0.1:9/vertex/v1/projects/my-proj/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );

    // Names that are not URL-safe are percent-encoded into their segment.
    d.upstream_model = "fault:status=429|claude".into();
    let r = encode(&req, &d, &ctx(None), Target::Vertex).unwrap();
    assert!(r
        .uri()
        .to_string()
        .ends_with("/models/fault%3Astatus%3D429%7Cclaude:streamRawPredict"));

    d.params.vertex_project = None;
    let e = encode(&req, &d, &ctx(None), Target::Vertex).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
    assert!(e.log_text().contains("vertex_project"));
    d.params.vertex_project = Some("p".into());
    d.api_key = None;
    let e = encode(&req, &d, &ctx(None), Target::Vertex).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
    assert_eq!(e.status.as_u16(), 404);
}

#[test]
fn dispatch_through_the_codec_table() {
    let req = ChatRequest {
        messages: vec![msg(Role::User, vec![text("hi")])],
        ..ChatRequest::default()
    };
    let d = deployment("anthropic", "claude-haiku-4-5");
    assert_eq!(d.codec(), crate::providers::Codec::Anthropic);
    let r = crate::codec::encode(&req, &d, &ctx(None)).unwrap();
    assert_eq!(r.headers()["x-api-key"], "sk-ant-test-key");
    let resp =
        crate::codec::decode_response(d.codec(), fixture!("messages-text.json"), &decode_ctx())
            .unwrap();
    assert_eq!(resp.usage, usage(12, 29, 0, 0));
    let mut s = crate::codec::StreamDecoder::new(d.codec(), &decode_ctx()).unwrap();
    let mut chunks = s.push(fixture!("messages-stream-basic.sse")).unwrap();
    // The recording ends without the blank line after message_stop.
    assert!(!s.is_done());
    chunks.extend(s.finish().unwrap());
    assert!(s.is_done());
    assert!(chunks.iter().all(|c| c.created == 1_700_000_000));
}

/// `cache_creation.ephemeral_1h_input_tokens` is the 1-hour part of the
/// writes, stream or whole answer, and goes back out to Anthropic clients.
#[test]
fn one_hour_cache_writes_are_kept() {
    let wire = std::str::from_utf8(fixture!(
        "messages-stream-cache-write-server-tool.chunks.jsonl"
    ))
    .unwrap()
    .replace(
        "\"ephemeral_5m_input_tokens\":3068,\"ephemeral_1h_input_tokens\":0",
        "\"ephemeral_5m_input_tokens\":1068,\"ephemeral_1h_input_tokens\":2000",
    );
    let a = decode_stream(&reframe(wire.as_bytes(), true), 256);
    let u = a.usage.unwrap();
    // message_delta's total writes (3337) with message_start's split.
    assert_eq!(
        (u.cache_write_tokens, u.cache_write_1h_tokens),
        (3337, 2000)
    );
    let body = std::str::from_utf8(fixture!("messages-text.json"))
        .unwrap()
        .replace(
            "\"cache_creation_input_tokens\": 0",
            "\"cache_creation_input_tokens\": 1500",
        )
        .replace(
            "\"ephemeral_1h_input_tokens\": 0",
            "\"ephemeral_1h_input_tokens\": 1500",
        );
    let r = decode_response(body.as_bytes(), &decode_ctx()).unwrap();
    let u = r.usage.unwrap();
    assert_eq!(
        (u.cache_write_tokens, u.cache_write_1h_tokens),
        (1500, 1500)
    );
    let cost = crate::cost::TokenUsage::from(u);
    assert_eq!(
        (cost.cache_write_tokens, cost.cache_write_1h_tokens),
        (0, 1500)
    );
    let back = serde_json::to_value(usage_to_wire(&u)).unwrap();
    assert_eq!(
        back["cache_creation"],
        json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1500})
    );
    assert_eq!(back["cache_creation_input_tokens"], 1500);
    // Only 5-minute writes: no split is said.
    let back = serde_json::to_value(usage_to_wire(&usage(10, 1, 0, 5).unwrap())).unwrap();
    assert!(back.get("cache_creation").is_none());
}
