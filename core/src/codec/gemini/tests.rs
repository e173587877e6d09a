//! The Gemini codec against the recorded fixtures (`fixtures/gemini/`); the
//! expected values are read off the fixture files by hand.

use crate::codec::test_support::decode_ctx;
use std::collections::HashMap;

use http::{HeaderMap, StatusCode};

use super::*;
use crate::codec::{self, EncodeContext};
use crate::config::Config;
use crate::error::ErrorKind;
use crate::ingress::openai_chat::ChatEnvelope;
use crate::ports::Env;
use crate::resolve::resolve_model;
use crate::unified::{ChatChunk, FinishReason, Part, Usage};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/gemini/",
            $name
        ))
    };
}

struct MapEnv(HashMap<&'static str, &'static str>);
impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

const TEST_SA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fleet/vertex_test_service_account.json"
));

fn deployment(model: &str, toml: &str) -> Deployment {
    let config = Config::parse(toml).unwrap();
    let env = MapEnv(HashMap::from([
        ("GEMINI_API_KEY", "AIza-test-key"),
        ("VERTEX_SA", TEST_SA),
    ]));
    resolve_model(model, &config, &env).unwrap()
}

fn gemini(model: &str) -> Deployment {
    deployment(&format!("gemini/{model}"), "")
}

fn usage(input: u64, output: u64, reasoning: u64) -> Option<Usage> {
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: reasoning,
        ..Usage::default()
    })
}

fn fixture_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

// ---------------------------------------------------------------- responses

#[test]
fn text_response() {
    let r = decode_response(fixture!("generateContent-text.json"), &decode_ctx()).unwrap();
    assert_eq!(r.model, "gemini-2.0-flash");
    assert!(r.id.starts_with("gemini-"), "{}", r.id);
    assert_eq!(r.choices.len(), 1);
    let c = &r.choices[0];
    assert_eq!(c.index, 0);
    assert_eq!(
        c.text().as_deref(),
        Some("Google's headquarters, also known as the Googleplex, is located in **Mountain View, California**.\n")
    );
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    assert_eq!(c.tool_uses().count(), 0);
    assert_eq!(r.usage, usage(7, 22, 0));
}

#[test]
fn thinking_and_function_call_response() {
    let body = fixture!("generateContent-thinking-function-call.json");
    let r = decode_response(body, &decode_ctx()).unwrap();
    assert_eq!(r.id, "38CHaLjMG6TujrEPtvTiuQk");
    assert_eq!(r.model, "gemini-2.5-pro");
    let c = &r.choices[0];
    match &c.content[0] {
        Part::Thinking { text, .. } => {
            assert!(text.starts_with(
                "**Thinking Through the New Year's Eve Calculation**\n\nOkay, so the user"
            ));
            assert!(text.ends_with("I think this will all work.\n"));
        }
        other => panic!("expected thinking first, got {other:?}"),
    }
    assert_eq!(c.text(), None);
    let calls: Vec<_> = c.tool_uses().collect();
    assert_eq!(calls.len(), 1);
    let (id, name, args) = calls[0];
    assert_eq!((name, args), ("now", "{}"));
    let signature = fixture_json(body)["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(signature.starts_with("CtQOAVSoXO74PmYr9AFurEIJ"));
    let (base, sig) = split_tool_call_id(id);
    assert!(base.starts_with("call_"), "{base}");
    assert_eq!(sig, Some(signature.as_str()));
    // STOP with a function call is a tool-calls finish for OpenAI clients.
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    // 8 candidate tokens + 501 thinking tokens are output.
    assert_eq!(r.usage, usage(38, 509, 501));
}

#[test]
fn gemini3_tool_call_response() {
    let r = decode_response(
        fixture!("generateContent-tool-call-gemini3.json"),
        &decode_ctx(),
    )
    .unwrap();
    assert_eq!(r.id, "m36LaZGyCLz1xs0PtNSB-QU");
    assert_eq!(r.model, "gemini-3-pro-preview");
    let c = &r.choices[0];
    let calls: Vec<_> = c.tool_uses().collect();
    assert_eq!(calls.len(), 1);
    let (id, name, args) = calls[0];
    assert_eq!(name, "weather");
    // Pretty-printed in the body, compact for the client, key order kept.
    assert_eq!(args, r#"{"location":"San Francisco"}"#);
    assert_eq!(
        split_tool_call_id(id).1,
        Some("EskgCsYgAb4+9vtF7/499YQS2bjZs3xcQI+iAl+ILn29nK1j0Kg6su7QsUUUk3nrAAfnS2w5WiVvlcCqu9fAebJ2cvfaEyBahEt5")
    );
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.usage, usage(29, 908, 893));
}

#[test]
fn finish_reasons_and_blocked_prompts() {
    for (wire, want) in [
        ("MAX_TOKENS", FinishReason::Length),
        ("SAFETY", FinishReason::ContentFilter),
        ("RECITATION", FinishReason::ContentFilter),
        ("BLOCKLIST", FinishReason::ContentFilter),
        ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
        ("SPII", FinishReason::ContentFilter),
        (
            "MALFORMED_FUNCTION_CALL",
            FinishReason::Other("MALFORMED_FUNCTION_CALL".into()),
        ),
    ] {
        let body = format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}],"role":"model"}},"finishReason":"{wire}"}}]}}"#
        );
        let r = decode_response(body.as_bytes(), &decode_ctx()).unwrap();
        assert_eq!(r.choices[0].finish_reason, Some(want), "{wire}");
    }
    let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}}"#;
    let r = decode_response(blocked, &decode_ctx()).unwrap();
    assert_eq!(r.choices.len(), 1);
    assert_eq!(
        r.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert!(r.choices[0].content.is_empty());
    assert_eq!(r.usage, usage(9, 0, 0));
    let cached = br#"{"candidates":[],"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":5,"toolUsePromptTokenCount":3}}"#;
    let u = decode_response(cached, &decode_ctx())
        .unwrap()
        .usage
        .unwrap();
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cache_read_tokens),
        (103, 5, 60)
    );
}

