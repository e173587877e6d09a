"""Self-test of the fake provider fleet (no gateway needed): the official
``openai`` SDK and raw HTTP against ``tests/fleet/server.py``."""

from __future__ import annotations

import json
import time
import uuid

import openai
import pytest
import requests

from fleet import fixtures
from fleet.openai_face import words

KEY = "sk-fleet-openai"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a place",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}, "days": {"type": "integer"}},
            "required": ["location", "unit", "days"],
        },
    },
}


@pytest.fixture
def sdk(fleet) -> openai.OpenAI:
    return openai.OpenAI(base_url=fleet.openai_base, api_key=KEY, max_retries=0, timeout=20)


def post(fleet, body, *, key: str | None = KEY, stream: bool = False, headers: dict | None = None, raw: bytes | None = None, timeout=20):
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(f"{fleet.openai_base}/chat/completions", data=data, headers=h, stream=stream, timeout=timeout)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def sse_payloads(body: bytes) -> list[str]:
    return [line[len(b"data: "):].decode() for line in body.split(b"\n") if line.startswith(b"data: ")]


# ---------------------------------------------------------------- control plane


def test_health(fleet):
    r = requests.get(f"{fleet.base_url}/_fleet/health", timeout=5)
    assert r.status_code == 200
    assert "openai" in r.json()["faces"]


def test_request_log_filters_by_model_and_resets(fleet):
    tag = uuid.uuid4().hex
    for i in range(3):
        assert post(fleet, {"model": f"log-{tag}", "messages": user(f"m{i}")}, headers={"X-Custom": "v"}).status_code == 200
    post(fleet, {"model": f"other-{tag}", "messages": user("x")})
    recs = fleet.requests(f"log-{tag}")
    assert [r["body"]["messages"][0]["content"] for r in recs] == ["m0", "m1", "m2"]  # newest last
    assert recs[0]["path"] == "/openai/v1/chat/completions" and recs[0]["method"] == "POST"
    assert recs[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert recs[0]["headers"]["x-custom"] == "v"
    assert len(fleet.requests(f"other-{tag}")) == 1
    # invalid bodies are recorded too
    post(fleet, None, raw=b"{nope")
    assert fleet.requests()[-1]["raw"] == "{nope"
    fleet.reset()
    assert fleet.requests() == []


# ---------------------------------------------------------------- generated answers


def test_models_list(sdk):
    ids = [m.id for m in sdk.models.list()]
    assert "gpt-4o-mini" in ids


def test_non_stream_echo_and_usage(sdk):
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "system", "content": "be brief"}, *user("hello there world")])
    assert r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-") and r.system_fingerprint and r.created > 0
    assert r.model == "gpt-4o-mini"
    c = r.choices[0]
    assert c.message.content == "Echo: hello there world" and c.finish_reason == "stop"
    # prompt: (2 words + 1) + (3 words + 1); completion: 4 words
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (7, 4, 11)


def test_multimodal_text_parts_are_echoed(sdk):
    r = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "text", "text": "this?"},
        ]}],
    )
    assert r.choices[0].message.content == "Echo: what is this?"


