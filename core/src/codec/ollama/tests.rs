//! Ollama against its documented examples (`fixtures/ollama/`), the request it
//! receives, and its error bodies.

use super::*;
use crate::codec::test_support::decode_ctx;
use crate::codec::test_support::{assemble, decode_in_pieces, deployment, usage};
use crate::codec::StreamDecoder as AnyDecoder;
use crate::ingress::openai_chat::ChatEnvelope;
use crate::providers::Codec;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/ollama/",
            $name
        ))
    };
}

fn local() -> Deployment {
    deployment("ollama", "llama3.2", "http://localhost:11434", None)
}

// ---- recordings ------------------------------------------------------------

#[test]
fn non_stream_text() {
    let r = decode_response(fixture!("api-chat.json"), &decode_ctx()).unwrap();
    assert_eq!(r.model, "llama3.2");
    assert_eq!(r.created, 1702390423);
    assert!(r.id.starts_with("chatcmpl-ollama-"));
    assert_eq!(
        r.choices[0].text().as_deref(),
        Some("Hello! How are you today?")
    );
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, Some(usage(26, 298)));
}

#[test]
fn non_stream_tool_call_arguments_become_compact_text() {
    let r = decode_response(fixture!("api-chat-tools.json"), &decode_ctx()).unwrap();
    let c = &r.choices[0];
    assert_eq!(c.text(), None, "empty content is no text");
    let calls: Vec<_> = c.tool_uses().collect();
    assert_eq!(calls.len(), 1);
    let (id, name, arguments) = calls[0];
    assert_eq!((name, arguments), ("get_weather", r#"{"city":"Tokyo"}"#));
    assert!(id.starts_with("call_") && id.len() == 21, "{id}");
    // done_reason says "stop", but the turn ends in a tool call.
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.usage, Some(usage(169, 18)));
    // The same answer gets the same id; ids stay stable across retries of a decode.
    let again = decode_response(fixture!("api-chat-tools.json"), &decode_ctx()).unwrap();
    assert_eq!(again.choices[0].tool_uses().next().unwrap().0, id);
}

#[test]
fn stream_first_and_final() {
    let wire = fixture!("api-chat-stream-first-and-final.ndjson");
    for split in [1, 10, 100_000] {
        let mut d = AnyDecoder::new(Codec::Ollama, &decode_ctx()).unwrap();
        let chunks = decode_in_pieces(&mut d, wire, split).unwrap();
        assert!(d.is_done());
        let a = assemble(&chunks);
        assert_eq!(a.text, "The");
        assert_eq!(a.roles, 1);
        assert_eq!(a.finish, Some(FinishReason::Stop));
        assert_eq!(a.usage, Some(usage(26, 282)));
        assert_eq!(chunks.len(), 2);
        assert!(chunks
            .iter()
            .all(|c| c.created == 1691164339 && c.model == "llama3.2"));
        assert_eq!(chunks[0].id, chunks[1].id);
    }
}

#[test]
fn stream_tool_call() {
    let mut d = AnyDecoder::new(Codec::Ollama, &decode_ctx()).unwrap();
    let chunks = decode_in_pieces(&mut d, fixture!("api-chat-stream-tools.ndjson"), 7).unwrap();
    assert!(d.is_done());
    let a = assemble(&chunks);
    assert_eq!(a.tools.len(), 1);
    assert_eq!(a.tools[0].1, "get_weather");
    assert_eq!(a.tools[0].2, r#"{"city":"Tokyo"}"#);
    assert!(a.tools[0].0.starts_with("call_"));
    assert_eq!(a.text, "");
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!(a.usage, Some(usage(169, 15)));
}

#[test]
fn generate_stream_lines_are_read_too() {
    let mut d = AnyDecoder::new(Codec::Ollama, &decode_ctx()).unwrap();
    let chunks = decode_in_pieces(&mut d, fixture!("api-generate-stream.ndjson"), 50).unwrap();
    assert!(d.is_done());
    let a = assemble(&chunks);
    assert_eq!(a.text, "That's a fantastic question!");
    assert_eq!(a.finish, Some(FinishReason::Stop));
    assert_eq!(a.usage, None, "the example carries no counts");
}

#[test]
fn error_line_mid_stream_fails_the_stream_after_the_text_before_it() {
    let wire = fixture!("stream-error-mid-stream.ndjson");
    let mut d = AnyDecoder::new(Codec::Ollama, &decode_ctx()).unwrap();
    let mut text = String::new();
    let mut err = None;
    for line in wire.split_inclusive(|&b| b == b'\n') {
        match d.push(line) {
            Ok(chunks) => text.push_str(&assemble(&chunks).text),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert_eq!(text, " Yes.Ican");
    let e = err.expect("the error line fails the stream");
    assert_eq!(e.code.as_deref(), Some("upstream_stream_error"));
    assert!(
        e.message
            .ends_with("an error was encountered while running the model"),
        "{}",
        e.message
    );
    assert!(!d.is_done());
}

#[test]
fn malformed_line_is_an_error() {
    let mut d = AnyDecoder::new(Codec::Ollama, &decode_ctx()).unwrap();
    let e = d
        .push(b"{\"message\":{\"content\":\"a\"},\"done\":false}\n{not json\n")
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("upstream_stream_error"));
}

#[test]
fn error_bodies() {
    let e = decode_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        fixture!("error.json"),
        &local(),
    );
    assert_eq!(
        (e.kind, e.status),
        (ErrorKind::UpstreamServer, StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(e.message, "the model failed to generate a response");
    let e = decode_error(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        br#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
        &local(),
    );
    assert_eq!(
        (e.kind, e.status),
        (ErrorKind::NotFound, StatusCode::NOT_FOUND)
    );
    assert_eq!(e.code.as_deref(), Some("model_not_found"));
    assert_eq!(
        e.message,
        "model \"llama9\" not found, try pulling it first"
    );
    let e = decode_error(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        b"404 page not found",
        &local(),
    );
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.code, None);
    let e = decode_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderMap::new(),
        br#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#,
        &local(),
    );
    assert_eq!(e.kind, ErrorKind::UpstreamUnavailable);
    // A 200 whose body is an error object.
    let e = decode_response(br#"{"error":"unexpected EOF"}"#, &decode_ctx()).unwrap_err();
    assert_eq!(e.message, "unexpected EOF");
}

#[test]
fn rfc3339_times() {
    assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        unix_seconds("2025-07-07T20:32:53.844124Z"),
        Some(1751920373)
    );
    assert_eq!(unix_seconds("2000-02-29T12:00:00+02:30"), Some(951_816_600));
    assert_eq!(unix_seconds("yesterday"), None);
}

// ---- the request Ollama receives ----------------------------------------------

fn unified(body: &str) -> ChatRequest {
    ChatEnvelope::parse(body.as_bytes())
        .unwrap()
        .to_unified()
        .unwrap()
}

#[test]
fn request_body_for_a_full_tool_round_trip() {
    let req = unified(
        r#"{"model":"x","messages":[
        {"role":"developer","content":"be brief"},
        {"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K"}}]},
        {"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Tokyo\", \"days\": [1, 2]}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"11 degrees"}],
        "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
        "max_completion_tokens":64,"temperature":0.1,"top_p":0.5,"stop":["\n\n"],"seed":3,"top_k":20,
        "response_format":{"type":"json_object"},"reasoning_effort":"high"}"#,
    );
    let http = encode(&req, &local()).unwrap();
    assert_eq!(http.uri(), "http://localhost:11434/api/chat");
    assert!(http.headers().get("authorization").is_none());
    assert_eq!(http.headers()["accept"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "what is this", "images": ["iVBORw0K"]},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Tokyo", "days": [1, 2]}}}
                ]},
                {"role": "tool", "content": "11 degrees", "tool_name": "get_weather"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
            "stream": false,
            "format": "json",
            "options": {"temperature": 0.1, "top_p": 0.5, "top_k": 20, "num_predict": 64, "stop": ["\n\n"], "seed": 3},
            "think": true
        })
    );
}

