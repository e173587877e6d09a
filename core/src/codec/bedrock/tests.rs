//! The Bedrock codec against the recorded fixtures (fixtures/bedrock), the
//! restJson1 error protocol cases, and the AWS SigV4 test suite. Expected
//! values are read off the fixture files by hand.

use super::*;
use crate::codec::test_support::decode_ctx;
use crate::resolve::provider;
use crate::resolve::ProviderParams;
use crate::secret::Secret;
use crate::stream::eventstream::{encode_frame, HeaderValue as Hv};
use crate::unified::{ChatChunk, MediaSource, Message, Role, Tool, ToolChoice};

const TEXT: &[u8] = include_bytes!("../../../../fixtures/bedrock/converse-text.json");
const TOOL: &[u8] = include_bytes!("../../../../fixtures/bedrock/converse-tool-call.json");
const STREAM_TEXT: &str =
    include_str!("../../../../fixtures/bedrock/converse-stream-text.events.jsonl");
const STREAM_TOOL: &str =
    include_str!("../../../../fixtures/bedrock/converse-stream-tool-call.events.jsonl");
const STREAM_REASONING: &str =
    include_str!("../../../../fixtures/bedrock/converse-stream-reasoning.events.jsonl");
const ERROR_CASES: &str =
    include_str!("../../../../fixtures/bedrock/aws-restjson1-error-protocol-tests.json");

fn deployment() -> Deployment {
    Deployment {
        provider: provider(crate::catalog::embedded(), "bedrock").unwrap(),
        upstream_model: "anthropic.claude-3-5-sonnet-20240620-v1:0".into(),
        api_base: "https://bedrock-runtime.{region}.amazonaws.com".into(),
        api_key: None,
        mock_response: None,
        request_timeout_ms: None,
        passthrough: true,
        params: ProviderParams {
            aws_region: Some("us-west-2".into()),
            aws_access_key_id: Some(Secret::new("AKIDEXAMPLE")),
            aws_secret_access_key: Some(Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
            ..ProviderParams::default()
        },
    }
}

// ---------------------------------------------------------------- helpers

/// One event line of a `.events.jsonl` fixture as the frame Bedrock sends.
fn frame_for(line: &str) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let (kind, payload) = v.as_object().unwrap().iter().next().unwrap();
    encode_frame(
        &[
            (":event-type", Hv::String(kind)),
            (":content-type", Hv::String("application/json")),
            (":message-type", Hv::String("event")),
        ],
        payload.to_string().as_bytes(),
    )
}

fn frames(events: &str) -> Vec<Vec<u8>> {
    events
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(frame_for)
        .collect()
}

fn exception_frame(kind: &str, message: &str) -> Vec<u8> {
    encode_frame(
        &[
            (":exception-type", Hv::String(kind)),
            (":content-type", Hv::String("application/json")),
            (":message-type", Hv::String("exception")),
        ],
        serde_json::json!({ "message": message })
            .to_string()
            .as_bytes(),
    )
}

/// Feeds the whole body in pieces of `step` bytes.
fn decode_stream(body: &[u8], step: usize) -> (Vec<ChatChunk>, bool) {
    let mut d = StreamDecoder::new(&decode_ctx());
    let mut out = Vec::new();
    for piece in body.chunks(step) {
        out.extend(d.push(piece).unwrap());
    }
    out.extend(d.finish().unwrap());
    (out, d.is_done())
}

#[derive(Debug, Default, PartialEq)]
struct Collected {
    role_first: bool,
    text: String,
    reasoning: String,
    signature: Option<String>,
    tools: Vec<(String, String, String)>,
    finish: Vec<FinishReason>,
    usage: Option<Usage>,
}

