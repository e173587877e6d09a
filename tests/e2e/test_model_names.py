"""Model names are client text, on both shells (issue 9, items 1, 4, 7):

* any Unicode is a name: an unknown one is a 404 in the ingress's own
  shape on every route that resolves a model, never a panic (on Workers a
  panic reset the isolate and ended every other stream in flight on it as a
  clean-looking 200 without ``[DONE]``; Lambda answered 502);
* a name over 256 bytes is a 400 before any header or log line carries it
  (a 100 KB one made workerd answer 503, a 1 MB one broke the Lambda
  instance's pipe to the Runtime API);
* an id with a ``.`` or ``..`` segment never reaches an upstream URL path.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote

import pytest
import requests

from conftest import MASTER_KEY
from sdk import tag, user

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def every_route(base: str, model: str) -> list[tuple[str, requests.Response]]:
    """Each route that resolves a client's model name, called with ``model``
    (a name too long for a URL goes only into bodies: URL limits are the
    HTTP server's business, before the gateway runs)."""
    msgs = user("hi")
    post = lambda path, body: requests.post(f"{base}{path}", json=body, headers=AUTH, timeout=30)  # noqa: E731
    in_url = len(model) < 4000
    routes = [
        ("chat", post("/v1/chat/completions", {"model": model, "messages": msgs})),
        ("chat stream", post("/v1/chat/completions", {"model": model, "messages": msgs, "stream": True})),
        ("messages", post("/v1/messages", {"model": model, "max_tokens": 10, "messages": msgs})),
        ("count_tokens", post("/v1/messages/count_tokens", {"model": model, "messages": msgs})),
        ("cost/estimate", post("/cost/estimate", {"model": model, "input_tokens": 10, "output_tokens": 5})),
    ]
    if in_url:
        routes += [
            ("models/{id}", requests.get(f"{base}/v1/models/{quote(model, safe='')}", headers=AUTH, timeout=30)),
            ("model/info", requests.get(f"{base}/model/info", params={"model": model}, headers=AUTH, timeout=30)),
        ]
    return routes


def error_of(route: str, r: requests.Response) -> dict:
    """The error object, checked to be in the ingress's own shape."""
    body = r.json()
    if route in ("messages", "count_tokens"):
        assert body["type"] == "error", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]


def stream_in_flight(client, model: str, out: dict) -> None:
    try:
        stream = client.chat.completions.create(model=model, messages=user(f"one two three {tag()}"), stream=True)
        out["text"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        out["done"] = True
    except Exception as e:  # noqa: BLE001 - the assertion names it
        out["error"] = repr(e)


@pytest.mark.parametrize("name", ["éééééé", "gpt-4o-2024-08-0é", "模型/名字", "gpt-4o-😀@20250101"])
def test_non_ascii_names_are_unknown_models_and_streams_in_flight_survive(gateway, client, name):
    # A slow stream on the same instance while the odd names arrive: a panic
    # would end it without [DONE] (the SDK then returns a short text quietly).
    out: dict = {}
    t = threading.Thread(target=stream_in_flight, args=(client, "fleet/fault:delay_chunks_ms=150|gpt-4o-mini", out))
    t.start()
    time.sleep(0.3)
    for route, r in every_route(gateway.base_url, name):
        assert r.status_code == 404, f"{route}: {r.status_code} {r.text[:300]}"
        e = error_of(route, r)
        assert e["type"] in ("invalid_request_error", "not_found_error"), e
    t.join(60)
    assert out.get("done"), out
    assert out["text"].startswith("Echo: one two three"), out


@pytest.mark.parametrize("size", [257, 100_000, 1_000_000])
def test_over_long_names_are_refused_without_being_echoed(gateway, client, size):
    name = "m" * size
    for route, r in every_route(gateway.base_url, name):
        assert r.status_code == 400, f"{route}: {r.status_code} {r.text[:300]}"
        e = error_of(route, r)
        assert "at most 256 bytes" in e["message"], e
        if route not in ("messages", "count_tokens"):
            assert e["code"] == "model_name_too_long", e
        assert "m" * 300 not in r.text
        assert all(len(v) < 1024 for v in r.headers.values()), dict(r.headers)
    # The instance is still serving.
    ok = client.chat.completions.create(model="fleet/gpt-4o-mini", messages=user(f"still here {tag()}"))
    assert ok.choices[0].message.content.startswith("Echo: still here")


@pytest.mark.parametrize("model", [
    "fleet-bedrock/converse/..",
    "fleet-bedrock/anthropic.claude-3-haiku-20240307-v1:0/../..",
    "fleet-bedrock/..",
    "azure-translated/..",
    "azure-translated/.",
])
def test_dot_segments_never_reach_an_upstream_path(gateway, fleet, model):
    before = len(fleet.requests())
    for route, r in every_route(gateway.base_url, model):
        assert r.status_code == 400, f"{route}: {r.status_code} {r.text[:300]}"
        e = error_of(route, r)
        assert "path segments" in e["message"], e
        if route not in ("messages", "count_tokens"):
            assert e["code"] == "invalid_model_name", e
    assert len(fleet.requests()) == before, json.dumps(fleet.requests()[before:])[:500]
