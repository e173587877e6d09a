//! The Responses codec against recorded traffic (`fixtures/openai/responses-*`,
//! `fixtures/azure/responses-*`). Expected values are read off the fixtures.

use crate::codec::test_support::decode_ctx;
use http::{HeaderMap, StatusCode};

use super::*;
use crate::error::ErrorKind;
use crate::ingress::openai_chat::ChatEnvelope;
use crate::providers::Codec;
use crate::resolve::provider;
use crate::secret::Secret;
use crate::unified::{ChatChunk, Message, Role};

macro_rules! fixture {
    ($dir:literal, $name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/",
            $dir,
            "/",
            $name
        ))
    };
}

fn deployment() -> Deployment {
    Deployment {
        provider: provider(crate::catalog::embedded(), "openai").unwrap(),
        upstream_model: "o3-pro".into(),
        api_base: "https://api.openai.com/v1".into(),
        api_key: Some(Secret::new("sk-test-key")),
        mock_response: None,
        request_timeout_ms: None,
        passthrough: true,
        params: Default::default(),
    }
}

/// A `.chunks.jsonl` recording as the API frames it: `event:` + `data:`.
/// Recordings of several runs are split into one body per run.
fn sse_bodies(jsonl: &[u8]) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let kind = v["type"].as_str().unwrap();
        if kind == "response.created" || bodies.is_empty() {
            bodies.push(Vec::new());
        }
        let body = bodies.last_mut().unwrap();
        body.extend_from_slice(format!("event: {kind}\ndata: ").as_bytes());
        body.extend_from_slice(line);
        body.extend_from_slice(b"\n\n");
    }
    bodies
}

#[derive(Debug, Default)]
struct Assembled {
    role: bool,
    text: String,
    reasoning: String,
    refusal: String,
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    id: String,
    model: String,
    created: u64,
}

fn assemble(chunks: &[ChatChunk]) -> Assembled {
    let mut a = Assembled::default();
    for c in chunks {
        a.id.clone_from(&c.id);
        a.model.clone_from(&c.model);
        a.created = c.created;
        if c.usage.is_some() {
            a.usage = c.usage;
        }
        for ch in &c.choices {
            assert_eq!(ch.index, 0);
            a.role |= ch.delta.role == Some(Role::Assistant);
            a.text.push_str(ch.delta.text.as_deref().unwrap_or(""));
            a.reasoning
                .push_str(ch.delta.reasoning.as_deref().unwrap_or(""));
            a.refusal
                .push_str(ch.delta.refusal.as_deref().unwrap_or(""));
            for t in &ch.delta.tool_calls {
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
    a
}

/// Decodes one body fed in pieces of `step` bytes.
fn decode_stream(body: &[u8], step: usize) -> (Result<Vec<ChatChunk>, GatewayError>, bool) {
    let mut d = StreamDecoder::new(&decode_ctx());
    let mut chunks = Vec::new();
    for piece in body.chunks(step) {
        match d.push(piece) {
            Ok(c) => chunks.extend(c),
            Err(e) => return (Err(e), d.is_done()),
        }
    }
    match d.finish() {
        Ok(c) => chunks.extend(c),
        Err(e) => return (Err(e), d.is_done()),
    }
    (Ok(chunks), d.is_done())
}

fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Option<Usage> {
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        reasoning_tokens: reasoning,
        ..Usage::default()
    })
}

const TEXT_STREAM_FIRST: &str = "Got it \u{2014} I\u{2019}ll quickly check reliable, up-to-date sources for AI headlines from **today (February 25, 2026)** and then summarize the key items with links.";

// ---- non-stream -----------------------------------------------------------

#[test]
fn non_stream_two_messages_become_two_paragraphs() {
    let r = decode_response(fixture!("openai", "responses-text.json"), &decode_ctx()).unwrap();
    assert_eq!(
        r.id,
        "resp_0465b6d1ae1f97c500699f88318ee481a3b627f7fcb4875152"
    );
    assert_eq!(r.model, "gpt-5.3-codex");
    assert_eq!(r.created, 1772062769);
    let text = r.choices[0].text().unwrap();
    let (first, second) = text.split_once("\n\n").unwrap();
    assert_eq!(first, "I\u{2019}ll quickly check reliable, up-to-date sources (major tech/news outlets and company blogs) to pull the most recent AI headlines for today, then summarize them for you with links.");
    assert!(second.starts_with(
        "Here are some **latest AI updates for today (Wednesday, February 25, 2026)**"
    ));
    assert!(second.ends_with("with only same-day / last-48-hours items."));
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.choices[0].tool_uses().count(), 0);
    assert_eq!(r.usage, usage(7243, 3072, 423, 58));
}