fn collect(chunks: &[ChatChunk]) -> Collected {
    let mut c = Collected {
        role_first: chunks
            .first()
            .is_some_and(|ch| ch.choices[0].delta.role == Some(Role::Assistant)),
        ..Collected::default()
    };
    for ch in chunks {
        if let Some(u) = ch.usage {
            c.usage = Some(u);
        }
        for choice in &ch.choices {
            let d = &choice.delta;
            c.text.push_str(d.text.as_deref().unwrap_or(""));
            c.reasoning.push_str(d.reasoning.as_deref().unwrap_or(""));
            if d.reasoning_signature.is_some() {
                c.signature = d.reasoning_signature.clone();
            }
            for t in &d.tool_calls {
                let i = t.index as usize;
                if c.tools.len() <= i {
                    c.tools.resize(i + 1, Default::default());
                }
                let slot = &mut c.tools[i];
                if let Some(id) = &t.id {
                    slot.0 = id.clone();
                }
                if let Some(n) = &t.name {
                    slot.1 = n.clone();
                }
                slot.2.push_str(t.arguments.as_deref().unwrap_or(""));
            }
            c.finish.extend(choice.finish_reason.clone());
        }
    }
    c
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

fn text_msg(role: Role, text: &str) -> Message {
    Message {
        role,
        content: vec![Part::Text {
            text: text.into(),
            cache_control: None,
        }],
        name: None,
    }
}

fn render(req: &ChatRequest, model: &str) -> serde_json::Value {
    serde_json::from_slice(&render_request(req, model).unwrap()).unwrap()
}

const CLAUDE: &str = "anthropic.claude-3-7-sonnet-20250219-v1:0";

// ---------------------------------------------------------------- non-stream fixtures

#[test]
fn converse_text_fixture() {
    let r = decode_response(TEXT, &decode_ctx()).unwrap();
    assert_eq!(r.choices.len(), 1);
    assert_eq!(
        r.choices[0].text().unwrap(),
        "Let me count the \"r\"s in \"strawberry\":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y\n\nThere are **3** \"r\"s in \"strawberry.\""
    );
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, Some(usage(22, 57)));
    assert_eq!(r.choices[0].tool_uses().count(), 0);
}

#[test]
fn converse_tool_call_fixture() {
    let r = decode_response(TOOL, &decode_ctx()).unwrap();
    let calls: Vec<_> = r.choices[0].tool_uses().collect();
    assert_eq!(calls, [("tool-use-id", "bash", r#"{"command":"ls -l"}"#)]);
    assert_eq!(r.choices[0].text(), None);
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.usage, Some(usage(10, 20)));
}

#[test]
fn response_with_reasoning_cache_and_every_stop_reason() {
    let body = br#"{"output":{"message":{"role":"assistant","content":[
        {"reasoningContent":{"reasoningText":{"text":"hmm","signature":"c2ln"}}},
        {"reasoningContent":{"redactedContent":"ZW5j"}},
        {"text":"hi"},{"image":{"format":"png"}}]}},
        "stopReason":"max_tokens",
        "usage":{"inputTokens":5,"outputTokens":7,"cacheReadInputTokens":100,"cacheWriteInputTokens":20,"totalTokens":132}}"#;
    let r = decode_response(body, &decode_ctx()).unwrap();
    assert_eq!(
        r.choices[0].content,
        [
            Part::Thinking {
                text: "hmm".into(),
                signature: Some("c2ln".into())
            },
            Part::RedactedThinking {
                data: "ZW5j".into()
            },
            Part::Text {
                text: "hi".into(),
                cache_control: None
            },
        ]
    );
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Length));
    // Unified input counts the cached prompt too: 5 + 100 + 20.
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 125,
            output_tokens: 7,
            cache_read_tokens: 100,
            cache_write_tokens: 20,
            reasoning_tokens: 0,
            ..Usage::default()
        })
    );
    for (wire_reason, want) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("guardrail_intervened", FinishReason::ContentFilter),
        ("content_filtered", FinishReason::ContentFilter),
        (
            "malformed_tool_use",
            FinishReason::Other("malformed_tool_use".into()),
        ),
    ] {
        assert_eq!(finish_reason(wire_reason), want, "{wire_reason}");
    }
    assert!(decode_response(b"{not json", &decode_ctx()).is_err());
}

// ---------------------------------------------------------------- stream fixtures

#[test]
fn converse_stream_text_fixture_in_any_chunking() {
    let body = frames(STREAM_TEXT).concat();
    let want_text = "Let me count the \"r\"s in \"strawberry\":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y\n\nThere are **3** r's in \"strawberry.\"";
    for step in [1, 2, 7, 64, 1000, body.len()] {
        let (chunks, done) = decode_stream(&body, step);
        assert!(done, "step {step}");
        let c = collect(&chunks);
        assert!(c.role_first);
        assert_eq!(c.text, want_text, "step {step}");
        assert_eq!(c.finish, [FinishReason::Stop]);
        assert_eq!(c.usage, Some(usage(22, 55)));
        assert!(c.tools.is_empty() && c.reasoning.is_empty());
        // Usage travels alone, as the final chunk, without choices.
        let last = chunks.last().unwrap();
        assert!(last.choices.is_empty() && last.usage.is_some());
    }
}

