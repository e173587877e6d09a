"""Self-test of the fleet's Ollama face (raw HTTP, no gateway needed)."""

from __future__ import annotations

import json

import requests

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def post(fleet, body, stream=False):
    return requests.post(f"{fleet.base_url}/ollama/api/chat", data=json.dumps(body), stream=stream, timeout=20)


def lines(text: str) -> list[dict]:
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def test_stream_is_the_default(fleet):
    r = post(fleet, {"model": "llama3.2", "messages": [{"role": "user", "content": "one two"}]})
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    ls = lines(r.text)
    assert "".join(ln["message"]["content"] for ln in ls) == "Echo: one two"
    assert ls[-1]["done"] is True and ls[-1]["done_reason"] == "stop"
    assert (ls[-1]["prompt_eval_count"], ls[-1]["eval_count"]) == (3, 3)


def test_non_stream_tools_and_thinking(fleet):
    r = post(fleet, {"model": "qwen3:8b", "stream": False, "think": True, "tools": [TOOL],
                     "messages": [{"role": "user", "content": "weather?"}]})
    b = r.json()
    assert b["message"]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert b["message"]["thinking"] == "Thinking about: weather?"
    r = post(fleet, {"model": "qwen3:8b", "stream": False, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "rain", "tool_name": "get_weather"}]})
    assert r.json()["message"]["content"] == "Tool said: rain"


def test_shape_errors(fleet):
    base = {"model": "llama3.2", "stream": False}
    cases = [
        {**base, "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
        {**base, "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]},
        {**base, "messages": [{"role": "user", "content": "x", "images": ["not base64!"]}]},
        {**base, "messages": [{"role": "user", "content": "x"}], "max_tokens": 5},
        {**base, "messages": [{"role": "user", "content": "x"}], "options": {"max_tokens": 5}},
    ]
    for body in cases:
        r = post(fleet, body)
        assert r.status_code == 400, body
        assert isinstance(r.json()["error"], str)
    r = post(fleet, {**base, "model": "llama9", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and "not found" in r.json()["error"]


def test_limits_error_lines_and_replays(fleet):
    r = post(fleet, {"model": "llama3.2", "stream": False, "options": {"num_predict": 2}, "messages": [{"role": "user", "content": "a b c"}]})
    assert r.json()["message"]["content"] == "Echo: a" and r.json()["done_reason"] == "length"
    ls = lines(post(fleet, {"model": "error-midstream", "messages": [{"role": "user", "content": "a b c"}]}).text)
    assert ls[-1] == {"error": "an error was encountered while running the model: CUDA error: out of memory"}
    ls = lines(post(fleet, {"model": "replay:api-chat-stream-tools", "messages": [{"role": "user", "content": "x"}]}).text)
    assert ls[0]["message"]["tool_calls"][0]["function"]["arguments"] == {"city": "Tokyo"}
    r = post(fleet, {"model": "replay:error", "stream": False, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 500 and r.json() == {"error": "the model failed to generate a response"}
