"""Azure OpenAI and Azure AI Foundry end to end: the OpenAI SDK → gateway →
the fleet's Azure face (tests/fleet/azure_face.py).

Routes (tests/e2e/deployments/azure.json): ``azure/<deployment>`` resolves
through the provider table and ``AZURE_API_BASE``/``AZURE_API_KEY`` (default
``api-version``, same-format passthrough); ``azure-translated/*`` rebuilds the
body from the unified request (``passthrough: false``, a preview
``api-version``); ``azure-entra/*`` authenticates with an Entra token;
``azure-badkey/*`` has a wrong key; ``azure_ai/<model>`` is Foundry.
"""

from __future__ import annotations

import json

import openai
import pytest

from sdk import WEATHER_TOOL, check_sdk_error, reassemble_tool_calls, tag, user

AZURE_KEY = "sk-fleet-azure"


def deployment_path(name: str) -> str:
    return f"/azure/openai/deployments/{name}/chat/completions"


def no_secrets(text: str) -> None:
    assert AZURE_KEY not in text and "sk-wrong-azure-key-0000" not in text and "fleet-entra-token" not in text, text


# ---------------------------------------------------------------- passthrough


def test_non_stream_passthrough_keeps_filter_annotations(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"azure/gpt-4o-mini-{t}", messages=user(f"hello {t}"), extra_body={"data_sources_knob": {"x": 1}}
    )
    assert r.choices[0].message.content == f"Echo: hello {t}"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 3)
    dumped = r.model_dump()
    assert dumped["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert dumped["choices"][0]["content_filter_results"]["sexual"]["severity"] == "safe"
    got = fleet.requests(model=f"gpt-4o-mini-{t}")[-1]
    assert got["path"] == deployment_path(f"gpt-4o-mini-{t}")
    assert got["query"] == "api-version=2024-10-21"
    assert got["headers"]["api-key"] == AZURE_KEY
    assert "authorization" not in got["headers"]
    # Same format: fields the gateway does not model reach Azure untouched.
    assert got["body"]["data_sources_knob"] == {"x": 1}


def test_stream_passthrough_with_usage(client, fleet):
    t = tag()
    chunks = list(client.chat.completions.create(
        model=f"azure/gpt-4o-{t}", messages=user(f"one two {t}"), stream=True, stream_options={"include_usage": True}
    ))
    assert chunks[0].id == "" and chunks[0].choices == [], "Azure's prompt annotation is relayed as sent"
    assert chunks[0].model_dump()["prompt_filter_results"][0]["prompt_index"] == 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two {t}"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_stream_passthrough_hides_the_usage_it_asked_for(client, fleet):
    t = tag()
    chunks = list(client.chat.completions.create(model=f"azure/gpt-4o-{t}", messages=user("a b"), stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert fleet.requests(model=f"gpt-4o-{t}")[-1]["body"]["stream_options"] == {"include_usage": True}


def test_replayed_blocked_stream_ends_in_content_filter(client):
    chunks = list(client.chat.completions.create(
        model="azure/replay:chat-stream-content-filter-blocked", messages=user("sing"), stream=True
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta) == "Hey Jude, better"
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_filtered_completion(client):
    r = client.chat.completions.create(model="azure/filtered-x", messages=user("lyrics please"))
    assert r.choices[0].finish_reason == "content_filter"
    assert r.choices[0].message.content is None
    assert r.model_dump()["choices"][0]["content_filter_results"]["protected_material_text"]["filtered"] is True


def test_entra_token_replaces_the_key(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"azure-entra/gpt-4o-{t}", messages=user("hi"))
    assert r.choices[0].message.content == "Echo: hi"
    got = fleet.requests(model=f"gpt-4o-{t}")[-1]
    assert got["headers"]["authorization"] == "Bearer fleet-entra-token"
    assert "api-key" not in got["headers"]


# ---------------------------------------------------------------- translated


def test_translated_non_stream_rebuilds_the_body(client, fleet):
    t = tag()
    r = client.chat.completions.create(
        model=f"azure-translated/gpt-4o-mini-{t}", messages=[{"role": "system", "content": "terse"}, *user(f"hi {t}")],
        temperature=0.3, extra_body={"vendor_only": True},
    )
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens == 5 + 3
    got = fleet.requests(model=f"gpt-4o-mini-{t}")[-1]
    assert got["path"] == deployment_path(f"gpt-4o-mini-{t}")
    assert got["query"] == "api-version=2025-01-01-preview"
    assert got["body"]["temperature"] == 0.3 and "vendor_only" not in got["body"]


def test_translated_stream_drops_annotation_only_chunks(client):
    chunks = list(client.chat.completions.create(
        model="azure-translated/gpt-4o-mini", messages=user("x y"), stream=True, stream_options={"include_usage": True}
    ))
    assert all(c.id for c in chunks), "no empty-id annotation chunk after translation"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: x y"
    assert chunks[-1].usage.prompt_tokens == 3


def test_translated_blocked_stream(client):
    chunks = list(client.chat.completions.create(
        model="azure-translated/replay:chat-stream-content-filter-blocked", messages=user("sing"), stream=True
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hey Jude, better"
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert chunks[-1].id == "chatcmpl-8JCbt5d4luUIhYCI7YH4dQK7hnHx2"


# ---------------------------------------------------------------- tools


@pytest.mark.parametrize("route", ["azure", "azure-translated"])
def test_tool_round_trip(client, fleet, route):
    t = tag()
    model = f"{route}/gpt-4o-mini-{t}"
    first = client.chat.completions.create(model=model, messages=user("weather in Paris?"), tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Paris"}
    history = [*user("weather in Paris?"), first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat.completions.create(model=model, messages=history, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Tool said: sunny"
    sent = fleet.requests(model=f"gpt-4o-mini-{t}")[-1]["body"]["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}


def test_streamed_tool_call(client):
    chunks = list(client.chat.completions.create(model="azure/gpt-4o-mini", messages=user("weather?"), tools=[WEATHER_TOOL], stream=True))
    calls = reassemble_tool_calls(chunks)
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"location": "Paris"}


# ---------------------------------------------------------------- Foundry


def test_foundry_passthrough_with_reasoning(client, fleet):
    t = tag()
    r = client.chat.completions.create(model=f"azure_ai/DeepSeek-R1-{t}", messages=user("hey"))
    assert r.choices[0].message.content == "Echo: hey"
    got = fleet.requests(model=f"DeepSeek-R1-{t}")[-1]
    assert got["path"] == "/azure/models/chat/completions"
    assert got["query"] == "api-version=2024-05-01-preview"
    assert got["headers"]["api-key"] == AZURE_KEY
    r = client.chat.completions.create(model="azure_ai/replay:chat-completion-foundry-deepseek", messages=user("holiday"))
    assert r.model_dump()["choices"][0]["message"]["reasoning_content"].startswith("We need to invent a new holiday")
    assert r.usage.completion_tokens == 1969


def test_foundry_translated_keeps_reasoning(client):
    r = client.chat.completions.create(model="foundry-translated/replay:chat-completion-foundry-deepseek", messages=user("holiday"))
    msg = r.model_dump()["choices"][0]["message"]
    assert msg["reasoning_content"].endswith("The answer should be entertaining.")
    assert msg["content"].startswith("Absolutely! Based on the most recent Knicks game")
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (19, 1969)


# ---------------------------------------------------------------- errors


def test_wrong_key_is_an_authentication_error(client):
    with pytest.raises(openai.AuthenticationError) as ei:
        client.chat.completions.create(model="azure-badkey/gpt-4o", messages=user("x"))
    check_sdk_error(ei.value, openai.AuthenticationError, 401)
    no_secrets(ei.value.response.text)


@pytest.mark.parametrize("route", ["azure", "azure-translated"])
def test_rate_limit_keeps_retry_after(client, route):
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model=f"{route}/fault:status=429,retry_after=7", messages=user("x"))
    assert ei.value.status_code == 429
    assert ei.value.response.headers["retry-after"] == "7"
    assert "exceeded token rate limit" in ei.value.message


@pytest.mark.parametrize("model", ["azure/filtered-prompt-1", "azure-translated/fault:status=400,body=error-content-filter-400"])
def test_prompt_content_filter_is_a_bad_request_with_code(client, model):
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=model, messages=user("something bad"))
    err = check_sdk_error(ei.value, openai.BadRequestError, 400, code="content_filter")
    assert err["param"] == "prompt"
    assert err["message"].endswith("(filtered: hate, self-harm, violence)")
    assert ei.value.code == "content_filter"


def test_unknown_deployment_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="azure/no-such-deployment", messages=user("x"))
    assert check_sdk_error(ei.value, openai.NotFoundError, 404)["code"] == "DeploymentNotFound"


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_keep_their_status(client, status):
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model=f"azure/fault:status={status}", messages=user("x"))
    assert ei.value.status_code == status


@pytest.mark.parametrize("route", ["azure", "azure-translated"])
def test_cut_stream_raises(client, route):
    stream = client.chat.completions.create(
        model=f"{route}/fault:cut_after=3|gpt-4o-mini", messages=user("one two three four five six"), stream=True
    )
    seen = 0
    with pytest.raises(openai.APIError) as ei:
        for _ in stream:
            seen += 1
    assert seen >= 1
    no_secrets(str(ei.value))
