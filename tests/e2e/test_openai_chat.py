"""End to end: the official ``openai`` SDK against both gateway shells
(``gateway`` fixture: worker under ``wrangler dev``, lambda under the local
Runtime API), with the fake provider fleet upstream.

Every test runs once per shell.  Upstream behaviour is picked through the
model name (``fleet/<fleet grammar>``, see tests/fleet/faults.py).
"""

from __future__ import annotations

import asyncio
import json
import time



import openai
import pytest
import requests

from conftest import FLEET_KEY, MASTER_KEY
from fleet import fixtures
from sdk import (
    UPSTREAM_PATH,
    WEATHER_TOOL,
    check_error_body,
    check_sdk_error,
    fixture_chunks,
    raw_post,
    reassemble_tool_calls,
    sse_data_lines,
    tag,
    user,
)

# ---------------------------------------------------------------- basics


def test_health(gateway):
    r = requests.get(f"{gateway.base_url}/health", timeout=10)
    assert r.status_code == 200


def test_models_list_has_configured_names(client):
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o-mini", "mock-chat"} <= ids, ids


def test_chat_non_stream_through_alias(client, fleet):
    t = tag()
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": f"Say hi {t}"}]
    r = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == f"Echo: Say hi {t}"
    assert r.choices[0].finish_reason == "stop"
    # usage as computed by the fleet: (3+1) + (3+1) prompt words, 4 completion words
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (8, 4, 12)

    rec = fleet.request_with("gpt-4o-mini-2024-07-18", t)
    assert rec["path"] == UPSTREAM_PATH and rec["method"] == "POST"
    assert rec["headers"]["authorization"] == f"Bearer {FLEET_KEY}"
    assert rec["body"]["model"] == "gpt-4o-mini-2024-07-18"
    assert rec["body"]["messages"] == messages
    assert MASTER_KEY not in json.dumps(rec["headers"]), "the client's gateway key must not go upstream"


def test_params_pass_through_unchanged(client, fleet):
    t = tag()
    messages = user(f"Reply in JSON please {t}")
    params = dict(
        response_format={"type": "json_object"},
        n=3,
        stop=["\n\n", "zzz"],
        seed=42,
        user=f"user-{t}",
        logprobs=True,
        top_logprobs=2,
        temperature=0.3,
        top_p=0.9,
        presence_penalty=0.1,
        frequency_penalty=0.2,
    )
    r = client.chat.completions.create(model="gpt-4o-mini", messages=messages, **params)
    assert [c.index for c in r.choices] == [0, 1, 2]
    for c in r.choices:
        assert json.loads(c.message.content) == {"answer": f"Echo: Reply in JSON please {t}"}
        assert c.logprobs is not None and c.logprobs.content and len(c.logprobs.content[0].top_logprobs) == 2
    body = fleet.request_with("gpt-4o-mini-2024-07-18", t)["body"]
    for k, v in params.items():
        assert body.get(k) == v, f"{k}: sent {v!r}, upstream got {body.get(k)!r}"
    assert body["messages"] == messages