/// The `response` object of the recorded `response.completed` event of the
/// first run (reasoning summary with encrypted content, then a call).
fn completed_response_with_reasoning() -> Vec<u8> {
    let jsonl = fixture!(
        "openai",
        "responses-stream-reasoning-function-calls.chunks.jsonl"
    );
    let v: serde_json::Value = jsonl
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "response.completed")
        .unwrap();
    serde_json::to_vec(&v["response"]).unwrap()
}

#[test]
fn non_stream_reasoning_and_function_call() {
    let r = decode_response(&completed_response_with_reasoning(), &decode_ctx()).unwrap();
    let c = &r.choices[0];
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        c.tool_uses().collect::<Vec<_>>(),
        vec![(
            "call_AB6AaRZ1FYZB2RwS6A5vbdqn",
            "calculator",
            r#"{"a":12,"b":7,"op":"add"}"#
        )]
    );
    let Part::Thinking { text, signature } = &c.content[0] else {
        panic!("first part is not thinking: {:?}", c.content[0]);
    };
    assert_eq!(text, "**Calculating step-by-step using calculator**\n\nI'll compute 12 plus 7, then multiply the result by 3, and finally multiply that by 10, reporting the final product.");
    let (id, encrypted) = reasoning_item(signature.as_deref().unwrap()).unwrap();
    assert_eq!(id, "rs_01830d662ab3856501693c321405c88190be3ab04d5782d5f9");
    assert!(encrypted.starts_with("gAAAAABpPDIV"));
    assert_eq!(c.text(), None);
    assert_eq!(r.usage, usage(134, 0, 28, 0));
}

#[test]
fn non_stream_incomplete_and_refusal_and_failed() {
    let body = br#"{"id":"resp_1","created_at":5,"model":"o3-pro","status":"incomplete",
        "incomplete_details":{"reason":"max_output_tokens"},
        "output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Half"}]}],
        "usage":{"input_tokens":3,"output_tokens":9,"output_tokens_details":{"reasoning_tokens":8}}}"#;
    let r = decode_response(body, &decode_ctx()).unwrap();
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Length));
    assert_eq!(r.choices[0].text().as_deref(), Some("Half"));
    assert_eq!(r.usage, usage(3, 0, 9, 8));

    let body =
        br#"{"status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]}"#;
    let r = decode_response(body, &decode_ctx()).unwrap();
    assert_eq!(
        r.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );

    let body = br#"{"status":"completed","output":[{"type":"message","content":[{"type":"refusal","refusal":"No."}]},{"type":"web_search_call","id":"ws_1"}]}"#;
    let r = decode_response(body, &decode_ctx()).unwrap();
    assert_eq!(r.choices[0].refusal.as_deref(), Some("No."));
    assert_eq!(r.choices[0].text(), None);

    let body =
        br#"{"status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}"#;
    let e = decode_response(body, &decode_ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UpstreamServer);
    assert_eq!(e.message, "boom");
    assert!(decode_response(b"[1]", &decode_ctx()).is_err());
}

#[test]
fn http_errors_read_like_chat_completions() {
    let decode = crate::codec::error_decoder(Codec::OpenAiResponses);
    let e = decode(
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        fixture!("openai", "error-insufficient-quota-429.json"),
        &deployment(),
    );
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
}

// ---- stream ---------------------------------------------------------------

#[test]
fn stream_text_fills_in_deltas_the_recording_skipped() {
    let bodies = sse_bodies(fixture!("openai", "responses-stream-text.chunks.jsonl"));
    assert_eq!(bodies.len(), 1);
    let (chunks, done) = decode_stream(&bodies[0], 4096);
    assert!(done);
    let a = assemble(&chunks.unwrap());
    assert!(a.role);
    assert_eq!(
        a.id,
        "resp_0a63f40a2632b74300699f8818e5648196a8fa657ae8091421"
    );
    assert_eq!(a.model, "gpt-5.3-codex");
    assert_eq!(a.created, 1772062745);
    let (first, second) = a.text.split_once("\n\n").unwrap();
    assert_eq!(first, TEXT_STREAM_FIRST);
    assert!(second.starts_with("Here are a few **AI headlines for today (Wednesday, February 25, 2026)** based on currently available reports:"));
    assert!(second.ends_with("give you a cleaner, investor-grade morning brief with timestamps."));
    assert_eq!(a.finish, Some(FinishReason::Stop));
    assert_eq!(a.usage, usage(7112, 3072, 463, 64));
}