// ---------------------------------------------------------------- streams

/// Per-choice text, reasoning, tool calls (id, name, args), finish; last usage.
#[derive(Debug, Default)]
struct Assembled {
    text: String,
    reasoning: String,
    tools: Vec<(String, String, String)>,
    finishes: Vec<FinishReason>,
    roles: usize,
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
            a.roles += usize::from(ch.delta.role.is_some());
            a.text.push_str(ch.delta.text.as_deref().unwrap_or(""));
            a.reasoning
                .push_str(ch.delta.reasoning.as_deref().unwrap_or(""));
            for t in &ch.delta.tool_calls {
                assert_eq!(t.index as usize, a.tools.len(), "one delta per call");
                a.tools.push((
                    t.id.clone().unwrap(),
                    t.name.clone().unwrap(),
                    t.arguments.clone().unwrap(),
                ));
            }
            a.finishes.extend(ch.finish_reason.clone());
        }
    }
    (out, usage)
}

/// Decodes `wire` fed in pieces of `step` bytes.
#[allow(clippy::result_large_err)] // a test helper: the size is irrelevant
fn decode_stream(
    wire: &[u8],
    step: usize,
) -> Result<Vec<ChatChunk>, (Vec<ChatChunk>, GatewayError)> {
    let mut d = StreamDecoder::new(&decode_ctx());
    let mut chunks = Vec::new();
    for piece in wire.chunks(step) {
        match d.push(piece) {
            Ok(c) => chunks.extend(c),
            Err(e) => return Err((chunks, e)),
        }
    }
    match d.finish() {
        Ok(c) => chunks.extend(c),
        Err(e) => return Err((chunks, e)),
    }
    assert!(!d.is_done());
    Ok(chunks)
}

fn jsonl_to_sse(lines: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n\r\n");
    }
    out
}

#[test]
fn text_stream_with_crlf_framing() {
    let wire = fixture!("streamGenerateContent-text.sse");
    for step in [wire.len(), 1, 7, 64] {
        let chunks = decode_stream(wire, step).unwrap();
        assert_eq!(chunks.len(), 3, "step {step}");
        let (choices, usage_seen) = assemble(&chunks);
        assert_eq!(choices.len(), 1);
        assert_eq!(choices[0].text, "The capital of Wyoming is **Cheyenne**.\n");
        assert_eq!(choices[0].roles, 1);
        assert_eq!(choices[0].finishes, vec![FinishReason::Stop]);
        assert_eq!(usage_seen, usage(7, 10, 0));
        // Usage is cumulative: the first event knows only the prompt.
        assert_eq!(chunks[0].usage, usage(7, 0, 0));
        assert_eq!(chunks[0].model, "gemini-2.0-flash");
        assert!(chunks.iter().all(|c| c.id == chunks[0].id));
    }
}

