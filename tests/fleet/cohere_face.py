"""The Cohere face of the fleet: Chat v2 (``POST /cohere/v2/chat``).

Mounted under ``/cohere``, so the gateway's ``api_base`` is
``http://127.0.0.1:<port>/cohere``.

What it checks, answering with Cohere's ``{"id", "message"}`` error JSON:

* ``Authorization: Bearer sk-fleet-cohere`` (else 401 ``invalid api token``)
* a JSON object with only Chat v2 fields (``top_p``, ``stop``, ``n``,
  ``max_completion_tokens``, ``stream_options``, … are OpenAI's names and
  get a 400, as Cohere does)
* ``model`` (a ``command…`` name or a directive, else 404) and ``messages``:
  roles ``system``/``user``/``assistant``/``tool``, per-role fields, content
  as a string or typed parts, assistant ``tool_calls`` with string
  ``arguments``, every ``tool`` turn answering an id of the last assistant
  ``tool_calls``
* ``tools`` as ``{type: function, function: {name, parameters}}``,
  ``tool_choice`` ``REQUIRED``/``NONE`` only with tools, ``p`` in
  0.01..0.99, ``k`` in 0..500, penalties in 0..1, ``response_format``
  ``text``/``json_object`` (+ ``json_schema``)

What it answers for a plain model (``replay:``/``fault:`` as in ``faults.py``,
over ``fixtures/cohere``, the recorded chunks reframed with ``event:`` lines):

* after a ``tool`` turn: ``"Tool said: <its content>"``
* with ``tools`` and ``tool_choice`` != NONE: a ``tool_plan`` ("I will call
  <name>.") and one call to the first tool, arguments built like the OpenAI
  face's, id ``<name>_<12 chars>``, ``finish_reason: TOOL_CALL``
* else ``"Echo: <last user text>"`` (``{"answer": …}`` with a JSON
  ``response_format``); ``stop_sequences`` -> ``STOP_SEQUENCE``,
  ``max_tokens`` -> ``MAX_TOKENS``
* usage: ``billed_units`` = OpenAI face's counts, ``tokens.input_tokens`` =
  billed + 100 (Cohere's own preamble), ``tokens.output_tokens`` = billed
* streams: SSE ``event: <type>`` + ``data:`` lines, ``message-start`` …
  ``message-end``, no ``[DONE]``
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import string
import uuid
from typing import Any

from aiohttp import web

from . import embed_faces, fixtures, rerank_faces, wire
from .faults import GrammarError, parse_model
from .openai_face import content_text, count_tokens, example_arguments, words

NAME = "cohere"
PREFIX = "/cohere"
API_KEY = os.environ.get("FLEET_COHERE_KEY", "sk-fleet-cohere")
PREAMBLE_TOKENS = 100

TOP_FIELDS = {
    "model", "messages", "tools", "documents", "citation_options", "response_format", "safety_mode",
    "max_tokens", "stop_sequences", "temperature", "seed", "frequency_penalty", "presence_penalty",
    "k", "p", "logprobs", "tool_choice", "strict_tools", "stream", "thinking", "priority",
}
ROLE_FIELDS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "tool_plan", "citations"},
    "tool": {"role", "content", "tool_call_id"},
}


class CohereError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> web.Response:
        return web.json_response({"id": str(uuid.uuid4()), "message": self.message}, status=self.status)


def bad(message: str) -> CohereError:
    return CohereError(400, f"invalid request: {message}")


def fault_body(status: int, model: str) -> bytes:
    messages = {
        400: "invalid request: fleet fault.",
        401: "invalid api token",
        402: "Please add or update your payment method at https://dashboard.cohere.com/billing?tab=payment to continue",
        404: f"model '{model}' not found, make sure the correct model ID was used and that you have access to the model.",
        429: "You are using a Trial key, which is limited to 10 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'.",
        500: "internal server error, this has been reported to our developers",
        503: "service unavailable: the model is overloaded, please try again later",
    }
    return json.dumps({"id": str(uuid.uuid4()), "message": messages.get(status, f"fleet fault: HTTP {status}")}).encode()


# --------------------------------------------------------------------------- validation


def _parts(content: Any, where: str, allowed: tuple[str, ...]) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise bad(f"{where}.content must be a string or a list of content parts")
    for j, p in enumerate(content):
        if not isinstance(p, dict) or p.get("type") not in allowed:
            raise bad(f"{where}.content[{j}].type must be one of {', '.join(allowed)}")
        if p["type"] == "text" and not isinstance(p.get("text"), str):
            raise bad(f"{where}.content[{j}].text must be a string")
        if p["type"] == "image_url" and not isinstance((p.get("image_url") or {}).get("url"), str):
            raise bad(f"{where}.content[{j}].image_url.url must be a string")


def _number(body: dict[str, Any], key: str, lo: float, hi: float) -> None:
    v = body.get(key)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise bad(f"{key} must be a number between {lo} and {hi}")


def validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise bad("body must be a JSON object")
    unknown = sorted(set(body) - TOP_FIELDS)
    if unknown:
        raise bad(f"unknown field: parameter '{unknown[0]}' is not a valid field")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad("model is required")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise bad("messages must be a non-empty list")
    pending: list[str] = []
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLE_FIELDS:
            raise bad(f"{where}.role must be one of system, user, assistant, tool")
        role = m["role"]
        extra = sorted(set(m) - ROLE_FIELDS[role])
        if extra:
            raise bad(f"unknown field: parameter '{where}.{extra[0]}' is not a valid field for role {role}")
        if role != "tool" and pending and role != "assistant":
            raise bad(f"{where}: tool calls {', '.join(pending)} were not answered by tool messages")
        if role in ("system", "user"):
            if "content" not in m:
                raise bad(f"{where}.content is required")
            _parts(m["content"], where, ("text",) if role == "system" else ("text", "image_url", "document"))
        elif role == "assistant":
            tcs = m.get("tool_calls")
            if "content" not in m and not tcs:
                raise bad(f"{where} needs content or tool_calls")
            if "content" in m:
                _parts(m["content"], where, ("text", "thinking"))
            if tcs is not None:
                if not isinstance(tcs, list):
                    raise bad(f"{where}.tool_calls must be a list")
                pending = []
                for k, tc in enumerate(tcs):
                    fn = tc.get("function") if isinstance(tc, dict) else None
                    if not isinstance(tc, dict) or not isinstance(tc.get("id"), str) or tc.get("type") != "function":
                        raise bad(f"{where}.tool_calls[{k}] needs an id and type function")
                    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str):
                        raise bad(f"{where}.tool_calls[{k}].function needs a name and string arguments")
                    pending.append(tc["id"])
            if "tool_plan" in m and not isinstance(m["tool_plan"], str):
                raise bad(f"{where}.tool_plan must be a string")
        else:
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str) or tcid not in pending:
                raise bad(f"{where}.tool_call_id must answer a tool call of the previous assistant message")
            pending.remove(tcid)
            if "content" not in m:
                raise bad(f"{where}.content is required")
            _parts(m["content"], where, ("text", "document"))
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("tools must be a list")
        for k, t in enumerate(tools):
            fn = t.get("function") if isinstance(t, dict) else None
            if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
                raise bad(f"tools[{k}] must be {{type: function, function: {{...}}}}")
            if not isinstance(fn.get("name"), str) or not isinstance(fn.get("parameters"), dict):
                raise bad(f"tools[{k}].function needs a name and a parameters object")
    tc = body.get("tool_choice")
    if tc is not None:
        if tc not in ("REQUIRED", "NONE"):
            raise bad("tool_choice must be REQUIRED or NONE")
        if not tools:
            raise bad("tool_choice requires tools")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise bad("stream must be a boolean")
    mt = body.get("max_tokens")
    if mt is not None and (isinstance(mt, bool) or not isinstance(mt, int) or mt < 1):
        raise bad("max_tokens must be a positive integer")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise bad("stop_sequences must be a list of strings")
    _number(body, "p", 0.01, 0.99)
    _number(body, "k", 0, 500)
    _number(body, "temperature", 0, 2)
    _number(body, "frequency_penalty", 0, 1)
    _number(body, "presence_penalty", 0, 1)
    rf = body.get("response_format")
    if rf is not None:
        if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object"):
            raise bad("response_format.type must be text or json_object")
        if "json_schema" in rf and not isinstance(rf["json_schema"], dict):
            raise bad("response_format.json_schema must be an object")


def known_model(model: str) -> bool:
    return model.startswith(("command", "c4ai", "replay:", "fault:"))


# --------------------------------------------------------------------------- answers


def _tool_call_id(name: str) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return f"{name}_" + "".join(secrets.choice(alphabet) for _ in range(12))


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        msgs = body["messages"]
        last = msgs[-1]
        tools = body.get("tools") or []
        self.tool_call: dict[str, Any] | None = None
        self.plan = ""
        self.finish = "COMPLETE"
        prompt = sum(1 + count_tokens(content_text(m.get("content"))) for m in msgs)
        if last["role"] != "tool" and tools and body.get("tool_choice") != "NONE":
            fn = tools[0]["function"]
            self.plan = f"I will call {fn['name']}."
            self.tool_call = {
                "id": _tool_call_id(fn["name"]),
                "type": "function",
                "function": {"name": fn["name"], "arguments": example_arguments(fn)},
            }
            self.finish = "TOOL_CALL"
            self.text = ""
            self.pieces: list[str] = []
            completion = len(self.plan.split()) + count_tokens(self.tool_call["function"]["arguments"])
        else:
            if last["role"] == "tool":
                text = "Tool said: " + content_text(last.get("content"))
            else:
                user = next((m for m in reversed(msgs) if m["role"] == "user"), None)
                text = "Echo: " + (content_text(user.get("content")) if user else "")
            if (body.get("response_format") or {}).get("type") == "json_object":
                text = json.dumps({"answer": text})
            for s in body.get("stop_sequences") or []:
                if s and s in text:
                    text = text[: text.find(s)]
                    self.finish = "STOP_SEQUENCE"
            pieces = words(text)
            limit = body.get("max_tokens")
            if isinstance(limit, int) and limit < len(pieces):
                pieces = pieces[:limit]
                text = "".join(pieces)
                self.finish = "MAX_TOKENS"
            self.text = text
            self.pieces = pieces
            completion = len(text.split())
        self.usage = {
            "billed_units": {"input_tokens": prompt, "output_tokens": completion},
            "tokens": {"input_tokens": prompt + PREAMBLE_TOKENS, "output_tokens": completion},
        }


def completion(body: dict[str, Any]) -> dict[str, Any]:
    a = Answer(body)
    message: dict[str, Any] = {"role": "assistant"}
    if a.tool_call:
        message["tool_plan"] = a.plan
        message["tool_calls"] = [a.tool_call]
    else:
        message["content"] = [{"type": "text", "text": a.text}]
    return {"id": str(uuid.uuid4()), "message": message, "finish_reason": a.finish, "usage": a.usage}


def event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: ".encode() + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def stream_events(body: dict[str, Any]) -> list[bytes]:
    a = Answer(body)
    out = [{"id": str(uuid.uuid4()), "type": "message-start",
            "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}]
    if a.tool_call:
        for piece in words(a.plan):
            out.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
        tc = a.tool_call
        out.append({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
            "id": tc["id"], "type": "function", "function": {"name": tc["function"]["name"], "arguments": ""}}}}})
        args = tc["function"]["arguments"]
        for k in range(0, len(args), 5):
            out.append({"type": "tool-call-delta", "index": 0,
                        "delta": {"message": {"tool_calls": {"function": {"arguments": args[k:k + 5]}}}}})
        out.append({"type": "tool-call-end", "index": 0})
    else:
        out.append({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}})
        for piece in a.pieces:
            out.append({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}})
        out.append({"type": "content-end", "index": 0})
    out.append({"type": "message-end", "delta": {"finish_reason": a.finish, "usage": a.usage}})
    return [event(p) for p in out]


def replay_events(stem: str) -> list[bytes]:
    """A recorded stream: ``.sse`` as is, ``.chunks.jsonl`` with ``event:`` lines restored."""
    fx = fixtures.stream_fixture(NAME, stem)
    if fx.path.name.endswith(".sse"):
        return fx.events
    lines = [ln for ln in fx.path.read_bytes().splitlines() if ln.strip()]
    return [f"event: {json.loads(ln)['type']}\ndata: ".encode() + ln + b"\n\n" for ln in lines]


# --------------------------------------------------------------------------- handler


async def chat(request: web.Request) -> web.StreamResponse:
    try:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            raise CohereError(401, "invalid api token")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise bad("body is not valid JSON")
        validate(body)
        if not known_model(body["model"]):
            raise CohereError(404, f"model '{body['model']}' not found, make sure the correct model ID was used and that you have access to the model.")
        try:
            plan = parse_model(body["model"])
        except GrammarError as e:
            raise bad(str(e))
    except CohereError as e:
        return e.response()

    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    headers = {"x-debug-trace-id": uuid.uuid4().hex, "num_tokens": "0"}
    if fault.status is not None:
        raw = fault_body(fault.status, plan.model)
        if fault.body:
            try:
                _, raw = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return bad(f"fleet: {e}").response()
        return await wire.send_body(request, raw, fault, fault.status, headers)
    stream = body.get("stream") is True
    if plan.kind == "replay":
        stem = plan.fixture or ""
        status = fixtures.status_for_stem(stem)
        try:
            if status != 200 or not stream:
                _, raw = fixtures.json_fixture(NAME, stem)
                return await wire.send_body(request, raw, fault, status, headers)
            events = replay_events(stem)
        except fixtures.FixtureError as e:
            return bad(f"fleet: {e}").response()
        return await wire.send_stream(request, events, fault, headers)
    if stream:
        return await wire.send_stream(request, stream_events(body), fault, headers)
    return await wire.send_body(request, json.dumps(completion(body)).encode(), fault, 200, headers)


async def not_found(request: web.Request) -> web.Response:
    return web.json_response({"message": f"fleet: no Cohere route {request.method} {request.path}"}, status=404)


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post(prefix + "/v2/chat", chat)
    app.router.add_post(prefix + "/v2/embed", embed_faces.cohere_embed)
    app.router.add_post(prefix + "/v2/rerank", rerank_faces.cohere_rerank)
    app.router.add_route("*", prefix + "/{tail:.*}", not_found)
