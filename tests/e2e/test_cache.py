"""The response cache on both shells, each started with ``[cache] ttl_s = 300``
added to the suite's config (Workers: the Cache API of ``wrangler dev``;
Lambda: the state table in DynamoDB Local). Every request carries a fresh
marker, so what the fleet recorded says whether it went upstream.

* a whole answer is stored, then served from the cache (``x-dx-cache``,
  ``age``, zero cost) without reaching the upstream;
* a cached answer is replayed as a stream the official SDKs read: OpenAI
  with its usage chunk, Anthropic events; a clean stream is stored too;
* ``cache-control: no-cache`` refreshes, ``no-store`` leaves the cache alone,
  LiteLLM's ``cache`` field does the same;
* upstream errors and cut streams are never stored;
* Workers with ``[cache] global = true``: KV is a second tier behind the
  colo's Cache API (a colo that lost its cache is answered from KV, then
  from its own again); without it nothing is written to KV.
"""

from __future__ import annotations

import json
import re
import shutil
import time

import anthropic
import openai
import pytest
import requests

from conftest import MASTER_KEY, STATE_TABLE, dx_config, selected_shells, start_lambda, start_worker
from sdk import tag, user

MODEL = "fleet/gpt-4o-mini"
CLAUDE = "anthropic-fleet/claude-sonnet-4-5"
CUT_STREAM = "fleet/fault:cut_after=3|replay:chat-stream-text-usage"


@pytest.fixture(scope="module", params=[s for s in selected_shells() if s != "external"])
def cgw(request, workdir, gateway_env, fleet):
    config = dx_config(fleet)
    config["cache"] = {"ttl_s": 300}
    env = {**gateway_env, "DX_CONFIG": json.dumps(config)}
    if request.param == "worker":
        gw = start_worker(workdir, env, "worker-cache.log", state_dir=workdir / "wrangler-state-cache")
    else:
        db = request.getfixturevalue("dynamodb")
        gw = start_lambda("lambda-cache", workdir, {**env, **db.env(STATE_TABLE)}, instances=2)
    yield gw
    gw.proc.stop()


def settle(gw) -> None:
    """Workers store after the response (`waitUntil`); give it a moment."""
    if gw.name == "worker":
        time.sleep(0.5)


def post(gw, body: dict, headers: dict | None = None, path: str = "/v1/chat/completions") -> requests.Response:
    h = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json", **(headers or {})}
    return requests.post(f"{gw.base_url}{path}", json=body, headers=h, timeout=30)


def upstream_count(fleet, marker: str) -> int:
    return sum(marker in json.dumps(r.get("body")) for r in fleet.requests())


def oai(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)


def claude(gw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def test_a_whole_answer_is_stored_then_served_free_without_the_upstream(cgw, fleet):
    m = tag()
    body = {"model": MODEL, "messages": user(f"cache me {m}")}
    first = post(cgw, body)
    assert first.status_code == 200, first.text
    assert first.headers.get("x-dx-cache") == "stored"
    settle(cgw)
    second = post(cgw, body)
    assert second.status_code == 200, second.text
    assert second.headers.get("x-dx-cache") == "hit"
    assert second.headers.get("x-dx-cost-usd") == "0"
    assert "x-dx-cache-tier" not in second.headers  # one tier
    assert int(second.headers["age"]) >= 0
    assert second.json()["choices"] == first.json()["choices"]
    assert upstream_count(fleet, m) == 1
    # what does not change the answer does not change the key; what does, does
    again = post(cgw, {**body, "user": "someone", "stream": False})
    assert again.headers.get("x-dx-cache") == "hit"
    other = post(cgw, {**body, "temperature": 0.5})
    assert other.headers.get("x-dx-cache") == "stored"
    assert upstream_count(fleet, m) == 2


def test_a_cached_answer_is_replayed_as_an_openai_stream_with_usage(cgw, fleet):
    m = tag()
    messages = user(f"stream me {m}")
    whole = oai(cgw).chat.completions.create(model=MODEL, messages=messages)
    settle(cgw)
    raw = oai(cgw).chat.completions.with_raw_response.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True})
    assert raw.headers.get("x-dx-cache") == "hit"
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert upstream_count(fleet, m) == 1


