"""The catalog end to end: providers no code names (DeepSeek, Groq,
OpenRouter) reached through the fleet's OpenAI face by their catalog base URL
(overridden by ``<ID>_API_BASE``) and key variable; the cost of every answer
(header and ``cost`` field, the stream's usage chunk); ``/model/info``,
``/cost/estimate``, ``/utils/token_counter``; the context-window refusal.

Prices are the snapshot's (data/, USD per million tokens):
deepseek/deepseek-chat in 0.14 out 0.28; groq/llama-3.1-8b-instant in 0.05
out 0.08; openrouter/openai/gpt-4o-mini in 0.15 out 0.6.
The fleet counts one token per word plus one per message, so a single user
message "hi <tag>" is 3 prompt tokens and its answer "Echo: hi <tag>" 3
completion tokens."""

from __future__ import annotations

import openai
import pytest
import requests

from conftest import MASTER_KEY
from sdk import check_sdk_error, raw_post, tag, user

UPSTREAM_PATH = "/openai/v1/chat/completions"
# 3 × 0.14 + 3 × 0.28 = 0.42 + 0.84 = 1.26 µ$
DEEPSEEK_COST = 0.00000126


def close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-12


def get(gateway, path: str, **params) -> requests.Response:
    return requests.get(f"{gateway.base_url}{path}", params=params,
                        headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)


@pytest.mark.parametrize("name", ["deepseek/deepseek-chat", "deepseek-chat@deepseek"])
def test_catalog_provider_reached_with_its_url_key_and_cost(client, fleet, name):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(model=name, messages=user(f"hi {t}"))
    r = raw.parse()
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 3)
    got = fleet.request_with("deepseek-chat", t)
    assert got["path"] == UPSTREAM_PATH
    assert got["headers"]["authorization"] == "Bearer sk-fleet-openai"
    assert raw.headers["x-dx-provider"] == "deepseek"
    assert close(r.model_extra["cost"], DEEPSEEK_COST), r.model_extra
    assert close(float(raw.headers["x-dx-cost-usd"]), DEEPSEEK_COST), raw.headers["x-dx-cost-usd"]


@pytest.mark.parametrize(
    "name, upstream, cost",
    [
        # 3 × 0.05 + 3 × 0.08 = 0.39 µ$
        ("groq/llama-3.1-8b-instant", "llama-3.1-8b-instant", 0.00000039),
        # an aggregator; 3 × 0.15 + 3 × 0.6 = 2.25 µ$
        ("openrouter/openai/gpt-4o-mini", "openai/gpt-4o-mini", 0.00000225),
        # per-deployment prices from the config: 3 × 1e-6 + 3 × 2e-6 = 9 µ$
        ("catalog-priced", "deepseek-chat", 0.000009),
    ],
)
def test_other_catalog_providers_and_config_prices(client, fleet, name, upstream, cost):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(model=name, messages=user(f"hi {t}"))
    r = raw.parse()
    assert r.choices[0].message.content == f"Echo: hi {t}"
    got = fleet.request_with(upstream, t)
    assert got["path"] == UPSTREAM_PATH and got["headers"]["authorization"] == "Bearer sk-fleet-openai"
    assert close(r.model_extra["cost"], cost), r.model_extra
    assert close(float(raw.headers["x-dx-cost-usd"]), cost)


