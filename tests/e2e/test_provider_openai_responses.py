"""OpenAI's Responses API as an upstream: the OpenAI SDK calls Chat
Completions on the gateway; models OpenAI serves only through the Responses
API (``openai/o3-pro``, via ``OPENAI_API_BASE`` = the fleet) and deployments
with ``api_mode = "responses"`` (``responses/*``, see
deployments/openai_responses.json) reach the fleet's ``/v1/responses`` and come
back as chat completions. The fleet's chat face answers those models with a
404, so a request sent to the wrong API fails."""

from __future__ import annotations

import json

import openai
import pytest

from fleet import fixtures
from sdk import WEATHER_TOOL, check_sdk_error, reassemble_tool_calls, tag, user

RESPONSES_PATH = "/openai/v1/responses"


def upstream(fleet, model: str) -> dict:
    got = fleet.requests(model=model)
    assert got, f"the fleet saw no request for {model}"
    assert got[-1]["path"] == RESPONSES_PATH, got[-1]["path"]
    return got[-1]["body"]


def reasoning_of(obj) -> str | None:
    return getattr(obj, "reasoning_content", None)


# ---------------------------------------------------------------- text


def test_non_stream_reaches_the_responses_api(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"openai/o3-pro-{t}",
        messages=[{"role": "system", "content": "You are terse."}, *user(f"Say hi {t}")],
        max_tokens=50,
        metadata={"run": t},
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == f"Echo: Say hi {t}"
    assert r.choices[0].finish_reason == "stop"
    # fleet usage: instructions (3 words) + 1 item + 3 words; 4 words out
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (7, 4, 11)
    body = upstream(fleet, f"o3-pro-{t}")
    assert "messages" not in body and "max_tokens" not in body
    assert body["instructions"] == "You are terse."
    assert body["input"] == [{"type": "message", "role": "user", "content": f"Say hi {t}"}]
    assert body["max_output_tokens"] == 50 and body["store"] is False
    assert body["metadata"] == {"run": t}


def test_stream_with_usage(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"openai/gpt-5-codex-{t}", messages=user(f"one two three {t}"), stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two three {t}"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 5)
    assert all(c.usage is None for c in chunks[:-1])
    body = upstream(fleet, f"gpt-5-codex-{t}")
    assert body["stream"] is True and "stream_options" not in body


def test_stream_without_usage_request_hides_usage(client):
    chunks = list(client.chat.completions.create(model="openai/o3-pro", messages=user("a b"), stream=True))
    assert chunks and all(c.usage is None for c in chunks)


def test_recorded_answer_of_two_messages(client):
    r = client.chat.completions.create(model="responses/replay:responses-text", messages=user("news"))
    text = r.choices[0].message.content
    assert text.startswith("I\u2019ll quickly check reliable, up-to-date sources")
    assert "then summarize them for you with links.\n\nHere are some **latest AI updates" in text
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (7243, 423)
    assert r.usage.prompt_tokens_details.cached_tokens == 3072
    assert r.usage.completion_tokens_details.reasoning_tokens == 58


def test_recorded_stream_adds_up_to_the_full_text(client):
    chunks = list(
        client.chat.completions.create(
            model="responses/replay:responses-stream-text", messages=user("news"), stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    recorded = [e for e in map(json.loads, (fixtures.fixtures_dir() / "openai" / "responses-stream-text.chunks.jsonl").read_text().splitlines()) if e["type"] == "response.output_text.done"]
    assert text == recorded[0]["text"] + "\n\n" + recorded[1]["text"]
    assert chunks[-1].usage.prompt_tokens == 7112 and chunks[-1].usage.completion_tokens == 463


# ---------------------------------------------------------------- tools


def test_tool_round_trip(client, fleet):
    t = tag()
    model = f"openai/o3-pro-{t}"
    messages = user(f"weather in Paris {t}")
    r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert r.choices[0].finish_reason == "tool_calls"
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Paris"}
    assert upstream(fleet, f"o3-pro-{t}")["tools"] == [
        {"type": "function", "name": "get_weather", "description": "Current weather for a place",
         "parameters": WEATHER_TOOL["function"]["parameters"]}
    ]
    messages += [r.choices[0].message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}]
    r2 = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert r2.choices[0].message.content == "Tool said: sunny, 21C"
    assert r2.choices[0].finish_reason == "stop"
    items = upstream(fleet, f"o3-pro-{t}")["input"]
    assert items[1] == {"type": "function_call", "call_id": call.id, "name": "get_weather", "arguments": call.function.arguments}
    assert items[2] == {"type": "function_call_output", "call_id": call.id, "output": "sunny, 21C"}


def test_tool_call_streams(client):
    chunks = list(
        client.chat.completions.create(
            model="openai/o3-pro", messages=user("weather?"), tools=[WEATHER_TOOL], tool_choice="required", stream=True
        )
    )
    calls = reassemble_tool_calls(chunks)
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_recorded_multi_step_tool_loop(client):
    """The four recorded runs of one calculator session, replayed step by step."""
    model = "responses/replay:responses-stream-reasoning-function-calls"
    messages = user("What is (12 + 7) * 3 * 10? Use the calculator.")
    calc = {"type": "function", "function": {"name": "calculator", "parameters": {"type": "object"}}}
    expected = [('{"a":12,"b":7,"op":"add"}', "19"), ('{"a":19,"b":3,"op":"multiply"}', "57"), ('{"a":57,"b":10,"op":"multiply"}', "570")]
    for step, (args, result) in enumerate(expected):
        chunks = list(client.chat.completions.create(model=model, messages=messages, tools=[calc], stream=True))
        reasoning = "".join(reasoning_of(c.choices[0].delta) or "" for c in chunks if c.choices)
        if step == 0:
            assert reasoning.startswith("**Calculating step-by-step using calculator**")
        calls = reassemble_tool_calls(chunks)
        assert calls[0]["name"] == "calculator" and calls[0]["arguments"] == args
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [{"id": calls[0]["id"], "type": "function", "function": {"name": "calculator", "arguments": args}}]},
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": result},
        ]
    r = client.chat.completions.create(model=model, messages=messages, tools=[calc], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in r if c.choices) == "The final result is **570**."


def test_azure_recorded_tool_call(client):
    chunks = list(client.chat.completions.create(model="responses/replay:responses-stream-tool-call", messages=user("weather"), stream=True))
    calls = reassemble_tool_calls(chunks)
    assert calls[0] == {"id": "call_H5DxLSFnsGhiROnUiDHmgyc8", "name": "weather", "arguments": '{"location":"San Francisco"}'}


# ---------------------------------------------------------------- reasoning


def test_reasoning_summary_becomes_reasoning_content(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"openai/o3-pro-{t}", messages=user(f"why {t}"), reasoning_effort="low")
    msg = r.choices[0].message
    assert reasoning_of(msg) == f"Reasoning about: why {t}"
    assert msg.content == f"Echo: why {t}"
    assert r.usage.completion_tokens_details.reasoning_tokens == 4
    assert r.usage.completion_tokens == 4 + 3
    body = upstream(fleet, f"o3-pro-{t}")
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]