def test_a_clean_stream_is_stored_and_replayed_as_a_stream(cgw, fleet):
    m = tag()
    messages = user(f"stream first {m}")

    def stream():
        raw = oai(cgw).chat.completions.with_raw_response.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True})
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return raw.headers.get("x-dx-cache"), text, chunks[-1].usage

    first = stream()
    settle(cgw)
    second = stream()
    assert (first[0], second[0]) == ("miss", "hit")
    assert second[1] == first[1] and first[1]
    assert second[2] is not None and second[2].total_tokens == first[2].total_tokens
    assert upstream_count(fleet, m) == 1


def test_anthropic_answers_are_replayed_whole_and_as_events(cgw, fleet):
    m = tag()
    messages = user(f"claude cache {m}")
    whole = claude(cgw).messages.create(model=CLAUDE, max_tokens=64, messages=messages)
    settle(cgw)
    raw = claude(cgw).messages.with_raw_response.create(model=CLAUDE, max_tokens=64, messages=messages)
    assert raw.headers.get("x-dx-cache") == "hit"
    assert raw.parse().content[0].text == whole.content[0].text
    with claude(cgw).messages.stream(model=CLAUDE, max_tokens=64, messages=messages) as s:
        final = s.get_final_message()
    assert final.content[0].text == whole.content[0].text
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert upstream_count(fleet, m) == 1


def test_no_cache_refreshes_and_no_store_leaves_the_cache_alone(cgw, fleet):
    m = tag()
    body = {"model": MODEL, "messages": user(f"controls {m}")}
    assert post(cgw, body).headers.get("x-dx-cache") == "stored"
    settle(cgw)
    refreshed = post(cgw, body, {"cache-control": "no-cache"})
    assert refreshed.headers.get("x-dx-cache") == "stored"
    assert upstream_count(fleet, m) == 2
    bypass = post(cgw, body, {"cache-control": "no-cache, no-store"})
    assert bypass.headers.get("x-dx-cache") == "bypass"
    assert upstream_count(fleet, m) == 3
    settle(cgw)
    assert post(cgw, body).headers.get("x-dx-cache") == "hit"

    n = tag()
    unstored = {"model": MODEL, "messages": user(f"no store {n}"), "cache": {"no-store": True}}
    assert post(cgw, unstored).headers.get("x-dx-cache") == "miss"
    settle(cgw)
    assert post(cgw, unstored).headers.get("x-dx-cache") == "miss"
    assert upstream_count(fleet, n) == 2


def test_errors_and_cut_streams_are_never_stored(cgw, fleet):
    m = tag()
    failing = {"model": "fleet/fault:status=500", "messages": user(f"fails {m}")}
    for _ in range(2):
        r = post(cgw, failing)
        assert r.status_code >= 500
        assert r.headers.get("x-dx-cache") == "miss"
        settle(cgw)
    n = tag()
    cut = {"model": CUT_STREAM, "messages": user(f"cut {n}"), "stream": True}
    for _ in range(2):
        r = post(cgw, cut)
        assert r.headers.get("x-dx-cache") == "miss"
        assert "[DONE]" not in r.text or "error" in r.text
        settle(cgw)
    assert upstream_count(fleet, m) >= 2
    assert upstream_count(fleet, n) >= 2


