"""OpenAI SDK → gateway → Bedrock Converse on the fleet's Bedrock face.

The face verifies every SigV4 signature (or the Bedrock API key), validates
the Converse body, and answers with generated or recorded Converse responses
and ConverseStream event stream frames (deployments: deployments/bedrock.json)."""

from __future__ import annotations

import json

import openai
import pytest

from sdk import WEATHER_TOOL, check_sdk_error, reassemble_tool_calls, tag, user

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SECRETS = (
    "fleet+bedrock/Secret/Key0001EXAMPLE",
    "fleet+bedrock/Sts/Secret0001EXAMPLE",
    "not+the/fleet+secret0001EXAMPLE",
    "FwoGZXIvYXdzEFleetSessionToken//0001==",
    "ABSKZmxlZXQtYmVkcm9jay1hcGkta2V5",
)


def upstream(fleet, marker: str) -> dict:
    """The one request the Bedrock face received whose body mentions ``marker``."""
    hits = [r for r in fleet.requests() if r["path"].startswith("/bedrock/") and marker in json.dumps(r.get("body"))]
    assert len(hits) == 1, f"expected one Bedrock request with {marker!r}, got {len(hits)}"
    return hits[0]


def no_secrets(text: str) -> None:
    for s in SECRETS:
        assert s not in text, "a credential leaked into a response"


# ---------------------------------------------------------------- answers


def test_non_stream_sigv4(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"fleet-bedrock/{CLAUDE}",
        messages=[{"role": "system", "content": "be brief"}, *user(f"hi {t}")],
        max_tokens=50,
        temperature=0.5,
        stop=["zzz"],
    )
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == CLAUDE
    # Face usage: 2 user words + 1 message + 2 system words; 3 words out.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (5, 3, 8)
    got = upstream(fleet, t)
    assert got["path"] == f"/bedrock/model/{CLAUDE}/converse"
    assert got["headers"]["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAFLEETBEDROCK0001/"
    ) and "/us-west-2/bedrock/aws4_request" in got["headers"]["authorization"]
    body = got["body"]
    assert body["system"] == [{"text": "be brief"}]
    assert body["messages"] == [{"role": "user", "content": [{"text": f"hi {t}"}]}]
    assert body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.5, "stopSequences": ["zzz"]}


