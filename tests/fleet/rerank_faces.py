"""Rerank endpoints: Jina ``POST /jina/v1/rerank`` and Voyage ``POST
/voyage/v1/rerank`` (mounted here), Cohere ``POST /cohere/v2/rerank``
(mounted by ``cohere_face``).

Each checks its provider's body (unknown fields, documents' type, top_n vs
top_k) and answers the provider's own 400 when wrong. Scores are
deterministic: the share of the query's distinct words found in the
document (``score``), sorted best first, ties by index, so a test can
predict the order. Jina and Voyage count tokens as words of the query
(once per document) plus the documents'; Cohere bills one search unit.
``fault:status=N|<model>`` answers status N in the provider's shape.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .faults import GrammarError, parse_model

NAME = "rerank"
PREFIX = "/jina"
JINA_KEY = "sk-fleet-jina"
VOYAGE_KEY = "sk-fleet-voyage"


def score(query: str, doc: str) -> float:
    q = set(query.lower().split())
    d = set(doc.lower().split())
    return round(len(q & d) / len(q), 6) if q else 0.0


def ranked(query: str, docs: list[str], top: int | None) -> list[dict[str, Any]]:
    order = sorted(range(len(docs)), key=lambda i: (-score(query, docs[i]), i))
    if top is not None:
        order = order[:top]
    return [{"index": i, "relevance_score": score(query, docs[i])} for i in order]


def tokens(query: str, docs: list[str]) -> int:
    return sum(len(query.split()) + len(d.split()) for d in docs)


def _status(model: str) -> int | None:
    try:
        return parse_model(model).fault.status
    except GrammarError:
        return None


def _check(body: Any, allowed: set[str], top_name: str, objects_ok: bool) -> str | None:
    """What is wrong with a rerank body, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    extra = sorted(set(body) - allowed)
    if extra:
        return f"unknown field: {extra[0]}"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    if not isinstance(body.get("query"), str) or not body["query"]:
        return "query is required"
    docs = body.get("documents")
    if not isinstance(docs, list) or not docs:
        return "documents must be a non-empty list"
    for d in docs:
        if not isinstance(d, str) and not (objects_ok and isinstance(d, dict) and isinstance(d.get("text"), str)):
            return "documents must be a list of strings"
    top = body.get(top_name)
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
        return f"{top_name} must be a positive integer"
    return None


def _texts(docs: list[Any]) -> list[str]:
    return [d if isinstance(d, str) else d["text"] for d in docs]


async def _read(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


# --------------------------------------------------------------------------- Cohere v2


async def cohere_rerank(request: web.Request) -> web.Response:
    from .cohere_face import API_KEY, CohereError, bad, fault_body

    try:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            raise CohereError(401, "invalid api token")
        body = await _read(request)
        wrong = _check(body, {"model", "query", "documents", "top_n", "max_tokens_per_doc"}, "top_n", False)
        if wrong:
            raise bad(wrong)
        status = _status(body["model"])
        if status is not None:
            return web.Response(status=status, body=fault_body(status, body["model"]), content_type="application/json")
        if not body["model"].startswith("rerank"):
            raise CohereError(404, f"model '{body['model']}' not found, make sure the correct model ID was used and that you have access to the model.")
    except CohereError as e:
        return e.response()
    return web.json_response({
        "id": "fleet-cohere-rerank",
        "results": ranked(body["query"], body["documents"], body.get("top_n")),
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    })


# --------------------------------------------------------------------------- Jina, Voyage


def _detail(status: int, message: str) -> web.Response:
    return web.json_response({"detail": message}, status=status)


async def jina_rerank(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != f"Bearer {JINA_KEY}":
        return _detail(401, "Unauthorized: invalid API key")
    body = await _read(request)
    wrong = _check(body, {"model", "query", "documents", "top_n", "return_documents"}, "top_n", True)
    if wrong:
        return _detail(422, wrong)
    status = _status(body["model"])
    if status is not None:
        return _detail(status, f"fleet fault: HTTP {status}")
    docs = _texts(body["documents"])
    results = ranked(body["query"], docs, body.get("top_n"))
    if body.get("return_documents", True):
        for r in results:
            r["document"] = {"text": docs[r["index"]]}
    return web.json_response({"model": body["model"], "usage": {"total_tokens": tokens(body["query"], docs)},
                              "results": results})


async def voyage_rerank(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != f"Bearer {VOYAGE_KEY}":
        return _detail(401, "Provided API key is invalid.")
    body = await _read(request)
    wrong = _check(body, {"model", "query", "documents", "top_k", "return_documents", "truncation"}, "top_k", False)
    if wrong:
        return _detail(400, wrong)
    status = _status(body["model"])
    if status is not None:
        return _detail(status, f"fleet fault: HTTP {status}")
    docs = body["documents"]
    data = ranked(body["query"], docs, body.get("top_k"))
    if body.get("return_documents"):
        for r in data:
            r["document"] = docs[r["index"]]
    return web.json_response({"object": "list", "data": data, "model": body["model"],
                              "usage": {"total_tokens": tokens(body["query"], docs)}})


async def not_found(request: web.Request) -> web.Response:
    return _detail(404, "Not Found")


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post("/jina/v1/rerank", jina_rerank)
    app.router.add_post("/voyage/v1/rerank", voyage_rerank)
    app.router.add_route("*", "/jina/{tail:.*}", not_found)
    app.router.add_route("*", "/voyage/{tail:.*}", not_found)