#[test]
fn thinking_then_function_call_stream() {
    let wire = fixture!("streamGenerateContent-thinking-function-call.sse");
    let chunks = decode_stream(wire, 13).unwrap();
    let (choices, usage_seen) = assemble(&chunks);
    let a = &choices[0];
    assert!(a
        .reasoning
        .starts_with("**Calculating the Days**\n\nI've determined"));
    assert!(a
        .reasoning
        .contains("\n\n\n**Determining the Approach**\n\nI'm now zeroing in"));
    assert!(a.reasoning.ends_with("after getting today's date.\n\n\n"));
    assert_eq!(a.text, "");
    assert_eq!(a.tools.len(), 1);
    let (id, name, args) = &a.tools[0];
    assert_eq!((name.as_str(), args.as_str()), ("now", "{}"));
    let (_, sig) = split_tool_call_id(id);
    assert!(sig
        .unwrap()
        .starts_with("CiIBVKhc7vB+vaaq6rA/KC79Ts7iXagIOA4EBOyBFDpl"));
    assert!(sig.unwrap().ends_with("XMlLleEs0"));
    assert_eq!(a.finishes, vec![FinishReason::ToolCalls]);
    assert_eq!(chunks[0].id, "48SHaPHpHKbG-8YPtZCawAk");
    assert_eq!(usage_seen, usage(38, 174, 168));
}

#[test]
fn gemini3_tool_call_stream_from_chunks() {
    let wire = jsonl_to_sse(fixture!(
        "streamGenerateContent-tool-call-gemini3.chunks.jsonl"
    ));
    let chunks = decode_stream(&wire, 5).unwrap();
    assert_eq!(chunks.len(), 2);
    let (choices, usage_seen) = assemble(&chunks);
    let a = &choices[0];
    assert_eq!(a.tools.len(), 1);
    let (id, name, args) = &a.tools[0];
    assert_eq!(name, "weather");
    assert_eq!(args, r#"{"location":"San Francisco"}"#);
    assert!(split_tool_call_id(id)
        .1
        .unwrap()
        .starts_with("EqUCCqICAb4+9vsh8Pd5taZVoPzSvjWWwzBrvhEQ"));
    // The final event's empty text part adds nothing; its STOP follows a call.
    assert_eq!(a.text, "");
    assert_eq!(a.finishes, vec![FinishReason::ToolCalls]);
    assert_eq!(usage_seen, usage(29, 60, 45));
    // The id the stream made up is the one the non-stream path would make for
    // the same response id (both are seeded by it).
    assert!(id.starts_with("call_"));
}

#[test]
fn bare_error_object_mid_stream_fails_after_the_text_before_it() {
    let wire = fixture!("streamGenerateContent-error-mid-stream.sse");
    for step in [wire.len(), 1, 9] {
        let (chunks, err) = decode_stream(wire, step).unwrap_err();
        let (choices, _) = assemble(&chunks);
        assert_eq!(choices[0].text, "First Second ", "step {step}");
        assert_eq!(err.code.as_deref(), Some("upstream_stream_error"));
        assert!(
            err.message.contains("The operation was cancelled.")
                && err.message.contains("CANCELLED"),
            "{}",
            err.message
        );
    }
    // The same error with a blank line after it is caught without waiting for the end.
    let mut d = StreamDecoder::new(&decode_ctx());
    let mut framed = wire.to_vec();
    framed.extend_from_slice(b"\n\n");
    assert_eq!(d.push(&framed).unwrap().len(), 2);
    assert!(d.push(b"").is_err());
}

#[test]
fn data_error_event_and_garbage_fail_the_stream() {
    let mut d = StreamDecoder::new(&decode_ctx());
    let e = d
        .push(b"data: {\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}\r\n\r\n")
        .unwrap_err();
    assert!(
        e.message.contains("Resource has been exhausted"),
        "{}",
        e.message
    );
    let mut d = StreamDecoder::new(&decode_ctx());
    let e = d.push(b"data: {not json\n\n").unwrap_err();
    assert_eq!(e.code.as_deref(), Some("invalid_upstream_response"));
    let mut d = StreamDecoder::new(&decode_ctx());
    d.push(b"{\"error\": {\"code\": 500, ").unwrap();
    assert!(d.finish().is_err());
}

#[test]
fn blocked_prompt_in_a_stream_is_a_content_filter_finish() {
    let mut d = StreamDecoder::new(&decode_ctx());
    let chunks = d
        .push(b"data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":4}}\r\n\r\n")
        .unwrap();
    assert_eq!(
        chunks[0].choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(chunks[0].usage, usage(4, 0, 0));
}

// ---------------------------------------------------------------- errors

/// As the gateway sees it: decoded, then made safe to relay.
fn error_for(status: u16, body: &[u8]) -> GatewayError {
    let d = gemini("gemini-2.5-flash");
    let e = decode_error(
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
        body,
        &d,
    );
    crate::codec::redact_credentials(e, &d, &HeaderMap::new())
}

#[test]
fn invalid_api_key_is_401_although_sent_as_400() {
    let e = error_for(400, fixture!("error-api-key-invalid-400.json"));
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert_eq!(e.status, StatusCode::UNAUTHORIZED);
    assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(
        e.message,
        "API key not valid. Please pass a valid API key. (INVALID_ARGUMENT)"
    );
    // DebugInfo echoes the rejected key; it is never copied.
    assert!(!e.message.contains("key1234"));
    assert_eq!(e.retry_after, None);
}

#[test]
fn quota_errors_are_rate_limits_with_retry_info() {
    let e = error_for(429, fixture!("error-429-retry-info.json"));
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
    // retryDelay "34.4s", rounded up to whole seconds.
    assert_eq!(e.retry_after.as_deref(), Some("35"));
    assert_eq!(e.code.as_deref(), Some("resource_exhausted"));
    assert!(e.message.starts_with("You exceeded your current quota"));

    let e = error_for(429, fixture!("error-quota-exceeded-429.json"));
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, None);
    assert!(e
        .message
        .starts_with("Quota exceeded for quota metric 'Generate Content API requests per minute'"));

    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "12".parse().unwrap());
    let e = decode_error(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        fixture!("error-quota-exceeded-429.json"),
        &gemini("m"),
    );
    assert_eq!(e.retry_after.as_deref(), Some("12"));
    let e = error_for(
        429,
        br#"{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#,
    );
    assert_eq!(e.retry_after.as_deref(), Some("7"));
}

