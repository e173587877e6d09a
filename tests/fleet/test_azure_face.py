"""Self-test of the fleet's Azure face with the official ``openai`` SDK's
``AzureOpenAI`` client and raw HTTP (no gateway needed)."""

from __future__ import annotations

import json

import openai
import pytest
import requests

KEY = "sk-fleet-azure"
VERSION = "2024-10-21"


def url(fleet, deployment: str, version: str | None = VERSION) -> str:
    q = f"?api-version={version}" if version else ""
    return f"{fleet.base_url}/azure/openai/deployments/{deployment}/chat/completions{q}"


def post(fleet, deployment: str, body: dict, headers: dict | None = None, version: str | None = VERSION, stream=False):
    h = {"Content-Type": "application/json", "api-key": KEY} if headers is None else headers
    return requests.post(url(fleet, deployment, version), data=json.dumps(body), headers=h, stream=stream, timeout=20)


def hi(text: str = "hi") -> dict:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def az(fleet) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=f"{fleet.base_url}/azure", api_key=KEY, api_version=VERSION, max_retries=0, timeout=20)


def test_sdk_non_stream_carries_filter_annotations(az):
    r = az.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "Echo: hello there"
    assert r.choices[0].finish_reason == "stop"
    extra = r.model_dump()
    assert extra["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert extra["choices"][0]["content_filter_results"]["violence"]["severity"] == "safe"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 3)


def test_sdk_stream_starts_with_the_prompt_annotation(az):
    chunks = list(az.chat.completions.create(model="gpt-4o-mini-x1", messages=[{"role": "user", "content": "a b c"}],
                                             stream=True, stream_options={"include_usage": True}))
    assert chunks[0].id == "" and chunks[0].choices == []
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: a b c"
    assert chunks[-1].usage.completion_tokens == 4


def test_entra_token_and_wrong_credentials(fleet):
    ok = post(fleet, "gpt-4o", hi(), headers={"Content-Type": "application/json", "Authorization": "Bearer fleet-entra-token"})
    assert ok.status_code == 200, ok.text
    for headers in ({"Content-Type": "application/json"}, {"Content-Type": "application/json", "api-key": "nope"},
                    {"Content-Type": "application/json", "Authorization": "Bearer expired"}):
        r = post(fleet, "gpt-4o", hi(), headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert "nope" not in r.text


def test_api_version_is_required_and_checked(fleet):
    r = post(fleet, "gpt-4o", hi(), version=None)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Resource not found"
    r = post(fleet, "gpt-4o", hi(), version="latest")
    assert r.status_code == 400 and "API version" in r.json()["error"]["message"]


def test_unknown_deployment(fleet):
    r = post(fleet, "no-such-deployment", hi())
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "DeploymentNotFound"


def test_body_is_validated_like_openai(fleet):
    r = post(fleet, "gpt-4o", {"messages": [{"role": "robot", "content": "x"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0].role"


def test_content_filter_outcomes(fleet):
    r = post(fleet, "filtered-prompt-1", hi())
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "content_filter"
    r = post(fleet, "filtered-1", hi("a b"))
    assert r.status_code == 200
    ch = r.json()["choices"][0]
    assert ch["finish_reason"] == "content_filter" and ch["message"]["content"] is None
    assert ch["content_filter_results"]["protected_material_text"]["filtered"] is True
    r = post(fleet, "filtered-2", {**hi("a b c"), "stream": True}, stream=True)
    datas = [ln[6:] for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    verdict = json.loads(datas[-2])
    assert verdict["id"] == "" and verdict["choices"][0]["finish_reason"] == "content_filter"
    assert "delta" not in verdict["choices"][0]


def test_replays_and_faults(fleet):
    r = post(fleet, "replay:chat-stream-content-filter-results", {**hi(), "stream": True}, stream=True)
    assert r.text.endswith("data: [DONE]\n\n")
    assert "prompt_filter_results" in r.text
    r = post(fleet, "fault:status=429,retry_after=7", hi())
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "429"


def test_foundry_path(fleet):
    u = f"{fleet.base_url}/azure/models/chat/completions?api-version=2024-05-01-preview"
    h = {"Content-Type": "application/json", "api-key": KEY}
    r = requests.post(u, data=json.dumps({"model": "DeepSeek-R1", **hi("yo")}), headers=h, timeout=20)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Echo: yo"
    r = requests.post(u, data=json.dumps(hi()), headers=h, timeout=20)
    assert r.status_code == 400
    r = requests.post(u, data=json.dumps({"model": "replay:chat-completion-foundry-deepseek", **hi()}), headers=h, timeout=20)
    assert r.json()["choices"][0]["message"]["reasoning_content"].startswith("We need to invent")
