"""Embeddings endpoints of the providers with their own embeddings API, each
mounted by its provider's face (same prefix, same auth, same error shape):

* Gemini AI Studio ``POST …/v1beta/models/{m}:batchEmbedContents`` (``x-goog-api-key``)
* Vertex AI ``POST …/publishers/google/models/{m}:predict`` (bearer token)
* Bedrock ``POST /bedrock/model/{id}/invoke`` (SigV4): Titan text embeddings
  (``inputText``, one per call) and Cohere embed (``texts``)
* Cohere ``POST /cohere/v2/embed``
* Ollama ``POST /ollama/api/embed``
* Azure OpenAI ``POST /azure/openai/deployments/{d}/embeddings?api-version=``

Each checks the body the way its provider does (unknown or missing fields
get the provider's own 400) and answers deterministic vectors: the same
``embedding_of(text, dims)`` as the OpenAI face (8 numbers unless a size is
asked), so a test can tell inputs apart and check their order. Token counts
are words (Gemini reports none, like the real API). ``fault:status=N|<model>``
answers the provider's error for status N.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from aiohttp import web

from .faults import GrammarError, parse_model
from .openai_face import embedding_of

DIMS = 8


def words(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


def _fault_status(model: str) -> int | None:
    try:
        return parse_model(model).fault.status
    except GrammarError:
        return None


# --------------------------------------------------------------------------- Gemini / Vertex


async def gemini_batch(request: web.Request, model: str) -> web.Response:
    from .gemini_face import GoogleError, generic_error, invalid

    try:
        body = json.loads(await request.read())
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received.")
        for key in body:
            if key != "requests":
                raise invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise invalid("* BatchEmbedContentsRequest.requests: requests is empty\n")
        texts, dims = [], DIMS
        for i, r in enumerate(reqs):
            extra = set(r) - {"model", "content", "taskType", "title", "outputDimensionality"}
            if extra:
                raise invalid(f'Invalid JSON payload received. Unknown name "{sorted(extra)[0]}" at \'requests[{i}]\': Cannot find field.')
            if r.get("model") != f"models/{model}":
                raise invalid(f"* BatchEmbedContentsRequest.requests[{i}].model: model must be models/{model}\n")
            parts = (r.get("content") or {}).get("parts")
            if not isinstance(parts, list) or not parts or not isinstance(parts[0].get("text"), str):
                raise invalid(f"* BatchEmbedContentsRequest.requests[{i}].content: contents is not specified\n")
            texts.append("".join(p.get("text", "") for p in parts))
            dims = r.get("outputDimensionality", dims)
        if not isinstance(dims, int) or dims < 1:
            raise invalid("outputDimensionality must be a positive integer")
        status = _fault_status(model)
        if status is not None:
            raise generic_error(status)
    except ValueError:
        return invalid("Invalid JSON payload received.").response()
    except GoogleError as e:
        return e.response()
    return web.json_response({"embeddings": [{"values": embedding_of(t, dims)} for t in texts]})


async def vertex_predict(request: web.Request, model: str) -> web.Response:
    from .gemini_face import GoogleError, generic_error, invalid

    try:
        body = json.loads(await request.read())
        extra = set(body) - {"instances", "parameters"}
        if extra:
            raise invalid(f'Invalid JSON payload received. Unknown name "{sorted(extra)[0]}": Cannot find field.')
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            raise invalid("instances must be a non-empty list")
        texts = []
        for inst in instances:
            if not isinstance(inst, dict) or not isinstance(inst.get("content"), str) or set(inst) - {"content", "task_type", "title"}:
                raise invalid("Failed to parse the instance: each instance takes `content` (and `task_type`, `title`).")
            texts.append(inst["content"])
        params = body.get("parameters", {})
        if set(params) - {"outputDimensionality", "autoTruncate"}:
            raise invalid("Unknown parameter in `parameters`.")
        dims = params.get("outputDimensionality", DIMS)
        status = _fault_status(model)
        if status is not None:
            raise generic_error(status)
    except (ValueError, AttributeError):
        return invalid("Invalid JSON payload received.").response()
    except GoogleError as e:
        return e.response()
    preds = [
        {"embeddings": {"values": embedding_of(t, dims), "statistics": {"token_count": len(t.split()), "truncated": False}}}
        for t in texts
    ]
    return web.json_response({"predictions": preds, "metadata": {"billableCharacterCount": sum(map(len, texts))}})


# --------------------------------------------------------------------------- Bedrock


TITAN_FIELDS = {"inputText", "dimensions", "normalize", "embeddingTypes"}
BEDROCK_COHERE_FIELDS = {"texts", "images", "input_type", "truncate", "embedding_types", "output_dimension", "max_tokens"}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering", "image"}


async def bedrock_invoke(request: web.Request) -> web.Response:
    from urllib.parse import unquote

    from .bedrock_face import PREFIX, AwsError, check_auth, invalid

    raw = await request.read()
    path = request.raw_path.partition("?")[0]
    model = unquote(path[len(PREFIX) + len("/model/") : -len("/invoke")])
    entry = request.get("fleet_entry")
    if isinstance(entry, dict):
        entry["model"] = model
    try:
        check_auth(request, raw)
        try:
            body = json.loads(raw)
        except ValueError:
            raise AwsError(400, "SerializationException", "Malformed input request, please reformat your input and try again.")
        status = _fault_status(model)
        if status is not None:
            raise AwsError(status, "ThrottlingException" if status == 429 else "ValidationException", f"fleet fault: HTTP {status}.")
        if "titan-embed-text" in model:
            allowed = TITAN_FIELDS if "-v2" in model else {"inputText"}
            extra = sorted(set(body) - allowed)
            if extra:
                raise invalid(f"Malformed input request: #: extraneous key [{extra[0]}] is not permitted, please reformat your input and try again.")
            text = body.get("inputText")
            if not isinstance(text, str) or not text:
                raise invalid("Malformed input request: #: required key [inputText] not found, please reformat your input and try again.")
            dims = body.get("dimensions", DIMS)
            return web.json_response({"embedding": embedding_of(text, dims), "inputTextTokenCount": len(text.split())})
        if "cohere.embed" in model:
            extra = sorted(set(body) - BEDROCK_COHERE_FIELDS)
            if extra:
                raise invalid(f"Malformed input request: #: extraneous key [{extra[0]}] is not permitted, please reformat your input and try again.")
            texts = body.get("texts")
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                raise invalid("Malformed input request: #/texts: expected type: JSONArray, please reformat your input and try again.")
            if body.get("input_type") not in INPUT_TYPES:
                raise invalid("Malformed input request: #: required key [input_type] not found, please reformat your input and try again.")
            dims = body.get("output_dimension", DIMS)
            vectors = [embedding_of(t, dims) for t in texts]
            types = body.get("embedding_types")
            embeddings: Any = {"float": vectors} if types else vectors
            answer = {"id": "fleet-bedrock-embed", "embeddings": embeddings, "texts": texts,
                      "response_type": "embeddings_by_type" if types else "embeddings_floats"}
            return web.json_response(answer, headers={"X-Amzn-Bedrock-Input-Token-Count": str(words(texts))})
        raise invalid("The provided model doesn't support on-demand throughput or is not an embeddings model.")
    except AwsError as e:
        return e.response()


# --------------------------------------------------------------------------- Cohere


COHERE_FIELDS = {"model", "texts", "images", "inputs", "input_type", "embedding_types", "truncate", "output_dimension", "max_tokens"}


async def cohere_embed(request: web.Request) -> web.Response:
    from .cohere_face import API_KEY, CohereError, bad, fault_body

    try:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            raise CohereError(401, "invalid api token")
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise bad("body is not valid JSON")
        extra = sorted(set(body) - COHERE_FIELDS)
        if extra:
            raise bad(f"unknown field: parameter '{extra[0]}' is not a valid field")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad("missing required field 'model'")
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise bad("one of 'texts', 'images' or 'inputs' must be provided")
        if body.get("input_type") not in INPUT_TYPES:
            raise bad("input_type is required for embed models v3 and higher")
        if body.get("embedding_types") != ["float"] and not (isinstance(body.get("embedding_types"), list) and body["embedding_types"]):
            raise bad("embedding_types is required")
        status = _fault_status(model)
        if status is not None:
            return web.Response(status=status, body=fault_body(status, model), content_type="application/json")
        if not model.startswith(("embed", "fault:")):
            raise CohereError(404, f"model '{model}' not found, make sure the correct model ID was used and that you have access to the model.")
    except CohereError as e:
        return e.response()
    dims = body.get("output_dimension", DIMS)
    answer = {
        "id": "fleet-cohere-embed",
        "embeddings": {"float": [embedding_of(t, dims) for t in texts]},
        "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": words(texts)}},
        "response_type": "embeddings_by_type",
    }
    return web.json_response(answer)


# --------------------------------------------------------------------------- Ollama


OLLAMA_FIELDS = {"model", "input", "truncate", "dimensions", "keep_alive", "options"}


async def ollama_embed(request: web.Request) -> web.Response:
    from .ollama_face import OllamaError, bad, fault_body

    try:
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise bad("invalid character looking for beginning of value")
        extra = sorted(set(body) - OLLAMA_FIELDS)
        if extra:
            raise bad(f"json: unknown field \"{extra[0]}\"")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad("model is required")
        inp = body.get("input")
        texts = [inp] if isinstance(inp, str) else inp
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise bad("invalid input type")
        status = _fault_status(model)
        if status is not None:
            return web.Response(status=status, body=fault_body(status, model), content_type="application/json")
        if not model.split(":")[0].endswith(("embed-text", "embedding", "minilm", "embeddinggemma")):
            raise OllamaError(404, f'model "{model}" not found, try pulling it first')
    except OllamaError as e:
        return e.response()
    dims = body.get("dimensions", DIMS)
    return web.json_response({
        "model": model,
        "embeddings": [embedding_of(t, dims) for t in texts],
        "total_duration": 14143917,
        "load_duration": 1019500,
        "prompt_eval_count": words(texts),
    })


# --------------------------------------------------------------------------- Azure OpenAI


async def azure_embeddings(request: web.Request) -> web.Response:
    from .azure_face import azure_error, check_auth, check_version

    refusal = check_version(request) or check_auth(request)
    if refusal is not None:
        return refusal
    deployment = request.match_info["deployment"]
    try:
        body = json.loads(await request.read())
    except ValueError:
        return azure_error(400, "BadRequest", "We could not parse the JSON body of your request.")
    extra = sorted(set(body) - {"model", "input", "encoding_format", "dimensions", "user"})
    if extra:
        return azure_error(400, "BadRequest", f"Unrecognized request argument supplied: {extra[0]}")
    inp = body.get("input")
    texts = [inp] if isinstance(inp, str) else inp
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return azure_error(400, "BadRequest", "'$.input' is invalid.")
    dims = body.get("dimensions", DIMS)
    fmt = body.get("encoding_format", "float")
    data = []
    for i, t in enumerate(texts):
        vec = embedding_of(t, dims)
        out: Any = vec if fmt == "float" else base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": out})
    n = words(texts)
    return web.json_response({"object": "list", "data": data, "model": deployment,
                              "usage": {"prompt_tokens": n, "total_tokens": n}})