def test_stream_with_usage(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"fleet-bedrock/{CLAUDE}", messages=user(f"one two three {t}"), stream=True,
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
    assert len({c.id for c in chunks}) == 1 and chunks[0].model == CLAUDE
    got = upstream(fleet, t)
    assert got["path"] == f"/bedrock/model/{CLAUDE}/converse-stream"
    assert got["headers"]["accept"] == "application/vnd.amazon.eventstream"


def test_stream_without_usage_request_hides_usage(client):
    chunks = list(client.chat.completions.create(model=f"fleet-bedrock/{CLAUDE}", messages=user("a b"), stream=True))
    assert chunks and all(c.usage is None for c in chunks)


def test_replayed_recordings(client):
    r = client.chat.completions.create(model="fleet-bedrock/replay:converse-text", messages=user("x"))
    assert r.choices[0].message.content.endswith('There are **3** "r"s in "strawberry."')
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (22, 57)
    chunks = list(
        client.chat.completions.create(
            model="fleet-bedrock/replay:converse-stream-text", messages=user("x"), stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == 'Let me count the "r"s in "strawberry":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y\n\nThere are **3** r\'s in "strawberry."'
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (22, 55)


def test_session_credentials_and_inference_profile(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"fleet-bedrock-sts/us.{CLAUDE}", messages=user(f"sts {t}"))
    assert r.choices[0].message.content == f"Echo: sts {t}"
    got = upstream(fleet, t)
    assert got["path"] == f"/bedrock/model/us.{CLAUDE}/converse"
    assert got["headers"]["x-amz-security-token"] == "FwoGZXIvYXdzEFleetSessionToken//0001=="
    assert "/eu-central-1/bedrock/aws4_request" in got["headers"]["authorization"]


def test_bearer_api_key(client, fleet):
    t = tag()
    chunks = list(client.chat.completions.create(model=f"fleet-bedrock-key/{CLAUDE}", messages=user(f"key {t}"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: key {t}"
    got = upstream(fleet, t)
    assert got["headers"]["authorization"] == "Bearer ABSKZmxlZXQtYmVkcm9jay1hcGkta2V5"
    assert "x-amz-date" not in got["headers"]


# ---------------------------------------------------------------- tools and reasoning


def test_tool_round_trip(client, fleet):
    t = tag()
    first = client.chat.completions.create(model=f"fleet-bedrock/{CLAUDE}", messages=user(f"weather {t}"), tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Paris"}
    spec = upstream(fleet, f"weather {t}")["body"]["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather" and spec["inputSchema"]["json"]["required"] == ["location"]
    history = [
        *user(f"weather {t}"),
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": f"18C {t}x"},
    ]
    second = client.chat.completions.create(model=f"fleet-bedrock/{CLAUDE}", messages=history, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == f"Tool said: 18C {t}x"
    sent = upstream(fleet, f"18C {t}x")["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == [{"toolUse": {"toolUseId": call.id, "name": "get_weather", "input": {"location": "Paris"}}}]
    assert sent[2]["content"] == [{"toolResult": {"toolUseId": call.id, "content": [{"text": f"18C {t}x"}]}}]


def test_tool_call_stream_and_forced_choice(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"fleet-bedrock/{CLAUDE}", messages=user(f"w {t}"), tools=[WEATHER_TOOL], stream=True,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
    )
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    assert calls[0]["id"].startswith("tooluse_")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert upstream(fleet, f"w {t}")["body"]["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    replay = list(
        client.chat.completions.create(model="fleet-bedrock/replay:converse-stream-tool-call", messages=user("x"), tools=[WEATHER_TOOL], stream=True)
    )
    calls = reassemble_tool_calls(replay)
    assert calls == {0: {"id": "tool-use-id", "name": "test-tool", "arguments": '{"value":"Sparkle Day"}'}}


def test_reasoning(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"fleet-bedrock/{CLAUDE}", messages=user(f"think {t}"), reasoning_effort="low", max_tokens=500)
    assert r.choices[0].message.content == f"Echo: think {t}"
    assert r.choices[0].message.model_extra["reasoning_content"] == f"Thinking about: think {t}"
    body = upstream(fleet, f"think {t}")["body"]
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert body["inferenceConfig"]["maxTokens"] == 1524
    chunks = list(
        client.chat.completions.create(model="fleet-bedrock/replay:converse-stream-reasoning", messages=user("x"), stream=True)
    )
    reasoning = "".join(c.choices[0].delta.model_extra.get("reasoning_content") or "" for c in chunks if c.choices)
    assert reasoning.endswith("So there are 3 r's.")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("There are **3** r's")


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "status,cls,want",
    [
        (429, openai.RateLimitError, 429),
        (403, openai.PermissionDeniedError, 403),
        (400, openai.BadRequestError, 400),
        (404, openai.NotFoundError, 404),
        (500, openai.InternalServerError, 500),
        (503, openai.InternalServerError, 503),
        (408, openai.InternalServerError, 504),
    ],
)
def test_upstream_errors_map_to_sdk_classes(client, status, cls, want):
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model=f"fleet-bedrock/fault:status={status}", messages=user("x"))
    err = check_sdk_error(e.value, cls, want)
    no_secrets(e.value.response.text)
    assert err["message"]


def test_throttling_keeps_retry_after(client):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="fleet-bedrock/fault:status=429,retry_after=4", messages=user("x"))
    assert e.value.response.headers.get("retry-after") == "4"
    assert e.value.body["code"] == "ThrottlingException"


def test_input_too_long_is_context_length_exceeded(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=f"fleet-bedrock/{CLAUDE}", messages=user("word " * 5000))
    err = check_sdk_error(e.value, openai.BadRequestError, 400, code="context_length_exceeded")
    assert "too long" in err["message"]


def test_bad_signature_is_an_authentication_error(client):
    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model=f"fleet-bedrock-badsig/{CLAUDE}", messages=user("x"))
    err = check_sdk_error(e.value, openai.AuthenticationError, 401)
    assert "signature" in err["message"]
    no_secrets(e.value.response.text)
    assert "AKIAFLEETBEDROCK0001" not in e.value.response.text


def test_exception_frame_mid_stream_raises(client):
    stream = client.chat.completions.create(
        model="fleet-bedrock/fault:exception_after=3", messages=user("one two three four five"), stream=True
    )
    seen = []
    with pytest.raises(openai.APIError) as e:
        for c in stream:
            seen.append(c)
    assert len(seen) >= 1
    assert "Too many tokens" in str(e.value)


@pytest.mark.parametrize("fault", ["cut_after=3", "garbage_after=2"])
def test_broken_stream_raises(client, fault):
    stream = client.chat.completions.create(
        model=f"fleet-bedrock/fault:{fault}", messages=user("one two three four five"), stream=True
    )
    seen = 0
    with pytest.raises(openai.APIError) as e:
        for _ in stream:
            seen += 1
    assert seen >= 1
    no_secrets(str(e.value))