#[test]
fn stream_is_always_explicit_and_schema_and_levels_map() {
    let req = unified(
        r#"{"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low",
        "response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"a":{"type":"string"}}}}}}"#,
    );
    let body: serde_json::Value =
        serde_json::from_slice(&render_request(&req, "gpt-oss:20b").unwrap()).unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["think"], "low");
    assert_eq!(
        body["format"],
        serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}})
    );
    assert!(body.get("options").is_none(), "no options, no key");
    let req = unified(
        r#"{"model":"x","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"none"}"#,
    );
    let body: serde_json::Value =
        serde_json::from_slice(&render_request(&req, "qwen3").unwrap()).unwrap();
    assert_eq!(body["think"], false);
    assert_eq!(body["stream"], false);
}

#[test]
fn url_images_and_non_object_arguments_are_refused() {
    let req = unified(
        r#"{"model":"x","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}"#,
    );
    let e = render_request(&req, "m").unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(e.code.as_deref(), Some("image_url_not_supported"));
    assert_eq!(e.param.as_deref(), Some("messages[0].content"));
    let req = unified(
        r#"{"model":"x","messages":[{"role":"user","content":"hi"},
        {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]},
        {"role":"tool","tool_call_id":"c","content":"ok"}]}"#,
    );
    let e = render_request(&req, "m").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[1].tool_calls"));
}

#[test]
fn host_without_scheme_and_keys_behind_proxies() {
    let mut d = local();
    d.api_base = "0.0.0.0:11434".into();
    d.api_key = Some(crate::secret::Secret::new("ollama-proxy-key"));
    let req = ChatRequest {
        messages: vec![crate::unified::Message {
            role: crate::unified::Role::User,
            content: vec![Part::Text {
                text: "hi".into(),
                cache_control: None,
            }],
            name: None,
        }],
        stream: true,
        ..ChatRequest::default()
    };
    let http = encode(&req, &d).unwrap();
    assert_eq!(http.uri(), "http://0.0.0.0:11434/api/chat");
    assert_eq!(http.headers()["authorization"], "Bearer ollama-proxy-key");
    assert_eq!(http.headers()["accept"], "application/x-ndjson");
    d.api_base = "https://ollama.example/api/".into();
    assert_eq!(
        encode(&req, &d).unwrap().uri(),
        "https://ollama.example/api/chat"
    );
}