def test_stream_with_usage(sdk):
    chunks = list(sdk.chat.completions.create(model="gpt-4o-mini", messages=user("one two three"), stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 4  # one per word
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(fleet):
    r = post(fleet, {"model": "gpt-4o-mini", "messages": user("a b"), "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(r.content)
    assert payloads[-1] == "[DONE]"
    objs = [json.loads(p) for p in payloads[:-1]]
    assert all("usage" not in o for o in objs)
    assert all(o["choices"] for o in objs)


def test_n_choices(sdk):
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert all(c.message.content == "Echo: hi" for c in r.choices)
    assert r.usage.completion_tokens == 6
    chunks = list(sdk.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), n=2, stream=True))
    by_index: dict[int, str] = {}
    for c in chunks:
        for ch in c.choices:
            by_index[ch.index] = by_index.get(ch.index, "") + (ch.delta.content or "")
    assert by_index == {0: "Echo: hi", 1: "Echo: hi"}


def test_tool_call_non_stream(sdk):
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("weather?"), tools=[WEATHER_TOOL])
    c = r.choices[0]
    assert c.finish_reason == "tool_calls" and c.message.content is None
    tc = c.message.tool_calls[0]
    assert tc.id.startswith("call_") and tc.type == "function" and tc.function.name == "get_weather"
    assert json.loads(tc.function.arguments) == {"location": "Paris", "unit": "c", "days": 1}


def test_tool_call_stream(sdk):
    chunks = list(sdk.chat.completions.create(model="gpt-4o-mini", messages=user("weather?"), tools=[WEATHER_TOOL], stream=True))
    first = chunks[0].choices[0].delta.tool_calls[0]
    assert first.index == 0 and first.id.startswith("call_") and first.function.name == "get_weather"
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or "" for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(args)["location"] == "Paris"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.tool_calls) > 3  # arguments arrive in fragments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_choice_none_and_tool_result(sdk):
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("no tools"), tools=[WEATHER_TOOL], tool_choice="none")
    assert r.choices[0].message.content == "Echo: no tools"
    msgs = [
        *user("weather?"),
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 22C"},
    ]
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=msgs, tools=[WEATHER_TOOL])
    assert r.choices[0].message.content == "Tool said: sunny, 22C" and r.choices[0].finish_reason == "stop"


def test_json_mode_stop_max_tokens_logprobs(sdk, fleet):
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("answer in JSON"), response_format={"type": "json_object"})
    assert json.loads(r.choices[0].message.content) == {"answer": "Echo: answer in JSON"}
    r = post(fleet, {"model": "gpt-4o-mini", "messages": user("plain"), "response_format": {"type": "json_object"}})
    assert r.status_code == 400 and "json" in r.json()["error"]["message"]
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("alpha beta STOP gamma"), stop=["STOP"])
    assert r.choices[0].message.content == "Echo: alpha beta " and r.choices[0].finish_reason == "stop"
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("alpha beta gamma"), max_completion_tokens=2)
    assert r.choices[0].message.content == "Echo: alpha" and r.choices[0].finish_reason == "length"
    r = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("alpha beta"), logprobs=True, top_logprobs=2)
    lp = r.choices[0].logprobs.content
    assert [t.token for t in lp] == ["Echo:", " alpha", " beta"] and len(lp[0].top_logprobs) == 2


# ---------------------------------------------------------------- replays


@pytest.mark.parametrize("stem", ["chat-stream-refusal", "chat-stream-n3-multiple-choices", "chat-stream-tool-call-usage", "chat-stream-text-usage"])
def test_replay_sse_byte_for_byte(fleet, stem):
    r = post(fleet, {"model": f"replay:{stem}", "messages": user("x"), "stream": True})
    assert r.status_code == 200
    assert r.content == (fixtures.fixtures_dir() / "openai" / f"{stem}.sse").read_bytes()


def test_replay_chunks_jsonl_reframed(fleet):
    r = post(fleet, {"model": "replay:chat-stream-text-usage.chunks.jsonl", "messages": user("x"), "stream": True})
    lines = (fixtures.fixtures_dir() / "openai" / "chat-stream-text-usage.chunks.jsonl").read_bytes().splitlines()
    assert r.content == b"".join(b"data: " + ln + b"\n\n" for ln in lines if ln.strip()) + b"data: [DONE]\n\n"


def test_replay_json_and_errors(fleet, sdk):
    r = post(fleet, {"model": "replay:chat-completion-parallel-tool-calls", "messages": user("x")})
    assert r.status_code == 200 and r.content == (fixtures.fixtures_dir() / "openai" / "chat-completion-parallel-tool-calls.json").read_bytes()
    with pytest.raises(openai.RateLimitError) as e:
        sdk.chat.completions.create(model="replay:error-insufficient-quota-429", messages=user("x"))
    assert e.value.status_code == 429 and e.value.code == "insufficient_quota"
    with pytest.raises(openai.BadRequestError) as e:  # error fixtures win over stream: true
        sdk.chat.completions.create(model="replay:error-unsupported-parameter-400", messages=user("x"), stream=True)
    assert e.value.code == "unsupported_parameter"
    r = post(fleet, {"model": "replay:no-such-fixture", "messages": user("x"), "stream": True})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("fleet:")
    r = post(fleet, {"model": "replay:chat-stream-refusal", "messages": user("x")})  # no .json for a stream-only fixture
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("fleet:")


