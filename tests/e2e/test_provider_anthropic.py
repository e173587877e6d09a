"""The Anthropic codec end to end: the OpenAI SDK → gateway → the fleet's
Anthropic face (and Claude on Vertex AI). The face validates bodies like the
real API, so every success here is also a check of the encoded request."""

from __future__ import annotations

import json

import openai
import pytest

from sdk import WEATHER_TOOL, reassemble_tool_calls, tag, user

ANTHROPIC_KEY = "sk-fleet-anthropic"
VERTEX_TOKEN = "ya29.fleet-vertex-token"


def upstream(fleet, model: str) -> dict:
    got = fleet.requests(model=model)
    assert got, f"the fleet saw no request for {model!r}"
    return got[-1]


def test_non_stream_text(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"anthropic-fleet/claude-sonnet-4-5-{t}",
        messages=[{"role": "system", "content": "terse"}, *user(f"hi {t}")],
        stop=["never-said"],
        user="user-7",
    )
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == f"claude-sonnet-4-5-{t}"
    assert r.created > 1_600_000_000
    # system 1 word + 1 per message + 2 words; "Echo: hi <t>" is 3 words.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (4, 3, 7)
    got = upstream(fleet, f"claude-sonnet-4-5-{t}")
    assert got["path"] == "/anthropic/v1/messages"
    assert got["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert got["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in got["headers"]
    body = got["body"]
    assert body["system"] == [{"type": "text", "text": "terse"}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": f"hi {t}"}]}]
    assert body["max_tokens"] == 64000
    assert body["stop_sequences"] == ["never-said"]
    assert body["metadata"] == {"user_id": "user-7"}


def test_stream_text_with_usage(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"anthropic-fleet/claude-haiku-4-5-{t}", messages=user(f"one two three {t}"), stream=True,
            stream_options={"include_usage": True}, max_tokens=50,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two three {t}"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 5)
    assert all(c.usage is None for c in chunks[:-1])
    body = upstream(fleet, f"claude-haiku-4-5-{t}")["body"]
    assert body["stream"] is True and body["max_tokens"] == 50
    assert "stream_options" not in body


def test_stream_cache_tokens_are_cached_prompt_tokens(client, fleet):
    t = tag()
    messages = [{"role": "system", "content": f"You are terse {t}"}, *user(f"hello {t}")]
    usages = []
    for _ in range(2):
        chunks = list(
            client.chat.completions.create(
                model=f"anthropic-cached/claude-haiku-4-5-{t}", messages=messages, stream=True,
                stream_options={"include_usage": True},
            )
        )
        usages.append(chunks[-1].usage)
    # auto_cache marks the system block and the user turn: all 7 prompt tokens are
    # written to the cache the first time and read from it the second time.
    assert usages[0].prompt_tokens == 7 and usages[0].prompt_tokens_details.cached_tokens == 0
    assert usages[1].prompt_tokens == 7 and usages[1].prompt_tokens_details.cached_tokens == 7
    body = upstream(fleet, f"claude-haiku-4-5-{t}")["body"]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_replayed_stream_with_cache_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="anthropic-fleet/replay:messages-stream-cache-write-server-tool", messages=user("sum of squares"),
            stream=True, stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The sum of the squares of the numbers 1 through 12 is **650**."
    # Server-side tool use is not a client tool call.
    assert reassemble_tool_calls(chunks) == {}
    usage = chunks[-1].usage
    assert usage.prompt_tokens == 6 + 3337 + 6289
    assert usage.prompt_tokens_details.cached_tokens == 6289
    assert usage.completion_tokens == 198


def test_tool_round_trip(client, fleet):
    t = tag()
    model = f"anthropic-fleet/claude-haiku-4-5-{t}"
    r = client.chat.completions.create(model=model, messages=user(f"weather {t}?"), tools=[WEATHER_TOOL], parallel_tool_calls=False)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Paris"}
    assert call.id.startswith("toolu_")
    body = upstream(fleet, f"claude-haiku-4-5-{t}")["body"]
    assert body["tools"][0]["input_schema"] == WEATHER_TOOL["function"]["parameters"]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    r2 = client.chat.completions.create(
        model=model,
        tools=[WEATHER_TOOL],
        messages=[
            *user(f"weather {t}?"),
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert r2.choices[0].message.content == "Tool said: sunny"
    sent = upstream(fleet, f"claude-haiku-4-5-{t}")["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[2]["content"] == [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]


def test_tool_call_stream(client):
    chunks = list(
        client.chat.completions.create(
            model="anthropic-fleet/claude-haiku-4-5", messages=user("weather?"), tools=[WEATHER_TOOL], stream=True
        )
    )
    calls = reassemble_tool_calls(chunks)
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_replayed_text_then_tool_stream(client):
    chunks = list(
        client.chat.completions.create(
            model="anthropic-fleet/replay:messages-stream-tool-use", messages=user("Paris weather"), stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I'll check the current weather in Paris for you."
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["id"] == "toolu_01NRLabsLyVHZPKxbKvkfSMn"
    assert json.loads(calls[0]["arguments"]) == {"location": "Paris"}


def test_thinking_from_reasoning_effort(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"anthropic-fleet/claude-sonnet-4-5-{t}", messages=user(f"why {t}"), reasoning_effort="medium", temperature=0.3
    )
    msg = r.choices[0].message
    assert msg.content == f"Echo: why {t}"
    assert msg.reasoning_content == f"Considering: why {t}"
    body = upstream(fleet, f"claude-sonnet-4-5-{t}")["body"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] == 64000 and body["temperature"] == 1


def test_thinking_stream_reasoning_content(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"anthropic-fleet/claude-sonnet-4-5-{t}", messages=user(f"why {t}"), reasoning_effort="low",
            max_tokens=100, stream=True,
        )
    )
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning == f"Considering: why {t}" and text == f"Echo: why {t}"
    body = upstream(fleet, f"claude-sonnet-4-5-{t}")["body"]
    # max_tokens 100 is for the answer: the 1024-token budget comes on top.
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024} and body["max_tokens"] == 1124


def _thinking_tool_loop(client, fleet, model: str, first) -> None:
    """Sends the assistant turn back as the OpenAI client holds it (LiteLLM's
    ``thinking_blocks`` included) with the tool's answer: the fleet verifies
    the signature it gave out, as Claude does."""
    t = model.rsplit("-", 1)[1]
    call = first["tool_calls"][0]
    turn = [*user(f"weather {t}"), first, {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
    r = client.chat.completions.create(model=f"anthropic-fleet/{model}", messages=turn, tools=[WEATHER_TOOL],
                                       reasoning_effort="low")
    assert r.choices[0].message.content == "Tool said: sunny"
    sent = upstream(fleet, model)["body"]["messages"][1]
    assert sent["role"] == "assistant"
    assert sent["content"][0] == first["thinking_blocks"][0], "the signed block goes back first, unchanged"
    assert [b["type"] for b in sent["content"]] == ["thinking", "tool_use"]


def test_thinking_blocks_reach_openai_clients_and_round_trip(client, fleet):
    t = tag()
    model = f"claude-sonnet-4-5-{t}"
    r = client.chat.completions.create(model=f"anthropic-fleet/{model}", messages=user(f"weather {t}"),
                                       tools=[WEATHER_TOOL], reasoning_effort="low")
    msg = r.choices[0].message
    blocks = msg.model_extra["thinking_blocks"]
    assert len(blocks) == 1 and blocks[0]["type"] == "thinking"
    assert blocks[0]["thinking"] == msg.model_extra["reasoning_content"] == f"Considering: weather {t}"
    assert blocks[0]["signature"].startswith("fleetsig.")
    assert r.choices[0].finish_reason == "tool_calls"
    _thinking_tool_loop(client, fleet, model, msg.model_dump(exclude_none=True))


def test_thinking_blocks_stream_to_openai_clients_and_round_trip(client, fleet):
    t = tag()
    model = f"claude-sonnet-4-5-{t}"
    chunks = list(client.chat.completions.create(model=f"anthropic-fleet/{model}", messages=user(f"weather {t}"),
                                                 tools=[WEATHER_TOOL], reasoning_effort="low", stream=True))
    thought, signature, reasoning = "", None, ""
    for c in chunks:
        if not c.choices:
            continue
        extra = c.choices[0].delta.model_extra or {}
        reasoning += extra.get("reasoning_content") or ""
        for b in extra.get("thinking_blocks") or []:
            assert b["type"] == "thinking"
            thought += b.get("thinking") or ""
            signature = b.get("signature") or signature
    assert thought == reasoning == f"Considering: weather {t}"
    assert signature and signature.startswith("fleetsig.")
    # What a LiteLLM-style client builds from the stream.
    calls = reassemble_tool_calls(chunks)
    first = {"role": "assistant", "content": None, "reasoning_content": reasoning,
             "thinking_blocks": [{"type": "thinking", "thinking": thought, "signature": signature}],
             "tool_calls": [{"id": calls[0]["id"], "type": "function",
                             "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}]}
    _thinking_tool_loop(client, fleet, model, first)


def test_upstream_401(client):
    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model="anthropic-fleet/fault:status=401", messages=user("x"))
    assert e.value.status_code == 401
    assert ANTHROPIC_KEY not in str(e.value.response.text)


def test_upstream_429_keeps_retry_after(client):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="anthropic-fleet/fault:status=429,retry_after=7", messages=user("x"))
    assert e.value.status_code == 429
    assert e.value.response.headers.get("retry-after") == "7"
    assert e.value.body["type"] == "rate_limit_error"


def test_upstream_400_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="anthropic-fleet/fault:status=400", messages=user("x"))
    assert e.value.status_code == 400
    assert "invalid request" in e.value.message


def test_upstream_529_overloaded(client):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="anthropic-fleet/replay:error-overloaded-529", messages=user("x"))
    assert e.value.status_code == 529
    assert e.value.body["type"] == "overloaded_error" and e.value.body["message"] == "Overloaded"


def test_stream_cut_midway_raises(client):
    stream = client.chat.completions.create(
        model="anthropic-fleet/fault:cut_after=4|claude-haiku-4-5", messages=user("one two three four five six"), stream=True
    )
    seen = 0
    with pytest.raises(openai.APIError) as e:
        for _ in stream:
            seen += 1
    assert seen >= 1
    assert ANTHROPIC_KEY not in str(e.value)


def test_stream_error_event_midway_raises(client):
    stream = client.chat.completions.create(
        model="anthropic-fleet/fault:error_after=4|claude-haiku-4-5", messages=user("one two three four five"), stream=True
    )
    text = ""
    with pytest.raises(openai.APIError) as e:
        for c in stream:
            text += (c.choices[0].delta.content or "") if c.choices else ""
    assert text == "Echo:"  # the first text delta arrived before the error
    assert "Overloaded" in str(e.value)


def test_vertex_non_stream(client, fleet):
    t = tag()
    model = f"claude-sonnet-4-5@{t}"
    r = client.chat.completions.create(model=f"vertex-claude/{model}", messages=user(f"hi vertex {t}"))
    assert r.choices[0].message.content == f"Echo: hi vertex {t}"
    assert r.usage.completion_tokens == 4
    got = upstream(fleet, model)
    assert got["path"] == f"/vertex/v1/projects/fleet-project/locations/us-east5/publishers/anthropic/models/{model}:rawPredict"
    assert got["headers"]["authorization"] == f"Bearer {VERTEX_TOKEN}"
    assert "x-api-key" not in got["headers"]
    assert "model" not in got["body"] and got["body"]["anthropic_version"] == "vertex-2023-10-16"
    assert got["body"]["max_tokens"] == 64000


def test_vertex_stream(client, fleet):
    t = tag()
    model = f"claude-haiku-4-5@{t}"
    chunks = list(
        client.chat.completions.create(
            model=f"vertex-claude/{model}", messages=user(f"stream {t}"), stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: stream {t}"
    assert chunks[-1].usage.completion_tokens == 3
    got = upstream(fleet, model)
    assert got["path"].endswith(f"/models/{model}:streamRawPredict")
    assert got["body"]["stream"] is True