#[test]
fn canonical_statuses_map_to_kinds() {
    let body = |code: u16, status: &str, message: &str| {
        format!(r#"{{"error":{{"code":{code},"message":"{message}","status":"{status}"}}}}"#)
    };
    for (code, status, kind, http) in [
        (400, "INVALID_ARGUMENT", ErrorKind::InvalidRequest, 400),
        (400, "FAILED_PRECONDITION", ErrorKind::InvalidRequest, 400),
        (403, "PERMISSION_DENIED", ErrorKind::PermissionDenied, 403),
        (404, "NOT_FOUND", ErrorKind::NotFound, 404),
        (401, "UNAUTHENTICATED", ErrorKind::Authentication, 401),
        (503, "UNAVAILABLE", ErrorKind::UpstreamUnavailable, 503),
        (500, "INTERNAL", ErrorKind::UpstreamServer, 500),
        (504, "DEADLINE_EXCEEDED", ErrorKind::UpstreamTimeout, 504),
        (499, "CANCELLED", ErrorKind::UpstreamUnavailable, 502),
    ] {
        let e = error_for(code, body(code, status, "m").as_bytes());
        assert_eq!((e.kind, e.status.as_u16()), (kind, http), "{status}");
    }
    let e = error_for(
        400,
        body(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).").as_bytes(),
    );
    assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);
    assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
    // An array-wrapped body and a non-JSON body.
    let e = error_for(
        404,
        br#"[{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}]"#,
    );
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = error_for(502, b"<html>Bad Gateway</html>");
    assert_eq!(
        (e.kind, e.status.as_u16()),
        (ErrorKind::UpstreamUnavailable, 502)
    );
    assert!(e.message.contains("Bad Gateway"));
}

#[test]
fn error_messages_never_carry_the_key() {
    let e = error_for(
        400,
        br#"{"error":{"code":400,"message":"bad key AIza-test-key given","status":"INVALID_ARGUMENT"}}"#,
    );
    assert!(!e.message.contains("AIza-test-key"), "{}", e.message);
    assert!(e.message.contains("[redacted]"));
}

