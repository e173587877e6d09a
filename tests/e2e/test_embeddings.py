"""`POST /v1/embeddings` through the official OpenAI SDK on both shells: the
body passed to an OpenAI-format upstream with only the model swapped,
float and base64 vectors, `dimensions`, usage priced at the model's input
price, and a clear 400 for providers with their own embeddings API."""

from __future__ import annotations

import base64
import struct

import openai
import pytest

from sdk import check_error_body, raw_post, tag


def test_float_vectors_and_dimensions(client, fleet):
    t = tag()
    r = client.embeddings.create(model=f"openai/text-embedding-3-small-{t}", input=["one two", "three"],
                                 encoding_format="float", dimensions=4)
    assert [d.index for d in r.data] == [0, 1]
    assert all(len(d.embedding) == 4 for d in r.data)
    assert r.usage.prompt_tokens == 3 and r.usage.total_tokens == 3
    sent = fleet.requests(model=f"text-embedding-3-small-{t}")[-1]
    assert sent["path"] == "/openai/v1/embeddings"
    assert sent["body"] == {"model": f"text-embedding-3-small-{t}", "input": ["one two", "three"],
                            "encoding_format": "float", "dimensions": 4}


def test_base64_is_what_the_sdk_asks_for_by_default(gateway, client, fleet):
    t = tag()
    r = client.embeddings.create(model=f"openai/text-embedding-3-small-{t}", input="hello world")
    # The SDK asks for base64 and decodes it: the vector arrives intact.
    assert len(r.data[0].embedding) == 8
    sent = fleet.requests(model=f"text-embedding-3-small-{t}")[-1]["body"]
    assert sent["encoding_format"] == "base64"
    raw = raw_post(gateway, {"model": f"openai/text-embedding-3-small-{t}", "input": "hello world",
                               "encoding_format": "base64"}, path="/v1/embeddings")
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    assert list(struct.unpack("<8f", packed)) == pytest.approx(r.data[0].embedding)


def test_usage_is_priced_at_the_input_price(client):
    raw = client.embeddings.with_raw_response.create(model="openai/text-embedding-3-small",
                                                     input="a b c d e f g h")
    assert raw.parse().usage.prompt_tokens == 8
    # text-embedding-3-small: $0.02 per million input tokens.
    assert float(raw.headers["x-dx-cost-usd"]) == pytest.approx(8 * 0.02 / 1e6, rel=1e-6)
    assert raw.headers["x-dx-provider"] == "openai"


def test_bad_input_and_unsupported_providers_are_clear_400s(gateway, client):
    check_error_body(raw_post(gateway, {"model": "openai/text-embedding-3-small"}, path="/v1/embeddings"),
                     400, code="missing_required_parameter")
    check_error_body(raw_post(gateway, {"model": "openai/text-embedding-3-small", "input": []},
                              path="/v1/embeddings"), 400)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="anthropic-fleet/claude-sonnet-4-5", input="x")
    assert e.value.code == "unsupported_provider" and "anthropic" in e.value.message


def test_upstream_errors_come_back_in_openai_shape(client):
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="openai/fault:status=429|text-embedding-3-small", input="x")