@pytest.mark.parametrize("name", ["deepseek/deepseek-chat", "catalog-translated/deepseek-chat"])
def test_stream_reports_cost_in_the_usage_chunk(client, name):
    t = tag()
    chunks = list(client.chat.completions.create(
        model=name, messages=user(f"hi {t}"), stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: hi {t}"
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens == 3
    assert close(last.model_extra["cost"], DEEPSEEK_COST), last.model_extra
    assert all("cost" not in (c.model_extra or {}) for c in chunks[:-1])


def test_stream_headers_carry_no_cost(gateway):
    r = raw_post(gateway, {"model": "deepseek/deepseek-chat", "messages": user("a b"), "stream": True}, stream=True)
    assert r.status_code == 200
    assert "x-dx-cost-usd" not in r.headers
    r.close()


def test_prompt_over_the_window_is_refused_before_any_upstream_call(client, fleet):
    t = tag()
    long_prompt = f"{t} " + "lorem ipsum dolor sit amet " * 200
    # the catalog gives this model a 512-token window
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="groq/meta-llama/llama-prompt-guard-2-86m", messages=user(long_prompt))
    err = check_sdk_error(e.value, openai.BadRequestError, 400, code="context_length_exceeded")
    assert err["param"] == "messages" and "512 tokens" in err["message"], err
    # the config can narrow a window
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="catalog-small-window", messages=user(long_prompt))
    check_sdk_error(e.value, openai.BadRequestError, 400, code="context_length_exceeded")
    assert not [r for r in fleet.requests() if t in str(r.get("body"))]
    # a short prompt to the same deployment goes through
    assert client.chat.completions.create(model="catalog-small-window", messages=user(f"hi {t}")).choices


def test_unknown_bare_model_names_the_closest(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="deepseek-chta", messages=user("x"))
    err = check_sdk_error(e.value, openai.NotFoundError, 404, code="model_not_found")
    assert "`deepseek-chat`" in err["message"], err


def test_model_info(gateway):
    r = get(gateway, "/model/info", model="deepseek/deepseek-chat")
    assert r.status_code == 200, r.text
    info = r.json()["data"][0]["model_info"]
    assert info["max_input_tokens"] == 1_000_000 and info["max_output_tokens"] == 384_000
    assert info["input_cost_per_token"] == 1.4e-7 and info["output_cost_per_token"] == 2.8e-7
    assert info["cache_read_input_token_cost"] == 2.8e-9
    assert info["supports_function_calling"] is True and info["is_free"] is False
    configured = {d["model_name"]: d for d in get(gateway, "/model/info").json()["data"]}
    assert configured["catalog-small-window"]["model_info"]["max_input_tokens"] == 64
    assert configured["catalog-priced"]["model_info"]["input_cost_per_token"] == 1e-6
    assert get(gateway, "/model/info", model="no-such-model-anywhere").status_code == 404
    assert requests.get(f"{gateway.base_url}/model/info", timeout=30).status_code == 401


def test_cost_estimate(gateway):
    body = {"model": "deepseek/deepseek-chat", "input_tokens": 1_000_000, "output_tokens": 500_000,
            "requests_per_day": 10}
    r = raw_post(gateway, body, path="/cost/estimate")
    assert r.status_code == 200, r.text
    v = r.json()
    # 1M × 0.14 + 0.5M × 0.28 = 0.14 + 0.14 = 0.28 $; × 10 a day = 2.8; × 30 = 84
    assert close(v["cost_per_request"], 0.28) and close(v["cost_per_day"], 2.8)
    assert abs(v["cost_per_month"] - 84.0) < 1e-9
    assert v["currency"] == "USD" and v["is_free"] is False


def test_token_counter(gateway):
    body = {"model": "deepseek/deepseek-chat", "messages": [{"role": "user", "content": "Hello world!"}]}
    r = raw_post(gateway, body, path="/utils/token_counter")
    assert r.status_code == 200, r.text
    v = r.json()
    # estimate: 3 per reply + 3 per message + "Hello" " world" "!"
    assert v["total_tokens"] == 9
    assert v["tokenizer_type"] == "estimate" and v["exact"] is False
    assert v["max_input_tokens"] == 1_000_000


def test_models_list_with_the_catalog(client, gateway):
    plain = {m.id for m in client.models.list()}
    assert "catalog-priced" in plain and "deepseek/deepseek-chat" not in plain
    listed = get(gateway, "/v1/models", catalog="true").json()["data"]
    ids = {m["id"] for m in listed}
    assert {"catalog-priced", "deepseek/deepseek-chat", "groq/llama-3.1-8b-instant", "openai/gpt-4o"} <= ids
    assert client.models.retrieve("deepseek/deepseek-chat").owned_by == "deepseek"


def test_deprecated_model_gets_a_warning_header(client):
    raw = client.chat.completions.with_raw_response.create(model="openai/gpt-4-0613", messages=user("hi"))
    assert raw.headers["x-dx-deprecated"] == "2025-06-06"
    assert raw.parse().choices


