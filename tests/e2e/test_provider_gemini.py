"""End to end: the official ``openai`` SDK → gateway → the fleet's Gemini face
(Google AI Studio and Vertex AI), through the Gemini codec.

Deployments come from ``deployments/gemini.json``: ``gemini/<model>`` resolves
through the provider table (``GEMINI_API_KEY`` / ``GEMINI_API_BASE``), the
``vertex*/<model>`` names are Vertex AI deployments whose access tokens the
gateway mints from a throwaway service account at the fleet's token endpoint.
"""

from __future__ import annotations

import json
import os

import openai
import pytest
import requests

from sdk import WEATHER_TOOL, check_sdk_error, reassemble_tool_calls, tag, user

GEMINI_KEY = "sk-fleet-gemini"
SA_DOMAIN = "@dx-fleet-test.iam.gserviceaccount.com"


def upstream(fleet, model: str) -> dict:
    got = fleet.requests(model=model)
    assert got, f"the fleet saw no request for {model}"
    return got[-1]


def no_secrets(text: str) -> None:
    assert GEMINI_KEY not in text and "PRIVATE KEY" not in text and "ya29." not in text, text[:500]


# ---------------------------------------------------------------- AI Studio


def test_non_stream_text(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"gemini/gemini-2.5-flash-{t}",
        messages=[{"role": "system", "content": "Be terse."}, *user(f"hello there {t}")],
        temperature=0.2,
        max_tokens=50,
        stop=["zzz"],
    )
    assert r.choices[0].message.content == f"Echo: hello there {t}"
    assert r.choices[0].finish_reason == "stop"
    # Fleet usage: user turn 1 + 3 words, system 1 + 2 words; 4 answer words.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (7, 4, 11)
    rec = upstream(fleet, f"gemini-2.5-flash-{t}")
    assert rec["path"] == f"/gemini/v1beta/models/gemini-2.5-flash-{t}:generateContent"
    assert rec["headers"]["x-goog-api-key"] == GEMINI_KEY
    assert "authorization" not in rec["headers"] and "key=" not in rec["query"]
    body = rec["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": f"hello there {t}"}]}]
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 50, "stopSequences": ["zzz"]}


def test_stream_with_usage(client, fleet):
    t = tag()
    chunks = list(
        client.chat.completions.create(
            model=f"gemini/gemini-2.5-flash-{t}", messages=user(f"one two three {t}"), stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two three {t}"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 5)
    assert all(c.usage is None for c in chunks[:-1])
    rec = upstream(fleet, f"gemini-2.5-flash-{t}")
    assert rec["path"].endswith(":streamGenerateContent") and rec["query"] == "alt=sse"


def test_stream_without_usage_request_hides_usage(client):
    chunks = list(client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=user("a b"), stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_round_trip(client, fleet):
    t = tag()
    model = f"gemini/gemini-2.5-flash-{t}"
    messages = user(f"weather in Paris? {t}")
    r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL], tool_choice="required")
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Paris"}
    decl = upstream(fleet, f"gemini-2.5-flash-{t}")["body"]
    assert decl["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert decl["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
    ]
    r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert r.choices[0].message.content == "Tool said: sunny, 21C"
    contents = upstream(fleet, f"gemini-2.5-flash-{t}")["body"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]
    assert contents[2]["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"content": "sunny, 21C"}}}]


@pytest.mark.parametrize("stream", [False, True])
def test_gemini3_thought_signature_round_trip(client, fleet, stream):
    t = tag()
    model = f"gemini/gemini-3-pro-preview-{t}"
    messages = user(f"weather? {t}")
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL], stream=True))
        calls = reassemble_tool_calls(chunks)
        call = {"id": calls[0]["id"], "type": "function", "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
    else:
        r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
        call = r.choices[0].message.tool_calls[0].model_dump(exclude_none=True)
    # The signature the fleet issued rides in the id: OpenAI clients echo ids verbatim.
    base, sep, signature = call["id"].partition("__thought__")
    assert sep and base and signature
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "rain"},
    ]
    r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert r.choices[0].message.content == "Tool said: rain"
    replay = upstream(fleet, f"gemini-3-pro-preview-{t}")["body"]["contents"][1]["parts"][0]
    assert replay["thoughtSignature"] == signature
    assert replay["functionCall"]["name"] == "get_weather"


def test_reasoning_effort_becomes_thinking(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"gemini/gemini-2.5-flash-{t}", messages=user(f"think {t}"), reasoning_effort="low")
    msg = r.choices[0].message
    assert msg.content == f"Echo: think {t}"
    assert msg.model_extra.get("reasoning_content") == f"Thinking about: Echo: think {t}"
    # 3 answer words + 5 thought words are output; the thought words are reasoning.
    assert r.usage.completion_tokens == 8
    assert r.usage.completion_tokens_details.reasoning_tokens == 5
    sent = upstream(fleet, f"gemini-2.5-flash-{t}")["body"]["generationConfig"]
    assert sent["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


def test_json_schema_response_format(client, fleet):
    t = tag()
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": False}
    r = client.chat.completions.create(
        model=f"gemini/gemini-2.5-flash-{t}", messages=user(f"json {t}"),
        response_format={"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": schema}},
    )
    assert json.loads(r.choices[0].message.content) == {"answer": f"Echo: json {t}"}
    sent = upstream(fleet, f"gemini-2.5-flash-{t}")["body"]["generationConfig"]
    assert sent["responseMimeType"] == "application/json"
    assert sent["responseSchema"] == {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def test_recorded_gemini3_tool_call(client):
    r = client.chat.completions.create(model="gemini/replay:generateContent-tool-call-gemini3", messages=user("weather"))
    call = r.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("weather", {"location": "San Francisco"})
    assert r.choices[0].finish_reason == "tool_calls"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.completion_tokens_details.reasoning_tokens) == (29, 908, 893)