# ---------------------------------------------------------------- faults


def test_fault_status_and_retry_after(fleet, sdk):
    with pytest.raises(openai.RateLimitError) as e:
        sdk.chat.completions.create(model="fault:status=429,retry_after=7", messages=user("x"))
    assert e.value.response.headers["retry-after"] == "7"
    assert e.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError) as e:
        sdk.chat.completions.create(model="fault:status=503|gpt-4o-mini", messages=user("x"), stream=True)
    assert e.value.status_code == 503 and e.value.type == "server_error"
    r = post(fleet, {"model": "fault:status=400,body=error-unsupported-parameter-400", "messages": user("x")})
    assert r.status_code == 400
    assert r.content == (fixtures.fixtures_dir() / "openai" / "error-unsupported-parameter-400.json").read_bytes()


def test_fault_grammar_errors_are_loud(fleet):
    for model in ("fault:statuss=500", "fault:status=abc", "fault:", "fault:body=x", "fault:status=200"):
        r = post(fleet, {"model": model, "messages": user("x")})
        assert r.status_code == 400, model
        assert r.json()["error"]["message"].startswith("fleet:"), model


def test_fault_echo_key_and_key_at(fleet):
    r = post(fleet, {"model": "fault:status=401,echo_key=all", "messages": user("x")})
    assert r.status_code == 401
    err = r.json()["error"]
    assert [err[f] for f in ("message", "type", "param", "code")] == [f"Bearer {KEY}"] * 4
    r = post(fleet, {"model": "fault:status=400,echo_key=param", "messages": user("x")})
    assert r.json()["error"]["param"] == f"Bearer {KEY}"
    assert r.json()["error"]["message"] != f"Bearer {KEY}"
    r = post(fleet, {"model": "fault:status=502,key_at=990", "messages": user("x")})
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.index(KEY) == 990
    for bad in ("fault:echo_key=all", "fault:status=400,echo_key=nope", "fault:answer=xml"):
        r = post(fleet, {"model": bad, "messages": user("x")})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("fleet:"), bad


