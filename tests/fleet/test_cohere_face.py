"""Self-test of the fleet's Cohere face (raw HTTP, no gateway needed)."""

from __future__ import annotations

import json

import requests

KEY = "sk-fleet-cohere"
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def post(fleet, body, key: str | None = KEY, stream=False):
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    return requests.post(f"{fleet.base_url}/cohere/v2/chat", data=json.dumps(body), headers=h, stream=stream, timeout=20)


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        payload = json.loads(lines[1][6:])
        assert payload["type"] == lines[0][7:]
        out.append((payload["type"], payload))
    return out


def test_auth_and_unknown_fields(fleet):
    assert post(fleet, {"model": "command-a", "messages": [{"role": "user", "content": "x"}]}, key="bad").status_code == 401
    r = post(fleet, {"model": "command-a", "messages": [{"role": "user", "content": "x"}], "top_p": 0.5})
    assert r.status_code == 400 and "top_p" in r.json()["message"]
    r = post(fleet, {"model": "command-a", "messages": [{"role": "user", "content": "x"}], "p": 1.0})
    assert r.status_code == 400
    r = post(fleet, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404


def test_tool_turns_must_answer_calls(fleet):
    msgs = [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "1"}]
    assert post(fleet, {"model": "command-a", "messages": msgs}).status_code == 400


def test_non_stream_echo_and_usage(fleet):
    r = post(fleet, {"model": "command-a", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi you"}]})
    b = r.json()
    assert b["message"]["content"] == [{"type": "text", "text": "Echo: hi you"}]
    assert b["finish_reason"] == "COMPLETE"
    assert b["usage"]["billed_units"] == {"input_tokens": 5, "output_tokens": 3}
    assert b["usage"]["tokens"] == {"input_tokens": 105, "output_tokens": 3}


def test_stream_tool_call_round(fleet):
    r = post(fleet, {"model": "command-r", "messages": [{"role": "user", "content": "weather?"}], "tools": [WEATHER], "stream": True})
    ev = events(r.text)
    assert ev[0][0] == "message-start" and ev[-1][0] == "message-end"
    assert ev[-1][1]["delta"]["finish_reason"] == "TOOL_CALL"
    plan = "".join(p["delta"]["message"]["tool_plan"] for t, p in ev if t == "tool-plan-delta")
    assert plan == "I will call get_weather."
    args = "".join(p["delta"]["message"]["tool_calls"]["function"]["arguments"] for t, p in ev if t in ("tool-call-start", "tool-call-delta"))
    assert json.loads(args) == {"city": "Paris"}
    call_id = next(p for t, p in ev if t == "tool-call-start")["delta"]["message"]["tool_calls"]["id"]
    msgs = [{"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_plan": plan, "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": args}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "sunny"}]
    r = post(fleet, {"model": "command-r", "messages": msgs, "tools": [WEATHER]})
    assert r.json()["message"]["content"][0]["text"] == "Tool said: sunny"


def test_replay_restores_event_lines_and_faults(fleet):
    r = post(fleet, {"model": "replay:chat-v2-stream-text", "messages": [{"role": "user", "content": "x"}], "stream": True})
    ev = events(r.text)
    assert "".join(p["delta"]["message"]["content"]["text"] for t, p in ev if t == "content-delta") == "The capital of France is Paris."
    r = post(fleet, {"model": "fault:status=429,retry_after=3", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and "Trial key" in r.json()["message"]
