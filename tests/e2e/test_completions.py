"""`POST /v1/completions` (legacy text completions) through the official
OpenAI SDK on both shells: passed through to deployments that complete
prompts themselves (a catalog completion model on OpenAI, a local vLLM
server), served through chat everywhere else (OpenAI chat models,
Anthropic, Gemini, Bedrock), whole and streamed, priced, and refused with
clear 400s where chat has no counterpart."""

from __future__ import annotations

import openai
import pytest

from conftest import FLEET_KEY
from sdk import check_error_body, raw_post, tag

BEDROCK = "fleet-bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"


def last_upstream(fleet, model: str) -> dict:
    got = fleet.requests(model=model)
    assert got, f"the fleet saw no request for {model}"
    return got[-1]


def test_a_completion_model_is_passed_through_and_priced(client, fleet):
    raw = client.completions.with_raw_response.create(
        model="openai/gpt-3.5-turbo-instruct", prompt="Say this is a test", max_tokens=10, temperature=0.2)
    r = raw.parse()
    assert r.object == "text_completion"
    assert r.choices[0].text == "Completed: Say this is a test"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (5, 6)
    # gpt-3.5-turbo-instruct: $1.50 / $2.00 per million tokens.
    assert float(raw.headers["x-dx-cost-usd"]) == pytest.approx((5 * 1.5 + 6 * 2.0) / 1e6, rel=1e-6)
    sent = last_upstream(fleet, "gpt-3.5-turbo-instruct")
    assert sent["path"] == "/openai/v1/completions"
    assert sent["body"] == {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test",
                            "max_tokens": 10, "temperature": 0.2}


def test_a_local_server_completes_batches_and_token_free_streams(client, fleet):
    t = tag()
    r = client.completions.create(model=f"local-vllm/base-{t}", prompt=["one", "two three"], max_tokens=8)
    assert [c.text for c in r.choices] == ["Completed: one", "Completed: two three"]
    assert last_upstream(fleet, f"base-{t}")["path"] == "/openai/v1/completions"
    # A stream the client asked no usage for: the gateway asks for it (to
    # price it) and hides it again.
    chunks = list(client.completions.create(model=f"local-vllm/base-{t}", prompt="four", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Completed: four"
    assert all(c.usage is None for c in chunks)
    sent = last_upstream(fleet, f"base-{t}")["body"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_a_passthrough_stream_keeps_the_usage_chunk_it_was_asked_for(client):
    chunks = list(client.completions.create(model="openai/gpt-3.5-turbo-instruct", prompt="Count to three",
                                            stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Completed: Count to three"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 3 + 4


@pytest.mark.parametrize("model,seen,path", [
    ("openai/gpt-4o-mini-{t}", "gpt-4o-mini-{t}", "/openai/v1/chat/completions"),
    ("anthropic-fleet/claude-sonnet-4-5-{t}", "claude-sonnet-4-5-{t}", "/anthropic/v1/messages"),
    ("gemini/gemini-2.5-flash-{t}", None, None),
    (BEDROCK, None, None),
])
def test_other_models_are_served_through_chat(client, fleet, model, seen, path):
    t = tag()
    r = client.completions.create(model=model.format(t=t), prompt=f"Hello {t}", max_tokens=50)
    assert r.object == "text_completion"
    assert r.choices[0].text == f"Echo: Hello {t}"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    if seen:
        sent = last_upstream(fleet, seen.format(t=t))
        assert sent["path"] == path
        body = sent["body"]
        assert body["messages"][0]["role"] == "user"
        content = body["messages"][0]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        assert text == f"Hello {t}"


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic-fleet/claude-sonnet-4-5", BEDROCK])
def test_a_translated_stream_is_text_completion_chunks_with_usage(client, model):
    t = tag()
    stream = client.completions.create(model=model, prompt=f"Stream {t}", stream=True,
                                       stream_options={"include_usage": True}, max_tokens=50)
    chunks = list(stream)
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == f"Echo: Stream {t}"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_completion_only_fields_are_dropped_or_refused(gateway, client, fleet):
    t = tag()
    # drop_params is on by default: said in x-dx-adjusted, never sent on.
    raw = client.completions.with_raw_response.create(model=f"openai/gpt-4o-mini-{t}", prompt="x", suffix="!",
                                                      echo=True)
    assert "suffix" in raw.headers["x-dx-adjusted"] and "echo" in raw.headers["x-dx-adjusted"]
    body = last_upstream(fleet, f"gpt-4o-mini-{t}")["body"]
    assert "suffix" not in body and "echo" not in body
    # A batch cannot become one chat turn.
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="anthropic-fleet/claude-sonnet-4-5", prompt=["a", "b"])
    assert e.value.code == "unsupported_prompt"
    check_error_body(raw_post(gateway, {"model": "openai/gpt-4o-mini"}, path="/v1/completions"),
                     400, code="missing_required_parameter")
    check_error_body(raw_post(gateway, {"model": "openai/gpt-4o-mini", "prompt": {"x": 1}},
                              path="/v1/completions"), 400)


def test_the_fleet_refuses_chat_models_at_completions_as_openai_does(fleet):
    """The fake provider's check that makes the routing tests above mean
    something: a chat model sent to /v1/completions would fail."""
    import requests
    r = requests.post(f"{fleet.base_url}/openai/v1/completions", json={"model": "gpt-4o-mini", "prompt": "x"},
                      headers={"Authorization": f"Bearer {FLEET_KEY}"}, timeout=10)
    assert r.status_code == 404 and "chat model" in r.json()["error"]["message"]