#[test]
fn converse_stream_tool_call_fixture() {
    let body = frames(STREAM_TOOL).concat();
    let (chunks, done) = decode_stream(&body, 5);
    assert!(done);
    let c = collect(&chunks);
    assert_eq!(
        c.tools,
        [(
            "tool-use-id".to_string(),
            "test-tool".to_string(),
            r#"{"value":"Sparkle Day"}"#.to_string()
        )]
    );
    assert_eq!(c.finish, [FinishReason::ToolCalls]);
    assert_eq!(c.usage, Some(usage(125, 45)));
    // This recording sends metadata before messageStop: not done until both.
    let mut d = StreamDecoder::new(&decode_ctx());
    let f = frames(STREAM_TOOL);
    for frame in &f[..f.len() - 1] {
        d.push(frame).unwrap();
    }
    assert!(!d.is_done(), "done before messageStop");
    d.push(&f[f.len() - 1]).unwrap();
    assert!(d.is_done());
}

#[test]
fn converse_stream_reasoning_fixture() {
    let body = frames(STREAM_REASONING).concat();
    let (chunks, done) = decode_stream(&body, 33);
    assert!(done);
    let c = collect(&chunks);
    assert_eq!(
        c.reasoning,
        "Let me count the r's in \"strawberry\":\n\ns-t-r-a-w-b-e-r-r-y\n\nr appears at positions 3, 8, and 9.\n\nSo there are 3 r's."
    );
    assert_eq!(
        c.text,
        "There are **3** r's in \"strawberry\":\n\n1. st**r**awbe**r****r**y"
    );
    let sig = c.signature.unwrap();
    assert!(
        sig.starts_with("Ep0CCkgICxABGAIqQOWPB6")
            && sig.ends_with("L8RkDaGAE=")
            && sig.len() == 388
    );
    assert_eq!(c.finish, [FinishReason::Stop]);
    assert_eq!(c.usage, Some(usage(51, 94)));
    // role + 10 non-empty reasoning deltas (the 11th is empty) + signature
    // + 9 text deltas + stop + usage.
    assert_eq!(chunks.len(), 23);
}

#[test]
fn stream_chunks_carry_the_identity_of_the_context() {
    let ctx = crate::codec::DecodeContext {
        now_ms: 42_000,
        model: "m",
        id_prefix: "chatcmpl-",
    };
    let mut d = StreamDecoder::new(&ctx);
    let chunks = d.push(&frames(STREAM_TEXT).concat()).unwrap();
    assert!(chunks
        .iter()
        .all(|c| c.id == "chatcmpl-dxa410" && c.model == "m" && c.created == 42));
}

#[test]
fn tool_indices_count_tool_blocks_not_content_blocks() {
    let events = [
        r#"{"messageStart":{"role":"assistant"}}"#,
        r#"{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"Checking."}}}"#,
        r#"{"contentBlockStart":{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"a","name":"one"}}}}"#,
        r#"{"contentBlockStart":{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"b","name":"two"}}}}"#,
        r#"{"contentBlockDelta":{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{}"}}}}"#,
        r#"{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"x\":1}"}}}}"#,
        r#"{"messageStop":{"stopReason":"tool_use"}}"#,
    ];
    let body: Vec<u8> = events.iter().flat_map(|e| frame_for(e)).collect();
    let (chunks, done) = decode_stream(&body, 9);
    assert!(!done, "no metadata yet");
    let c = collect(&chunks);
    assert_eq!(c.text, "Checking.");
    assert_eq!(
        c.tools,
        [
            ("a".into(), "one".into(), r#"{"x":1}"#.into()),
            ("b".into(), "two".into(), "{}".into())
        ]
    );
}

#[test]
fn exception_frames_end_the_stream_with_their_kind() {
    let cases = [
        ("throttlingException", ErrorKind::RateLimited, 429),
        ("modelStreamErrorException", ErrorKind::UpstreamServer, 502),
        ("validationException", ErrorKind::InvalidRequest, 400),
        (
            "serviceUnavailableException",
            ErrorKind::UpstreamUnavailable,
            503,
        ),
        ("internalServerException", ErrorKind::UpstreamServer, 500),
    ];
    for (kind, want, status) in cases {
        let f = frames(STREAM_TEXT);
        let mut body = f[..3].concat();
        body.extend(exception_frame(kind, "Too many tokens, please wait."));
        let mut d = StreamDecoder::new(&decode_ctx());
        let first = d.push(&body[..body.len() - 10]).unwrap();
        assert_eq!(collect(&first).text, "Let me count the \"");
        let err = d.push(&body[body.len() - 10..]).unwrap_err();
        assert_eq!(err.kind, want, "{kind}");
        assert_eq!(err.status.as_u16(), status, "{kind}");
        assert!(
            err.message.contains("Too many tokens, please wait."),
            "{}",
            err.message
        );
        assert!(!d.is_done());
    }
    // Protocol-level `error` messages name the failure in headers.
    let frame = encode_frame(
        &[
            (":message-type", Hv::String("error")),
            (":error-code", Hv::String("InternalFailure")),
            (":error-message", Hv::String("boom")),
        ],
        b"",
    );
    let err = StreamDecoder::new(&decode_ctx()).push(&frame).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UpstreamServer);
    assert!(err.message.contains("boom"));
}

