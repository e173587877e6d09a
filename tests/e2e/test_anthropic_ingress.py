"""The Anthropic Messages ingress end to end: the official ``anthropic`` SDK
(and raw HTTP, as Claude Code sends it) → gateway → the fleet.

* Anthropic upstream (``anthropic-fleet/*``): passthrough — the fleet must
  receive the client's body unchanged except ``model``, streams come back
  byte for byte.
* OpenAI-compatible upstream (``fleet/*``): translated both ways.
* Routing: the ``[router]`` of ``deployments/anthropic_ingress.json``; each
  rule is checked by the model the fleet received.
"""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import pytest
import requests

from conftest import FLEET_KEY, MASTER_KEY
from fleet import fixtures
from sdk import tag

ANTHROPIC_KEY = "sk-fleet-anthropic"
CLAUDE_CODE = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "claude-code").glob("request-*.json"))
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a place",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def post(gateway, body, *, path="/v1/messages", headers: dict | None = None, key: str | None = MASTER_KEY,
         stream: bool = False) -> requests.Response:
    h = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    if key is not None:
        h["x-api-key"] = key
    h.update(headers or {})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{gateway.base_url}{path}{'?beta=true' if path == '/v1/messages' else ''}",
                         data=data, headers=h, timeout=30, stream=stream)


def events_of(raw: bytes) -> list[tuple[str, dict]]:
    out = []
    for ev in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = ev.decode().splitlines()
        name = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
        data = next((ln[6:] for ln in lines if ln.startswith("data: ")), None)
        if data is not None:
            out.append((name, json.loads(data)))
    return out


def upstream(fleet, model: str, marker: str | None = None) -> dict:
    if marker is not None:
        return fleet.request_with(model, marker)
    got = fleet.requests(model=model)
    assert got, f"the fleet saw no request for {model!r}"
    return got[-1]


def test_root_answers_head_and_get(gateway):
    assert requests.head(gateway.base_url + "/", timeout=10).status_code == 200
    assert requests.get(gateway.base_url + "/", timeout=10).status_code == 200


# ---------------------------------------------------------------- passthrough to Anthropic