def test_fault_answer_not_a_stream(fleet):
    body = {"model": "fault:answer=json|gpt-4o-mini", "messages": user("one two"), "stream": True}
    r = post(fleet, body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["choices"][0]["message"]["content"] == "Echo: one two"
    r = post(fleet, {**body, "model": "fault:answer=html|gpt-4o-mini"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    # Without stream the fault changes nothing.
    r = post(fleet, {**body, "stream": False})
    assert r.json()["choices"][0]["message"]["content"] == "Echo: one two"


def test_fault_delay_headers(sdk):
    t0 = time.monotonic()
    r = sdk.chat.completions.create(model="fault:delay_headers_ms=600|gpt-4o-mini", messages=user("slow"))
    assert time.monotonic() - t0 >= 0.6
    assert r.choices[0].message.content == "Echo: slow" and r.model == "gpt-4o-mini"


def test_fault_delay_chunks_streams_for_real(fleet):
    r = post(fleet, {"model": "fault:delay_chunks_ms=200|gpt-4o-mini", "messages": user("a b c"), "stream": True}, stream=True)
    stamps = []
    for line in r.iter_lines():
        if line.startswith(b"data: "):
            stamps.append(time.monotonic())
    # role, 4 words, finish, [DONE] = 7 events, 6 gaps of 200 ms, each seen separately
    assert len(stamps) == 7
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) >= 0.15, gaps


def test_fault_delay_chunks_with_replay(fleet):
    t0 = time.monotonic()
    r = post(fleet, {"model": "fault:delay_chunks_ms=50|replay:chat-stream-finish-length", "messages": user("x"), "stream": True})
    assert time.monotonic() - t0 >= 4 * 0.05
    assert r.content == (fixtures.fixtures_dir() / "openai" / "chat-stream-finish-length.sse").read_bytes()


@pytest.mark.parametrize("key", ["cut_after", "reset_after"])
def test_fault_cut_is_a_real_disconnect(fleet, key):
    r = post(fleet, {"model": f"fault:{key}=3|gpt-4o-mini", "messages": user("a b c d e"), "stream": True}, stream=True)
    got = []
    with pytest.raises(requests.exceptions.RequestException):
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                got.append(line)
    if key == "cut_after":
        assert len(got) == 3


def test_fault_cut_non_stream(fleet, sdk):
    with pytest.raises(openai.APIConnectionError):
        sdk.chat.completions.create(model="fault:cut_after=0|gpt-4o-mini", messages=user("x"))


def test_fault_garbage_after(fleet):
    r = post(fleet, {"model": "fault:garbage_after=2|gpt-4o-mini", "messages": user("a b c"), "stream": True})
    assert r.status_code == 200
    body = r.content
    head, _, tail = body.partition(b"data: {not json\n\n")
    assert len(sse_payloads(head)) == 2 and all(json.loads(p) for p in sse_payloads(head))
    with pytest.raises(UnicodeDecodeError):
        tail.decode("utf-8")
    r = post(fleet, {"model": "fault:garbage_after=0", "messages": user("x")})
    with pytest.raises(ValueError):
        json.loads(r.content)


def test_fault_stall(fleet):
    t0 = time.monotonic()
    r = post(fleet, {"model": "fault:stall_after=2,stall_ms=700|gpt-4o-mini", "messages": user("a b"), "stream": True}, stream=True)
    got = 0
    with pytest.raises(requests.exceptions.RequestException):
        for line in r.iter_lines():
            got += line.startswith(b"data: ")
    assert got == 2 and time.monotonic() - t0 >= 0.7


# ---------------------------------------------------------------- validation


def _err(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) == {"message", "type", "param", "code"}
    return e


def test_auth_is_checked(fleet, sdk):
    e = _err(post(fleet, {"model": "gpt-4o-mini", "messages": user("x")}, key=None), 401)
    assert e["code"] == "invalid_api_key"
    e = _err(post(fleet, {"model": "gpt-4o-mini", "messages": user("x")}, key="sk-wrong-secret-key-123"), 401)
    assert e["code"] == "invalid_api_key" and "sk-wrong-secret-key-123" not in e["message"]
    bad = openai.OpenAI(base_url=fleet.openai_base, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


@pytest.mark.parametrize(
    "body, param, code",
    [
        ({"messages": user("x")}, None, None),
        ({"model": 5, "messages": user("x")}, "model", "invalid_type"),
        ({"model": "m"}, "messages", "missing_required_parameter"),
        ({"model": "m", "messages": []}, "messages", "empty_array"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role", "missing_required_parameter"),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
        ({"model": "m", "messages": user("x"), "stream_options": {"include_usage": True}}, "stream_options", None),
        ({"model": "m", "messages": user("x"), "stream": False, "stream_options": {"include_usage": True}}, "stream_options", None),
        ({"model": "m", "messages": user("x"), "n": 0}, "n", "integer_out_of_range"),
        ({"model": "m", "messages": [{"role": "tool", "tool_call_id": "c1", "content": "x"}]}, "messages[0].role", None),
        ({"model": "m", "messages": [*user("x"), {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, *user("y")]}, "messages[2].role", None),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}, "messages[0].content[0].type", "invalid_value"),
    ],
)
def test_request_validation(fleet, body, param, code):
    e = _err(post(fleet, body), 400)
    assert e["type"] == "invalid_request_error"
    assert (e["param"], e["code"]) == (param, code)


def test_bad_json_and_content_type(fleet):
    e = _err(post(fleet, None, raw=b'{"model": "m", "messages": ['), 400)
    assert "could not parse the JSON body" in e["message"]
    e = _err(post(fleet, {"model": "m", "messages": user("x")}, headers={"Content-Type": "text/plain"}), 400)
    assert "Content-Type" in e["message"]


def test_wrong_path_is_404(fleet):
    r = requests.post(f"{fleet.base_url}/openai/v1/chat/completion", json={}, headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
    assert _err(r, 404)["message"] == "Invalid URL (POST /v1/chat/completion)"
    r = requests.get(f"{fleet.openai_base}/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
    assert r.status_code == 404
    assert requests.get(f"{fleet.base_url}/nowhere", timeout=5).status_code == 404


def test_words_split_keeps_every_character():
    for text in ["Echo: a  b", "  lead", "trail  ", "", "x"]:
        assert "".join(words(text)) == text
