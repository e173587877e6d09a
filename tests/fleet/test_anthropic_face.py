"""Self-test of the fleet's Anthropic face (no gateway needed): the official
``anthropic`` SDK and raw HTTP against ``tests/fleet/server.py``."""

from __future__ import annotations

import json
import uuid

import anthropic
import pytest
import requests

from fleet import fixtures
from fleet.anthropic_face import sign

KEY = "sk-fleet-anthropic"
VERTEX_TOKEN = "ya29.fleet-vertex-token"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a place",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


@pytest.fixture
def sdk(fleet) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{fleet.base_url}/anthropic", api_key=KEY, max_retries=0, timeout=20)


def post(fleet, body, *, key: str = KEY, version: str | None = "2023-06-01", headers: dict | None = None, path="/v1/messages"):
    h = {"Content-Type": "application/json", "x-api-key": key}
    if version:
        h["anthropic-version"] = version
    h.update(headers or {})
    return requests.post(f"{fleet.base_url}/anthropic{path}", data=json.dumps(body), headers=h, timeout=20)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def events_of(raw: bytes) -> list[tuple[str, dict]]:
    out = []
    for ev in raw.split(b"\n\n"):
        lines = ev.decode().splitlines()
        name = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
        data = next((ln[6:] for ln in lines if ln.startswith("data: ")), None)
        if data is not None:
            out.append((name, json.loads(data)))
    return out


def test_echo_and_usage(sdk):
    r = sdk.messages.create(model="claude-haiku-4-5", max_tokens=100, system="terse", messages=user("hello there"))
    assert r.content[0].type == "text" and r.content[0].text == "Echo: hello there"
    assert r.stop_reason == "end_turn"
    # 1 (system word) + 1 per message + 2 words
    assert r.usage.input_tokens == 4 and r.usage.output_tokens == 3


def test_stream_events_in_order(sdk):
    with sdk.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=user("one two three")) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert final.content[0].text == "Echo: one two three"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "ping" not in kinds  # the SDK swallows pings; they are on the wire (below)


def test_stream_wire_has_event_lines(fleet):
    r = post(fleet, {"model": "m", "max_tokens": 10, "messages": user("a b"), "stream": True})
    evs = events_of(r.content)
    assert all(name == data["type"] for name, data in evs)
    assert [n for n, _ in evs][:3] == ["message_start", "content_block_start", "ping"]


