"""`POST /v1/embeddings` through the official OpenAI SDK on both shells: the
body passed to an OpenAI-format upstream with only the model swapped,
float and base64 vectors, `dimensions`, usage priced at the model's input
price; providers with their own embeddings API (Gemini, Vertex AI, Bedrock
Titan and Cohere embed, Cohere, Ollama, Azure) sent their native body and
answered in OpenAI's shape; a clear 400 for providers without one."""

from __future__ import annotations

import base64
import hashlib
import json
import math
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


# ---- providers' own embeddings APIs -----------------------------------------


def fleet_vector(text: str, dims: int = 8) -> list[float]:
    """What the fleet answers for `text` (tests/fleet/openai_face.py, embedding_of)."""
    digest = hashlib.sha256(json.dumps(text).encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dims)]


def estimated(texts: list[str]) -> int:
    return sum(math.ceil(len(t) / 4) for t in texts)


# (name, gateway model, fleet model, path ending, dimensions field, tokens for the texts)
NATIVE = [
    ("gemini", "gemini/gemini-embedding-001-{t}", "gemini-embedding-001-{t}",
     "/gemini/v1beta/models/gemini-embedding-001-{t}:batchEmbedContents", "outputDimensionality", estimated),
    ("vertex", "vertex/text-embedding-005-{t}", "text-embedding-005-{t}",
     "/publishers/google/models/text-embedding-005-{t}:predict", "outputDimensionality", None),
    ("bedrock-cohere", "fleet-bedrock/cohere.embed-v4-{t}", "cohere.embed-v4-{t}",
     "/bedrock/model/cohere.embed-v4-{t}/invoke", "output_dimension", None),
    ("cohere", "cohere/embed-v4.0-{t}", "embed-v4.0-{t}", "/cohere/v2/embed", "output_dimension", None),
    ("ollama", "ollama/nomic-embed-text:{t}", "nomic-embed-text:{t}", "/ollama/api/embed", "dimensions", None),
    ("azure", "azure/emb-{t}", "emb-{t}", "/azure/openai/deployments/emb-{t}/embeddings", "dimensions", None),
]
TEXTS = ["alpha beta", "gamma delta epsilon", "zeta"]


def words(texts: list[str]) -> int:
    return sum(len(x.split()) for x in texts)


def sent_body(fleet, model: str) -> dict:
    return fleet.requests(model=model)[-1]


def check_native_body(name: str, body: dict, fleet_model: str, texts: list[str]) -> None:
    if name == "gemini":
        assert body == {"requests": [{"model": f"models/{fleet_model}", "content": {"parts": [{"text": x}]}}
                                     for x in texts]}
    elif name == "vertex":
        assert body == {"instances": [{"content": x} for x in texts]}
    elif name == "bedrock-cohere":
        assert body == {"texts": texts, "input_type": "search_document", "embedding_types": ["float"]}
    elif name == "cohere":
        assert body == {"model": fleet_model, "texts": texts, "input_type": "search_document",
                        "embedding_types": ["float"]}
    elif name == "ollama":
        assert body == {"model": fleet_model, "input": texts}
    else:  # azure: OpenAI's body, model swapped
        assert body == {"model": fleet_model, "input": texts, "encoding_format": "float"}


@pytest.mark.parametrize("case", NATIVE, ids=[c[0] for c in NATIVE])
def test_native_float_vectors_in_order(client, fleet, case):
    name, model, fleet_model, path_end, _, tokens = case
    t = tag()
    model, fleet_model, path_end = model.format(t=t), fleet_model.format(t=t), path_end.format(t=t)
    r = client.embeddings.create(model=model, input=TEXTS, encoding_format="float")
    assert r.object == "list"
    assert [d.index for d in r.data] == [0, 1, 2]
    for d, text in zip(r.data, TEXTS):
        assert d.object == "embedding"
        assert d.embedding == pytest.approx(fleet_vector(text)), text
    want = tokens(TEXTS) if tokens else words(TEXTS)
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (want, want)
    sent = sent_body(fleet, fleet_model)
    assert sent["path"].endswith(path_end)
    check_native_body(name, sent["body"], fleet_model, TEXTS)