#[test]
fn corrupted_and_cut_streams() {
    let mut body = frames(STREAM_TEXT).concat();
    let (_, done) = decode_stream(&body[..body.len() - 3], 50);
    assert!(!done, "a cut stream is not done");
    body[40] ^= 0x55;
    let mut d = StreamDecoder::new(&decode_ctx());
    let err = d.push(&body).unwrap_err();
    assert_eq!(err.code.as_deref(), Some("upstream_stream_error"));
    assert!(err.message.contains("checksum mismatch"), "{}", err.message);
    // SSE text where frames belong is caught by the prelude checksum.
    let err = StreamDecoder::new(&decode_ctx())
        .push(b"data: {\"not\":\"eventstream\"}\n\n")
        .unwrap_err();
    assert!(
        err.message.contains("Prelude checksum mismatch"),
        "{}",
        err.message
    );
}

#[test]
fn unknown_events_are_skipped() {
    let frame = encode_frame(
        &[
            (":event-type", Hv::String("somethingNew")),
            (":message-type", Hv::String("event")),
        ],
        b"{}",
    );
    assert!(StreamDecoder::new(&decode_ctx())
        .push(&frame)
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------- errors

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn restjson1_error_protocol_cases() {
    let suites: serde_json::Value = serde_json::from_str(ERROR_CASES).unwrap();
    let mut n = 0;
    for suite in suites.as_array().unwrap() {
        for case in suite["cases"].as_array().unwrap() {
            let resp = &case["response"];
            let mut h = HeaderMap::new();
            for (k, v) in resp["headers"].as_object().unwrap() {
                h.insert(
                    http::header::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .unwrap(),
                    HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
                );
            }
            let body = resp["body"].as_str().unwrap_or("");
            let parsed: wire::ErrorBody = serde_json::from_str(body).unwrap_or_default();
            assert_eq!(
                error_type(&h, &parsed).as_deref(),
                case["errorCode"].as_str(),
                "{}",
                case["id"]
            );
            if case["id"] == "RestJsonInvalidGreetingError" {
                assert_eq!(parsed.message.as_deref(), Some("Hi"));
            }
            n += 1;
        }
    }
    assert_eq!(n, 12);
}

#[test]
fn bedrock_errors_map_to_the_right_class() {
    let d = deployment();
    let cases: &[(u16, &str, &str, ErrorKind, u16)] = &[
        (429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", "Too many requests, please wait before trying again.", ErrorKind::RateLimited, 429),
        (403, "AccessDeniedException", "You don't have access to the model with the specified model ID.", ErrorKind::PermissionDenied, 403),
        (403, "UnrecognizedClientException", "The security token included in the request is invalid.", ErrorKind::Authentication, 401),
        (403, "ExpiredTokenException", "The security token included in the request is expired", ErrorKind::Authentication, 401),
        (403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", ErrorKind::Authentication, 401),
        (400, "ValidationException", "A conversation must start with a user message.", ErrorKind::InvalidRequest, 400),
        (400, "ValidationException", "Input is too long for requested model.", ErrorKind::ContextWindowExceeded, 400),
        (400, "ValidationException", "The model returned the following errors: prompt is too long: 210000 tokens > 200000 maximum", ErrorKind::ContextWindowExceeded, 400),
        (404, "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier.", ErrorKind::NotFound, 404),
        (429, "ModelNotReadyException", "Model is not ready for inference.", ErrorKind::UpstreamUnavailable, 503),
        (503, "ServiceUnavailableException", "Service unavailable.", ErrorKind::UpstreamUnavailable, 503),
        (408, "ModelTimeoutException", "Model has timed out in processing the request.", ErrorKind::UpstreamTimeout, 504),
        (500, "InternalServerException", "Internal server error", ErrorKind::UpstreamServer, 500),
        (424, "ModelErrorException", "The model failed.", ErrorKind::UpstreamServer, 502),
        (400, "ServiceQuotaExceededException", "Quota exceeded.", ErrorKind::RateLimited, 429),
    ];
    for &(status, kind, message, want, want_status) in cases {
        let body = serde_json::json!({ "message": message }).to_string();
        let e = decode_error(
            StatusCode::from_u16(status).unwrap(),
            &headers(&[("x-amzn-errortype", kind)]),
            body.as_bytes(),
            &d,
        );
        assert_eq!(e.kind, want, "{kind}: {message}");
        assert_eq!(e.status.as_u16(), want_status, "{kind}");
        assert_eq!(e.message, message);
        // The same error named in the body's `__type`, with a namespace.
        let body = serde_json::json!({
            "__type": format!("com.amazon.coral.service#{}", kind.split(':').next().unwrap()),
            "message": message,
        })
        .to_string();
        let e2 = decode_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            &d,
        );
        assert_eq!(
            (e2.kind, e2.status),
            (e.kind, e.status),
            "{kind} via __type"
        );
    }
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &headers(&[("x-amzn-errortype", "ValidationException")]),
        br#"{"message":"Input is too long for requested model."}"#,
        &d,
    );
    assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
    let e = decode_error(
        StatusCode::TOO_MANY_REQUESTS,
        &headers(&[
            ("x-amzn-errortype", "ThrottlingException"),
            ("retry-after", "3"),
        ]),
        br#"{"message":"slow down"}"#,
        &d,
    );
    assert_eq!(e.retry_after.as_deref(), Some("3"));
    assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
    // No type anywhere: the status decides; a non-JSON body is the message.
    let e = decode_error(
        StatusCode::BAD_GATEWAY,
        &HeaderMap::new(),
        b"upstream proxy error",
        &d,
    );
    assert_eq!(
        (e.kind, e.status.as_u16()),
        (ErrorKind::UpstreamUnavailable, 502)
    );
    assert_eq!(e.message, "upstream proxy error");
}

#[test]
fn error_messages_never_carry_credentials() {
    let mut d = deployment();
    d.params.aws_session_token = Some(Secret::new("SESSIONTOKEN123"));
    let body = br#"{"message":"The request signature we calculated does not match. The String-to-Sign should have been 'AWS4-HMAC-SHA256\n20240101T000000Z\n20240101/us-west-2/bedrock/aws4_request' Credential=AKIDEXAMPLE/20240101 token SESSIONTOKEN123 secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}"#;
    let e = decode_error(
        StatusCode::FORBIDDEN,
        &headers(&[("x-amzn-errortype", "InvalidSignatureException")]),
        body,
        &d,
    );
    let e = crate::codec::redact_credentials(e, &d, &HeaderMap::new());
    assert!(!e.message.contains("AKIDEXAMPLE"), "{}", e.message);
    assert!(!e.message.contains("SESSIONTOKEN123"));
    assert!(!e.message.contains("EXAMPLEKEY"));
    assert!(e.message.contains("[redacted]"));
}

// ---------------------------------------------------------------- SigV4

const AWS_SUITE_TIME_MS: u64 = 1_440_938_160_000; // 2015-08-30T12:36:00Z

// ---------------------------------------------------------------- requests

fn simple_req(stream: bool) -> ChatRequest {
    ChatRequest {
        messages: vec![text_msg(Role::User, "hi")],
        stream,
        ..ChatRequest::default()
    }
}

fn ctx() -> EncodeContext {
    EncodeContext {
        now_ms: AWS_SUITE_TIME_MS,
        access_token: None,
    }
}

#[test]
fn url_encodes_model_ids_and_fills_the_region() {
    let mut d = deployment();
    let req = encode(&simple_req(false), &d, &ctx()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    assert_eq!(req.headers()["accept"], "application/json");
    d.upstream_model = "us.anthropic.claude-3-5-sonnet-20240620-v1:0".into();
    let req = encode(&simple_req(true), &d, &ctx()).unwrap();
    assert_eq!(
        req.uri().path(),
        "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    );
    assert_eq!(req.headers()["accept"], EVENTSTREAM_CONTENT_TYPE);
    d.upstream_model =
        "converse/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0".into();
    d.api_base = "http://127.0.0.1:9/bedrock".into();
    let req = encode(&simple_req(false), &d, &ctx()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        "http://127.0.0.1:9/bedrock/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3-1-8b-instruct-v1%3A0/converse"
    );
}

#[test]
fn sigv4_request_carries_the_signature_headers() {
    let mut d = deployment();
    d.params.aws_session_token = Some(Secret::new("tok"));
    let req = encode(&simple_req(false), &d, &ctx()).unwrap();
    let auth = req.headers()["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature="),
        "{auth}"
    );
    assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
    assert_eq!(req.headers()["x-amz-security-token"], "tok");
    // Another second, another signature: the time really comes from the context.
    let later = encode(
        &simple_req(false),
        &d,
        &EncodeContext {
            now_ms: AWS_SUITE_TIME_MS + 1000,
            access_token: None,
        },
    )
    .unwrap();
    assert_ne!(
        later.headers()["authorization"],
        req.headers()["authorization"]
    );
}

#[test]
fn bearer_api_key_replaces_sigv4() {
    let mut d = deployment();
    d.api_key = Some(Secret::new("ABSKbedrock-api-key"));
    let req = encode(&simple_req(false), &d, &ctx()).unwrap();
    assert_eq!(req.headers()["authorization"], "Bearer ABSKbedrock-api-key");
    assert!(req.headers().get("x-amz-date").is_none());
    // No region needed when the endpoint is given and nothing is signed.
    d.params = ProviderParams::default();
    d.api_base = "https://bedrock-runtime.eu-central-1.amazonaws.com".into();
    assert!(encode(&simple_req(false), &d, &ctx()).is_ok());
}

#[test]
fn missing_credentials_or_region_are_configuration_errors() {
    let mut d = deployment();
    d.params.aws_secret_access_key = None;
    let e = encode(&simple_req(false), &d, &ctx()).unwrap_err();
    assert_eq!(e.status.as_u16(), 404);
    assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
    assert!(!e.message.contains("AWS_"), "{}", e.message);
    let mut d = deployment();
    d.params.aws_region = None;
    let e = encode(&simple_req(false), &d, &ctx()).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
    assert!(e.log_text().contains("region"), "{}", e.log_text());
    // The region of a standard endpoint host is enough.
    d.api_base = "https://bedrock-runtime.ap-south-1.amazonaws.com".into();
    let req = encode(&simple_req(false), &d, &ctx()).unwrap();
    assert!(req.headers()["authorization"]
        .to_str()
        .unwrap()
        .contains("/ap-south-1/bedrock/aws4_request"));
}

#[test]
fn roles_alternate_system_is_lifted_and_tool_results_are_user_turns() {
    let req = ChatRequest {
        messages: vec![
            text_msg(Role::System, "be brief"),
            text_msg(Role::User, "weather?"),
            text_msg(Role::Developer, "use celsius"),
            text_msg(Role::User, "in Paris"),
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::Text {
                        text: "".into(),
                        cache_control: None,
                    },
                    Part::ToolUse {
                        id: "t1".into(),
                        name: "get_weather".into(),
                        arguments: r#"{"location":"Paris"}"#.into(),
                        cache_control: None,
                    },
                    Part::ToolUse {
                        id: "t2".into(),
                        name: "get_time".into(),
                        arguments: "".into(),
                        cache_control: None,
                    },
                ],
                name: None,
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    tool_use_id: "t1".into(),
                    content: vec![Part::Text {
                        text: "18C".into(),
                        cache_control: None,
                    }],
                    is_error: false,
                    cache_control: None,
                }],
                name: None,
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    tool_use_id: "t2".into(),
                    content: vec![],
                    is_error: true,
                    cache_control: None,
                }],
                name: None,
            },
            text_msg(Role::User, "thanks"),
        ],
        ..ChatRequest::default()
    };
    let body = render(&req, CLAUDE);
    assert_eq!(
        body["system"],
        serde_json::json!([{"text": "be brief"}, {"text": "use celsius"}])
    );
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "user", "content": [{"text": "weather?"}, {"text": "in Paris"}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"location": "Paris"}}},
                {"toolUse": {"toolUseId": "t2", "name": "get_time", "input": {}}},
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "t2", "content": [{"json": {}}], "status": "error"}},
                {"text": "thanks"},
            ]},
        ])
    );
    // The history uses tools the request does not declare: stand-ins keep
    // Bedrock from refusing the tool blocks.
    assert_eq!(
        body["toolConfig"],
        serde_json::json!({"tools": [
            {"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}},
            {"toolSpec": {"name": "get_time", "inputSchema": {"json": {"type": "object"}}}},
        ]})
    );
    assert!(body.get("inferenceConfig").is_none());
}