// ---------------------------------------------------------------- requests

fn unified(body: &str) -> ChatRequest {
    ChatEnvelope::parse(body.as_bytes())
        .unwrap()
        .to_unified()
        .unwrap()
}

fn rendered(body: &str, model: &str) -> serde_json::Value {
    serde_json::from_slice(&render_request(&unified(body), model).unwrap()).unwrap()
}

#[test]
fn roles_system_and_merging() {
    let v = rendered(
        r#"{"model":"m","messages":[
            {"role":"system","content":"Be terse."},
            {"role":"user","content":"hi"},
            {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
            {"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
            {"role":"assistant","content":"bonjour"},
            {"role":"assistant","content":"encore"},
            {"role":"user","content":"merci"}]}"#,
        "gemini-2.5-flash",
    );
    assert_eq!(
        v,
        serde_json::json!({
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}, {"text": "one"}, {"text": "two"}]},
                {"role": "model", "parts": [{"text": "bonjour"}, {"text": "encore"}]},
                {"role": "user", "parts": [{"text": "merci"}]},
            ],
            "systemInstruction": {"parts": [{"text": "Be terse."}, {"text": "Answer in French."}]},
        })
    );
    // Only a system message: it becomes the prompt.
    let v = rendered(
        r#"{"model":"m","messages":[{"role":"system","content":"Say hi."}]}"#,
        "gemini-2.5-flash",
    );
    assert_eq!(
        v,
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Say hi."}]}]})
    );
}

#[test]
fn images_and_files() {
    let v = rendered(
        r#"{"model":"m","messages":[{"role":"user","content":[
            {"type":"text","text":"what is this"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.webp?x=1"}},
            {"type":"image_url","image_url":{"url":"gs://bucket/photo"}},
            {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}]}]}"#,
        "gemini-2.5-flash",
    );
    assert_eq!(
        v["contents"][0]["parts"],
        serde_json::json!([
            {"text": "what is this"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?x=1"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/photo"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        ])
    );
}

#[test]
fn tools_are_declared_with_cleaned_schemas() {
    let v = rendered(
        r##"{"model":"m","messages":[{"role":"user","content":"weather?"}],
            "tools":[
              {"type":"function","function":{"name":"get_weather","description":"Weather for a place","strict":true,
                "parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
                  "properties":{"location":{"type":"string","description":"City"},
                                "unit":{"$ref":"#/$defs/Unit"},
                                "days":{"type":["integer","null"],"default":1}},
                  "required":["location"],
                  "$defs":{"Unit":{"type":"string","enum":["celsius","fahrenheit"]}}}}},
              {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}],
            "tool_choice":{"type":"function","function":{"name":"get_weather"}}}"##,
        "gemini-2.5-flash",
    );
    assert_eq!(
        v["tools"],
        serde_json::json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather for a place", "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "City"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "nullable": true},
                },
                "required": ["location"],
            }},
            {"name": "now"},
        ]}])
    );
    assert_eq!(
        v["toolConfig"],
        serde_json::json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    for (choice, mode) in [
        ("\"auto\"", "AUTO"),
        ("\"none\"", "NONE"),
        ("\"required\"", "ANY"),
    ] {
        let v = rendered(
            &format!(
                r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"tools":[{{"type":"function","function":{{"name":"f"}}}}],"tool_choice":{choice}}}"#
            ),
            "gemini-2.5-flash",
        );
        assert_eq!(
            v["toolConfig"],
            serde_json::json!({"functionCallingConfig": {"mode": mode}})
        );
    }
}

#[test]
fn tool_results_answer_calls_by_name_and_signatures_round_trip() {
    // The decoded call as an OpenAI client would receive it and send it back.
    let r = decode_response(
        fixture!("generateContent-tool-call-gemini3.json"),
        &decode_ctx(),
    )
    .unwrap();
    let (id, _, args) = r.choices[0].tool_uses().next().unwrap();
    let body = serde_json::json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather in SF?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": id, "type": "function", "function": {"name": "weather", "arguments": args}},
                {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": id, "content": "{\"temp_c\": 18}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
            {"role": "user", "content": "thanks"},
        ],
    })
    .to_string();
    let v = rendered(&body, "gemini-3-pro-preview");
    assert_eq!(
        v["contents"],
        serde_json::json!([
            {"role": "user", "parts": [{"text": "weather in SF?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "weather", "args": {"location": "San Francisco"}},
                 "thoughtSignature": "EskgCsYgAb4+9vtF7/499YQS2bjZs3xcQI+iAl+ILn29nK1j0Kg6su7QsUUUk3nrAAfnS2w5WiVvlcCqu9fAebJ2cvfaEyBahEt5"},
                {"functionCall": {"name": "clock", "args": {}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "clock", "response": {"content": "noon"}}},
                {"text": "thanks"},
            ]},
        ])
    );
}

