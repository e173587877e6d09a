use http::HeaderMap;
use serde_json::{json, Value};

use super::*;
use crate::codec::test_support::deployment;

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn body_of(api: Api, model: &str, dims: Option<u64>) -> Value {
    let b = request_body(api, model, &texts(&["a", "bb"]), dims, None);
    serde_json::from_slice(&b).unwrap()
}

fn answer(api: Api, body: Value, base64: bool, n: usize) -> (Value, Usage) {
    answer_with(api, body, &HeaderMap::new(), base64, n)
}

fn answer_with(api: Api, body: Value, h: &HeaderMap, base64: bool, n: usize) -> (Value, Usage) {
    let inputs: Vec<String> = (0..n).map(|i| "x".repeat(4 * i + 5)).collect();
    let (out, usage) = openai_answer(
        api,
        &serde_json::to_vec(&body).unwrap(),
        h,
        "m",
        base64,
        &inputs,
    )
    .unwrap();
    (serde_json::from_slice(&out).unwrap(), usage)
}

#[test]
fn each_provider_has_its_api() {
    let cases = [
        ("openai", "text-embedding-3-small", Some(Api::OpenAi)),
        ("azure", "emb", Some(Api::OpenAi)),
        ("gemini", "gemini-embedding-001", Some(Api::Gemini)),
        ("vertex_ai", "text-embedding-005", Some(Api::Vertex)),
        ("bedrock", "amazon.titan-embed-text-v2:0", Some(Api::Titan)),
        ("bedrock", "us.cohere.embed-v4:0", Some(Api::BedrockCohere)),
        ("bedrock", "anthropic.claude-3-haiku", None),
        ("cohere", "embed-v4.0", Some(Api::Cohere)),
        ("ollama", "nomic-embed-text", Some(Api::Ollama)),
        ("anthropic", "claude-sonnet-4", None),
    ];
    for (id, model, want) in cases {
        assert_eq!(
            api_of(&deployment(id, model, "http://x", None)),
            want,
            "{id}"
        );
    }
    assert!(takes_dimensions(Api::Titan, "amazon.titan-embed-text-v2:0"));
    assert!(!takes_dimensions(Api::Titan, "amazon.titan-embed-text-v1"));
    assert_eq!(max_inputs(Api::Titan), Some(1));
    assert_eq!(max_inputs(Api::Cohere), None);
}

#[test]
fn gemini_body_is_one_request_per_text() {
    let b = body_of(Api::Gemini, "gemini-embedding-001", Some(256));
    assert_eq!(
        b,
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 256},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "bb"}]}, "outputDimensionality": 256},
        ]})
    );
    let b = body_of(Api::Gemini, "models/g", None);
    assert_eq!(
        b["requests"][0],
        json!({"model": "models/g", "content": {"parts": [{"text": "a"}]}})
    );
}

#[test]
fn vertex_body_is_instances_and_parameters() {
    assert_eq!(
        body_of(Api::Vertex, "text-embedding-005", Some(64)),
        json!({"instances": [{"content": "a"}, {"content": "bb"}], "parameters": {"outputDimensionality": 64}})
    );
    assert_eq!(body_of(Api::Vertex, "m", None).get("parameters"), None);
}

#[test]
fn titan_cohere_and_ollama_bodies() {
    let b = request_body(
        Api::Titan,
        "amazon.titan-embed-text-v2:0",
        &texts(&["hi"]),
        Some(512),
        None,
    );
    let b: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(b, json!({"inputText": "hi", "dimensions": 512}));
    assert_eq!(
        body_of(Api::Cohere, "embed-v4.0", Some(1024)),
        json!({"model": "embed-v4.0", "texts": ["a", "bb"], "input_type": "search_document",
               "embedding_types": ["float"], "output_dimension": 1024})
    );
    let b = request_body(
        Api::BedrockCohere,
        "cohere.embed-english-v3",
        &texts(&["q"]),
        None,
        Some("search_query"),
    );
    let b: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        b,
        json!({"texts": ["q"], "input_type": "search_query", "embedding_types": ["float"]})
    );
    assert_eq!(
        body_of(Api::Ollama, "nomic-embed-text", None),
        json!({"model": "nomic-embed-text", "input": ["a", "bb"]})
    );
}

#[test]
fn gemini_answer_without_usage_is_estimated() {
    let (out, usage) = answer(
        Api::Gemini,
        json!({"embeddings": [{"values": [0.5, 1.0]}, {"values": [0.25, -1.0]}]}),
        false,
        2,
    );
    assert_eq!(out["object"], "list");
    assert_eq!(out["model"], "m");
    assert_eq!(
        out["data"][1],
        json!({"object": "embedding", "index": 1, "embedding": [0.25, -1.0]})
    );
    // Inputs of 5 and 9 characters: 2 + 3 tokens.
    assert_eq!(usage.input_tokens, 5);
    assert_eq!(out["usage"], json!({"prompt_tokens": 5, "total_tokens": 5}));
}

