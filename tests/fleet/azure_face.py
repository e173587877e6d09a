"""The Azure face of the fleet: Azure OpenAI deployments and Azure AI Foundry.

Mounted under ``/azure``, so the gateway's ``api_base`` is
``http://127.0.0.1:<port>/azure`` for both providers:

* ``POST /azure/openai/deployments/{deployment}/chat/completions?api-version=…``
  (Azure OpenAI: the deployment in the path picks the behaviour, the body's
  ``model`` is optional)
* ``POST /azure/models/chat/completions?api-version=…`` (Foundry: ``model``
  in the body picks the behaviour)

What it checks, answering with Azure's error JSON when wrong:

* ``api-version`` query: missing -> 404 ``Resource not found`` (what Azure
  says); not ``YYYY-MM-DD[-preview]`` -> 400 ``API version not supported``
* auth: ``api-key: sk-fleet-azure`` or ``Authorization: Bearer
  fleet-entra-token`` (an Entra ID token); else 401
* the deployment exists: a ``replay:``/``fault:`` directive, or a name that
  starts with one of ``DEPLOYMENTS`` (``gpt-4o-mini-<tag>`` is fine); else
  404 ``DeploymentNotFound``
* the body like OpenAI's face does (``openai_face.validate_chat``)

What it answers (OpenAI's shapes plus Azure's content-filter annotations):

* a plain deployment: the OpenAI face's generated answer ("Echo: …", tool
  calls, "Tool said: …", usage), with ``prompt_filter_results`` and
  per-choice ``content_filter_results``; streams start with Azure's
  prompt-annotation chunk (``id: ""``, ``choices: []``) and end in ``[DONE]``
* ``filtered-…``: the completion is cut by the content filter
  (``finish_reason: content_filter``, ``protected_material_text`` filtered);
  streamed, the verdict arrives as an annotation-only chunk like the
  recorded ``chat-stream-content-filter-blocked.sse``
* ``filtered-prompt-…``: the prompt is refused: 400 with the recorded
  ``error-content-filter-400.json`` body (same as
  ``fault:status=400,body=error-content-filter-400``)
* ``replay:<stem>`` / ``fault:…``: the shared grammar (``faults.py``) over
  ``fixtures/azure``; fault statuses get Azure-shaped bodies
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any

from aiohttp import web

from . import embed_faces, fixtures, wire
from .faults import GrammarError, parse_model
from .openai_face import Generated, OpenAIHTTPError, read_json_body, validate_chat

NAME = "azure"
PREFIX = "/azure"
API_KEY = os.environ.get("FLEET_AZURE_KEY", "sk-fleet-azure")
ENTRA_TOKEN = os.environ.get("FLEET_AZURE_AD_TOKEN", "fleet-entra-token")

DEPLOYMENTS = ("gpt-4o-mini", "gpt-4o", "gpt-35-turbo", "gpt-4.1-nano", "gpt-5-nano", "DeepSeek-R1", "filtered")
_VERSION = re.compile(r"^20\d\d-\d\d-\d\d(-preview)?$")

SAFE = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": {**SAFE, "jailbreak": {"filtered": False, "detected": False}}}]
BLOCKED = {"protected_material_text": {"detected": True, "filtered": True}}


def azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def fault_body(status: int, deployment: str) -> bytes:
    """Azure's error body for ``fault:status=`` (keys never echoed)."""
    messages = {
        400: ("BadRequest", "fleet fault: invalid request."),
        401: (
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
            "valid key for an active subscription and use a correct regional API endpoint for your resource.",
        ),
        403: ("403", "Public access is disabled. Please configure private endpoint."),
        404: ("DeploymentNotFound", "The API deployment for this resource does not exist."),
        429: (
            "429",
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
            "exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 7 seconds.",
        ),
        500: ("InternalServerError", "The server had an error while processing your request. Sorry about that!"),
        503: ("ServiceUnavailable", "The service is temporarily unable to process your request. Please try again later."),
    }
    code, message = messages.get(status, (str(status), f"fleet fault: HTTP {status}."))
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def known(deployment: str) -> bool:
    if deployment.startswith(("replay:", "fault:")):
        return True
    return any(deployment == d or deployment.startswith(d + "-") for d in DEPLOYMENTS)


def check_version(request: web.Request) -> web.Response | None:
    version = request.query.get("api-version")
    if version is None:
        return azure_error(404, "404", "Resource not found")
    if not _VERSION.match(version):
        return azure_error(400, "BadRequest", "API version not supported")
    return None


def check_auth(request: web.Request) -> web.Response | None:
    key = request.headers.get("api-key")
    auth = request.headers.get("Authorization", "")
    if key is not None:
        if key == API_KEY:
            return None
        return fault_response_401()
    if auth.startswith("Bearer "):
        if auth[len("Bearer "):] == ENTRA_TOKEN:
            return None
        return azure_error(401, "PermissionDenied", "Unauthorized. Access token is missing, invalid, audience is incorrect, or have expired.")
    return fault_response_401()


def fault_response_401() -> web.Response:
    return web.Response(status=401, body=fault_body(401, ""), content_type="application/json")


# --------------------------------------------------------------------------- answers


def decorate_completion(c: dict[str, Any], filtered: bool) -> dict[str, Any]:
    c["prompt_filter_results"] = PROMPT_FILTER
    for ch in c["choices"]:
        if filtered:
            ch["message"]["content"] = None
            ch["finish_reason"] = "content_filter"
            ch["content_filter_results"] = {**SAFE, **BLOCKED}
        else:
            ch["content_filter_results"] = SAFE
    return c


