use serde_json::{json, Value};

use super::*;
use crate::codec::test_support::deployment;

fn ask(top_n: Option<u64>, return_documents: bool) -> Ask {
    Ask {
        query: "q".into(),
        documents: vec!["d0".into(), "d1".into(), "d2".into()],
        top_n,
        return_documents,
    }
}

fn body(api: Api, a: &Ask) -> Value {
    serde_json::from_slice(&request_body(api, "m", a)).unwrap()
}

fn answer(api: Api, upstream: Value, a: &Ask) -> (Value, Usage) {
    let (out, usage) =
        cohere_answer(api, &serde_json::to_vec(&upstream).unwrap(), a, "gen-id").unwrap();
    (serde_json::from_slice(&out).unwrap(), usage)
}

#[test]
fn which_providers_rerank() {
    let api = |id: &str| api_of(&deployment(id, "m", "http://x", None));
    assert_eq!(api("cohere"), Some(Api::Cohere));
    assert_eq!(api("jina_ai"), Some(Api::Jina));
    assert_eq!(api("voyage"), Some(Api::Voyage));
    assert_eq!(api("openai"), None);
    assert_eq!(
        url(Api::Cohere, "https://api.cohere.com/v2/"),
        "https://api.cohere.com/v2/rerank"
    );
    assert_eq!(
        url(Api::Cohere, "https://api.cohere.com"),
        "https://api.cohere.com/v2/rerank"
    );
    assert_eq!(
        url(Api::Voyage, "https://api.voyageai.com/v1"),
        "https://api.voyageai.com/v1/rerank"
    );
}

#[test]
fn bodies_name_top_n_their_own_way() {
    let a = ask(Some(2), true);
    assert_eq!(
        body(Api::Cohere, &a),
        json!({"model": "m", "query": "q", "documents": ["d0", "d1", "d2"], "top_n": 2})
    );
    assert_eq!(
        body(Api::Jina, &a),
        json!({"model": "m", "query": "q", "documents": ["d0", "d1", "d2"], "top_n": 2, "return_documents": false})
    );
    assert_eq!(
        body(Api::Voyage, &ask(None, false)),
        json!({"model": "m", "query": "q", "documents": ["d0", "d1", "d2"], "return_documents": false})
    );
    assert_eq!(body(Api::Voyage, &a)["top_k"], 2);
}

#[test]
fn cohere_answer_keeps_its_id_and_meta() {
    let upstream = json!({"id": "co-1", "results": [{"index": 2, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}],
                          "meta": {"billed_units": {"search_units": 1}}});
    let (out, usage) = answer(Api::Cohere, upstream, &ask(None, true));
    assert_eq!(
        out,
        json!({"id": "co-1", "results": [
            {"index": 2, "relevance_score": 0.9, "document": {"text": "d2"}},
            {"index": 0, "relevance_score": 0.1, "document": {"text": "d0"}}],
            "meta": {"billed_units": {"search_units": 1}}})
    );
    assert_eq!(usage.input_tokens, 0);
}

#[test]
fn jina_and_voyage_answers_become_cohere_shaped() {
    let jina = json!({"model": "m", "usage": {"total_tokens": 7},
                      "results": [{"index": 1, "relevance_score": 0.5, "document": {"text": "d1"}}]});
    let (out, usage) = answer(Api::Jina, jina, &ask(Some(1), false));
    assert_eq!(
        out,
        json!({"id": "gen-id", "results": [{"index": 1, "relevance_score": 0.5}], "meta": {"billed_units": {"input_tokens": 7}}})
    );
    assert_eq!(usage.input_tokens, 7);
    let voyage = json!({"object": "list", "data": [{"relevance_score": 0.25, "index": 0}], "usage": {"total_tokens": 3}});
    let (out, usage) = answer(Api::Voyage, voyage, &ask(None, true));
    assert_eq!(
        out["results"],
        json!([{"index": 0, "relevance_score": 0.25, "document": {"text": "d0"}}])
    );
    assert_eq!(usage.input_tokens, 3);
}

#[test]
fn a_wrong_answer_is_a_502() {
    for (api, upstream) in [
        (
            Api::Cohere,
            "{\"results\": [{\"index\": 9, \"relevance_score\": 1}]}",
        ),
        (Api::Voyage, "{\"results\": []}"),
        (Api::Jina, "[]"),
    ] {
        let e = cohere_answer(api, upstream.as_bytes(), &ask(None, false), "x").unwrap_err();
        assert_eq!(
            e.code.as_deref(),
            Some("invalid_upstream_response"),
            "{api:?}"
        );
    }
}
