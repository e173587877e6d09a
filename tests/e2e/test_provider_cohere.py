"""Cohere Chat v2 end to end: the OpenAI SDK → gateway (unified request →
Cohere v2 → unified chunks → OpenAI shapes) → the fleet's Cohere face
(tests/fleet/cohere_face.py).

``cohere/<model>`` resolves through the provider table with
``COHERE_API_BASE``/``COHERE_API_KEY`` (tests/e2e/deployments/cohere.json);
``cohere-badkey/*`` has a wrong key. The face counts ``tokens.input_tokens``
as billed + 100, so usage shows which of Cohere's counts the gateway reports.
"""

from __future__ import annotations

import json

import openai
import pytest

from sdk import WEATHER_TOOL, check_sdk_error, reassemble_tool_calls, tag, user

COHERE_KEY = "sk-fleet-cohere"


def test_non_stream(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"cohere/command-a-{t}", messages=[{"role": "system", "content": "terse"}, *user(f"hi {t}")],
        temperature=0.2, top_p=1.0, max_tokens=50, stop=["zzz"], seed=11,
    )
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert r.choices[0].finish_reason == "stop"
    # prompt: (1+1) + (1+2) words-and-messages = 5 billed, + 100 preamble tokens processed.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (105, 3, 108)
    assert r.model == f"command-a-{t}", "Cohere names no model: the gateway fills in the deployment's"
    assert r.created > 1_600_000_000
    got = fleet.requests(model=f"command-a-{t}")[-1]
    assert got["path"] == "/cohere/v2/chat"
    assert got["headers"]["authorization"] == f"Bearer {COHERE_KEY}"
    assert got["body"] == {
        "model": f"command-a-{t}",
        "messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": f"hi {t}"}],
        "stream": False,
        "max_tokens": 50,
        "temperature": 0.2,
        "p": 0.99,
        "stop_sequences": ["zzz"],
        "seed": 11,
    }


def test_stream_with_usage(client, fleet):
    t = tag()
    chunks = list(client.chat.completions.create(
        model=f"cohere/command-r-{t}", messages=user(f"one two {t}"), stream=True, stream_options={"include_usage": True}
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two {t}"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (104, 4)
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.model for c in chunks} == {f"command-r-{t}"}
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert fleet.requests(model=f"command-r-{t}")[-1]["body"]["stream"] is True


def test_stream_without_usage_request(client):
    chunks = list(client.chat.completions.create(model="cohere/command-r", messages=user("a"), stream=True))
    assert chunks and all(c.usage is None for c in chunks)


def test_recorded_stream_with_cached_tokens(client):
    chunks = list(client.chat.completions.create(
        model="cohere/replay:chat-v2-stream-text", messages=user("capital of France?"), stream=True,
        stream_options={"include_usage": True},
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The capital of France is Paris."
    u = chunks[-1].usage
    assert (u.prompt_tokens, u.completion_tokens, u.prompt_tokens_details.cached_tokens) == (507, 10, 448)


def test_tool_round_trip(client, fleet):
    t = tag()
    model = f"cohere/command-a-{t}"
    first = client.chat.completions.create(model=model, messages=user("weather in Paris?"), tools=[WEATHER_TOOL])
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    call = msg.tool_calls[0]
    assert call.id.startswith("get_weather_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}
    assert msg.model_dump()["reasoning_content"] == "I will call get_weather.", "tool_plan surfaces as reasoning"
    history = [*user("weather in Paris?"), msg.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat.completions.create(model=model, messages=history, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Tool said: sunny"
    sent = fleet.requests(model=f"command-a-{t}")[-1]["body"]["messages"]
    assert sent[1] == {"role": "assistant", "tool_plan": "I will call get_weather.", "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}


def test_streamed_tool_call(client):
    chunks = list(client.chat.completions.create(model="cohere/command-a", messages=user("weather?"), tools=[WEATHER_TOOL],
                                                 tool_choice="required", stream=True))
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# ---------------------------------------------------------------- errors


def test_wrong_key_is_an_authentication_error(client):
    with pytest.raises(openai.AuthenticationError) as ei:
        client.chat.completions.create(model="cohere-badkey/command-a", messages=user("x"))
    err = check_sdk_error(ei.value, openai.AuthenticationError, 401)
    assert err["message"].endswith("invalid api token") and "`cohere`" in err["message"]
    assert "sk-wrong-cohere-key-0000" not in ei.value.response.text


def test_rate_limit_keeps_retry_after(client):
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model="cohere/fault:status=429,retry_after=7", messages=user("x"))
    assert ei.value.response.headers["retry-after"] == "7"
    assert "Trial key" in ei.value.message


def test_bad_request_and_unknown_model(client):
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model="cohere/fault:status=400", messages=user("x"))
    check_sdk_error(ei.value, openai.BadRequestError, 400, type_="invalid_request_error")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="cohere/gpt-4o", messages=user("x"))


def test_what_cohere_cannot_do_is_refused_before_sending(client, fleet):
    t = tag()
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=f"cohere/command-a-{t}", messages=user("x"), n=2)
    assert check_sdk_error(ei.value, openai.BadRequestError, 400)["param"] == "n"
    assert fleet.requests(model=f"command-a-{t}") == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(client, status):
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model=f"cohere/fault:status={status}", messages=user("x"))
    assert ei.value.status_code == status


# After the first content delta (Cohere's third event); before it, a broken
# stream is an error status (see test_router.py).
@pytest.mark.parametrize("fault", ["cut_after=3", "garbage_after=3"])
def test_broken_stream_raises(client, fault):
    stream = client.chat.completions.create(
        model=f"cohere/fault:{fault}|command-a", messages=user("one two three four five"), stream=True
    )
    seen = 0
    with pytest.raises(openai.APIError) as ei:
        for _ in stream:
            seen += 1
    assert seen >= 1
    assert COHERE_KEY not in str(ei.value)