def test_reasoning_summary_streams(client):
    t = tag()
    chunks = list(client.chat.completions.create(model="openai/o3-pro", messages=user(f"why {t}"), reasoning_effort="high", stream=True))
    reasoning = "".join(reasoning_of(c.choices[0].delta) or "" for c in chunks if c.choices)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, text) == (f"Reasoning about: why {t}", f"Echo: why {t}")


# ---------------------------------------------------------------- quirks on this path


def test_sampling_parameters_dropped_and_reported(client, fleet):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(
        model=f"openai/o3-pro-{t}", messages=user("x"), temperature=0.3, stop=["zz"], seed=5,
    )
    assert raw.headers["x-dx-adjusted"] == "temperature,stop,seed"
    assert raw.parse().choices[0].message.content == "Echo: x"
    body = upstream(fleet, f"o3-pro-{t}")
    assert not {"temperature", "stop", "seed"} & set(body)


def test_json_response_format_becomes_text_format(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"responses/gpt-4.1-{t}", messages=user("json please"), temperature=0.2,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": True}},
    )
    assert json.loads(r.choices[0].message.content) == {"answer": "Echo: json please"}
    body = upstream(fleet, f"gpt-4.1-{t}")
    assert body["text"] == {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}, "strict": True}}
    assert body["temperature"] == 0.2


def test_output_limit_is_a_length_finish(client):
    long = " ".join(f"w{i}" for i in range(40))
    r = client.chat.completions.create(model="responses/gpt-4.1", messages=user(long), max_completion_tokens=16)
    assert r.choices[0].finish_reason == "length"
    assert len(r.choices[0].message.content.split()) == 16


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_error_classes(client, status, cls):
    with pytest.raises(cls) as info:
        client.chat.completions.create(model=f"responses/fault:status={status},retry_after=2|o3-pro", messages=user("x"))
    check_sdk_error(info.value, cls, status)
    if status == 429:
        assert info.value.response.headers["retry-after"] == "2"


def test_recorded_quota_error(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="responses/replay:error-insufficient-quota-429", messages=user("x"), stream=True)
    check_sdk_error(info.value, openai.RateLimitError, 429, code="insufficient_quota")


def test_an_error_event_before_content_is_a_429(client):
    # OpenAI's recorded stream reports the quota error after
    # `response.created`, before any content: held until content, it reaches
    # the client as the 429 it is, not as a 200 that breaks.
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="responses/replay:responses-stream-error-insufficient-quota", messages=user("x"), stream=True
        )
    assert "exceeded your current quota" in str(info.value)
    assert info.value.code == "insufficient_quota"


def test_cut_stream_raises(client):
    stream = client.chat.completions.create(
        model="responses/fault:cut_after=6|o3-pro", messages=user("one two three four five six"), stream=True
    )
    seen = 0
    with pytest.raises(openai.APIError) as info:
        for _ in stream:
            seen += 1
    assert seen >= 1
    assert "sk-fleet" not in str(info.value)