@pytest.mark.parametrize("case", NATIVE, ids=[c[0] for c in NATIVE])
def test_native_base64_and_dimensions(gateway, client, fleet, case):
    name, model, fleet_model, _, field, _ = case
    t = tag()
    model, fleet_model = model.format(t=t), fleet_model.format(t=t)
    # The SDK asks for base64 by default and decodes the f32 bytes itself.
    r = client.embeddings.create(model=model, input="one two three", dimensions=4)
    assert len(r.data) == 1
    assert r.data[0].embedding == pytest.approx(fleet_vector("one two three", 4), abs=1e-6)
    sent = sent_body(fleet, fleet_model)["body"]
    if name == "gemini":
        assert sent["requests"][0][field] == 4
    elif name == "vertex":
        assert sent["parameters"] == {field: 4}
    else:
        assert sent[field] == 4
    raw = raw_post(gateway, {"model": model, "input": ["x y"], "encoding_format": "base64"},
                   path="/v1/embeddings")
    assert raw.status_code == 200, raw.text
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    assert list(struct.unpack("<8f", packed)) == pytest.approx(fleet_vector("x y"), abs=1e-6)


def test_titan_takes_one_input_and_its_own_dimensions(gateway, client, fleet):
    t = tag()
    r = client.embeddings.create(model=f"fleet-bedrock/amazon.titan-embed-text-v2-{t}", input="red green",
                                 encoding_format="float", dimensions=4)
    assert r.data[0].embedding == pytest.approx(fleet_vector("red green", 4))
    assert r.usage.prompt_tokens == 2
    sent = sent_body(fleet, f"amazon.titan-embed-text-v2-{t}")
    assert sent["path"].endswith(f"/model/amazon.titan-embed-text-v2-{t}/invoke")
    assert sent["body"] == {"inputText": "red green", "dimensions": 4}
    assert sent["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=f"fleet-bedrock/amazon.titan-embed-text-v2-{t}", input=["a", "b"])
    assert e.value.body["param"] == "input" and "1 input" in e.value.message
    assert len(fleet.requests(model=f"amazon.titan-embed-text-v2-{t}")) == 1


def test_dimensions_where_the_api_has_none(gateway, client, fleet):
    t = tag()
    # Titan v1 has no size field: refused where drop_params is off ...
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=f"bedrock-strict/amazon.titan-embed-text-v1-{t}", input="x", dimensions=4)
    assert e.value.code == "unsupported_parameter" and e.value.body["param"] == "dimensions"
    assert fleet.requests(model=f"amazon.titan-embed-text-v1-{t}") == []
    # ... and left out, said in x-dx-adjusted, where it is on (the default).
    raw = raw_post(gateway, {"model": f"fleet-bedrock/amazon.titan-embed-text-v1-{t}", "input": "x",
                             "dimensions": 4, "encoding_format": "float"}, path="/v1/embeddings")
    assert raw.status_code == 200, raw.text
    assert raw.headers["x-dx-adjusted"] == "dropped:dimensions"
    assert len(raw.json()["data"][0]["embedding"]) == 8
    assert sent_body(fleet, f"amazon.titan-embed-text-v1-{t}")["body"] == {"inputText": "x"}


@pytest.mark.parametrize("model,tokens,price", [
    ("cohere/embed-v4.0", 3, 0.12),
    ("fleet-bedrock/amazon.titan-embed-text-v2:0", 3, 0.02),
    # Gemini reports no usage: estimated at 4 characters a token ("one two three": 13 -> 4).
    ("gemini/gemini-embedding-001", 4, 0.15),
])
def test_native_usage_is_priced_at_the_input_price(client, model, tokens, price):
    raw = client.embeddings.with_raw_response.create(model=model, input="one two three")
    assert raw.parse().usage.prompt_tokens == tokens
    assert float(raw.headers["x-dx-cost-usd"]) == pytest.approx(tokens * price / 1e6, rel=1e-6)


def test_native_refusals_are_openai_errors(gateway, client):
    # Token arrays are OpenAI's alone.
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="cohere/embed-v4.0", input=[[1, 2, 3]])
    assert e.value.body["param"] == "input" and "cohere" in e.value.message
    # The provider's own errors come back in OpenAI's shape.
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="cohere/fault:status=429|embed-v4.0", input="x")
    check_error_body(raw_post(gateway, {"model": "ollama/llama3.2", "input": "x"}, path="/v1/embeddings"), 404)