def test_multimodal_content_parts_pass_through(client, fleet):
    t = tag()
    messages = [{"role": "user", "content": [
        {"type": "text", "text": f"What is in this image {t}?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "detail": "low"}},
    ]}]
    r = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert r.choices[0].message.content == f"Echo: What is in this image {t}?"
    assert fleet.request_with("gpt-4o-mini-2024-07-18", t)["body"]["messages"] == messages


def test_unknown_fields_pass_through(client, fleet):
    t = tag()
    extra = {"x_dx_test_field": {"nested": [1, 2, {"k": t}]}, "metadata": {"trace": t}}
    client.chat.completions.create(model="gpt-4o-mini", messages=user(f"extra {t}"), extra_body=extra)
    body = fleet.request_with("gpt-4o-mini-2024-07-18", t)["body"]
    for k, v in extra.items():
        assert body.get(k) == v, f"{k}: upstream got {body.get(k)!r}"


def test_wildcard_route_sends_the_rest_upstream(client, fleet):
    t = tag()
    r = client.chat.completions.create(model="fleet/gpt-4.1-nano", messages=user(f"wild {t}"))
    assert r.choices[0].message.content == f"Echo: wild {t}"
    rec = fleet.request_with("gpt-4.1-nano", t)
    assert rec["headers"]["authorization"] == f"Bearer {FLEET_KEY}" and rec["path"] == UPSTREAM_PATH


def test_configless_openai_route_uses_env_key(client, fleet):
    t = tag()
    r = client.chat.completions.create(model="openai/gpt-4o-mini", messages=user(f"configless {t}"))
    assert r.choices[0].message.content == f"Echo: configless {t}"
    rec = fleet.request_with("gpt-4o-mini", t)
    assert rec["path"] == UPSTREAM_PATH
    assert rec["headers"]["authorization"] == f"Bearer {FLEET_KEY}"


# ---------------------------------------------------------------- streaming


def test_stream_with_include_usage(client, fleet):
    t = tag()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=user(f"stream me {t}"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)  # a clean end: no exception
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: stream me {t}"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2, "content should arrive in several chunks"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.usage is not None and last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (4, 4)
    assert sum(1 for c in chunks if c.usage is not None) == 1


def test_stream_without_include_usage_gets_no_usage(client, fleet):
    t = tag()
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=user(f"no usage {t}"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: no usage {t}"
    assert all(c.usage is None for c in chunks), "usage chunk must be stripped when the client did not ask for it"
    assert all(c.choices for c in chunks), "no choices:[] usage chunk either"
    body = fleet.request_with("gpt-4o-mini-2024-07-18", t)["body"]
    assert body.get("stream") is True
    assert (body.get("stream_options") or {}).get("include_usage") is True, "gateway should ask upstream for usage"


def test_stream_raw_framing_ends_with_done(gateway):
    t = tag()
    r = raw_post(gateway, {"model": "gpt-4o-mini", "messages": user(f"raw {t}"), "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    data = sse_data_lines(r.text)
    assert data[-1] == "[DONE]"
    for d in data[:-1]:
        assert json.loads(d)["object"] == "chat.completion.chunk"


def test_stream_chunks_are_relayed_as_they_arrive(client):
    t = tag()
    stamps = []
    stream = client.chat.completions.create(model="fleet/fault:delay_chunks_ms=300|gpt-4o-mini", messages=user(f"one two {t}"), stream=True)
    for c in stream:
        if c.choices and c.choices[0].delta.content:
            stamps.append(time.monotonic())
    assert len(stamps) == 4  # "Echo:", " one", " two", " <tag>"
    assert stamps[-1] - stamps[0] >= 0.6, f"chunks were buffered: first..last content {stamps[-1] - stamps[0]:.3f}s apart"


def test_long_stream_with_steady_chunks_outlives_request_timeout(client):
    # request_timeout_ms is 2000 (time to the upstream's headers); stream_idle_timeout_ms is 2000
    # between chunks.  A 4 s stream with a chunk every 400 ms must complete.
    t = tag()
    stream = client.chat.completions.create(model="fleet/fault:delay_chunks_ms=400|gpt-4o-mini", messages=user(f"a b c d e f {t}"), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"Echo: a b c d e f {t}"


# ---------------------------------------------------------------- tools


def test_tool_call_non_stream(client, fleet):
    t = tag()
    r = client.chat.completions.create(model="gpt-4o-mini", messages=user(f"weather in Paris? {t}"), tools=[WEATHER_TOOL])
    c = r.choices[0]
    assert c.finish_reason == "tool_calls"
    assert len(c.message.tool_calls) == 1
    tc = c.message.tool_calls[0]
    assert tc.type == "function" and tc.id and tc.function.name == "get_weather"
    assert json.loads(tc.function.arguments) == {"location": "Paris"}
    assert fleet.request_with("gpt-4o-mini-2024-07-18", t)["body"]["tools"] == [WEATHER_TOOL]


def test_tool_call_stream(client):
    t = tag()
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=user(f"weather? {t}"), tools=[WEATHER_TOOL], stream=True))
    calls = reassemble_tool_calls(chunks)
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["tool_calls"]


def test_tool_round_trip(client, fleet):
    t = tag()
    first = client.chat.completions.create(model="gpt-4o-mini", messages=user(f"weather? {t}"), tools=[WEATHER_TOOL])
    tc = first.choices[0].message.tool_calls[0]
    messages = [
        *user(f"weather? {t}"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": tc.id, "type": "function", "function": {"name": tc.function.name, "arguments": tc.function.arguments}}
        ]},
        {"role": "tool", "tool_call_id": tc.id, "content": f"22C and sunny {t}"},
    ]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == f"Tool said: 22C and sunny {t}"
    assert second.choices[0].finish_reason == "stop"
    recs = [r for r in fleet.requests("gpt-4o-mini-2024-07-18") if f"22C and sunny {t}" in json.dumps(r["body"])]
    assert len(recs) == 1
    assert [m["role"] for m in recs[0]["body"]["messages"]] == ["user", "assistant", "tool"]
    assert recs[0]["body"]["messages"][2]["tool_call_id"] == tc.id


def test_parallel_tool_calls_replay_non_stream(client):
    expected = json.loads((fixtures.fixtures_dir() / "openai" / "chat-completion-parallel-tool-calls.json").read_text())
    r = client.chat.completions.create(model="fleet/replay:chat-completion-parallel-tool-calls", messages=user("weather and stock"))
    got = r.choices[0].message.tool_calls
    want = expected["choices"][0]["message"]["tool_calls"]
    assert [(g.id, g.function.name) for g in got] == [(w["id"], w["function"]["name"]) for w in want]
    assert [json.loads(g.function.arguments) for g in got] == [json.loads(w["function"]["arguments"]) for w in want]
    assert r.choices[0].finish_reason == "tool_calls"


def test_parallel_tool_calls_replay_stream(client):
    want: dict[int, dict[str, str]] = {}
    for c in fixture_chunks("chat-stream-parallel-tool-calls-usage"):
        for ch in c["choices"]:
            for tc in ch["delta"].get("tool_calls") or []:
                slot = want.setdefault(tc["index"], {"name": "", "arguments": ""})
                slot["name"] += (tc.get("function") or {}).get("name") or ""
                slot["arguments"] += (tc.get("function") or {}).get("arguments") or ""
    chunks = list(client.chat.completions.create(model="fleet/replay:chat-stream-parallel-tool-calls-usage", messages=user("x"), stream=True))
    got = reassemble_tool_calls(chunks)
    assert len(got) == 2
    assert {i: g["name"] for i, g in got.items()} == {i: w["name"] for i, w in want.items()}
    assert {i: json.loads(g["arguments"]) for i, g in got.items()} == {i: json.loads(w["arguments"]) for i, w in want.items()}


# ---------------------------------------------------------------- replays of recorded streams


def test_refusal_stream_replay(client):
    want = "".join(ch["delta"].get("refusal") or "" for c in fixture_chunks("chat-stream-refusal") for ch in c["choices"])
    assert want
    chunks = list(client.chat.completions.create(model="fleet/replay:chat-stream-refusal", messages=user("x"), stream=True))
    got = "".join(ch.delta.refusal or "" for c in chunks for ch in c.choices)
    assert got == want


def test_n3_stream_replay(client):
    want: dict[int, str] = {}
    for c in fixture_chunks("chat-stream-n3-multiple-choices"):
        for ch in c["choices"]:
            want[ch["index"]] = want.get(ch["index"], "") + (ch["delta"].get("content") or "")
    got: dict[int, str] = {}
    for c in client.chat.completions.create(model="fleet/replay:chat-stream-n3-multiple-choices", messages=user("x"), n=3, stream=True):
        for ch in c.choices:
            got[ch.index] = got.get(ch.index, "") + (ch.delta.content or "")
    assert len(got) == 3 and got == want


def test_finish_length(client):
    chunks = list(client.chat.completions.create(model="fleet/replay:chat-stream-finish-length", messages=user("x"), stream=True))
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["length"]
    t = tag()
    r = client.chat.completions.create(model="gpt-4o-mini", messages=user(f"alpha beta {t}"), max_completion_tokens=2)
    assert r.choices[0].finish_reason == "length" and r.choices[0].message.content == "Echo: alpha"


# ---------------------------------------------------------------- mock provider


def test_mock_configured_non_stream(client):
    r = client.chat.completions.create(model="mock-chat", messages=user("hello"))
    assert r.choices[0].message.content == "Hello from the mock provider"
    assert r.choices[0].finish_reason == "stop"


def test_mock_configless_non_stream(client):
    r = client.chat.completions.create(model="mock/anything", messages=user("hello"))
    content = r.choices[0].message.content
    assert isinstance(content, str) and content.strip()


def test_mock_stream(client, gateway):
    chunks = list(client.chat.completions.create(model="mock-chat", messages=user("hello"), stream=True))
    content_chunks = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 2, content_chunks
    assert "".join(content_chunks) == "Hello from the mock provider"
    r = raw_post(gateway, {"model": "mock-chat", "messages": user("hello"), "stream": True})
    assert r.status_code == 200 and sse_data_lines(r.text)[-1] == "[DONE]"


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
def test_mock_tool_call(client, stream):
    if stream:
        chunks = list(client.chat.completions.create(model="mock-chat", messages=user("weather?"), tools=[WEATHER_TOOL], stream=True))
        calls = reassemble_tool_calls(chunks)
        finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
        name, args = calls[0]["name"], calls[0]["arguments"]
    else:
        r = client.chat.completions.create(model="mock-chat", messages=user("weather?"), tools=[WEATHER_TOOL])
        finishes = [r.choices[0].finish_reason]
        name, args = r.choices[0].message.tool_calls[0].function.name, r.choices[0].message.tool_calls[0].function.arguments
    assert finishes == ["tool_calls"]
    assert name == "get_weather"
    assert isinstance(json.loads(args), dict)


# ---------------------------------------------------------------- errors made by the gateway


def test_malformed_json_is_400(gateway):
    r = raw_post(gateway, data=b'{"model": "gpt-4o-mini", "messages": [')
    err = check_error_body(r, 400, type_="invalid_request_error")
    assert "json" in err["message"].lower(), err


def test_missing_messages_is_400(gateway):
    r = raw_post(gateway, {"model": "gpt-4o-mini"})
    err = check_error_body(r, 400, type_="invalid_request_error")
    assert "messages" in err["message"], err


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=user("x"))
    check_sdk_error(e.value, openai.NotFoundError, 404, code="model_not_found")
    assert e.value.code == "model_not_found"


def test_missing_key_is_401(gateway):
    check_error_body(raw_post(gateway, {"model": "gpt-4o-mini", "messages": user("x")}, key=None), 401)


def test_wrong_key_is_401(gateway):
    bad = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="sk-not-the-master-key", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="gpt-4o-mini", messages=user("x"))
    err = check_sdk_error(e.value, openai.AuthenticationError, 401)
    assert "sk-not-the-master-key" not in err["message"]