#[test]
fn unsigned_calls_get_the_documented_placeholder_on_gemini_3_only() {
    let body = r#"{"model":"m","messages":[
        {"role":"user","content":"x"},
        {"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},
                                          {"id":"b","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"a","content":"1"},
        {"role":"tool","tool_call_id":"b","content":"2"}]}"#;
    let v = rendered(body, "gemini-3-flash-preview");
    let parts = &v["contents"][1]["parts"];
    assert_eq!(
        parts[0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
    assert!(parts[1].get("thoughtSignature").is_none());
    let v = rendered(body, "gemini-2.5-flash");
    assert!(v["contents"][1]["parts"][0]
        .get("thoughtSignature")
        .is_none());
}

#[test]
fn unknown_tool_call_ids_are_a_clear_400() {
    let req = unified(
        r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"1"}]}"#,
    );
    let e = render_request(&req, "gemini-2.5-flash").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(e.param.as_deref(), Some("messages[1].tool_call_id"));
}

#[test]
fn generation_config_and_thinking() {
    let v = rendered(
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "temperature":0.3,"top_p":0.9,"max_completion_tokens":100,"stop":["END"],"n":2,"seed":42,
            "reasoning_effort":"low",
            "response_format":{"type":"json_schema","json_schema":{"name":"a","strict":true,
               "schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}}}}"#,
        "gemini-2.5-flash",
    );
    assert_eq!(
        v["generationConfig"],
        serde_json::json!({
            "temperature": 0.3, "topP": 0.9, "maxOutputTokens": 100, "stopSequences": ["END"],
            "candidateCount": 2, "seed": 42, "responseMimeType": "application/json",
            "responseSchema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true},
        })
    );
    let effort = |effort: &str, model: &str| {
        rendered(
            &format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"reasoning_effort":"{effort}"}}"#),
            model,
        )["generationConfig"]
            .get("thinkingConfig")
            .cloned()
    };
    assert_eq!(
        effort("high", "gemini-3-pro-preview"),
        Some(serde_json::json!({"thinkingLevel": "high", "includeThoughts": true}))
    );
    assert_eq!(
        effort("minimal", "gemini-3-pro-preview"),
        Some(serde_json::json!({"thinkingLevel": "low", "includeThoughts": true}))
    );
    assert_eq!(
        effort("minimal", "gemini-3-flash-preview"),
        Some(serde_json::json!({"thinkingLevel": "minimal", "includeThoughts": true}))
    );
    assert_eq!(
        effort("none", "gemini-2.5-flash"),
        Some(serde_json::json!({"thinkingBudget": 0, "includeThoughts": false}))
    );
    assert_eq!(
        effort("none", "gemini-2.5-pro"),
        Some(serde_json::json!({"thinkingBudget": 128, "includeThoughts": false}))
    );
    assert_eq!(effort("high", "gemini-2.0-flash"), None);
    let v = rendered(
        r#"{"model":"m","messages":[{"role":"user","content":"json please"}],"response_format":{"type":"json_object"}}"#,
        "gemini-2.5-flash",
    );
    assert_eq!(
        v["generationConfig"],
        serde_json::json!({"responseMimeType": "application/json"})
    );
}

// ---------------------------------------------------------------- URLs and auth

