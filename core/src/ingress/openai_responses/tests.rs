//! The Responses ingress: `input` items into unified turns, answers and
//! chunks back out as response objects and typed events.

use std::sync::Arc;

use serde_json::{json, Value};

use super::render::{render_response, EventRenderer, Head};
use super::*;
use crate::stream::Renderer;
use crate::unified::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, ToolCallDelta, Usage,
};

fn env(body: &Value) -> (Vec<u8>, ChatRequest, ToolShapes) {
    let bytes = serde_json::to_vec(body).unwrap();
    let e = ResponsesEnvelope::parse(&bytes).unwrap();
    let req = e.to_unified().unwrap();
    let shapes = e.tool_shapes().unwrap();
    (bytes.clone(), req, shapes)
}

#[test]
fn a_codex_turn_becomes_alternating_unified_turns() {
    let (_, req, shapes) = env(&json!({
        "model": "m", "stream": true, "store": false,
        "instructions": "Be brief.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}], "encrypted_content": "sig"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running ls."}]},
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call", "call_id": "c2", "namespace": "agents", "name": "spawn", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "ok"}]},
            {"role": "user", "content": "thanks"}
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}]},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
            {"type": "web_search"}
        ],
        "tool_choice": "auto",
        "reasoning": {"effort": "high", "summary": "auto"},
        "max_output_tokens": 300,
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}}
    }));
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::Developer,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::User
        ]
    );
    let assistant = &req.messages[3].content;
    assert!(
        matches!(&assistant[0], Part::Thinking { text, signature: Some(s) } if text == "think" && s == "sig")
    );
    assert!(matches!(&assistant[1], Part::Text { text, .. } if text == "Running ls."));
    assert!(
        matches!(&assistant[2], Part::ToolUse { id, name, .. } if id == "c1" && name == "exec_command")
    );
    assert!(matches!(&assistant[3], Part::ToolUse { name, .. } if name == "agents__spawn"));
    assert_eq!(req.messages[4].content.len(), 2, "both outputs in one turn");
    let names: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["exec_command", "agents__spawn", "apply_patch"]);
    assert_eq!(shapes.hosted, ["web_search"]);
    assert!(shapes.is_custom("apply_patch"));
    assert_eq!(
        shapes.namespace_of("agents__spawn"),
        Some(("agents", "spawn"))
    );
    assert_eq!(req.max_tokens, Some(300));
    assert_eq!(req.reasoning_effort.as_deref(), Some("high"));
    assert!(
        matches!(req.response_format, Some(ResponseFormat::JsonSchema { ref name, .. }) if name == "out")
    );
}

#[test]
fn bad_input_is_refused_with_the_field_named() {
    for (body, param) in [
        (json!({"input": "hi"}), "model"),
        (json!({"model": "m"}), "input"),
        (json!({"model": "m", "input": 5}), "input"),
    ] {
        let bytes = serde_json::to_vec(&body).unwrap();
        let e = ResponsesEnvelope::parse(&bytes).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some(param), "{body}");
    }
    let bytes = serde_json::to_vec(&json!({"model": "m", "input": [
        {"type": "item_reference", "id": "x"}
    ]}))
    .unwrap();
    let e = ResponsesEnvelope::parse(&bytes)
        .unwrap()
        .to_unified()
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("input[0].type"));
    let bytes = serde_json::to_vec(&json!({"model": "m", "input": [
        {"type": "message", "role": "robot", "content": "x"}
    ]}))
    .unwrap();
    let e = ResponsesEnvelope::parse(&bytes)
        .unwrap()
        .to_unified()
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("input[0].role"));
}

#[test]
fn passthrough_keeps_every_field_and_swaps_the_model() {
    let body = br#"{"model":"fast","input":"h\u00e9","store":false,"include":["reasoning.encrypted_content"]}"#;
    let e = ResponsesEnvelope::parse(body).unwrap();
    assert!(!e.store);
    assert_eq!(
        String::from_utf8(e.render_passthrough("gpt-5", None)).unwrap(),
        r#"{"model":"gpt-5","input":"h\u00e9","store":false,"include":["reasoning.encrypted_content"]}"#
    );
    // A budget's bound: set in place, or added.
    assert_eq!(
        String::from_utf8(e.render_passthrough("gpt-5", Some(40))).unwrap(),
        r#"{"model":"gpt-5","input":"h\u00e9","store":false,"include":["reasoning.encrypted_content"],"max_output_tokens":40}"#
    );
    let body = br#"{"model":"fast","max_output_tokens":900,"input":"x"}"#;
    let e = ResponsesEnvelope::parse(body).unwrap();
    assert_eq!(
        String::from_utf8(e.render_passthrough("gpt-5", Some(40))).unwrap(),
        r#"{"model":"gpt-5","max_output_tokens":40,"input":"x"}"#
    );
}

fn head(shapes: ToolShapes) -> Head {
    Head {
        id: "resp_abc".into(),
        created_at: 7,
        model: "m".into(),
        echo: Arc::from(&b",\"tools\":[]"[..]),
        shapes: Arc::new(shapes),
    }
}