def test_request_over_max_request_bytes_is_413(client):
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=user("x" * 2_000_000))
    check_sdk_error(e.value, openai.APIStatusError, 413)


# ---------------------------------------------------------------- upstream errors mapped


def test_upstream_400_keeps_upstream_message(client):
    want = json.loads((fixtures.fixtures_dir() / "openai" / "error-unsupported-parameter-400.json").read_text())["error"]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="fleet/replay:error-unsupported-parameter-400", messages=user("x"))
    err = check_sdk_error(e.value, openai.BadRequestError, 400, type_="invalid_request_error")
    assert want["message"] in err["message"], err


def test_upstream_401_is_authentication_error(client):
    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model="fleet/fault:status=401", messages=user("x"))
    check_sdk_error(e.value, openai.AuthenticationError, 401)


def test_upstream_429_keeps_retry_after(client):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="fleet/fault:status=429,retry_after=7", messages=user("x"))
    check_sdk_error(e.value, openai.RateLimitError, 429)
    assert e.value.response.headers.get("retry-after") == "7"


@pytest.mark.parametrize("status", [500, 503])
def test_upstream_5xx_is_internal_server_error(client, status):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model=f"fleet/fault:status={status}", messages=user("x"))
    check_sdk_error(e.value, openai.InternalServerError, status)


