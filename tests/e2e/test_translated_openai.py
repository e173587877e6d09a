"""The cross-format path (request → unified → codec → unified chunks → OpenAI
shapes) exercised with the OpenAI codec itself: `passthrough = false` makes the
gateway rebuild the upstream body and re-render every chunk instead of
relaying bytes. Every other provider's codec rides on this same path."""

from __future__ import annotations

import json

import openai

from sdk import WEATHER_TOOL, reassemble_tool_calls, tag, user

UPSTREAM_PATH = "/openai/v1/chat/completions"


def test_non_stream_is_rebuilt_from_the_unified_request(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"translated/gpt-4o-mini-{t}",
        messages=[{"role": "system", "content": "terse"}, *user(f"hi {t}")],
        temperature=0.5,
        stop=["zzz"],
        extra_body={"vendor_only_field": 1},
    )
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens == 3
    got = fleet.requests(model=f"gpt-4o-mini-{t}")[-1]
    assert got["path"] == UPSTREAM_PATH
    body = got["body"]
    assert body["messages"] == [{"role": "system", "content": "terse"}, {"role": "user", "content": f"hi {t}"}]
    assert body["temperature"] == 0.5 and body["stop"] == ["zzz"]
    # The unified path rebuilds the body: fields it does not model are not sent.
    assert "vendor_only_field" not in body


def test_stream_is_re_rendered_with_usage_last(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"translated/gpt-4o-mini-{t}", messages=user(f"one two three {t}"), stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two three {t}"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])
    assert fleet.requests(model=f"gpt-4o-mini-{t}")[-1]["body"]["stream_options"] == {"include_usage": True}


def test_stream_without_usage_request_hides_usage(client):
    chunks = list(client.chat.completions.create(model="translated/gpt-4o-mini", messages=user("a b"), stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_calls_stream_through_translation(client):
    chunks = list(
        client.chat.completions.create(
            model="translated/replay:chat-stream-parallel-tool-calls-usage", messages=user("weather and stock"),
            tools=[WEATHER_TOOL], stream=True,
        )
    )
    calls = reassemble_tool_calls(chunks)
    assert [calls[i]["name"] for i in sorted(calls)] == ["GetWeatherArgs", "get_stock_price"]
    assert json.loads(calls[1]["arguments"]) == {"ticker": "AAPL", "exchange": "NASDAQ"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_cut_stream_ends_in_error(client):
    stream = client.chat.completions.create(
        model="translated/fault:cut_after=3|gpt-4o-mini", messages=user("one two three four five"), stream=True
    )
    seen = 0
    try:
        for _ in stream:
            seen += 1
        raise AssertionError(f"stream ended cleanly after {seen} chunks though the upstream was cut")
    except openai.APIError as e:
        assert seen >= 1
        assert "sk-fleet" not in str(e)


def test_upstream_error_keeps_status(client):
    try:
        client.chat.completions.create(model="translated/fault:status=429,retry_after=3", messages=user("x"))
        raise AssertionError("expected a rate limit error")
    except openai.RateLimitError as e:
        assert e.status_code == 429
        assert e.response.headers.get("retry-after") == "3"