fn usage() -> Usage {
    Usage {
        input_tokens: 10,
        output_tokens: 4,
        reasoning_tokens: 1,
        ..Usage::default()
    }
}

#[test]
fn a_whole_answer_renders_reasoning_then_text_then_calls() {
    let shapes = ToolShapes {
        custom: vec!["apply_patch".into()],
        ..ToolShapes::default()
    };
    let r = ChatResponse {
        id: "x".into(),
        created: 1,
        model: "up".into(),
        choices: vec![Choice {
            index: 0,
            content: vec![
                Part::Thinking {
                    text: "hmm".into(),
                    signature: Some("sig".into()),
                },
                Part::Text {
                    text: "Done".into(),
                    cache_control: None,
                },
                Part::ToolUse {
                    id: "c1".into(),
                    name: "f".into(),
                    arguments: "{\"a\":1}".into(),
                    cache_control: None,
                },
                Part::ToolUse {
                    id: "c2".into(),
                    name: "apply_patch".into(),
                    arguments: "{\"input\":\"*** Begin\"}".into(),
                    cache_control: None,
                },
            ],
            refusal: None,
            finish_reason: Some(FinishReason::ToolCalls),
        }],
        usage: Some(usage()),
        system_fingerprint: None,
    };
    let v: Value = serde_json::from_slice(&render_response(&r, &head(shapes))).unwrap();
    assert_eq!(v["id"], "resp_abc");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "up");
    let kinds: Vec<&str> = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["reasoning", "message", "function_call", "custom_tool_call"]
    );
    assert_eq!(v["output"][0]["encrypted_content"], "sig");
    assert_eq!(v["output"][1]["content"][0]["text"], "Done");
    assert_eq!(v["output"][2]["call_id"], "c1");
    assert_eq!(v["output"][3]["input"], "*** Begin");
    assert_eq!(v["usage"]["total_tokens"], 14);
    assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 1);
    assert_eq!(v["tools"], json!([]));
}

fn chunk(delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    ChatChunk {
        id: "x".into(),
        created: 1,
        model: "up".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
        }],
        usage: None,
    }
}

/// The events of a rendered stream as (event line, data JSON).
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut lines = e.lines();
            let name = lines
                .next()
                .unwrap()
                .strip_prefix("event: ")
                .unwrap()
                .to_owned();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            (name, serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[test]
fn a_stream_renders_the_event_grammar_with_sequence_numbers() {
    let mut r = EventRenderer::new(head(ToolShapes::default()));
    let mut out = Vec::new();
    for c in [
        chunk(
            Delta {
                reasoning: Some("plan".into()),
                ..Delta::default()
            },
            None,
        ),
        chunk(
            Delta {
                text: Some("He".into()),
                ..Delta::default()
            },
            None,
        ),
        chunk(
            Delta {
                text: Some("llo".into()),
                ..Delta::default()
            },
            None,
        ),
        chunk(
            Delta {
                tool_calls: vec![ToolCallDelta {
                    index: 0,
                    id: Some("c1".into()),
                    name: Some("f".into()),
                    arguments: Some("{\"a\"".into()),
                }],
                ..Delta::default()
            },
            None,
        ),
        chunk(
            Delta {
                tool_calls: vec![ToolCallDelta {
                    index: 0,
                    arguments: Some(":1}".into()),
                    ..ToolCallDelta::default()
                }],
                ..Delta::default()
            },
            Some(FinishReason::ToolCalls),
        ),
    ] {
        out.extend_from_slice(&r.chunk(&c).unwrap());
    }
    out.extend_from_slice(&r.end(Some(usage())));
    let evs = events(&out);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, (name, data)) in evs.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i as u64);
    }
    let done = &evs.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][1]["content"][0]["text"], "Hello");
    assert_eq!(done["output"][2]["arguments"], "{\"a\":1}");
    assert_eq!(done["usage"]["input_tokens"], 10);
    assert_eq!(evs[12].1["text"], "Hello");
    assert_eq!(evs[10].1["output_index"], 1);
}

#[test]
fn a_cut_answer_is_incomplete_and_a_failure_says_failed_then_error() {
    let mut r = EventRenderer::new(head(ToolShapes::default()));
    let mut out = r
        .chunk(&chunk(
            Delta {
                text: Some("a b".into()),
                ..Delta::default()
            },
            Some(FinishReason::Length),
        ))
        .unwrap()
        .to_vec();
    out.extend_from_slice(&r.end(None));
    let evs = events(&out);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );

    let mut r = EventRenderer::new(head(ToolShapes::default()));
    let err = GatewayError::new(crate::error::ErrorKind::UpstreamUnavailable, "gone")
        .with_code("upstream_stream_error");
    let evs = events(&r.error(&err));
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.failed",
            "error"
        ]
    );
    assert_eq!(evs[2].1["response"]["error"]["message"], "gone");
    assert_eq!(evs[3].1["error"]["code"], "upstream_stream_error");
    assert_eq!(evs[3].1["sequence_number"], 3);
}
