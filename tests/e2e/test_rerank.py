"""`POST /v1/rerank` in Cohere's shape on both shells, with `requests` (the
official SDKs have no rerank): Cohere's `/v2/rerank` (passthrough), Jina's
and Voyage's `/v1/rerank` (mapped), both document shapes, the order of
results, `top_n`, `return_documents`, the cost header, and 400s in OpenAI's
error shape for bad requests and providers without a rerank API."""

from __future__ import annotations

import pytest

from sdk import check_error_body, raw_post, tag

QUERY = "capital of france"
DOCS = [
    "Berlin is the capital of Germany",
    "Paris is the capital of France",
    "France exports cheese",
    "Bananas are yellow",
]


def score(query: str, doc: str) -> float:
    """The fleet's score (tests/fleet/rerank_faces.py)."""
    q, d = set(query.lower().split()), set(doc.lower().split())
    return round(len(q & d) / len(q), 6)


def expected(top: int | None = None) -> list[int]:
    order = sorted(range(len(DOCS)), key=lambda i: (-score(QUERY, DOCS[i]), i))
    return order[:top] if top else order


def rerank(gateway, body):
    return raw_post(gateway, body, path="/v1/rerank")


# (gateway model prefix, fleet model, fleet path, the provider's name for top_n)
PROVIDERS = [
    ("cohere/rerank-v3.5-{t}", "rerank-v3.5-{t}", "/cohere/v2/rerank", "top_n"),
    ("jina_ai/jina-reranker-v2-base-multilingual-{t}", "jina-reranker-v2-base-multilingual-{t}", "/jina/v1/rerank", "top_n"),
    ("voyage/rerank-2.5-{t}", "rerank-2.5-{t}", "/voyage/v1/rerank", "top_k"),
]


@pytest.mark.parametrize("case", PROVIDERS, ids=["cohere", "jina", "voyage"])
def test_results_in_order_with_documents(gateway, fleet, case):
    t = tag()
    model, fleet_model, path, top_name = (c.format(t=t) for c in case)
    # Strings and {text} objects may be mixed; the provider gets strings.
    docs_in = [DOCS[0], {"text": DOCS[1]}, DOCS[2], {"text": DOCS[3]}]
    r = rerank(gateway, {"model": model, "query": QUERY, "documents": docs_in, "return_documents": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["index"] for x in body["results"]] == expected()
    for x in body["results"]:
        assert x["relevance_score"] == pytest.approx(score(QUERY, DOCS[x["index"]]))
        assert x["document"] == {"text": DOCS[x["index"]]}
    assert isinstance(body["id"], str) and body["id"]
    assert "billed_units" in body["meta"]
    sent = fleet.requests(model=fleet_model)[-1]
    assert sent["path"] == path
    assert sent["body"]["documents"] == DOCS and sent["body"]["query"] == QUERY
    assert top_name not in sent["body"]
    assert r.headers["x-dx-provider"] == model.split("/")[0]


@pytest.mark.parametrize("case", PROVIDERS, ids=["cohere", "jina", "voyage"])
def test_top_n_and_no_documents(gateway, fleet, case):
    t = tag()
    model, fleet_model, _, top_name = (c.format(t=t) for c in case)
    r = rerank(gateway, {"model": model, "query": QUERY, "documents": DOCS, "top_n": 2})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["index"] for x in results] == expected(2)
    assert all("document" not in x for x in results)
    assert fleet.requests(model=fleet_model)[-1]["body"][top_name] == 2


def test_cost_is_per_query_or_per_token(gateway):
    # Cohere rerank-v3.5: LiteLLM's input_cost_per_query, $0.002 a search.
    r = rerank(gateway, {"model": "cohere/rerank-v3.5", "query": QUERY, "documents": DOCS})
    assert r.status_code == 200, r.text
    assert float(r.headers["x-dx-cost-usd"]) == pytest.approx(0.002, rel=1e-6)
    assert r.json()["meta"]["billed_units"] == {"search_units": 1}
    # Voyage reports tokens; the answer's meta says how many were billed.
    r = rerank(gateway, {"model": "voyage/rerank-2.5", "query": QUERY, "documents": DOCS})
    assert r.status_code == 200, r.text
    want = sum(len(QUERY.split()) + len(d.split()) for d in DOCS)
    assert r.json()["meta"]["billed_units"] == {"input_tokens": want}


def test_bad_requests_and_unsupported_providers_are_openai_400s(gateway):
    check_error_body(rerank(gateway, {"model": "cohere/rerank-v3.5", "documents": DOCS}), 400)
    check_error_body(rerank(gateway, {"model": "cohere/rerank-v3.5", "query": QUERY, "documents": []}), 400)
    check_error_body(rerank(gateway, {"model": "cohere/rerank-v3.5", "query": QUERY, "documents": [3]}), 400)
    check_error_body(rerank(gateway, {"model": "cohere/rerank-v3.5", "query": QUERY, "documents": DOCS,
                                      "top_n": 0}), 400)
    e = check_error_body(rerank(gateway, {"model": "openai/gpt-4o-mini", "query": QUERY, "documents": DOCS}),
                         400, code="unsupported_provider")
    assert "openai" in e["message"]
    # The provider's own errors, in OpenAI's shape.
    check_error_body(rerank(gateway, {"model": "cohere/fault:status=429|rerank-v3.5", "query": QUERY,
                                      "documents": DOCS}), 429)