fn encoded(d: &Deployment, stream: bool, token: Option<&str>) -> http::Request<Bytes> {
    let mut req = unified(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
    req.stream = stream;
    codec::encode(
        &req,
        d,
        &EncodeContext {
            now_ms: 0,
            access_token: token.map(Secret::new),
        },
    )
    .unwrap()
}

#[test]
fn ai_studio_url_and_key_header() {
    let d = gemini("gemini-2.5-flash");
    let r = encoded(&d, false, None);
    assert_eq!(
        r.uri().to_string(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(r.headers()["x-goog-api-key"], "AIza-test-key");
    assert!(r.headers().get("authorization").is_none());
    let r = encoded(&d, true, None);
    assert_eq!(
        r.uri().to_string(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert!(!r.uri().to_string().contains("key="));
    // Characters a path cannot hold are escaped; `models/` is not doubled.
    let d = deployment(
        "g",
        r#"[[model_list]]
        model_name = "g"
        provider = "gemini"
        model = "models/fault:status=429|gemini 2.5"
        api_base = "http://127.0.0.1:9/gemini/"
        api_key = "k""#,
    );
    assert_eq!(
        encoded(&d, false, None).uri().to_string(),
        "http://127.0.0.1:9/gemini/v1beta/models/fault:status=429%7Cgemini%202.5:generateContent"
    );
}

#[test]
fn vertex_urls_by_location_and_bearer_token() {
    let regional = deployment(
        "v",
        r#"[[model_list]]
        model_name = "v"
        provider = "vertex_ai"
        model = "gemini-2.5-pro"
        vertex_project = "my-proj"
        vertex_location = "us-central1"
        vertex_credentials = "env:VERTEX_SA""#,
    );
    let r = encoded(&regional, true, Some("ya29.tok"));
    assert_eq!(
        r.uri().to_string(),
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
    assert_eq!(r.headers()["authorization"], "Bearer ya29.tok");
    assert!(r.headers().get("x-goog-api-key").is_none());
    // No project or location configured: the key file's project, the global endpoint.
    let global = deployment(
        "v",
        r#"[[model_list]]
        model_name = "v"
        provider = "vertex_ai"
        model = "gemini-3-pro-preview"
        vertex_credentials = "env:VERTEX_SA""#,
    );
    assert_eq!(
        encoded(&global, false, Some("t")).uri().to_string(),
        "https://aiplatform.googleapis.com/v1/projects/dx-fleet-test/locations/global/publishers/google/models/gemini-3-pro-preview:generateContent"
    );
    let overridden = deployment(
        "v",
        r#"[[model_list]]
        model_name = "v"
        provider = "vertex_ai"
        model = "gemini-2.5-flash"
        api_base = "http://127.0.0.1:9/vertex"
        vertex_project = "p"
        vertex_location = "europe-west4""#,
    );
    assert_eq!(
        encoded(&overridden, false, Some("t")).uri().to_string(),
        "http://127.0.0.1:9/vertex/v1/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    // Without a minted token there is nothing to send.
    let req = unified(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
    let e = codec::encode(
        &req,
        &overridden,
        &EncodeContext {
            now_ms: 0,
            access_token: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
}

/// Audio tokens come from the per-modality details of the usage.
#[test]
fn audio_tokens_from_modality_details() {
    let mut v = fixture_json(fixture!("generateContent-text.json"));
    v["usageMetadata"]["promptTokenCount"] = 57.into();
    v["usageMetadata"]["promptTokensDetails"] = serde_json::json!([
        {"modality": "TEXT", "tokenCount": 7},
        {"modality": "AUDIO", "tokenCount": 50}
    ]);
    v["usageMetadata"]["candidatesTokensDetails"] = serde_json::json!([
        {"modality": "AUDIO", "tokenCount": 20},
        {"modality": "TEXT", "tokenCount": 2}
    ]);
    let r = decode_response(&serde_json::to_vec(&v).unwrap(), &decode_ctx()).unwrap();
    let u = r.usage.unwrap();
    assert_eq!((u.input_tokens, u.output_tokens), (57, 22));
    assert_eq!((u.input_audio_tokens, u.output_audio_tokens), (50, 20));
    // Text only (as recorded), or no details at all: no audio.
    let r = decode_response(fixture!("generateContent-text.json"), &decode_ctx()).unwrap();
    assert_eq!(r.usage, usage(7, 22, 0));
    v["usageMetadata"]["promptTokensDetails"] = serde_json::Value::Null;
    v["usageMetadata"]
        .as_object_mut()
        .unwrap()
        .remove("candidatesTokensDetails");
    let r = decode_response(&serde_json::to_vec(&v).unwrap(), &decode_ctx()).unwrap();
    let u = r.usage.unwrap();
    assert_eq!((u.input_audio_tokens, u.output_audio_tokens), (0, 0));
}