def test_upstream_slow_headers_is_504(client):
    t0 = time.monotonic()
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="fleet/fault:delay_headers_ms=4000|gpt-4o-mini", messages=user("x"))
    elapsed = time.monotonic() - t0
    check_sdk_error(e.value, openai.InternalServerError, 504)
    assert elapsed < 3.5, f"gateway timeout is 2000 ms but the answer took {elapsed:.2f}s"


# ---------------------------------------------------------------- broken upstream streams


def _consume_until_error(stream) -> tuple[int, BaseException | None]:
    n = 0
    try:
        for _ in stream:
            n += 1
    except Exception as e:  # noqa: BLE001 - the test inspects the type
        return n, e
    return n, None


def test_stream_cut_midway_is_an_error(client):
    stream = client.chat.completions.create(model="fleet/fault:cut_after=3|gpt-4o-mini", messages=user("one two three four five six"), stream=True)
    n, exc = _consume_until_error(stream)
    assert exc is not None, f"the stream ended cleanly after {n} chunks although upstream was cut"
    assert isinstance(exc, openai.APIError), f"expected openai.APIError, got {type(exc).__name__}: {exc}"
    assert n >= 1, "chunks sent before the cut should have reached the client"


def test_stream_cut_becomes_sse_error_event(gateway):
    # DESIGN: "an upstream failure after the first byte becomes an SSE error event,
    # never a 200 with a truncated body".
    r = raw_post(gateway, {"model": "fleet/fault:cut_after=3|gpt-4o-mini", "messages": user("one two three four"), "stream": True}, stream=True)
    assert r.status_code == 200
    try:
        text = r.content.decode()
    except requests.exceptions.RequestException as e:
        pytest.fail(f"gateway dropped the client connection instead of sending an SSE error event: {e}")
    assert FLEET_KEY not in text
    events = [json.loads(d) for d in sse_data_lines(text) if d != "[DONE]"]
    errors = [e for e in events if isinstance(e.get("error"), dict)]
    assert len(errors) == 1, f"expected one SSE error event, got: {text[-600:]}"
    assert isinstance(errors[0]["error"].get("message"), str) and errors[0]["error"]["message"]
    assert events.index(errors[0]) == len(events) - 1, "the error event must be the last event"