# qwen-plus-latest is priced only by LiteLLM's tiered_pricing rows (the
# 0-256k row: in 0.4, out 1.2 per 1M): 3 × 0.4 + 3 × 1.2 = 4.8 µ$. Before
# those rows were read the model had no price and answers no cost.
QWEN_COST = 0.0000048


def test_a_tiered_pricing_model_is_priced(client, fleet):
    t = tag()
    raw = client.chat.completions.with_raw_response.create(
        model="dashscope/qwen-plus-latest", messages=user(f"hi {t}"))
    r = raw.parse()
    assert r.choices[0].message.content == f"Echo: hi {t}"
    assert fleet.request_with("qwen-plus-latest", t)["path"] == UPSTREAM_PATH
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 3)
    assert close(r.model_extra["cost"], QWEN_COST), r.model_extra
    assert close(float(raw.headers["x-dx-cost-usd"]), QWEN_COST), raw.headers["x-dx-cost-usd"]


def test_a_tiered_pricing_model_is_priced_when_streamed(client):
    t = tag()
    chunks = list(client.chat.completions.create(
        model="dashscope/qwen-plus-latest", messages=user(f"hi {t}"), stream=True,
        stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: hi {t}"
    last = chunks[-1]
    assert last.choices == [] and last.usage.prompt_tokens == 3
    assert close(last.model_extra["cost"], QWEN_COST), last.model_extra


def estimate(gateway, **body):
    r = raw_post(gateway, body, path="/cost/estimate")
    return r.status_code, r.json()


def test_cost_estimate_reads_the_catalog_alone(gateway):
    # LiteLLM's EU data-zone entry: 1000 × 2.75 + 1000 × 11 = 13750 µ$ (LiteLLM 0.01375)
    status, v = estimate(gateway, model="azure/eu/gpt-4o-2024-08-06", input_tokens=1000, output_tokens=1000)
    assert status == 200, v
    assert close(v["cost_per_request"], 0.01375) and v["catalog_model"] == "azure/eu/gpt-4o-2024-08-06", v
    # LiteLLM's provider name for Cohere chat: 1000 × 0.15 + 1000 × 0.6 = 750 µ$ (LiteLLM 0.00075)
    status, v = estimate(gateway, model="cohere_chat/command-r", input_tokens=1000, output_tokens=1000)
    assert status == 200, v
    assert close(v["cost_per_request"], 0.00075), v
    # a deployment the catalog cannot price, of a provider with no settings
    # here (no MISTRAL_API_KEY): a 400 saying how to price it, never a 500
    for name in ("mistral/my-finetune", "azure/my-deployment"):
        status, v = estimate(gateway, model=name, input_tokens=1000)
        assert status == 400, (name, v)
        assert v["error"]["code"] == "model_price_unknown" and v["error"]["param"] == "model", v


def test_cost_estimate_takes_the_inference_geo(gateway):
    # claude-opus-4-6: 1000 × 5 + 1000 × 25 = 30000 µ$; served in the US × 1.1 = 33000 µ$ (LiteLLM 0.033)
    body = {"model": "anthropic/claude-opus-4-6", "input_tokens": 1000, "output_tokens": 1000}
    status, v = estimate(gateway, **body, inference_geo="us")
    assert status == 200, v
    assert close(v["cost_per_request"], 0.033) and v["geo_factor"] == 1.1, v
    status, v = estimate(gateway, **body, inference_geo="global")
    assert status == 200 and close(v["cost_per_request"], 0.03), v
    status, v = estimate(gateway, **body, inference_geo="x" * 40)
    assert status == 400 and v["error"]["param"] == "inference_geo", v


def test_model_info_shows_both_prices_where_the_sources_disagree(gateway):
    info = get(gateway, "/model/info", model="deepseek/deepseek-chat").json()["data"][0]["model_info"]
    assert info["price_conflicts"]["input_cost_per_token"] == {
        "models.dev": 1.4e-7, "litellm": 2.8e-7, "used": "models.dev"}, info["price_conflicts"]
