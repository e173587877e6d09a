"""Self-test of the fleet's Responses API face and of the OpenAI model rules
both OpenAI faces enforce (no gateway needed)."""

from __future__ import annotations

import json
import uuid

import openai
import pytest
import requests

from fleet import fixtures

KEY = "sk-fleet-openai"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def post(fleet, body, *, key: str | None = KEY, path: str = "/responses", stream: bool = False):
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return requests.post(f"{fleet.openai_base}{path}", data=json.dumps(body).encode(), headers=h, stream=stream, timeout=20)


def events(resp) -> list[tuple[str, dict]]:
    """(event line, data) per SSE event; checks both name the same type."""
    out = []
    for block in resp.content.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block[:200]
        name, data = lines[0][7:], json.loads(lines[1][6:])
        assert data["type"] == name
        out.append((name, data))
    return out


def err(resp, status: int, param: str | None = None, code: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    e = resp.json()["error"]
    if param is not None:
        assert e["param"] == param, e
    if code is not None:
        assert e["code"] == code, e
    return e["message"]


# ---------------------------------------------------------------- requests it refuses


def test_auth(fleet):
    assert err(post(fleet, {"model": "o3-pro", "input": "x"}, key=None), 401, code="invalid_api_key")
    assert err(post(fleet, {"model": "o3-pro", "input": "x"}, key="sk-wrong-key-000"), 401, code="invalid_api_key")


def test_chat_shaped_bodies_are_unknown_parameters(fleet):
    body = {"model": "o3-pro", "input": "x", "messages": [{"role": "user", "content": "x"}]}
    err(post(fleet, body), 400, "messages", "unknown_parameter")
    err(post(fleet, {"model": "o3-pro", "input": "x", "max_tokens": 20}), 400, "max_tokens", "unknown_parameter")
    err(post(fleet, {"model": "o3-pro", "messages": []}), 400, "messages", "unknown_parameter")
    err(post(fleet, {"model": "o3-pro"}), 400, "input", "missing_required_parameter")
    nested = {"type": "function", "function": {"name": "f"}}
    err(post(fleet, {"model": "gpt-4.1", "input": "x", "tools": [nested]}), 400, "tools[0].name")


def test_input_items_are_checked(fleet):
    orphan = [{"type": "message", "role": "user", "content": "x"}, {"type": "function_call_output", "call_id": "call_9", "output": "1"}]
    assert "call_9" in err(post(fleet, {"model": "gpt-4.1", "input": orphan}), 400, "input")
    wrong_part = [{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]
    err(post(fleet, {"model": "gpt-4.1", "input": wrong_part}), 400, "input[0].content[0].type", "invalid_value")
    no_detail = [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]
    err(post(fleet, {"model": "gpt-4.1", "input": no_detail}), 400, "input[0].content[0].detail")
    unsealed = [{"type": "reasoning", "id": "rs_1", "summary": []}, {"role": "user", "content": "x"}]
    assert "not persisted" in err(post(fleet, {"model": "o3-pro", "input": unsealed, "store": False}), 404)
    err(post(fleet, {"model": "gpt-4.1", "input": "x", "max_output_tokens": 5}), 400, "max_output_tokens")


def test_reasoning_models_refuse_sampling_and_chat_models_refuse_reasoning(fleet):
    err(post(fleet, {"model": "o3-pro", "input": "x", "temperature": 0.2}), 400, "temperature", "unsupported_parameter")
    err(post(fleet, {"model": "gpt-5-codex", "input": "x", "top_p": 0.5}), 400, "top_p", "unsupported_parameter")
    err(post(fleet, {"model": "gpt-4.1", "input": "x", "reasoning": {"effort": "low"}}), 400, "reasoning.effort")
    assert post(fleet, {"model": "gpt-4.1", "input": "x", "temperature": 0.2}).status_code == 200


def test_chat_face_refuses_what_openai_refuses_per_model(fleet):
    msgs = [{"role": "user", "content": "x"}]
    e = err(post(fleet, {"model": "o3-mini", "messages": msgs, "max_tokens": 9}, path="/chat/completions"), 400, "max_tokens", "unsupported_parameter")
    recorded = json.loads(fixtures.json_fixture("openai", "error-unsupported-parameter-400")[1])
    assert e == recorded["error"]["message"]
    err(post(fleet, {"model": "gpt-5-mini", "messages": msgs, "temperature": 0.5}, path="/chat/completions"), 400, "temperature", "unsupported_value")
    err(post(fleet, {"model": "o4-mini", "messages": msgs, "logprobs": True}, path="/chat/completions"), 400, "logprobs", "unsupported_parameter")
    err(post(fleet, {"model": "o3-pro", "messages": msgs}, path="/chat/completions"), 404, "model")
    system = [{"role": "system", "content": "s"}, *msgs]
    err(post(fleet, {"model": "o1-mini", "messages": system}, path="/chat/completions"), 400, "messages[0].role", "unsupported_value")
    for ok in (
        {"model": "o3-mini", "messages": msgs, "temperature": 1, "max_completion_tokens": 9, "logprobs": False},
        {"model": "gpt-5-chat-latest", "messages": msgs, "temperature": 0.5, "max_tokens": 9},
        {"model": "o1", "messages": system},
        {"model": "gpt-4o", "messages": msgs, "temperature": 0.5, "max_tokens": 9},
    ):
        assert post(fleet, ok, path="/chat/completions").status_code == 200, ok


# ---------------------------------------------------------------- generated answers


def test_echo_and_usage(fleet):
    r = post(fleet, {"model": "o3-pro", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello big world"}]}], "instructions": "be brief", "store": False})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "response" and out["status"] == "completed" and out["model"] == "o3-pro"
    assert out["output"][0]["content"][0]["text"] == "Echo: hello big world"
    # input: 2 (instructions) + 1 item + 3 words; output: 4 words
    assert (out["usage"]["input_tokens"], out["usage"]["output_tokens"]) == (6, 4)


def test_tool_round_trip(fleet):
    r = post(fleet, {"model": "gpt-4.1", "input": "weather in Paris?", "tools": [WEATHER]}).json()
    call = r["output"][0]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"location": "Paris"}
    follow = [
        {"role": "user", "content": "weather in Paris?"},
        {"type": "function_call", "call_id": call["call_id"], "name": "get_weather", "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
    ]
    r = post(fleet, {"model": "gpt-4.1", "input": follow, "tools": [WEATHER]}).json()
    assert r["output"][0]["content"][0]["text"] == "Tool said: sunny"


def test_reasoning_summary_stream(fleet):
    body = {"model": "o3-pro", "input": "why is the sky blue", "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["reasoning.encrypted_content"], "stream": True, "store": False}
    evs = events(post(fleet, body, stream=True))
    names = [n for n, _ in evs]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert [d["sequence_number"] for _, d in evs] == list(range(len(evs)))
    summary = "".join(d["delta"] for n, d in evs if n == "response.reasoning_summary_text.delta")
    text = "".join(d["delta"] for n, d in evs if n == "response.output_text.delta")
    assert summary == "Reasoning about: why is the sky blue"
    assert text == "Echo: why is the sky blue"
    final = evs[-1][1]["response"]
    assert final["output"][0]["encrypted_content"].startswith("gAAAAA")
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 7
    assert final["usage"]["output_tokens"] == 7 + 6


def test_max_output_tokens_makes_it_incomplete(fleet):
    long = " ".join(f"w{i}" for i in range(30))
    r = post(fleet, {"model": "gpt-4.1", "input": long, "max_output_tokens": 16}).json()
    assert r["status"] == "incomplete" and r["incomplete_details"] == {"reason": "max_output_tokens"}
    assert r["usage"]["output_tokens"] == 16
    evs = events(post(fleet, {"model": "gpt-4.1", "input": long, "max_output_tokens": 16, "stream": True}, stream=True))
    assert evs[-1][0] == "response.incomplete"


def test_official_sdk_reads_the_face(fleet):
    client = openai.OpenAI(base_url=fleet.openai_base, api_key=KEY, max_retries=0, timeout=20)
    r = client.responses.create(model="o3-pro", input="hi there")
    assert r.output_text == "Echo: hi there"
    with client.responses.stream(model="gpt-4.1", input="hi there", tools=[WEATHER]) as s:
        final = s.get_final_response()
    assert final.output[0].type == "function_call" and final.output[0].name == "get_weather"


# ---------------------------------------------------------------- replay and faults


def test_replay_non_stream_is_the_recording(fleet):
    r = post(fleet, {"model": "replay:responses-text", "input": "x"})
    assert r.content == fixtures.json_fixture("openai", "responses-text")[1]
    r = post(fleet, {"model": "replay:error-insufficient-quota-429", "input": "x", "stream": True})
    err(r, 429, code="insufficient_quota")


def test_replay_picks_the_run_by_tool_outputs_given(fleet):
    stem = "replay:responses-stream-reasoning-function-calls"
    first = events(post(fleet, {"model": stem, "input": "calc", "stream": True}, stream=True))
    assert first[0][1]["response"]["id"] == "resp_01830d662ab3856501693c321345c88190b0de00f3b9975691"
    assert any(n == "response.reasoning_summary_text.delta" for n, _ in first)
    items = [{"role": "user", "content": "calc"}]
    for i in range(2):
        items += [{"type": "function_call", "call_id": f"c{i}", "name": "calculator", "arguments": "{}"},
                  {"type": "function_call_output", "call_id": f"c{i}", "output": "1"}]
    third = events(post(fleet, {"model": stem, "input": items, "stream": True}, stream=True))
    assert third[0][1]["response"]["id"] == "resp_01830d662ab3856501693c3216bef88190bf0e034cff24137b"
    added = [d["item"] for n, d in third if n == "response.output_item.added"]
    assert added[0]["call_id"] == "call_Zl5vIMnD7dVAjgU6FkhmiCZh"


def test_replay_falls_back_to_azure_recordings(fleet):
    evs = events(post(fleet, {"model": "replay:responses-stream-tool-call", "input": "x", "stream": True}, stream=True))
    assert evs[-1][0] == "response.completed"
    assert evs[-1][1]["response"]["model"] == "gpt-5.1"


def test_faults(fleet):
    r = post(fleet, {"model": "fault:status=429,retry_after=3|o3-pro", "input": "x"})
    err(r, 429, code="rate_limit_exceeded")
    assert r.headers["Retry-After"] == "3"
    err(post(fleet, {"model": "fault:status=400,body=error-unsupported-parameter-400", "input": "x"}), 400, code="unsupported_parameter")
    err(post(fleet, {"model": "fault:bogus=1", "input": "x"}), 400, "model")
    r = post(fleet, {"model": f"fault:cut_after=3|o3-pro-{uuid.uuid4().hex[:6]}", "input": "one two three", "stream": True}, stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        r.content  # noqa: B018 - reading the body is the test