def key_for(gw, **fields) -> str:
    r = requests.post(f"{gw.base_url}/key/generate", json=fields,
                      headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["key"]


def test_tenants_never_read_each_others_answers_but_a_team_shares_its_own(cgw, fleet):
    m = tag()
    body = {"model": MODEL, "messages": user(f"tenant {m}")}
    alice, bob = key_for(cgw), key_for(cgw)
    team = f"team-{m}"
    r = requests.post(f"{cgw.base_url}/team/new", json={"team_id": team},
                      headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    assert r.status_code == 200, r.text
    carol, dave = key_for(cgw, team_id=team), key_for(cgw, team_id=team)

    def ask(key: str) -> str:
        r = requests.post(f"{cgw.base_url}/v1/chat/completions", json=body,
                          headers={"authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200, r.text
        settle(cgw)
        return r.headers.get("x-dx-cache")

    assert ask(alice) == "stored"
    assert ask(alice) == "hit"
    # The same request from another key, from the master key, and from a
    # team: each its own tenant, each a miss that went upstream.
    assert ask(bob) == "stored"
    assert post(cgw, body).headers.get("x-dx-cache") == "stored"
    settle(cgw)
    assert ask(carol) == "stored"
    assert upstream_count(fleet, m) == 4
    # A team's keys share the team's answers.
    assert ask(dave) == "hit"
    assert upstream_count(fleet, m) == 4


def test_a_hit_is_free_but_counts_toward_the_keys_rpm(cgw, fleet):
    m = tag()
    body = {"model": MODEL, "messages": user(f"rpm {m}")}
    key = key_for(cgw, rpm_limit=2)
    if time.time() % 60 > 50:  # rate windows are calendar minutes
        time.sleep(60 - time.time() % 60 + 0.5)
    h = {"authorization": f"Bearer {key}"}
    first = requests.post(f"{cgw.base_url}/v1/chat/completions", json=body, headers=h, timeout=30)
    assert first.headers.get("x-dx-cache") == "stored"
    settle(cgw)
    second = requests.post(f"{cgw.base_url}/v1/chat/completions", json=body, headers=h, timeout=30)
    assert second.headers.get("x-dx-cache") == "hit" and second.headers.get("x-dx-cost-usd") == "0"
    assert second.headers.get("x-ratelimit-remaining-requests") == "0"
    third = requests.post(f"{cgw.base_url}/v1/chat/completions", json=body, headers=h, timeout=30)
    assert third.status_code == 429 and third.json()["error"]["code"] == "rate_limit_exceeded"
    assert upstream_count(fleet, m) == 1


def kv_cache_keys(state_dir) -> set[bytes]:
    """Response-cache keys in the KV that ``wrangler dev`` persisted under
    ``state_dir`` (its SQLite index and blobs, read as bytes)."""
    found = set()
    for f in (state_dir / "v3" / "kv").rglob("*"):
        if f.is_file():
            found |= set(re.findall(rb"rc:[0-9a-f]{64}", f.read_bytes()))
    return found


def test_kv_is_a_global_second_tier_behind_the_colo_cache_on_workers(cgw, workdir, gateway_env, fleet):
    if cgw.name != "worker":
        pytest.skip("KV as a second tier is for Workers; Lambda's DynamoDB table is shared already")
    config = dx_config(fleet)
    config["cache"] = {"ttl_s": 300, "global": True}
    env = {**gateway_env, "DX_CONFIG": json.dumps(config)}
    state = workdir / "wrangler-state-cache-global"
    shutil.rmtree(state, ignore_errors=True)
    m = tag()
    body = {"model": MODEL, "messages": user(f"global tier {m}")}
    gw = start_worker(workdir, env, "worker-cache-global.log", state_dir=state)
    try:
        first = post(gw, body)
        assert first.headers.get("x-dx-cache") == "stored", first.text
        settle(gw)
        local = post(gw, body)
        assert (local.headers.get("x-dx-cache"), local.headers.get("x-dx-cache-tier")) == ("hit", "local")
    finally:
        gw.proc.stop()
    assert len(kv_cache_keys(state)) == 1
    # Another colo, as it were: the Cache API's part of the state is gone, KV's stays.
    shutil.rmtree(state / "v3" / "cache")
    gw = start_worker(workdir, env, "worker-cache-global-2.log", state_dir=state)
    try:
        from_kv = post(gw, body)
        assert (from_kv.headers.get("x-dx-cache"), from_kv.headers.get("x-dx-cache-tier")) == ("hit", "global")
        assert from_kv.json()["choices"] == first.json()["choices"]
        assert int(from_kv.headers["age"]) >= 0
        settle(gw)
        again = post(gw, body)
        assert (again.headers.get("x-dx-cache"), again.headers.get("x-dx-cache-tier")) == ("hit", "local")
    finally:
        gw.proc.stop()
    assert upstream_count(fleet, m) == 1

    # The suite's cache without `global`: its answers never reach KV.
    n = tag()
    assert post(cgw, {"model": MODEL, "messages": user(f"colo only {n}")}).headers.get("x-dx-cache") == "stored"
    settle(cgw)
    assert kv_cache_keys(workdir / "wrangler-state-cache") == set()