#[test]
fn stream_split_anywhere_gives_the_same_result() {
    let bodies = sse_bodies(fixture!("azure", "responses-stream-tool-call.chunks.jsonl"));
    let (whole, _) = decode_stream(&bodies[0], usize::MAX);
    let whole = assemble(&whole.unwrap());
    for step in [1, 7, 64] {
        let (chunks, done) = decode_stream(&bodies[0], step);
        assert!(done, "step {step}");
        let a = assemble(&chunks.unwrap());
        assert_eq!(
            (&a.tools, &a.finish, a.usage),
            (&whole.tools, &whole.finish, whole.usage)
        );
    }
}

#[test]
fn stream_four_runs_reasoning_then_calls_then_answer() {
    let bodies = sse_bodies(fixture!(
        "openai",
        "responses-stream-reasoning-function-calls.chunks.jsonl"
    ));
    assert_eq!(bodies.len(), 4);
    let runs: Vec<Assembled> = bodies
        .iter()
        .map(|b| {
            let (chunks, done) = decode_stream(b, 512);
            assert!(done);
            assemble(&chunks.unwrap())
        })
        .collect();

    assert_eq!(runs[0].reasoning, "**Calculating step-by-step using calculator**\n\nI'll compute 12 plus 7, then multiply the result by 3, and finally multiply that by 10, reporting the final product.");
    assert_eq!(runs[0].text, "");
    let call =
        |id: &str, args: &str| vec![(id.to_string(), "calculator".to_string(), args.to_string())];
    assert_eq!(
        runs[0].tools,
        call(
            "call_AB6AaRZ1FYZB2RwS6A5vbdqn",
            r#"{"a":12,"b":7,"op":"add"}"#
        )
    );
    assert_eq!(
        runs[1].tools,
        call(
            "call_Q6pW65MUgW9vF59BmItYGos3",
            r#"{"a":19,"b":3,"op":"multiply"}"#
        )
    );
    assert_eq!(
        runs[2].tools,
        call(
            "call_Zl5vIMnD7dVAjgU6FkhmiCZh",
            r#"{"a":57,"b":10,"op":"multiply"}"#
        )
    );
    for r in &runs[..3] {
        assert_eq!(r.finish, Some(FinishReason::ToolCalls));
    }
    assert_eq!(runs[3].text, "The final result is **570**.");
    assert!(runs[3].tools.is_empty());
    assert_eq!(runs[3].finish, Some(FinishReason::Stop));
    assert_eq!(
        runs.iter()
            .map(|r| r.usage.unwrap())
            .map(|u| (u.input_tokens, u.output_tokens))
            .collect::<Vec<_>>(),
        vec![(134, 28), (221, 26), (260, 26), (299, 12)]
    );
    assert_eq!(runs[3].model, "gpt-5.1-codex-max");
}

#[test]
fn stream_stops_at_the_first_completed_response() {
    let all = fixture!(
        "openai",
        "responses-stream-reasoning-function-calls.chunks.jsonl"
    );
    let body: Vec<u8> = sse_bodies(all).concat();
    let (chunks, done) = decode_stream(&body, 4096);
    assert!(done);
    let a = assemble(&chunks.unwrap());
    assert_eq!(a.tools.len(), 1);
    assert_eq!(a.text, "");
}

#[test]
fn azure_stream_tool_call() {
    let bodies = sse_bodies(fixture!("azure", "responses-stream-tool-call.chunks.jsonl"));
    let (chunks, done) = decode_stream(&bodies[0], 256);
    assert!(done);
    let a = assemble(&chunks.unwrap());
    assert_eq!(
        a.tools,
        vec![(
            "call_H5DxLSFnsGhiROnUiDHmgyc8".to_string(),
            "weather".to_string(),
            r#"{"location":"San Francisco"}"#.to_string()
        )]
    );
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!(a.usage, usage(45, 0, 24, 0));
    assert_eq!(a.model, "gpt-5.1");
}

