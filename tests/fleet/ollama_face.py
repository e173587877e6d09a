"""The Ollama face of the fleet: the native chat API (``POST /ollama/api/chat``).

Mounted under ``/ollama``, so the gateway's ``api_base`` is
``http://127.0.0.1:<port>/ollama``. No auth, like a local Ollama.

What it checks, answering with Ollama's ``{"error": "…"}`` JSON:

* a JSON object with ``model`` (a known family such as ``llama3.2``,
  ``llama3.2:<tag>``, ``qwen3``, ``gpt-oss:20b``, or a directive; else 404
  ``model "…" not found, try pulling it first``) and ``messages``
* fields Ollama's ``ChatRequest`` does not have (``max_tokens``,
  ``temperature`` at the top level, ``stream_options``, …): a 400 starting
  ``fleet:`` (Ollama itself would silently ignore them)
* messages: role ``system``/``user``/``assistant``/``tool``, ``content`` a
  string (OpenAI's part arrays are Go unmarshal errors), ``images`` valid
  base64 strings, ``tool_calls[].function.arguments`` an object, ``tool_name``
  a string; ``options`` typed (``num_predict``, ``temperature``, ``top_p``,
  ``top_k``, ``stop``, ``seed``, penalties); ``format`` ``"json"`` or a schema;
  ``think`` a boolean or ``low``/``medium``/``high``

``stream`` defaults to true, as in Ollama: a request that does not say
``"stream": false`` gets NDJSON.

What it answers for a plain model (``replay:``/``fault:`` as in
``faults.py``, over ``fixtures/ollama``; ``replay:error`` is sent with 500):

* after a ``tool`` turn: ``"Tool said: <its content>"``
* with ``tools``: one call to the first tool, arguments as an object (built
  like the OpenAI face's), no id (as Ollama)
* else ``"Echo: <last user text>"`` (``{"answer": …}`` with ``format``);
  ``options.stop`` truncates, ``options.num_predict`` truncates with
  ``done_reason: length``; with ``think`` the message has ``thinking:
  "Thinking about: <last user text>"``
* counts: ``prompt_eval_count`` = words + 1 per message, ``eval_count`` =
  words generated (tool call: words in the arguments + 1)
* streaming: one NDJSON line per word (thinking first), the tool call in one
  line, then the ``done: true`` line with counts
* ``error-midstream…``: two words, then ``{"error": "…"}`` (HTTP status 200)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from . import embed_faces, fixtures, wire
from .faults import GrammarError, parse_model
from .openai_face import count_tokens, example_arguments, words

NAME = "ollama"
PREFIX = "/ollama"
NDJSON = "application/x-ndjson"
FAMILIES = ("llama3.2", "llama3.1", "qwen3", "gpt-oss", "gemma3", "deepseek-r1", "mistral", "error-midstream")
TOP_FIELDS = {"model", "messages", "tools", "stream", "format", "keep_alive", "options", "think", "truncate", "shift", "logprobs", "top_logprobs"}
MESSAGE_FIELDS = {"role", "content", "images", "tool_calls", "tool_name", "thinking"}
OPTION_TYPES = {
    "num_predict": int, "temperature": (int, float), "top_p": (int, float), "top_k": int, "seed": int,
    "stop": list, "frequency_penalty": (int, float), "presence_penalty": (int, float), "num_ctx": int,
    "repeat_penalty": (int, float), "min_p": (int, float),
}
MIDSTREAM_ERROR = "an error was encountered while running the model: CUDA error: out of memory"


class OllamaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> web.Response:
        return web.json_response({"error": self.message}, status=self.status)


def bad(message: str) -> OllamaError:
    return OllamaError(400, message)


def fault_body(status: int, model: str) -> bytes:
    messages = {
        400: "fleet fault: invalid request",
        401: "unauthorized",
        404: f'model "{model}" not found, try pulling it first',
        429: "too many requests",
        500: "llama runner process has terminated: exit status 2",
        503: "server busy, please try again.  maximum pending requests exceeded",
    }
    return json.dumps({"error": messages.get(status, f"fleet fault: HTTP {status}")}).encode()


def _go_type(v: Any) -> str:
    return {list: "array", dict: "object", str: "string", bool: "bool"}.get(type(v), "number")


def validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise bad("json: cannot unmarshal into Go value of type api.ChatRequest")
    unknown = sorted(set(body) - TOP_FIELDS)
    if unknown:
        raise bad(f"fleet: unknown field {unknown[0]!r} (Ollama would silently ignore it)")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad("model is required")
    msgs = body.get("messages")
    if not isinstance(msgs, list):
        raise bad("messages is required")
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad(f"json: cannot unmarshal {_go_type(m)} into Go struct field ChatRequest.messages of type api.Message")
        extra = sorted(set(m) - MESSAGE_FIELDS)
        if extra:
            raise bad(f"fleet: unknown field {where}.{extra[0]!r}")
        if m.get("role") not in ("system", "user", "assistant", "tool"):
            raise bad(f"fleet: {where}.role must be system, user, assistant or tool")
        if "content" in m and not isinstance(m["content"], str):
            raise bad(f"json: cannot unmarshal {_go_type(m['content'])} into Go struct field Message.messages.content of type string")
        for k, img in enumerate(m.get("images") or []):
            try:
                base64.b64decode(img, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise bad(f"illegal base64 data at input byte 0 ({where}.images[{k}])")
        for k, tc in enumerate(m.get("tool_calls") or []):
            fn = tc.get("function") if isinstance(tc, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise bad(f"fleet: {where}.tool_calls[{k}].function.name is required")
            if "arguments" in fn and not isinstance(fn["arguments"], dict):
                raise bad(
                    f"json: cannot unmarshal {_go_type(fn['arguments'])} into Go struct field "
                    "ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments"
                )
        if "tool_name" in m and not isinstance(m["tool_name"], str):
            raise bad(f"fleet: {where}.tool_name must be a string")
    opts = body.get("options")
    if opts is not None:
        if not isinstance(opts, dict):
            raise bad("json: cannot unmarshal into Go struct field ChatRequest.options of type map[string]interface {}")
        for k, v in opts.items():
            want = OPTION_TYPES.get(k)
            if want is None:
                raise bad(f"fleet: unknown option {k!r} (Ollama would warn and ignore it)")
            if isinstance(v, bool) or not isinstance(v, want):
                raise bad(f"option {k!r} must be of type {want}")
    fmt = body.get("format")
    if fmt is not None and fmt != "json" and not isinstance(fmt, dict):
        raise bad(f"invalid format: {fmt!r}")
    think = body.get("think")
    if think is not None and not isinstance(think, bool) and think not in ("low", "medium", "high"):
        raise bad(f"invalid think value: {think!r}")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise bad("json: cannot unmarshal into Go struct field ChatRequest.stream of type bool")
    for k, t in enumerate(body.get("tools") or []):
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance((t.get("function") or {}).get("name"), str):
            raise bad(f"fleet: tools[{k}] must be {{type: function, function: {{name, …}}}}")


def known_model(model: str) -> bool:
    if model.startswith(("replay:", "fault:")):
        return True
    base = model.split(":", 1)[0]
    return any(base == f or base.startswith(f + "-") for f in FAMILIES)


# --------------------------------------------------------------------------- answers


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        msgs = body["messages"]
        last = msgs[-1] if msgs else {"role": "user", "content": ""}
        tools = body.get("tools") or []
        opts = body.get("options") or {}
        user = next((m for m in reversed(msgs) if m.get("role") == "user"), {})
        self.prompt = sum(1 + count_tokens(m.get("content") or "") for m in msgs)
        self.thinking = f"Thinking about: {user.get('content', '')}" if body.get("think") not in (None, False) else ""
        self.tool_call: dict[str, Any] | None = None
        self.done_reason = "stop"
        self.text = ""
        self.pieces: list[str] = []
        if last.get("role") != "tool" and tools:
            fn = tools[0]["function"]
            self.tool_call = {"function": {"name": fn["name"], "arguments": json.loads(example_arguments(fn))}}
            self.completion = 1 + count_tokens(json.dumps(self.tool_call["function"]["arguments"]))
            return
        if last.get("role") == "tool":
            text = "Tool said: " + (last.get("content") or "")
        else:
            text = "Echo: " + (user.get("content") or "")
        if body.get("format") is not None:
            text = json.dumps({"answer": text})
        for s in opts.get("stop") or []:
            if s and s in text:
                text = text[: text.find(s)]
        pieces = words(text)
        limit = opts.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces = pieces[:limit]
            text = "".join(pieces)
            self.done_reason = "length"
        self.text = text
        self.pieces = pieces
        self.completion = len(text.split())


def final_fields(a: Answer) -> dict[str, Any]:
    return {
        "done_reason": a.done_reason,
        "done": True,
        "total_duration": 4_883_583_458,
        "load_duration": 1_334_875,
        "prompt_eval_count": a.prompt,
        "prompt_eval_duration": 342_546_000,
        "eval_count": a.completion,
        "eval_duration": 4_535_599_000,
    }


def completion(body: dict[str, Any], model: str) -> dict[str, Any]:
    a = Answer(body)
    message: dict[str, Any] = {"role": "assistant", "content": a.text}
    if a.thinking:
        message["thinking"] = a.thinking
    if a.tool_call:
        message["tool_calls"] = [a.tool_call]
    return {"model": model, "created_at": now_rfc3339(), "message": message, **final_fields(a)}


def line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def stream_lines(body: dict[str, Any], model: str) -> list[bytes]:
    a = Answer(body)
    out = []

    def msg(**fields: Any) -> dict[str, Any]:
        return {"model": model, "created_at": now_rfc3339(), "message": {"role": "assistant", "content": "", **fields}, "done": False}

    for piece in words(a.thinking):
        out.append(line(msg(thinking=piece)))
    if a.tool_call:
        out.append(line(msg(tool_calls=[a.tool_call])))
    for piece in a.pieces:
        out.append(line(msg(content=piece)))
    if model.startswith("error-midstream"):
        return out[:2] + [line({"error": MIDSTREAM_ERROR})]
    final = msg()
    final.update(final_fields(a))
    out.append(line(final))
    return out


# --------------------------------------------------------------------------- handler


async def chat(request: web.Request) -> web.StreamResponse:
    try:
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise bad("invalid character looking for beginning of value")
        validate(body)
        if not known_model(body["model"]):
            raise OllamaError(404, f'model "{body["model"]}" not found, try pulling it first')
        try:
            plan = parse_model(body["model"])
        except GrammarError as e:
            raise bad(str(e))
    except OllamaError as e:
        return e.response()

    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    if fault.status is not None:
        raw = fault_body(fault.status, plan.model)
        if fault.body:
            try:
                _, raw = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return bad(f"fleet: {e}").response()
        return await wire.send_body(request, raw, fault, fault.status)
    stream = body.get("stream", True) is not False
    if plan.kind == "replay":
        stem = plan.fixture or ""
        try:
            if stream and not stem.endswith(".json"):
                path = fixtures.fixtures_dir() / NAME / (stem if stem.endswith(".ndjson") else f"{stem}.ndjson")
                if not path.is_file():
                    raise fixtures.FixtureError(f"no NDJSON fixture {path.name!r} in {path.parent}")
                lines = [ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]
                return await wire.send_stream(request, lines, fault, content_type=NDJSON)
            _, raw = fixtures.json_fixture(NAME, stem)
        except fixtures.FixtureError as e:
            return bad(f"fleet: {e}").response()
        status = 500 if stem.removesuffix(".json") == "error" else fixtures.status_for_stem(stem)
        return await wire.send_body(request, raw, fault, status)
    if stream:
        return await wire.send_stream(request, stream_lines(body, plan.model), fault, content_type=NDJSON)
    return await wire.send_body(request, json.dumps(completion(body, plan.model)).encode(), fault, 200)


async def not_found(request: web.Request) -> web.Response:
    return web.Response(status=404, text="404 page not found", content_type="text/plain")


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post(prefix + "/api/chat", chat)
    app.router.add_post(prefix + "/api/embed", embed_faces.ollama_embed)
    app.router.add_route("*", prefix + "/{tail:.*}", not_found)
