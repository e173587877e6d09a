"""Provider quirks through the fleet's OpenAI face, which refuses what OpenAI
refuses per model family (``max_tokens`` and non-default ``temperature`` for
reasoning models, system turns for o1-mini, ...): every test here fails if
the gateway forgets the quirk. What the gateway changed comes back in the
``x-dx-adjusted`` header and goes into the access log.

Deployments: ``openai/<model>`` (passthrough), ``quirks-translated/*``
(``passthrough = false``: the unified path) and ``quirks-strict/*``
(``drop_params = false``), see deployments/quirks.json."""

from __future__ import annotations

import json
import time

import openai
import pytest

from sdk import check_sdk_error, tag, user

CHAT_PATH = "/openai/v1/chat/completions"


def upstream(fleet, model: str) -> dict:
    got = fleet.requests(model=model)
    assert got, f"the fleet saw no request for {model}"
    assert got[-1]["path"] == CHAT_PATH
    return got[-1]["body"]


def access_log_line(gateway, model: str) -> dict | None:
    """The gateway's JSON access-log line for ``model`` (Lambda shell: its stdout is in the runtime's log)."""
    if gateway.proc is None or gateway.name != "lambda":
        return None
    for _ in range(40):
        for line in reversed(gateway.proc.log_path.read_text(errors="replace").splitlines()):
            if line.startswith("{") and f'"model":"{model}"' in line:
                return json.loads(line)
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {model} in {gateway.proc.log_path}")


def test_reasoning_model_passthrough(client, fleet, gateway):
    t = tag()
    model = f"openai/o3-mini-{t}"
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=user(f"hi {t}"), temperature=0.2, top_p=0.5, presence_penalty=0.3,
        frequency_penalty=0, max_tokens=20, seed=3,
    )
    assert raw.headers["x-dx-adjusted"] == "temperature,top_p,presence_penalty,max_tokens->max_completion_tokens"
    assert raw.parse().choices[0].message.content == f"Echo: hi {t}"
    body = upstream(fleet, f"o3-mini-{t}")
    assert body["max_completion_tokens"] == 20 and body["seed"] == 3 and body["frequency_penalty"] == 0
    assert not {"max_tokens", "temperature", "top_p", "presence_penalty"} & set(body)
    line = access_log_line(gateway, model)
    if line is not None:
        assert line["adjusted"] == "temperature,top_p,presence_penalty,max_tokens->max_completion_tokens"


def test_gpt5_stream_is_adjusted_too(client, fleet):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(
        model=f"openai/gpt-5-mini-{t}", messages=user("a b c"), temperature=0.7, logprobs=True, top_logprobs=2,
        stream=True, stream_options={"include_usage": True},
    )
    assert raw.headers["x-dx-adjusted"] == "temperature,logprobs,top_logprobs"
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: a b c"
    assert chunks[-1].usage.completion_tokens == 4
    assert not {"temperature", "logprobs", "top_logprobs"} & set(upstream(fleet, f"gpt-5-mini-{t}"))


def test_defaults_are_kept_and_not_reported(client, fleet):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(
        model=f"openai/o4-mini-{t}", messages=user("x"), temperature=1, max_completion_tokens=30,
    )
    assert "x-dx-adjusted" not in raw.headers
    body = upstream(fleet, f"o4-mini-{t}")
    assert body["temperature"] == 1 and body["max_completion_tokens"] == 30


def test_chat_models_are_left_alone(client, fleet):
    t = tag()
    for model in (f"gpt-4o-{t}", f"gpt-5-chat-latest-{t}"):
        raw = client.chat.completions.with_raw_response.create(
            model=f"openai/{model}", messages=[{"role": "system", "content": "s"}, *user("x")], temperature=0.2, max_tokens=9,
        )
        assert "x-dx-adjusted" not in raw.headers
        body = upstream(fleet, model)
        assert body["temperature"] == 0.2 and body["max_tokens"] == 9


def test_o1_mini_gets_system_turns_as_user_turns(client, fleet):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(
        model=f"openai/o1-mini-{t}", messages=[{"role": "system", "content": "rules"}, *user(f"q {t}")],
    )
    assert raw.headers["x-dx-adjusted"] == "system->user"
    assert upstream(fleet, f"o1-mini-{t}")["messages"] == [{"role": "user", "content": "rules"}, {"role": "user", "content": f"q {t}"}]


def test_unified_path_renames_and_drops(client, fleet):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(
        model=f"quirks-translated/o3-{t}", messages=user("x"), temperature=0.5, max_tokens=12,
    )
    assert raw.headers["x-dx-adjusted"] == "temperature,max_tokens->max_completion_tokens"
    assert raw.parse().choices[0].message.content == "Echo: x"
    body = upstream(fleet, f"o3-{t}")
    assert body["max_completion_tokens"] == 12
    assert "max_tokens" not in body and "temperature" not in body


def test_drop_params_off_refuses_with_the_parameter_named(client, fleet):
    t = tag()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=f"quirks-strict/o3-{t}", messages=user("x"), temperature=0.2)
    err = check_sdk_error(info.value, openai.BadRequestError, 400, code="unsupported_parameter")
    assert err["param"] == "temperature" and "`temperature`" in err["message"]
    assert fleet.requests(model=f"o3-{t}") == []
    # A rename loses nothing, so it still happens.
    raw = client.chat.completions.with_raw_response.create(model=f"quirks-strict/o3-{t}", messages=user("x"), max_tokens=7)
    assert raw.headers["x-dx-adjusted"] == "max_tokens->max_completion_tokens"


def test_without_the_quirk_the_fleet_refuses_like_openai(client):
    """An OpenAI-compatible upstream gets no OpenAI quirks: the fleet's 400 comes back as is."""
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="fleet/o3-mini", messages=user("x"), max_tokens=5)
    err = check_sdk_error(info.value, openai.BadRequestError, 400, code="unsupported_parameter")
    assert err["param"] == "max_tokens"