#[test]
fn vertex_titan_cohere_ollama_report_their_tokens() {
    let (out, usage) = answer(
        Api::Vertex,
        json!({"predictions": [
            {"embeddings": {"values": [1.0], "statistics": {"token_count": 3, "truncated": false}}},
            {"embeddings": {"values": [2.0], "statistics": {"token_count": 4, "truncated": false}}}]}),
        false,
        2,
    );
    assert_eq!(
        (out["data"][1]["embedding"].clone(), usage.input_tokens),
        (json!([2.0]), 7)
    );
    let (out, usage) = answer(
        Api::Titan,
        json!({"embedding": [0.1], "inputTextTokenCount": 9}),
        false,
        1,
    );
    assert_eq!(
        (out["data"][0]["embedding"].clone(), usage.input_tokens),
        (json!([0.1]), 9)
    );
    let (out, usage) = answer(
        Api::Cohere,
        json!({"id": "x", "embeddings": {"float": [[1.5], [2.5]]}, "meta": {"billed_units": {"input_tokens": 11}}}),
        false,
        2,
    );
    assert_eq!(
        (out["data"][1]["embedding"].clone(), usage.input_tokens),
        (json!([2.5]), 11)
    );
    let (out, usage) = answer(
        Api::Ollama,
        json!({"model": "m", "embeddings": [[3.0]], "prompt_eval_count": 2}),
        false,
        1,
    );
    assert_eq!(
        (out["data"][0]["embedding"].clone(), usage.input_tokens),
        (json!([3.0]), 2)
    );
}

#[test]
fn bedrock_cohere_tokens_come_from_the_header() {
    let mut h = HeaderMap::new();
    h.insert("x-amzn-bedrock-input-token-count", "13".parse().unwrap());
    let body =
        json!({"id": "x", "embeddings": {"float": [[1.0]]}, "response_type": "embeddings_by_type"});
    let (out, usage) = answer_with(Api::BedrockCohere, body, &h, false, 1);
    assert_eq!(
        (out["data"][0]["embedding"].clone(), usage.input_tokens),
        (json!([1.0]), 13)
    );
    // v3 without embedding_types answers a plain list.
    let (out, _) = answer(Api::BedrockCohere, json!({"embeddings": [[4.0]]}), false, 1);
    assert_eq!(out["data"][0]["embedding"], json!([4.0]));
}

#[test]
fn base64_is_f32_little_endian() {
    let (out, _) = answer(Api::Ollama, json!({"embeddings": [[1.0, -2.0]]}), true, 1);
    // 1.0f32 = 00 00 80 3f, -2.0f32 = 00 00 00 c0.
    assert_eq!(out["data"][0]["embedding"], "AACAPwAAAMA=");
}

#[test]
fn a_wrong_answer_is_a_502_not_a_panic() {
    let inputs = texts(&["a", "b"]);
    for (api, body) in [
        (Api::Gemini, "{\"embeddings\": [{\"values\": [1]}]}"),
        (Api::Cohere, "{\"embeddings\": {\"int8\": [[1]]}}"),
        (Api::Ollama, "not json"),
        (Api::Vertex, "{\"predictions\": [{}, {}]}"),
    ] {
        let e = openai_answer(api, body.as_bytes(), &HeaderMap::new(), "m", false, &inputs)
            .unwrap_err();
        assert_eq!(
            e.code.as_deref(),
            Some("invalid_upstream_response"),
            "{api:?}"
        );
    }
}

#[test]
fn raw_arrays_split_on_their_own_commas_only() {
    assert_eq!(items(Some(" [1, -2.5e-3 ,3] ")), vec!["1", "-2.5e-3", "3"]);
    assert_eq!(
        items(Some(r#"[{"a": [1, 2], "s": "x,]\"y"}, [3, 4]]"#)),
        vec![r#"{"a": [1, 2], "s": "x,]\"y"}"#, "[3, 4]"]
    );
    assert_eq!(items(Some("[]")), Vec::<&str>::new());
    assert_eq!(items(Some("{}")), Vec::<&str>::new());
    assert_eq!(base64_f32("[1, x]"), None);
    // Whitespace and exponents as a provider may print them come through.
    let (out, _) = answer(Api::Ollama, json!({"embeddings": [[1e-3, 2.0]]}), false, 1);
    assert_eq!(out["data"][0]["embedding"], json!([0.001, 2.0]));
}