#[test]
fn stream_error_event_is_a_rate_limit() {
    let bodies = sse_bodies(fixture!(
        "openai",
        "responses-stream-error-insufficient-quota.chunks.jsonl"
    ));
    let (result, done) = decode_stream(&bodies[0], 100);
    assert!(!done);
    let e = result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
    assert!(e.message.starts_with("You exceeded your current quota"));
}

#[test]
fn stream_failed_and_incomplete_events() {
    let mut d = StreamDecoder::new(&decode_ctx());
    let e = d
        .push(b"data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"context_length_exceeded\",\"message\":\"too long\"}}}\n\n")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);

    // OpenAI's reference puts an error event's fields at the top level.
    let mut d = StreamDecoder::new(&decode_ctx());
    let e = d
        .push(b"event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow\",\"param\":null}\n\n")
        .unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::RateLimited, "slow")
    );

    let mut d = StreamDecoder::new(&decode_ctx());
    let chunks = d
        .push(b"data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}\n\n")
        .unwrap();
    assert!(d.is_done());
    assert_eq!(
        chunks[0].choices[0].finish_reason,
        Some(FinishReason::Length)
    );
    assert_eq!(chunks[0].usage, usage(1, 0, 2, 0));

    let mut d = StreamDecoder::new(&decode_ctx());
    assert!(d.push(b"data: {not json\n\n").is_err());
}

