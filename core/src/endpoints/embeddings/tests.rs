use http::HeaderMap;
use serde_json::{json, Value};

use super::*;
use crate::codec::test_support::deployment;

fn embed(body: &Value, d: &Deployment, drop: bool) -> (Result<Vec<u8>, GatewayError>, Exchange) {
    let raw = serde_json::to_vec(body).unwrap();
    let mut p = Retrieval::Embeddings
        .parse(&raw, &HeaderMap::new())
        .unwrap();
    let mut ex = Exchange::default();
    let out = Retrieval::Embeddings.passthrough_body(&mut p, d, drop, &mut ex);
    (out, ex)
}

fn json_of(out: Result<Vec<u8>, GatewayError>) -> Value {
    serde_json::from_slice(&out.unwrap()).unwrap()
}

#[test]
fn native_bodies_come_from_the_input() {
    let d = deployment("ollama", "nomic-embed-text", "http://o", None);
    let (out, _) = embed(
        &json!({"model": "m", "input": "one", "dimensions": 3}),
        &d,
        false,
    );
    assert_eq!(
        json_of(out),
        json!({"model": "nomic-embed-text", "input": ["one"], "dimensions": 3})
    );
    let d = deployment("cohere", "embed-v4.0", "http://c", Some("k"));
    let body = json!({"model": "m", "input": ["a"], "input_type": "search_query"});
    let (out, _) = embed(&body, &d, false);
    assert_eq!(json_of(out)["input_type"], "search_query");
    // Token arrays are OpenAI's alone.
    let (out, _) = embed(&json!({"model": "m", "input": [[1, 2]]}), &d, true);
    assert_eq!(out.unwrap_err().param.as_deref(), Some("input"));
    // OpenAI-format providers get the client's body, model swapped.
    let d = deployment("openai", "text-embedding-3-small", "http://x", Some("k"));
    let (out, _) = embed(
        &json!({"model": "m", "input": [[1, 2]], "user": "u"}),
        &d,
        false,
    );
    assert_eq!(
        json_of(out),
        json!({"model": "text-embedding-3-small", "input": [[1, 2]], "user": "u"})
    );
}

#[test]
fn titan_takes_one_input_and_v1_no_dimensions() {
    let v2 = deployment("bedrock", "amazon.titan-embed-text-v2:0", "http://b", None);
    let (out, _) = embed(&json!({"model": "m", "input": ["a", "b"]}), &v2, true);
    assert_eq!(out.unwrap_err().param.as_deref(), Some("input"));
    let v1 = deployment("bedrock", "amazon.titan-embed-text-v1", "http://b", None);
    let body = json!({"model": "m", "input": "a", "dimensions": 4});
    let (out, ex) = embed(&body, &v1, false);
    assert_eq!(
        out.unwrap_err().code.as_deref(),
        Some("unsupported_parameter")
    );
    assert_eq!(ex.adjusted, "");
    let (out, ex) = embed(&body, &v1, true);
    assert_eq!(json_of(out), json!({"inputText": "a"}));
    assert_eq!(ex.adjusted, "dropped:dimensions");
    let (out, _) = embed(&body, &v2, false);
    assert_eq!(json_of(out), json!({"inputText": "a", "dimensions": 4}));
}

#[test]
fn bad_dimensions_are_refused_when_parsed() {
    let raw = br#"{"model": "m", "input": "a", "dimensions": -1}"#;
    let e = Retrieval::Embeddings
        .parse(raw, &HeaderMap::new())
        .err()
        .unwrap();
    assert_eq!(e.param.as_deref(), Some("dimensions"));
}

fn rerank(body: Value) -> Result<rerank::Ask, GatewayError> {
    let raw = serde_json::to_vec(&body).unwrap();
    Retrieval::Rerank
        .parse(&raw, &HeaderMap::new())
        .map(|p| p.rerank.unwrap())
}

#[test]
fn rerank_requests_parse_both_document_shapes() {
    let ask = rerank(
        json!({"model": "m", "query": "q", "documents": ["a", {"text": "b"}], "top_n": 1,
                            "return_documents": true, "max_chunks_per_doc": 3}),
    )
    .unwrap();
    assert_eq!(ask.documents, vec!["a".to_string(), "b".to_string()]);
    assert_eq!((ask.top_n, ask.return_documents), (Some(1), true));
    for (body, param) in [
        (json!({"model": "m", "documents": ["a"]}), "query"),
        (json!({"query": "q", "documents": ["a"]}), "model"),
        (
            json!({"model": "m", "query": "q", "documents": []}),
            "documents",
        ),
        (
            json!({"model": "m", "query": "q", "documents": [1]}),
            "documents",
        ),
        (
            json!({"model": "m", "query": "q", "documents": ["a"], "top_n": 0}),
            "top_n",
        ),
    ] {
        assert_eq!(rerank(body).unwrap_err().param.as_deref(), Some(param));
    }
}

#[test]
fn rerank_goes_only_where_there_is_a_rerank_api() {
    assert!(Retrieval::Rerank.speaks(&deployment("voyage", "rerank-2.5", "http://v", Some("k"))));
    assert!(!Retrieval::Rerank.speaks(&deployment("openai", "gpt-4o", "http://o", Some("k"))));
    assert!(Retrieval::Embeddings.speaks(&deployment("openai", "gpt-4o", "http://o", Some("k"))));
    assert!(!Retrieval::Embeddings.speaks(&deployment(
        "anthropic",
        "claude",
        "http://a",
        Some("k")
    )));
}

#[test]
fn rerank_and_embeddings_never_share_cached_answers() {
    // One type serves both: the response cache keys them apart.
    assert_ne!(
        Retrieval::Rerank.cache_format(),
        Retrieval::Embeddings.cache_format()
    );
}
