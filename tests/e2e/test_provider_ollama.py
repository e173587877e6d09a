"""Ollama end to end: the OpenAI SDK → gateway (unified request → Ollama
``/api/chat`` → NDJSON lines → OpenAI shapes) → the fleet's Ollama face
(tests/fleet/ollama_face.py). ``ollama/<model>`` resolves through the
provider table with ``OLLAMA_API_BASE`` (tests/e2e/deployments/ollama.json);
no key, as with a local Ollama.
"""

from __future__ import annotations

import json

import openai
import pytest

from sdk import WEATHER_TOOL, check_sdk_error, reassemble_tool_calls, tag, user


def test_non_stream(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"ollama/llama3.2:{t}", messages=[{"role": "system", "content": "terse"}, *user(f"hi {t}")],
        temperature=0.4, max_tokens=50, stop=["zzz"], seed=5,
    )
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (5, 3)
    assert r.model == f"llama3.2:{t}"
    assert r.id.startswith("chatcmpl-ollama-")
    got = fleet.requests(model=f"llama3.2:{t}")[-1]
    assert got["path"] == "/ollama/api/chat"
    assert "authorization" not in got["headers"]
    assert got["body"] == {
        "model": f"llama3.2:{t}",
        "messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": f"hi {t}"}],
        "stream": False,
        "options": {"temperature": 0.4, "num_predict": 50, "stop": ["zzz"], "seed": 5},
    }


def test_stream_with_usage(client, fleet):
    t = tag()
    chunks = list(client.chat.completions.create(
        model=f"ollama/qwen3:{t}", messages=user(f"one two {t}"), stream=True, stream_options={"include_usage": True}
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: one two {t}"
    assert chunks[-1].choices == [] and (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (4, 4)
    assert all(c.usage is None for c in chunks[:-1])
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert fleet.requests(model=f"qwen3:{t}")[-1]["body"]["stream"] is True


def test_length_limit_and_thinking(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"ollama/qwen3:{t}", messages=user("a b c d"), max_tokens=2,
                                       reasoning_effort="high")
    assert r.choices[0].message.content == "Echo: a"
    assert r.choices[0].finish_reason == "length"
    assert r.model_dump()["choices"][0]["message"]["reasoning_content"] == "Thinking about: a b c d"
    assert fleet.requests(model=f"qwen3:{t}")[-1]["body"]["think"] is True
    chunks = list(client.chat.completions.create(model="ollama/gpt-oss:20b", messages=user("p q"), reasoning_effort="low", stream=True))
    reasoning = "".join((c.choices[0].delta.model_dump().get("reasoning_content") or "") for c in chunks if c.choices)
    assert reasoning == "Thinking about: p q"


def test_tool_round_trip(client, fleet):
    t = tag()
    model = f"ollama/llama3.2:{t}"
    first = client.chat.completions.create(model=model, messages=user("weather in Paris?"), tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}
    history = [*user("weather in Paris?"), first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat.completions.create(model=model, messages=history, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Tool said: sunny"
    sent = fleet.requests(model=f"llama3.2:{t}")[-1]["body"]["messages"]
    assert sent[1]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"location": "Paris"}}}]
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_name": "get_weather"}


def test_streamed_tool_call(client):
    chunks = list(client.chat.completions.create(model="ollama/llama3.2", messages=user("weather?"), tools=[WEATHER_TOOL], stream=True))
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    assert calls[0]["id"].startswith("call_")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_inline_images_pass_and_url_images_are_refused(client, fleet):
    t = tag()
    png = "iVBORw0KGgo="
    r = client.chat.completions.create(model=f"ollama/llama3.2:{t}", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}])
    assert r.choices[0].message.content == "Echo: what is this"
    assert fleet.requests(model=f"llama3.2:{t}")[-1]["body"]["messages"][0]["images"] == [png]
    t = tag()
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=f"ollama/llama3.2:{t}", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    err = check_sdk_error(ei.value, openai.BadRequestError, 400, code="image_url_not_supported")
    assert "data:" in err["message"]
    assert fleet.requests(model=f"llama3.2:{t}") == []


def test_recorded_stream(client):
    chunks = list(client.chat.completions.create(model="ollama/replay:api-chat-stream-tools", messages=user("x"), stream=True,
                                                 stream_options={"include_usage": True}))
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"city": "Tokyo"}
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (169, 15)


# ---------------------------------------------------------------- errors


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="ollama/llama9", messages=user("x"))
    err = check_sdk_error(ei.value, openai.NotFoundError, 404, code="model_not_found")
    assert "try pulling it first" in err["message"]


@pytest.mark.parametrize(
    "status,cls", [(400, openai.BadRequestError), (401, openai.AuthenticationError), (500, openai.InternalServerError),
                   (503, openai.InternalServerError)],
)
def test_error_statuses(client, status, cls):
    with pytest.raises(cls) as ei:
        client.chat.completions.create(model=f"ollama/fault:status={status}", messages=user("x"))
    assert ei.value.status_code == status


def test_rate_limit_keeps_retry_after(client):
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model="ollama/fault:status=429,retry_after=4", messages=user("x"))
    assert ei.value.response.headers["retry-after"] == "4"


def test_error_line_mid_stream_raises(client):
    stream = client.chat.completions.create(model="ollama/error-midstream", messages=user("a b c d e"), stream=True)
    got = []
    with pytest.raises(openai.APIError) as ei:
        for c in stream:
            got.append(c.choices[0].delta.content or "")
    assert "".join(got) == "Echo: a"
    assert "out of memory" in str(ei.value)


@pytest.mark.parametrize("fault", ["cut_after=2", "garbage_after=2"])
def test_broken_stream_raises(client, fault):
    stream = client.chat.completions.create(model=f"ollama/fault:{fault}|llama3.2", messages=user("one two three four"), stream=True)
    seen = 0
    with pytest.raises(openai.APIError):
        for _ in stream:
            seen += 1
    assert seen >= 1