#[test]
fn stream_refusal_and_parallel_calls_keep_their_indexes() {
    let body = concat!(
        "data: {\"type\":\"response.refusal.delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"I can\"}\n\n",
        "data: {\"type\":\"response.refusal.done\",\"output_index\":0,\"content_index\":0,\"refusal\":\"I cannot.\"}\n\n",
        "data: {\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"a\",\"arguments\":\"\"}}\n\n",
        "data: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,\"delta\":\"{}\"}\n\n",
        // A call announced only when done arrives whole.
        "data: {\"type\":\"response.output_item.done\",\"output_index\":2,\"item\":{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"b\",\"arguments\":\"{\\\"x\\\":1}\"}}\n\n",
        "data: {\"type\":\"response.function_call_arguments.done\",\"output_index\":1,\"arguments\":\"{}\"}\n\n",
        "data: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\"}}\n\n",
    );
    let (chunks, done) = decode_stream(body.as_bytes(), 4096);
    assert!(done);
    let a = assemble(&chunks.unwrap());
    assert_eq!(a.refusal, "I cannot.");
    assert_eq!(
        a.tools,
        vec![
            ("c1".into(), "a".into(), "{}".into()),
            ("c2".into(), "b".into(), r#"{"x":1}"#.into())
        ]
    );
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
}

// ---- encode ---------------------------------------------------------------

fn encode_json(req: &ChatRequest) -> serde_json::Value {
    let http_req = encode(req, &deployment()).unwrap();
    assert_eq!(http_req.uri(), "https://api.openai.com/v1/responses");
    assert_eq!(
        http_req.headers()["authorization"].to_str().unwrap(),
        "Bearer sk-test-key"
    );
    serde_json::from_slice(http_req.body()).unwrap()
}

#[test]
fn encode_a_tool_round_trip() {
    let body = br#"{"model":"m","messages":[
        {"role":"system","content":"be brief"},
        {"role":"developer","content":"use tools"},
        {"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},
        {"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"look","arguments":"{\"q\":1}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"a cat"},
        {"role":"system","content":"late rule"},
        {"role":"user","content":"thanks"}],
        "tools":[{"type":"function","function":{"name":"look","description":"Looks","parameters":{"type":"object"},"strict":true}}],
        "tool_choice":{"type":"function","function":{"name":"look"}},"parallel_tool_calls":false,
        "max_completion_tokens":50,"temperature":0.5,"top_p":0.9,"reasoning_effort":"low","stream":true,
        "response_format":{"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object"},"strict":true}},
        "user":"u1","metadata":{"k":"v"},"vendor_knob":1}"#;
    let req = ChatEnvelope::parse(body).unwrap().to_unified().unwrap();
    let v = encode_json(&req);
    assert_eq!(v["model"], "o3-pro");
    assert_eq!(v["instructions"], "be brief\n\nuse tools");
    assert!(v.get("messages").is_none());
    assert_eq!(
        v["input"],
        serde_json::json!([
            {"type":"message","role":"user","content":[
                {"type":"input_text","text":"what is this"},
                {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"}]},
            {"type":"message","role":"assistant","content":"Let me look."},
            {"type":"function_call","call_id":"call_1","name":"look","arguments":"{\"q\":1}"},
            {"type":"function_call_output","call_id":"call_1","output":"a cat"},
            {"type":"message","role":"developer","content":"late rule"},
            {"type":"message","role":"user","content":"thanks"}
        ])
    );
    assert_eq!(
        v["tools"],
        serde_json::json!([{"type":"function","name":"look","description":"Looks","parameters":{"type":"object"},"strict":true}])
    );
    assert_eq!(
        v["tool_choice"],
        serde_json::json!({"type":"function","name":"look"})
    );
    assert_eq!(v["parallel_tool_calls"], false);
    assert_eq!(v["max_output_tokens"], 50);
    assert_eq!(
        (v["temperature"].as_f64(), v["top_p"].as_f64()),
        (Some(0.5), Some(0.9))
    );
    assert_eq!(
        v["reasoning"],
        serde_json::json!({"effort":"low","summary":"auto"})
    );
    assert_eq!(
        v["include"],
        serde_json::json!(["reasoning.encrypted_content"])
    );
    assert_eq!(
        v["text"],
        serde_json::json!({"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}})
    );
    assert_eq!(v["store"], false);
    assert_eq!(v["stream"], true);
    assert_eq!(v["user"], "u1");
    assert_eq!(v["metadata"], serde_json::json!({"k":"v"}));
    assert!(v.get("vendor_knob").is_none() && v.get("stream_options").is_none());
}

#[test]
fn encode_minimal_request_has_no_optional_fields() {
    let req = ChatEnvelope::parse(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        .unwrap()
        .to_unified()
        .unwrap();
    let v = encode_json(&req);
    assert_eq!(
        v,
        serde_json::json!({"model":"o3-pro","input":[{"type":"message","role":"user","content":"hi"}],"store":false})
    );
}

#[test]
fn reasoning_items_go_back_as_they_came() {
    let r = decode_response(&completed_response_with_reasoning(), &decode_ctx()).unwrap();
    let mut content = r.choices[0].content.clone();
    content.push(Part::RedactedThinking {
        data: reasoning_signature("rs_2", "gAAAA-opaque"),
    });
    // Another provider's signature cannot be replayed to OpenAI.
    content.push(Part::Thinking {
        text: "foreign".into(),
        signature: Some("EqQBCkYIBxgCKkB".into()),
    });
    let req = ChatRequest {
        messages: vec![
            Message {
                role: Role::User,
                content: vec![Part::Text {
                    text: "12+7, *3, *10".into(),
                    cache_control: None,
                }],
                name: None,
            },
            Message {
                role: Role::Assistant,
                content,
                name: None,
            },
        ],
        ..ChatRequest::default()
    };
    let v = encode_json(&req);
    let input = v["input"].as_array().unwrap();
    assert_eq!(input.len(), 4, "{input:?}");
    assert_eq!(input[1]["type"], "reasoning");
    assert_eq!(
        input[1]["id"],
        "rs_01830d662ab3856501693c321405c88190be3ab04d5782d5f9"
    );
    assert!(input[1]["encrypted_content"]
        .as_str()
        .unwrap()
        .starts_with("gAAAAABpPDIV"));
    assert_eq!(input[1]["summary"][0]["type"], "summary_text");
    assert!(input[1]["summary"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("**Calculating"));
    assert_eq!(input[2]["type"], "function_call");
    assert_eq!(input[2]["call_id"], "call_AB6AaRZ1FYZB2RwS6A5vbdqn");
    assert_eq!(
        input[3],
        serde_json::json!({"type":"reasoning","id":"rs_2","summary":[],"encrypted_content":"gAAAA-opaque"})
    );
}

#[test]
fn encode_to_another_url_with_a_key_header() {
    let req = ChatRequest {
        stream: true,
        ..ChatRequest::default()
    };
    let r = encode_to(
        &req,
        &deployment(),
        "https://x.openai.azure.com/openai/v1/responses?api-version=preview",
        Auth::Header("api-key"),
    )
    .unwrap();
    assert_eq!(r.uri().query(), Some("api-version=preview"));
    assert_eq!(r.headers()["api-key"], "sk-test-key");
    assert!(r.headers().get("authorization").is_none());
    assert_eq!(r.headers()["accept"], "text/event-stream");
}