def test_passthrough_create_sends_the_body_unchanged_but_model(claude, fleet):
    t = tag()
    params = dict(
        model=f"anthropic-fleet/claude-sonnet-4-5-{t}",
        max_tokens=300,
        system=[{"type": "text", "text": "be terse", "cache_control": {"type": "ephemeral"}}],
        messages=user(f"hi {t}"),
        stop_sequences=["zzz"],
        metadata={"user_id": "u-1"},
    )
    # Fields this SDK version no longer names go through extra_body, like
    # any field the gateway does not know: passed on as sent.
    extra = {"temperature": 0.2, "top_k": 5}
    raw = claude.messages.with_raw_response.create(**params, extra_body=extra)
    msg = raw.parse()
    assert msg.content[0].text == f"Echo: hi {t}"
    assert msg.stop_reason == "end_turn" and msg.model == f"claude-sonnet-4-5-{t}"
    assert raw.headers["x-dx-route"] == "requested" and raw.headers["x-dx-provider"] == "anthropic"
    got = upstream(fleet, f"claude-sonnet-4-5-{t}")
    assert got["body"] == {**params, **extra, "model": f"claude-sonnet-4-5-{t}"}
    assert got["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert MASTER_KEY not in json.dumps(got["headers"])


def test_passthrough_stream_is_byte_for_byte(gateway):
    r = post(gateway, {"model": "anthropic-fleet/replay:messages-stream-tool-use", "max_tokens": 100,
                       "messages": user("weather in Paris"), "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    recorded = (fixtures.fixtures_dir() / "anthropic" / "messages-stream-tool-use.sse").read_bytes()
    # Byte for byte, except that the recording's last event lacks its blank
    # line: the gateway ends it, or a client would read it glued to the next.
    assert not recorded.endswith(b"\n\n")
    assert r.content == recorded + b"\n\n"


def test_passthrough_stream_with_the_sdk(claude, fleet):
    t = tag()
    with claude.messages.stream(model=f"anthropic-fleet/claude-sonnet-4-5-{t}", max_tokens=100,
                                messages=user(f"one two {t}")) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == f"Echo: one two {t}"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 4
    assert upstream(fleet, f"claude-sonnet-4-5-{t}")["body"]["stream"] is True


def test_passthrough_forwards_betas_and_clamps_max_tokens(gateway, fleet):
    t = tag()
    r = post(gateway, {"model": f"anthropic-fleet/claude-sonnet-4-5-{t}", "max_tokens": 128000,
                       "messages": user("x")}, headers={"anthropic-beta": "context-1m-2025-08-07,effort-2025-11-24"})
    assert r.status_code == 200, r.text
    assert r.headers["x-dx-max-tokens-clamped"] == "128000->64000"
    got = upstream(fleet, f"claude-sonnet-4-5-{t}")
    assert got["body"]["max_tokens"] == 64000
    assert got["headers"]["anthropic-beta"] == "context-1m-2025-08-07,effort-2025-11-24"


def test_passthrough_tool_round_trip(claude, fleet):
    t = tag()
    model = f"anthropic-fleet/claude-sonnet-4-5-{t}"
    first = claude.messages.create(model=model, max_tokens=200, tools=[WEATHER], messages=user(f"weather {t}?"))
    call = first.content[0]
    assert first.stop_reason == "tool_use" and call.type == "tool_use" and call.input == {"location": "Paris"}
    second = claude.messages.create(
        model=model, max_tokens=200, tools=[WEATHER],
        messages=[*user(f"weather {t}?"), {"role": "assistant", "content": [call.model_dump(exclude_none=True)]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}],
    )
    assert second.content[0].text == "Tool said: sunny"


def test_passthrough_thinking_signature_survives(claude, fleet):
    t = tag()
    model = f"anthropic-fleet/claude-opus-4-5-{t}"
    # Adaptive: with a budget, the router's `think` rule would take the request.
    thinking = {"type": "adaptive"}
    first = claude.messages.create(model=model, max_tokens=2000, thinking=thinking, messages=user(f"why {t}"))
    block = first.content[0]
    assert block.type == "thinking" and block.thinking == f"Considering: why {t}" and block.signature
    # The fleet verifies its own signatures: the block must come back untouched.
    second = claude.messages.create(
        model=model, max_tokens=2000, thinking=thinking,
        messages=[*user(f"why {t}"), {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                  *user("and then?")],
    )
    assert second.content[-1].text == "Echo: and then?"


def test_vertex_passthrough(claude, fleet):
    t = tag()
    model = f"claude-sonnet-4-5@{t}"
    msg = claude.messages.create(model=f"vertex-claude/{model}", max_tokens=100, messages=user(f"hi {t}"))
    assert msg.content[0].text == f"Echo: hi {t}"
    got = upstream(fleet, model)
    assert got["path"].endswith(f"/publishers/anthropic/models/{model}:rawPredict")
    assert got["body"] == {"max_tokens": 100, "messages": user(f"hi {t}"), "anthropic_version": "vertex-2023-10-16"}


# ---------------------------------------------------------------- translation to OpenAI-compatible


def test_translated_create(claude, fleet):
    t = tag()
    raw = claude.messages.with_raw_response.create(
        model=f"fleet/gpt-4o-mini-{t}", max_tokens=100, system="terse", messages=user(f"hello {t}"),
    )
    msg = raw.parse()
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == f"Echo: hello {t}"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens == 3 and msg.usage.input_tokens > 0
    assert raw.headers["x-dx-provider"] == "openai_compatible"
    body = upstream(fleet, f"gpt-4o-mini-{t}")["body"]
    assert body["messages"] == [{"role": "system", "content": "terse"}, {"role": "user", "content": f"hello {t}"}]
    assert body["max_tokens"] == 100


def test_translated_stream(claude):
    t = tag()
    with claude.messages.stream(model=f"fleet/gpt-4o-mini-{t}", max_tokens=100, messages=user(f"a b c {t}")) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert final.content[0].text == f"Echo: a b c {t}"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 5
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "message_delta" in kinds


def test_translated_stream_wire_order(gateway):
    r = post(gateway, {"model": "fleet/replay:chat-stream-tool-call-usage", "max_tokens": 100,
                       "messages": user("x"), "stream": True})
    evs = events_of(r.content)
    names = [n for n, _ in evs]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(n == d["type"] for n, d in evs)
    start = evs[1][1]["content_block"]
    assert start["type"] == "tool_use" and start["input"] == {}
    args = "".join(d["delta"]["partial_json"] for n, d in evs if n == "content_block_delta")
    assert json.loads(args)
    assert evs[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_translated_tool_round_trip(claude, fleet):
    t = tag()
    model = f"fleet/gpt-4o-mini-{t}"
    first = claude.messages.create(model=model, max_tokens=100, tools=[WEATHER], messages=user(f"weather {t}"))
    call = next(b for b in first.content if b.type == "tool_use")
    assert first.stop_reason == "tool_use" and call.name == "get_weather" and call.input == {"location": "Paris"}
    sent = upstream(fleet, f"gpt-4o-mini-{t}")["body"]
    assert sent["tools"] == [{"type": "function", "function": {"name": "get_weather", "description": WEATHER["description"],
                                                               "parameters": WEATHER["input_schema"]}}]
    second = claude.messages.create(
        model=model, max_tokens=100, tools=[WEATHER],
        messages=[*user(f"weather {t}"), {"role": "assistant", "content": [call.model_dump(exclude_none=True)]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}],
    )
    assert second.content[0].text == "Tool said: sunny" and second.stop_reason == "end_turn"
    sent = upstream(fleet, f"gpt-4o-mini-{t}")["body"]["messages"]
    assert sent[-1] == {"role": "tool", "content": "sunny", "tool_call_id": call.id}


def test_translated_thinking_becomes_reasoning_effort(gateway, fleet):
    t = tag()
    # Through the `openai` provider, whose quirk table renames max_tokens for o-series models.
    r = post(gateway, {"model": f"openai/o4-mini-{t}", "max_tokens": 8000, "thinking": {"type": "adaptive"},
                       "output_config": {"effort": "xhigh"}, "messages": user(f"think {t}")},
             headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert r.status_code == 200, r.text
    body = upstream(fleet, f"o4-mini-{t}")["body"]
    assert body["reasoning_effort"] == "high" and "thinking" not in body and "output_config" not in body
    assert body["max_completion_tokens"] == 8000 and "max_tokens" not in body
    adjusted = r.headers["x-dx-adjusted"]
    assert "dropped anthropic-beta interleaved-thinking-2025-05-14" in adjusted
    assert "thinking as reasoning_effort=high" in adjusted
    # A model that does not reason gets no reasoning_effort.
    r = post(gateway, {"model": f"fleet/gpt-4o-mini-{t}", "max_tokens": 100, "thinking": {"type": "adaptive"},
                       "messages": user(f"think {t}")})
    assert "reasoning_effort" not in upstream(fleet, f"gpt-4o-mini-{t}")["body"]
    assert "dropped thinking" in r.headers["x-dx-adjusted"]


def test_translated_max_tokens_clamped_to_configured_limit(gateway, fleet):
    t = tag()
    r = post(gateway, {"model": f"clamped-openai/gpt-x-{t}", "max_tokens": 128000, "messages": user("x")})
    assert r.status_code == 200, r.text
    assert r.headers["x-dx-max-tokens-clamped"] == "128000->1000"
    assert upstream(fleet, f"gpt-x-{t}")["body"]["max_tokens"] == 1000


def test_thinking_through_the_anthropic_codec(claude, fleet):
    # passthrough = false: the request is rebuilt by the codec, and the answer
    # rendered back from unified types, signature included.
    t = tag()
    msg = claude.messages.create(model=f"anthropic-codec/claude-sonnet-4-5-{t}", max_tokens=2000,
                                 thinking={"type": "adaptive"}, messages=user(f"why {t}"))
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].signature.startswith("fleetsig.")
    body = upstream(fleet, f"claude-sonnet-4-5-{t}")["body"]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": f"why {t}"}]}]
    assert body["thinking"] == {"type": "adaptive"}
    # The signed block, given back, passes the fleet's signature check.
    again = claude.messages.create(
        model=f"anthropic-codec/claude-sonnet-4-5-{t}", max_tokens=2000, thinking={"type": "adaptive"},
        messages=[*user(f"why {t}"), {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
                  *user("more")],
    )
    assert again.content[-1].text == "Echo: more"


# ---------------------------------------------------------------- Claude Code's own requests


def claude_code(path: Path) -> tuple[dict, dict]:
    rec = json.loads(path.read_text())
    headers = {k: v for k, v in rec["headers"].items() if k in ("anthropic-beta", "anthropic-version", "x-app", "user-agent")}
    return rec["body"], headers


@pytest.mark.parametrize("path", CLAUDE_CODE, ids=lambda p: p.stem)
def test_claude_code_requests_pass_through_to_anthropic(gateway, fleet, path):
    body, headers = claude_code(path)
    t = tag()
    sent = {**body, "model": f"anthropic-fleet/claude-sonnet-4-5-{t}"}
    r = post(gateway, sent, headers=headers)
    assert r.status_code == 200, r.text
    names = [n for n, _ in events_of(r.content)]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    got = upstream(fleet, f"claude-sonnet-4-5-{t}")
    want = {**body, "model": f"claude-sonnet-4-5-{t}"}
    if body["max_tokens"] > 64000:
        want["max_tokens"] = 64000
    assert got["body"] == want
    assert got["headers"]["anthropic-beta"] == headers["anthropic-beta"]


@pytest.mark.parametrize("path", CLAUDE_CODE, ids=lambda p: p.stem)
def test_claude_code_requests_translate_to_openai(gateway, fleet, path):
    body, headers = claude_code(path)
    t = tag()
    r = post(gateway, {**body, "model": f"fleet/gpt-4o-mini-{t}"}, headers=headers)
    assert r.status_code == 200, r.text
    evs = events_of(r.content)
    assert evs[0][0] == "message_start" and evs[-1][0] == "message_stop"
    start = next(d for n, d in evs if n == "content_block_start")["content_block"]
    last = body["messages"][-1]["content"]
    if isinstance(last, list) and last[0]["type"] == "tool_result":
        # After a tool result the fleet answers in text.
        text = "".join(d["delta"]["text"] for n, d in evs if n == "content_block_delta")
        assert text == "Tool said: 1\thello world from probe\n2\t"
    else:
        # Tools are offered, so the fleet calls the first one (Agent).
        assert start["type"] == "tool_use" and start["name"] == "Agent"
    sent = upstream(fleet, f"gpt-4o-mini-{t}")["body"]
    assert [m["role"] for m in sent["messages"]][:3] == ["system", "user", "system"]
    assert len(sent["tools"]) == len(body["tools"])
    assert "dropped anthropic-beta" in r.headers["x-dx-adjusted"]


def test_claude_code_request_on_the_mock_provider(gateway):
    path = next(p for p in CLAUDE_CODE if "custom-model" in p.name)
    body, headers = claude_code(path)
    assert body["model"] == "mock/demo"
    r = post(gateway, body, headers=headers)
    assert r.status_code == 200, r.text
    names = [n for n, _ in events_of(r.content)]
    assert names[0] == "message_start" and names[-1] == "message_stop" and "content_block_delta" in names


def test_mock_answers_a_tool_result_with_text(claude):
    """An agent loop on the keyless mock ends: the tool call is answered, the
    answer to its result is text (Claude Code used to loop forever here)."""
    ask = user("weather in Paris?")
    first = claude.messages.create(model="mock/demo", max_tokens=200, tools=[WEATHER], messages=ask)
    assert first.id.startswith("msg_"), first.id
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"location": "mock"}
    turn = ask + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = claude.messages.create(model="mock/demo", max_tokens=200, tools=[WEATHER], messages=turn)
    assert second.id.startswith("msg_"), second.id
    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"] and second.content[0].text
    with claude.messages.stream(model="mock/demo", max_tokens=200, tools=[WEATHER], messages=turn) as s:
        streamed = s.get_final_message()
    assert streamed.id.startswith("msg_"), streamed.id
    assert streamed.stop_reason == "end_turn" and [b.type for b in streamed.content] == ["text"]


@pytest.mark.parametrize("path", [p for p in CLAUDE_CODE if "tool-result" in p.name], ids=lambda p: p.stem)
def test_claude_code_tool_result_turn_on_the_mock_ends_the_turn(gateway, path):
    body, headers = claude_code(path)
    r = post(gateway, {**body, "model": "mock/demo"}, headers=headers)
    assert r.status_code == 200, r.text
    evs = events_of(r.content)
    assert evs[0][1]["message"]["id"].startswith("msg_")
    blocks = [d["content_block"]["type"] for n, d in evs if n == "content_block_start"]
    assert blocks == ["text"]
    stop = next(d for n, d in evs if n == "message_delta")["delta"]["stop_reason"]
    assert stop == "end_turn"


# ---------------------------------------------------------------- count_tokens


def test_count_tokens_exact_through_anthropic(claude, gateway):
    r = post(gateway, {"model": "anthropic-fleet/claude-sonnet-4-5", "system": "be brief",
                       "messages": user("one two three")}, path="/v1/messages/count_tokens")
    assert r.status_code == 200, r.text
    # The fleet counts words: 2 (system) + 1 (message) + 3.
    assert r.json() == {"input_tokens": 6} and r.headers["x-dx-token-count"] == "exact"
    n = claude.messages.count_tokens(model="anthropic-fleet/claude-sonnet-4-5", messages=user("one two three"))
    assert n.input_tokens == 4


def test_count_tokens_estimate_elsewhere(gateway):
    # "hello world, how are you?" is 25 characters: 7 tokens, plus 3 for the message.
    r = post(gateway, {"model": "fleet/gpt-4o-mini", "messages": user("hello world, how are you?")},
             path="/v1/messages/count_tokens")
    assert r.status_code == 200, r.text
    assert r.json() == {"input_tokens": 10} and r.headers["x-dx-token-count"] == "estimate"


# ---------------------------------------------------------------- errors


def test_wrong_key_is_authentication_error(gateway):
    c = anthropic.Anthropic(base_url=gateway.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        c.messages.create(model="fleet/gpt-4o-mini", max_tokens=10, messages=user("x"))
    assert e.value.status_code == 401 and e.value.body["error"]["type"] == "authentication_error"
    r = post(gateway, {"model": "fleet/gpt-4o-mini", "max_tokens": 10, "messages": user("x")}, key=None)
    assert r.status_code == 401 and r.json()["type"] == "error"


def test_x_api_key_is_accepted(gateway):
    r = post(gateway, {"model": "fleet/gpt-4o-mini", "max_tokens": 10, "messages": user("x")})
    assert r.status_code == 200, r.text


def test_bad_request_errors(claude, gateway):
    r = post(gateway, b'{"model": "x", "messages": [')
    assert r.status_code == 400
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="anthropic-fleet/fault:status=400", max_tokens=10, messages=user("x"))
    assert e.value.status_code == 400 and e.value.body["error"]["type"] == "invalid_request_error"


def test_unknown_model_is_not_found(claude):
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="no-such-model", max_tokens=10, messages=user("x"))
    assert e.value.status_code == 404 and e.value.body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("model", ["anthropic-fleet/fault:status=429,retry_after=3", "fleet/fault:status=429,retry_after=3"])
def test_rate_limit_keeps_retry_after(claude, model):
    with pytest.raises(anthropic.RateLimitError) as e:
        claude.messages.create(model=model, max_tokens=10, messages=user("x"))
    assert e.value.status_code == 429 and e.value.response.headers["retry-after"] == "3"
    assert e.value.body["error"]["type"] == "rate_limit_error"
    assert FLEET_KEY not in e.value.response.text and ANTHROPIC_KEY not in e.value.response.text


def test_overloaded_is_529(claude):
    with pytest.raises(anthropic.OverloadedError) as e:
        claude.messages.create(model="anthropic-fleet/replay:error-overloaded-529", max_tokens=10, messages=user("x"))
    assert e.value.status_code == 529 and e.value.body["error"]["type"] == "overloaded_error"


def test_server_error_is_500(claude):
    with pytest.raises(anthropic.InternalServerError) as e:
        claude.messages.create(model="fleet/fault:status=500", max_tokens=10, messages=user("x"))
    assert e.value.status_code == 500 and e.value.body["error"]["type"] == "api_error"


def test_request_too_large_is_413(claude):
    with pytest.raises(anthropic.APIStatusError) as e:
        claude.messages.create(model="fleet/gpt-4o-mini", max_tokens=10, messages=user("x" * (1024 * 1024 + 10)))
    assert e.value.status_code == 413
    # Refused before the body is read, still in Anthropic's error shape.
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "request_too_large"


# After content (the fourth Anthropic event is the first text delta): a
# cut before content is an error status instead (see test_router.py).
@pytest.mark.parametrize("model", ["anthropic-fleet/fault:cut_after=5|claude-sonnet-4-5", "fleet/fault:cut_after=3|gpt-4o-mini"])
def test_mid_stream_cut_raises(claude, model):
    seen = []
    with pytest.raises(anthropic.APIError) as e:
        with claude.messages.stream(model=model, max_tokens=100, messages=user("one two three four five")) as s:
            for ev in s:
                seen.append(ev.type)
    assert "message_start" in seen
    assert FLEET_KEY not in str(e.value) and ANTHROPIC_KEY not in str(e.value)


def test_mid_stream_cut_ends_with_error_event(gateway):
    r = post(gateway, {"model": "fleet/fault:cut_after=3|gpt-4o-mini", "max_tokens": 100,
                       "messages": user("one two three four five"), "stream": True})
    evs = events_of(r.content)
    assert evs[0][0] == "message_start"
    assert evs[-1] == ("error", {"type": "error", "error": {"type": "api_error", "message": evs[-1][1]["error"]["message"]}})
    assert "message_stop" not in [n for n, _ in evs]


def test_mid_stream_error_event_passes_through(gateway, claude):
    r = post(gateway, {"model": "anthropic-fleet/fault:error_after=4|claude-sonnet-4-5", "max_tokens": 100,
                       "messages": user("one two three"), "stream": True})
    evs = events_of(r.content)
    assert [n for n, _ in evs] == ["message_start", "content_block_start", "ping", "content_block_delta", "error"]
    assert evs[-1][1]["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.APIStatusError):
        with claude.messages.stream(model="anthropic-fleet/fault:error_after=4|claude-sonnet-4-5", max_tokens=100,
                                    messages=user("one two three")) as s:
            for _ in s:
                pass


def test_an_error_event_before_content_is_the_upstream_s_error_status(gateway, claude):
    # The stream is held until its first content: the overloaded error came
    # before any, so the client gets Anthropic's 529 (which its SDK retries),
    # not a 200 that breaks.
    r = post(gateway, {"model": "anthropic-fleet/fault:error_after=3|claude-sonnet-4-5", "max_tokens": 100,
                       "messages": user("one two three"), "stream": True})
    assert r.status_code == 529, r.text
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.APIStatusError) as e:
        claude.messages.create(model="anthropic-fleet/fault:error_after=3|claude-sonnet-4-5", max_tokens=100,
                               messages=user("one two three"), stream=True)
    assert e.value.status_code == 529


# ---------------------------------------------------------------- task-based routing


def routed(gateway, body, headers=None) -> requests.Response:
    r = post(gateway, body, headers=headers)
    assert r.status_code == 200, r.text
    return r


def test_route_default_for_claude_names(gateway, fleet):
    t = tag()
    r = routed(gateway, {"model": "claude-sonnet-4-5-20250929", "max_tokens": 50, "messages": user(f"default {t}")})
    assert (r.headers["x-dx-route"], r.headers["x-dx-model"]) == ("default", "route-default")
    assert upstream(fleet, "routed-default", t)["body"]["messages"] == user(f"default {t}")


def test_route_background_for_haiku(gateway, fleet):
    t = tag()
    r = routed(gateway, {"model": "claude-3-5-haiku-20241022", "max_tokens": 50, "messages": user(f"title {t}")})
    assert (r.headers["x-dx-route"], r.headers["x-dx-model"]) == ("background", "route-background")
    upstream(fleet, "routed-background", t)


def test_route_think_when_thinking_is_enabled(gateway, fleet):
    t = tag()
    r = routed(gateway, {"model": "claude-opus-4-1", "max_tokens": 5000, "thinking": {"type": "enabled", "budget_tokens": 2048},
                         "messages": user(f"plan {t}")})
    assert r.headers["x-dx-route"] == "think"
    assert upstream(fleet, "o4-routed-think", t)["body"]["reasoning_effort"] == "low"


def test_route_long_context(gateway, fleet):
    t = tag()
    big = "lorem ipsum " * 8000  # 96,000 characters: ~24,000 tokens, over the 20,000 threshold
    r = routed(gateway, {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": user(f"{t} {big}")})
    assert r.headers["x-dx-route"] == "long_context"
    upstream(fleet, "routed-long", t)


def test_route_websearch_to_anthropic(gateway, fleet):
    t = tag()
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]
    r = routed(gateway, {"model": "claude-sonnet-4-5", "max_tokens": 50, "tools": tools, "messages": user(f"news {t}")})
    assert (r.headers["x-dx-route"], r.headers["x-dx-model"]) == ("websearch", "route-search")
    got = upstream(fleet, "claude-routed-search", t)
    assert got["body"]["tools"] == tools


def test_route_subagent_tag_is_followed_and_removed(gateway, fleet):
    t = tag()
    system = f"You are a reviewer {t}. <CCM-SUBAGENT-MODEL>route-sub</CCM-SUBAGENT-MODEL>Be strict."
    r = routed(gateway, {"model": "claude-sonnet-4-5", "max_tokens": 50, "system": system, "messages": user("review")})
    assert (r.headers["x-dx-route"], r.headers["x-dx-model"]) == ("subagent", "route-sub")
    sent = upstream(fleet, "routed-sub", t)["body"]["messages"][0]
    assert sent == {"role": "system", "content": f"You are a reviewer {t}. Be strict."}


def test_configured_claude_name_is_not_auto_mapped(gateway, fleet):
    t = tag()
    r = routed(gateway, {"model": "claude-configured-name", "max_tokens": 50, "messages": user(f"mine {t}")})
    assert (r.headers["x-dx-route"], r.headers["x-dx-model"]) == ("requested", "claude-configured-name")
    upstream(fleet, "routed-configured", t)


def test_non_stream_answer_is_priced_in_a_header(gateway):
    # models.dev snapshot, anthropic/claude-haiku-4-5: input $1.00, output $5.00,
    # cache read $0.10, cache write $1.25 per million tokens.
    r = post(gateway, {"model": "anthropic-fleet/claude-haiku-4-5", "max_tokens": 50,
                       "messages": user("price me please")})
    assert r.status_code == 200, r.text
    u = r.json()["usage"]
    expected = (u["input_tokens"] * 1.00 + u["output_tokens"] * 5.00
                + u.get("cache_read_input_tokens", 0) * 0.10
                + u.get("cache_creation_input_tokens", 0) * 1.25) / 1e6
    assert expected > 0
    assert abs(float(r.headers["x-dx-cost-usd"]) - expected) < 1e-12
    assert "cost" not in r.json(), "Anthropic's response shape is left as the upstream sent it"


# ---- Gemini upstream: translated both ways ------------------------------------


def test_gemini_create_through_the_anthropic_sdk(claude, fleet):
    t = tag()
    msg = claude.messages.create(model=f"gemini/gemini-2.5-flash-{t}", max_tokens=100,
                                 system="be brief", messages=user(f"hello gemini {t}"))
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == f"Echo: hello gemini {t}"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    got = upstream(fleet, f"gemini-2.5-flash-{t}")
    assert got["path"].endswith(f"/models/gemini-2.5-flash-{t}:generateContent")
    assert got["body"]["systemInstruction"]["parts"][0]["text"] == "be brief"
    assert got["body"]["generationConfig"]["maxOutputTokens"] == 100


def test_gemini_stream_through_the_anthropic_sdk(claude):
    t = tag()
    with claude.messages.stream(model=f"gemini/gemini-2.5-flash-{t}", max_tokens=100,
                                messages=user(f"one two three {t}")) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds and "message_delta" in kinds
    assert final.content[0].text == f"Echo: one two three {t}"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_gemini_tool_use_round_trip_through_the_anthropic_sdk(claude, fleet):
    t = tag()
    model = f"gemini/gemini-2.5-flash-{t}"
    first = claude.messages.create(model=model, max_tokens=100, tools=[WEATHER],
                                   messages=user(f"weather in Paris? {t}"))
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input, dict)
    second = claude.messages.create(
        model=model, max_tokens=100, tools=[WEATHER],
        messages=[*user(f"weather in Paris? {t}"),
                  {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}],
    )
    assert second.stop_reason == "end_turn"
    parts = [p for c in upstream(fleet, f"gemini-2.5-flash-{t}")["body"]["contents"] for p in c["parts"]]
    answers = [p["functionResponse"] for p in parts if "functionResponse" in p]
    assert answers and answers[0]["name"] == "get_weather"