def test_recorded_thinking_stream(client):
    chunks = list(
        client.chat.completions.create(
            model="gemini/replay:streamGenerateContent-thinking-function-call", messages=user("days?"), stream=True,
            stream_options={"include_usage": True},
        )
    )
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices)
    assert reasoning.startswith("**Calculating the Days**")
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["name"] == "now" and calls[0]["arguments"] == "{}"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (38, 174)


# ---------------------------------------------------------------- errors


def _raises(client, model: str, cls: type, status: int, **kw) -> openai.APIStatusError:
    try:
        client.chat.completions.create(model=model, messages=user("x"), **kw)
    except openai.APIStatusError as e:
        check_sdk_error(e, cls, status)
        no_secrets(e.response.text)
        return e
    raise AssertionError(f"{model}: expected {cls.__name__}")


def test_invalid_key_is_authentication_error(client):
    e = _raises(client, "gemini-badkey/gemini-2.5-flash", openai.AuthenticationError, 401)
    assert "API key not valid" in e.message
    assert "AIza-not-the-fleet-key" not in e.response.text


def test_rate_limit_retry_after_from_retry_info(client):
    e = _raises(client, "gemini/fault:status=429,body=error-429-retry-info", openai.RateLimitError, 429)
    # retryDelay "34.4s" in the body, no Retry-After header upstream.
    assert e.response.headers.get("retry-after") == "35"


def test_error_classes(client):
    _raises(client, "gemini/fault:status=400", openai.BadRequestError, 400)
    _raises(client, "gemini/fault:status=403", openai.PermissionDeniedError, 403)
    _raises(client, "gemini/fault:status=404", openai.NotFoundError, 404)
    e = _raises(client, "gemini/fault:status=503", openai.InternalServerError, 503)
    assert "overloaded" in e.message
    _raises(client, "gemini/fault:status=500", openai.InternalServerError, 500)


def test_mid_stream_error_raises(client):
    stream = client.chat.completions.create(model="gemini/replay:streamGenerateContent-error-mid-stream", messages=user("x"), stream=True)
    text = ""
    with pytest.raises(openai.APIError) as info:
        for c in stream:
            if c.choices:
                text += c.choices[0].delta.content or ""
    assert text == "First Second "
    assert "cancelled" in str(info.value).lower()


def test_cut_stream_raises(client):
    stream = client.chat.completions.create(
        model="gemini/fault:cut_after=2|gemini-2.5-flash", messages=user("one two three four five"), stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


# ---------------------------------------------------------------- Vertex AI


@pytest.mark.parametrize("stream", [False, True])
def test_vertex_minted_token(client, fleet, stream):
    t = tag()
    model = f"vertex/gemini-2.5-flash-{t}"
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=user(f"hi {t}"), stream=True, stream_options={"include_usage": True}))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: hi {t}"
        assert chunks[-1].usage.completion_tokens == 3
    else:
        r = client.chat.completions.create(model=model, messages=user(f"hi {t}"))
        assert r.choices[0].message.content == f"Echo: hi {t}"
    rec = upstream(fleet, f"gemini-2.5-flash-{t}")
    method = "streamGenerateContent" if stream else "generateContent"
    assert rec["path"] == f"/vertex/v1/projects/dx-fleet-test/locations/us-central1/publishers/google/models/gemini-2.5-flash-{t}:{method}"
    assert rec["headers"]["authorization"].startswith("Bearer ya29.fleet-")
    assert "x-goog-api-key" not in rec["headers"]


def test_vertex_token_is_minted_once_and_reused(client, fleet):
    email = "mint-check" + SA_DOMAIN
    mints_url = f"{fleet.base_url}/_fleet/oauth2/mints"
    before = requests.get(mints_url, timeout=5).json()["by_email"].get(email, 0)
    t = tag()
    n = 12
    for i in range(n):
        r = client.chat.completions.create(model=f"vertex-mint/gemini-2.5-flash-{t}", messages=user(f"r{i}"))
        assert r.choices[0].message.content == f"Echo: r{i}"
    minted = requests.get(mints_url, timeout=5).json()["by_email"][email] - before
    tokens = [rec["headers"]["authorization"] for rec in fleet.requests(model=f"gemini-2.5-flash-{t}")]
    assert len(tokens) == n
    # One token per gateway process at most (the Lambda emulator runs several
    # instances and spreads requests over them); every minted token is used,
    # and tokens are reused rather than minted per request.
    instances = int(os.environ.get("DX_LAMBDA_INSTANCES", "4"))
    assert 1 <= minted <= instances, minted
    assert len(set(tokens)) <= minted
    assert max(tokens.count(tok) for tok in set(tokens)) >= 2


def test_vertex_pre_minted_api_key_token(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"vertex-static/gemini-2.5-flash-{t}", messages=user("hi"))
    assert r.choices[0].message.content == "Echo: hi"
    assert upstream(fleet, f"gemini-2.5-flash-{t}")["headers"]["authorization"] == "Bearer ya29.fleet-static-token"


def test_vertex_refused_credentials_are_401(client, fleet):
    e = _raises(client, f"vertex-refused/gemini-2.5-flash-{tag()}", openai.AuthenticationError, 401)
    assert "invalid_grant" in e.message and "refused-gateway" + SA_DOMAIN in e.message