def test_tool_use_then_result(sdk):
    r = sdk.messages.create(model="claude-haiku-4-5", max_tokens=100, tools=[WEATHER], messages=user("weather?"))
    assert r.stop_reason == "tool_use"
    call = r.content[0]
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"location": "Paris"}
    r2 = sdk.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        tools=[WEATHER],
        messages=[
            *user("weather?"),
            {"role": "assistant", "content": [c.model_dump() for c in r.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
        ],
    )
    assert r2.content[0].text == "Tool said: sunny"


def test_thinking_is_signed_and_verified(sdk):
    r = sdk.messages.create(
        model="claude-sonnet-4-5", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024}, messages=user("why")
    )
    assert r.content[0].type == "thinking" and r.content[0].thinking == "Considering: why"
    assert r.content[0].signature == sign("Considering: why")
    tampered = {"type": "thinking", "thinking": "Considering: other", "signature": r.content[0].signature}
    with pytest.raises(anthropic.BadRequestError) as e:
        sdk.messages.create(
            model="claude-sonnet-4-5", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[*user("why"), {"role": "assistant", "content": [tampered, {"type": "text", "text": "x"}]}, *user("and?")],
        )
    assert "signature" in str(e.value)


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"model": "m", "messages": user("x")}, "max_tokens: Field required"),
        ({"max_tokens": 5, "messages": user("x")}, "model: Field required"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]}, "first message"),
        ({"model": "m", "max_tokens": 5, "messages": [*user("a"), *user("b")]}, "alternate"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "s"}, *user("a")]}, "Unexpected role"),
        ({"model": "m", "max_tokens": 5, "messages": user("x"), "n": 2}, "n: Extra inputs"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "non-empty"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]}]}, "corresponding `tool_use`"),
        ({"model": "m", "max_tokens": 5, "messages": [*user("a"), {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}, *user("b")]}, "without `tool_result`"),
        ({"model": "m", "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1024}, "temperature": 0.5, "messages": user("x")}, "temperature"),
        ({"model": "m", "max_tokens": 1024, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": user("x")}, "budget_tokens"),
        ({"model": "m", "max_tokens": 5, "temperature": 1.5, "messages": user("x")}, "temperature"),
        ({"model": "m", "max_tokens": 5, "stop_sequences": [" "], "messages": user("x")}, "non-whitespace"),
        ({"model": "m", "max_tokens": 5, "tool_choice": {"type": "any"}, "messages": user("x")}, "tool_choice"),
    ],
)
def test_validation_like_the_api(fleet, body, needle):
    r = post(fleet, body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert needle in err["error"]["message"], err


def test_mid_conversation_system_with_its_beta(fleet):
    body = {"model": "m", "max_tokens": 5, "messages": [*user("a"), {"role": "system", "content": "s"}]}
    r = post(fleet, body, headers={"anthropic-beta": "claude-code-20250219,mid-conversation-system-2026-04-07"})
    assert r.status_code == 200, r.text


def test_auth_and_version(fleet):
    r = post(fleet, {"model": "m", "max_tokens": 5, "messages": user("x")}, key="wrong")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = post(fleet, {"model": "m", "max_tokens": 5, "messages": user("x")}, version=None)
    assert r.status_code == 400 and "anthropic-version" in r.json()["error"]["message"]


def test_cache_write_then_read(sdk):
    marker = uuid.uuid4().hex
    system = [{"type": "text", "text": f"long system prompt {marker}", "cache_control": {"type": "ephemeral"}}]
    first = sdk.messages.create(model="m", max_tokens=50, system=system, messages=user("hi"))
    again = sdk.messages.create(model="m", max_tokens=50, system=system, messages=user("hi"))
    assert first.usage.cache_creation_input_tokens == 4 and first.usage.cache_read_input_tokens == 0
    assert again.usage.cache_read_input_tokens == 4 and again.usage.cache_creation_input_tokens == 0
    assert first.usage.input_tokens == again.usage.input_tokens == 2


def test_replays(fleet, sdk):
    raw = (fixtures.fixtures_dir() / "anthropic" / "messages-stream-tool-use.sse").read_bytes()
    r = post(fleet, {"model": "replay:messages-stream-tool-use.sse", "max_tokens": 5, "messages": user("x"), "stream": True})
    assert r.content == raw
    r = post(fleet, {"model": "replay:messages-stream-thinking", "max_tokens": 5, "messages": user("x"), "stream": True})
    lines = (fixtures.fixtures_dir() / "anthropic" / "messages-stream-thinking.chunks.jsonl").read_bytes().splitlines()
    evs = events_of(r.content)
    assert [d for _, d in evs] == [json.loads(ln) for ln in lines if ln.strip()]
    assert all(n == d["type"] for n, d in evs)
    m = sdk.messages.create(model="replay:messages-text", max_tokens=5, messages=user("x"))
    assert m.id == "msg_01VdEjxAP5ahtHKrrRdNBteQ"
    with pytest.raises(anthropic.APIStatusError) as e:
        sdk.messages.create(model="replay:error-overloaded-529", max_tokens=5, messages=user("x"))
    assert e.value.status_code == 529


def test_faults(fleet, sdk):
    with pytest.raises(anthropic.RateLimitError) as e:
        sdk.messages.create(model="fault:status=429,retry_after=9", max_tokens=5, messages=user("x"))
    assert e.value.response.headers["retry-after"] == "9"
    r = post(fleet, {"model": "fault:error_after=3|claude-x", "max_tokens": 50, "messages": user("a b c"), "stream": True})
    evs = events_of(r.content)
    assert [n for n, _ in evs] == ["message_start", "content_block_start", "ping", "error"]
    assert evs[-1][1]["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.APIStatusError):
        with sdk.messages.stream(model="fault:error_after=3|claude-x", max_tokens=50, messages=user("a b c")) as s:
            for _ in s:
                pass


def test_count_tokens(sdk):
    r = sdk.messages.count_tokens(model="claude-haiku-4-5", system="be brief", messages=user("one two three"))
    assert r.input_tokens == 2 + 1 + 3


def vertex_post(fleet, model: str, body: dict, *, token: str = VERTEX_TOKEN, method: str = "rawPredict"):
    url = f"{fleet.base_url}/vertex/v1/projects/p1/locations/us-east5/publishers/anthropic/models/{model}:{method}"
    return requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, timeout=20)


def test_vertex_face(fleet):
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 20, "messages": user("hi vertex")}
    r = vertex_post(fleet, "claude-sonnet-4-5@20250929", body)
    assert r.status_code == 200, r.text
    assert r.json()["content"][0]["text"] == "Echo: hi vertex"
    assert r.json()["model"] == "claude-sonnet-4-5@20250929"
    assert fleet.requests(model="claude-sonnet-4-5@20250929")[-1]["body"] == body
    r = vertex_post(fleet, "claude-sonnet-4-5@20250929", {**body, "stream": True}, method="streamRawPredict")
    assert [n for n, _ in events_of(r.content)][-1] == "message_stop"
    r = vertex_post(fleet, "claude-sonnet-4-5@20250929", body, token="bad")
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = vertex_post(fleet, "claude-sonnet-4-5@20250929", {**body, "model": "x"})
    assert r.status_code == 400 and "model" in r.json()["error"]["message"]
    r = vertex_post(fleet, "claude-sonnet-4-5@20250929", {k: v for k, v in body.items() if k != "anthropic_version"})
    assert r.status_code == 400 and "anthropic_version" in r.json()["error"]["message"]
    # Fault grammar through a percent-encoded model segment.
    r = vertex_post(fleet, "fault%3Astatus%3D529", body)
    assert r.status_code == 529