def decorate_chunks(chunks: list[dict[str, Any]], filtered: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": PROMPT_FILTER}]
    for c in chunks:
        for ch in c["choices"]:
            ch["content_filter_results"] = SAFE if ch["delta"].get("content") else {}
        if filtered and c["choices"] and c["choices"][0]["finish_reason"] is not None:
            # The verdict replaces the normal end: an annotation-only chunk.
            out.append({
                "choices": [{
                    "index": 0, "finish_reason": "content_filter", "content_filter_results": BLOCKED,
                    "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 40},
                }],
                "created": 0, "id": "", "model": "", "object": "",
            })
            continue
        out.append(c)
    return out


def sse(chunks: list[dict[str, Any]]) -> list[bytes]:
    events = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n" for c in chunks]
    events.append(b"data: [DONE]\n\n")
    return events


async def answer(request: web.Request, body: dict[str, Any], behaviour: str) -> web.StreamResponse:
    try:
        plan = parse_model(behaviour)
    except GrammarError as e:
        return OpenAIHTTPError(400, str(e), param="model").response()
    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    headers = {"apim-request-id": "fleet-apim", "x-ms-region": "Fleet Central"}
    if fault.status is not None:
        if fault.body:
            try:
                _, raw = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return OpenAIHTTPError(400, f"fleet: {e}", param="model").response()
            return await wire.send_body(request, raw, fault, fault.status, headers)
        return await wire.send_body(request, fault_body(fault.status, plan.model), fault, fault.status, headers)

    stream = body.get("stream") is True
    if plan.kind == "replay":
        stem = plan.fixture or ""
        status = fixtures.status_for_stem(stem)
        try:
            if status != 200 or not stream:
                _, raw = fixtures.json_fixture(NAME, stem)
                return await wire.send_body(request, raw, fault, status, headers)
            fx = fixtures.stream_fixture(NAME, stem)
        except fixtures.FixtureError as e:
            return OpenAIHTTPError(400, f"fleet: {e}", param="model").response()
        events = list(fx.events)
        if fx.path.name.endswith(".chunks.jsonl"):
            events.append(b"data: [DONE]\n\n")  # the recorder stripped it; Azure sends it
        return await wire.send_stream(request, events, fault, headers)

    if plan.model.startswith("filtered-prompt"):
        _, raw = fixtures.json_fixture(NAME, "error-content-filter-400")
        return await wire.send_body(request, raw, fault, 400, headers)
    filtered = plan.model.startswith("filtered")
    gen = Generated(body, plan.model)
    if stream:
        return await wire.send_stream(request, sse(decorate_chunks(gen.chunks(), filtered)), fault, headers)
    return await wire.send_body(request, json.dumps(decorate_completion(gen.completion(), filtered)).encode(), fault, 200, headers)


async def deployment_chat(request: web.Request) -> web.StreamResponse:
    deployment = request.match_info["deployment"]
    refusal = check_version(request) or check_auth(request)
    if refusal is not None:
        return refusal
    if not known(deployment):
        return azure_error(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created the deployment within the "
            "last 5 minutes, please wait a moment and try again.",
        )
    try:
        body = await read_json_body(request)
        # Azure routes on the path; `model` in the body is optional and ignored.
        validate_chat({**body, "model": body.get("model", deployment)})
    except OpenAIHTTPError as e:
        return e.response()
    return await answer(request, body, deployment)


async def foundry_chat(request: web.Request) -> web.StreamResponse:
    refusal = check_version(request) or check_auth(request)
    if refusal is not None:
        return refusal
    try:
        body = await read_json_body(request)
        if not isinstance(body.get("model"), str):
            return azure_error(400, "BadRequest", "Missing required parameter: 'model'.")
        validate_chat(body)
    except OpenAIHTTPError as e:
        return e.response()
    if not known(body["model"]):
        return azure_error(404, "unknown_model", f"Unknown model: {body['model']}")
    return await answer(request, body, body["model"])


async def not_found(request: web.Request) -> web.Response:
    return azure_error(404, "404", "Resource not found")


async def responses(request: web.Request) -> web.StreamResponse:
    """``POST /azure/openai/v1/responses`` (the v1 API, no ``api-version``)
    and ``POST /azure/openai/responses?api-version=…`` (a dated preview):
    Azure's own auth and version checks, then the OpenAI face's Responses
    answer (the deployment is the body's ``model``)."""
    from . import openai_responses_face

    if not request.path.endswith("/v1/responses"):
        refused = check_version(request)
        if refused is not None:
            return refused
        if request.query.get("api-version", "") < "2025-03-01":
            return azure_error(400, "BadRequest", "The Responses API is not supported in this API version.")
    refused = check_auth(request)
    if refused is not None:
        return refused
    return await openai_responses_face.answer(request)


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post(prefix + "/openai/v1/responses", responses)
    app.router.add_post(prefix + "/openai/responses", responses)
    app.router.add_post(prefix + "/openai/deployments/{deployment}/chat/completions", deployment_chat)
    app.router.add_post(prefix + "/models/chat/completions", foundry_chat)
    app.router.add_post(prefix + "/openai/deployments/{deployment}/embeddings", embed_faces.azure_embeddings)
    app.router.add_route("*", prefix + "/{tail:.*}", not_found)