def test_stream_garbage_midway_is_an_error(client):
    stream = client.chat.completions.create(model="fleet/fault:garbage_after=3|gpt-4o-mini", messages=user("one two three four five six"), stream=True)
    n, exc = _consume_until_error(stream)
    assert exc is not None, f"the stream ended cleanly after {n} chunks although upstream sent garbage"
    assert isinstance(exc, openai.APIError), f"expected openai.APIError, got {type(exc).__name__}: {exc}"


def test_stream_stall_hits_idle_timeout(client):
    t0 = time.monotonic()
    stream = client.chat.completions.create(model="fleet/fault:stall_after=3,stall_ms=20000|gpt-4o-mini", messages=user("one two three four"), stream=True)
    n, exc = _consume_until_error(stream)
    elapsed = time.monotonic() - t0
    assert isinstance(exc, openai.APIError), f"expected openai.APIError, got {type(exc).__name__ if exc else 'a clean end'}"
    assert n >= 1
    assert elapsed < 6, f"stream_idle_timeout_ms is 2000 but the stream hung for {elapsed:.1f}s"


def test_upstream_secret_never_reaches_the_client(gateway):
    cases = [
        {"model": "fleet/fault:status=401", "messages": user("x")},
        {"model": "fleet/fault:status=500", "messages": user("x")},
        {"model": "fleet/replay:error-insufficient-quota-429", "messages": user("x")},
        {"model": "fleet/fault:status=400|gpt-4o-mini", "messages": user("x"), "stream": True},
        {"model": "fleet/fault:cut_after=2|gpt-4o-mini", "messages": user("a b c"), "stream": True},
        {"model": "fleet/fault:garbage_after=2|gpt-4o-mini", "messages": user("a b c"), "stream": True},
        {"model": "fleet/fault:delay_headers_ms=4000|gpt-4o-mini", "messages": user("x")},
    ]
    for body in cases:
        r = raw_post(gateway, body, stream=True)
        try:
            text = r.content.decode("utf-8", "replace")
        except requests.exceptions.RequestException:
            text = ""
        assert FLEET_KEY not in text, f"{body['model']}: upstream key leaked"
        assert FLEET_KEY not in json.dumps(dict(r.headers)), f"{body['model']}: upstream key leaked in headers"


# ---------------------------------------------------------------- concurrency


def test_50_concurrent_requests(gateway):
    t = tag()

    async def run() -> list[tuple[str, str]]:
        aclient = openai.AsyncOpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=60)
        try:
            async def one(i: int) -> tuple[str, str]:
                prompt = f"request {i} of {t}"
                r = await aclient.chat.completions.create(model="gpt-4o-mini", messages=user(prompt))
                return prompt, r.choices[0].message.content

            return await asyncio.gather(*(one(i) for i in range(50)))
        finally:
            await aclient.close()

    results = asyncio.run(run())
    assert len(results) == 50
    for prompt, content in results:
        assert content == f"Echo: {prompt}"