#[test]
fn a_conversation_that_starts_with_the_assistant_gets_a_user_turn_first() {
    let req = ChatRequest {
        messages: vec![
            text_msg(Role::System, "s"),
            text_msg(Role::Assistant, "Hello, how can I help?"),
            text_msg(Role::User, "hi"),
        ],
        ..ChatRequest::default()
    };
    let body = render(&req, CLAUDE);
    let roles: Vec<_> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(
        body["messages"][0]["content"],
        serde_json::json!([{"text": "."}])
    );
}

#[test]
fn inference_config_tools_and_tool_choice() {
    let tool = Tool { cache_control: None,
        name: "get_weather".into(),
        description: Some("Current weather".into()),
        parameters: Some(
            serde_json::value::RawValue::from_string(
                r#"{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}"#.into(),
            )
            .unwrap(),
        ),
        strict: None,
    };
    let mut req = ChatRequest {
        messages: vec![text_msg(Role::User, "weather in Paris?")],
        tools: vec![tool],
        max_tokens: Some(300),
        temperature: Some(0.2),
        top_p: Some(0.9),
        stop: vec!["END".into()],
        ..ChatRequest::default()
    };
    let want_tools = serde_json::json!([{"toolSpec": {
        "name": "get_weather", "description": "Current weather",
        "inputSchema": {"json": {"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}},
    }}]);
    for (choice, want) in [
        (None, None),
        (
            Some(ToolChoice::Auto),
            Some(serde_json::json!({"auto": {}})),
        ),
        (
            Some(ToolChoice::Required),
            Some(serde_json::json!({"any": {}})),
        ),
        (
            Some(ToolChoice::Named("get_weather".into())),
            Some(serde_json::json!({"tool": {"name": "get_weather"}})),
        ),
    ] {
        req.tool_choice = choice;
        let body = render(&req, "amazon.nova-pro-v1:0");
        assert_eq!(body["toolConfig"]["tools"], want_tools);
        assert_eq!(body["toolConfig"].get("toolChoice").cloned(), want);
        assert_eq!(
            body["inferenceConfig"],
            serde_json::json!({"maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
        );
    }
    // `none` with no tool history: no tools at all.
    req.tool_choice = Some(ToolChoice::None);
    assert!(render(&req, "amazon.nova-pro-v1:0")
        .get("toolConfig")
        .is_none());
    req.n = Some(2);
    assert_eq!(
        render_request(&req, "amazon.nova-pro-v1:0")
            .unwrap_err()
            .param
            .as_deref(),
        Some("n")
    );
}

#[test]
fn reasoning_effort_becomes_claude_thinking() {
    let mut req = ChatRequest {
        messages: vec![text_msg(Role::User, "how many r in strawberry?")],
        reasoning_effort: Some("high".into()),
        temperature: Some(0.3),
        max_tokens: Some(1000),
        ..ChatRequest::default()
    };
    let body = render(&req, CLAUDE);
    assert_eq!(
        body["additionalModelRequestFields"],
        serde_json::json!({"thinking": {"type": "enabled", "budget_tokens": 4096}})
    );
    // max_tokens must exceed the budget; temperature must be left alone.
    assert_eq!(
        body["inferenceConfig"],
        serde_json::json!({"maxTokens": 5096})
    );
    req.reasoning_effort = Some("low".into());
    req.max_tokens = Some(8000);
    let body = render(&req, "us.anthropic.claude-sonnet-4-20250514-v1:0");
    assert_eq!(
        body["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        1024
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 8000);
    // Other model families get their own field or nothing.
    req.reasoning_effort = Some("medium".into());
    let body = render(&req, "openai.gpt-oss-120b-1:0");
    assert_eq!(
        body["additionalModelRequestFields"],
        serde_json::json!({"reasoning_effort": "medium"})
    );
    assert_eq!(body["inferenceConfig"]["temperature"], 0.3);
    assert!(render(&req, "amazon.nova-pro-v1:0")
        .get("additionalModelRequestFields")
        .is_none());
    req.reasoning_effort = Some("extreme".into());
    assert!(render_request(&req, CLAUDE).is_err());
}

#[test]
fn signed_reasoning_goes_back_unsigned_reasoning_does_not() {
    let req = ChatRequest {
        messages: vec![
            text_msg(Role::User, "q"),
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::Thinking {
                        text: "thinking it over".into(),
                        signature: Some("EqoBCkgIARABGAIiQL".into()),
                    },
                    Part::RedactedThinking {
                        data: "ZW5jcnlwdGVk".into(),
                    },
                    Part::Thinking {
                        text: "from another provider".into(),
                        signature: None,
                    },
                    Part::Text {
                        text: "answer".into(),
                        cache_control: None,
                    },
                ],
                name: None,
            },
            text_msg(Role::User, "and?"),
        ],
        ..ChatRequest::default()
    };
    let body = render(&req, CLAUDE);
    assert_eq!(
        body["messages"][1]["content"],
        serde_json::json!([
            {"reasoningContent": {"reasoningText": {"text": "thinking it over", "signature": "EqoBCkgIARABGAIiQL"}}},
            {"reasoningContent": {"redactedContent": "ZW5jcnlwdGVk"}},
            {"text": "answer"},
        ])
    );
}

#[test]
fn media_documents_and_cache_points() {
    let req = ChatRequest {
        messages: vec![Message {
            role: Role::User,
            content: vec![
                Part::Text {
                    text: "look".into(),
                    cache_control: Some(crate::unified::CacheControl {
                        kind: "ephemeral".into(),
                        ttl: None,
                    }),
                },
                Part::Image {
                    source: MediaSource::Base64 {
                        media_type: "image/jpeg".into(),
                        data: "/9j/AAAA".into(),
                    },
                    detail: None,
                    cache_control: None,
                },
                Part::Document {
                    source: MediaSource::Base64 {
                        media_type: "application/pdf".into(),
                        data: "JVBERi0=".into(),
                    },
                    name: Some("Q3 report.v2.pdf".into()),
                    cache_control: None,
                },
                Part::Audio {
                    data: "UklGRg==".into(),
                    format: "wav".into(),
                },
            ],
            name: None,
        }],
        ..ChatRequest::default()
    };
    let body = render(&req, "amazon.nova-pro-v1:0");
    assert_eq!(
        body["messages"][0]["content"],
        serde_json::json!([
            {"text": "look"},
            {"cachePoint": {"type": "default"}},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/AAAA"}}},
            {"document": {"format": "pdf", "name": "Q3 report-v2-pdf", "source": {"bytes": "JVBERi0="}}},
            {"audio": {"format": "wav", "source": {"bytes": "UklGRg=="}}},
        ])
    );
    let web_image = ChatRequest {
        messages: vec![Message {
            role: Role::User,
            content: vec![Part::Image {
                source: MediaSource::Url("https://example.com/cat.png".into()),
                detail: None,
                cache_control: None,
            }],
            name: None,
        }],
        ..ChatRequest::default()
    };
    let e = render_request(&web_image, CLAUDE).unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(e.message.contains("base64"), "{}", e.message);
}

#[test]
fn invalid_tool_arguments_are_a_clear_400() {
    let req = ChatRequest {
        messages: vec![
            text_msg(Role::User, "q"),
            Message {
                role: Role::Assistant,
                content: vec![Part::ToolUse {
                    id: "t".into(),
                    name: "f".into(),
                    arguments: "{oops".into(),
                    cache_control: None,
                }],
                name: None,
            },
        ],
        ..ChatRequest::default()
    };
    let e = render_request(&req, CLAUDE).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[1].tool_calls"));
}

#[test]
fn response_identity_comes_from_the_context() {
    let d = deployment();
    let ctx = crate::codec::DecodeContext {
        now_ms: 1_700_000_000_123,
        model: &d.upstream_model,
        id_prefix: "chatcmpl-",
    };
    let r = decode_response(TEXT, &ctx).unwrap();
    assert_eq!(r.model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
    assert_eq!(r.created, 1_700_000_000);
    assert!(r.id.starts_with("chatcmpl-"));
    // On /v1/messages the made-up id is a message id.
    let r = decode_response(
        TEXT,
        &crate::codec::DecodeContext {
            id_prefix: "msg_",
            ..ctx
        },
    )
    .unwrap();
    assert!(r.id.starts_with("msg_"), "{}", r.id);
}

/// `cacheDetails` splits the writes by lifetime; the 1-hour part is kept.
#[test]
fn one_hour_cache_writes_from_cache_details() {
    let mut v: serde_json::Value = serde_json::from_slice(TEXT).unwrap();
    v["usage"]["cacheWriteInputTokens"] = 3000.into();
    v["usage"]["cacheDetails"] = serde_json::json!([
        {"ttl": "1h", "inputTokens": 2000},
        {"ttl": "5m", "inputTokens": 1000}
    ]);
    let r = decode_response(&serde_json::to_vec(&v).unwrap(), &decode_ctx()).unwrap();
    let u = r.usage.unwrap();
    assert_eq!(
        (u.cache_write_tokens, u.cache_write_1h_tokens),
        (3000, 2000)
    );
    assert_eq!(u.input_tokens, 22 + 3000);
    // The stream's metadata event says the same.
    let metadata = STREAM_TEXT
        .lines()
        .find(|l| l.contains("\"metadata\""))
        .unwrap();
    let mut m: serde_json::Value = serde_json::from_str(metadata).unwrap();
    m["metadata"]["usage"]["cacheWriteInputTokens"] = 500.into();
    m["metadata"]["usage"]["cacheDetails"] = serde_json::json!([{"ttl": "1h", "inputTokens": 500}]);
    let body: Vec<u8> = STREAM_TEXT
        .lines()
        .map(|l| {
            if l.contains("\"metadata\"") {
                frame_for(&m.to_string())
            } else {
                frame_for(l)
            }
        })
        .collect::<Vec<_>>()
        .concat();
    let (chunks, _) = decode_stream(&body, 64);
    let u = chunks.iter().rev().find_map(|c| c.usage).unwrap();
    assert_eq!((u.cache_write_tokens, u.cache_write_1h_tokens), (500, 500));
    // Without details every write is a 5-minute one.
    let u = decode_response(TEXT, &decode_ctx()).unwrap().usage.unwrap();
    assert_eq!(u.cache_write_1h_tokens, 0);
}
