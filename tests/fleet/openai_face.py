"""The OpenAI face of the fleet: Chat Completions and Models, OpenAI's wire format.

Mounted under a prefix (``/openai``), so the upstream base URL is
``http://127.0.0.1:<port>/openai/v1``.

What it checks (answering with OpenAI's own error JSON
``{"error": {"message", "type", "param", "code"}}`` when wrong):

* ``Authorization: Bearer sk-fleet-openai`` (else 401 ``invalid_api_key``)
* ``Content-Type: application/json`` and a JSON object body
* ``model`` is a string; ``messages`` is a non-empty list of objects with a
  valid ``role``; content parts are well-formed; a ``tool`` message answers a
  preceding assistant ``tool_calls`` id, and every assistant ``tool_calls`` id
  is answered before the next non-tool message
* per model family, what OpenAI refuses (``openai_models``): reasoning models
  (o1/o3/o4-mini/gpt-5 ...) refuse ``max_tokens`` (use
  ``max_completion_tokens``) and non-default ``temperature``/``top_p``/
  penalties/``logprobs``; o1-mini/o1-preview refuse system turns;
  Responses-only models (o3-pro, gpt-5-codex ...) are a 404 here
* ``stream_options`` only when ``stream`` is true; ``n`` in 1..128;
  ``top_logprobs`` only with ``logprobs``; ``tools`` are functions with names;
  ``response_format: json_object`` needs the word "json" in the messages

What it answers for a plain model (see ``faults.py`` for ``replay:`` / ``fault:``):

* last message is ``tool``      -> text ``"Tool said: <its content>"``
* ``tools`` given, ``tool_choice`` != "none" -> one call to the first tool (or
  the named one), arguments ``{"<required string prop>": "Paris", ...}``
  (enum -> first value, integer/number -> 1, boolean -> true, array -> [],
  object -> {}), finish_reason ``tool_calls``
* otherwise                      -> text ``"Echo: <text of the last user message>"``
  (text parts joined by a space); with ``response_format`` json_object /
  json_schema the content is ``{"answer": "Echo: ..."}`` instead
* ``n`` choices with the same answer; ``stop`` truncates before the first stop
  string; ``max_completion_tokens`` / ``max_tokens`` truncate to that many
  words with finish_reason ``length``; ``logprobs``/``top_logprobs`` honoured
* usage: ``prompt_tokens`` = words in all message text (content, text parts,
  tool-call arguments) + 1 per message; ``completion_tokens`` = words
  generated per choice (tool call: words in the arguments + 1) times ``n``
* streaming: a role chunk, one chunk per word (``\\s*\\S+``) per choice, a finish
  chunk per choice, a usage chunk (``choices: []``) only when
  ``stream_options.include_usage`` is true (then every chunk has
  ``"usage": null`` like OpenAI), then ``data: [DONE]``
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import string
import time
from typing import Any

from aiohttp import web

from . import fixtures, openai_models, wire
from .faults import GrammarError, parse_model

NAME = "openai"
PREFIX = "/openai"
API_KEY = os.environ.get("FLEET_OPENAI_KEY", "sk-fleet-openai")
FINGERPRINT = "fp_f1ee7c0de0"

VALID_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")

MODELS = [
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",
    "gpt-4o",
    "gpt-4o-2024-08-06",
    "gpt-4.1-nano",
    "gpt-4.1-nano-2025-04-14",
]


# --------------------------------------------------------------------------- errors


class OpenAIHTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=_std_headers() | self.headers)


def bad(message: str, param: str | None = None, code: str | None = None) -> OpenAIHTTPError:
    return OpenAIHTTPError(400, message, "invalid_request_error", param, code)


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def generic_error(status: int, model: str) -> OpenAIHTTPError:
    """An OpenAI-style error body for ``status`` (used by ``fault:status=``)."""
    if status == 400:
        return OpenAIHTTPError(400, "fleet fault: invalid request.", "invalid_request_error")
    if status == 401:
        return OpenAIHTTPError(
            401,
            "Incorrect API key provided: sk-fake*******0000. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            "invalid_api_key",
        )
    if status == 403:
        return OpenAIHTTPError(
            403, "You are not allowed to sample from this model", "invalid_request_error", None, None
        )
    if status == 404:
        return OpenAIHTTPError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            None,
            "model_not_found",
        )
    if status == 408:
        return OpenAIHTTPError(408, "Request timed out.", "timeout", None, None)
    if status == 429:
        return OpenAIHTTPError(
            429,
            f"Rate limit reached for {model} in organization org-fleet on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 20s.",
            "requests",
            "requests",
            "rate_limit_exceeded",
        )
    if status == 500:
        return OpenAIHTTPError(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        )
    if status == 502:
        return OpenAIHTTPError(502, "Bad gateway.", "server_error", None, None)
    if status == 503:
        return OpenAIHTTPError(
            503, "The engine is currently overloaded, please try again later.", "server_error"
        )
    if status == 504:
        return OpenAIHTTPError(504, "Gateway timeout.", "server_error", None, None)
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    return OpenAIHTTPError(status, f"fleet fault: HTTP {status}.", type_)


def _std_headers() -> dict[str, str]:
    return {
        "x-request-id": "req_" + secrets.token_hex(16),
        "openai-version": "2020-10-01",
        "openai-organization": "org-fleet",
        "openai-processing-ms": "3",
    }


# --------------------------------------------------------------------------- validation


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _bearer(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth[len("Bearer "):] if auth.startswith("Bearer ") else auth


def check_auth(request: web.Request) -> None:
    auth = request.headers.get("Authorization")
    if not auth:
        raise OpenAIHTTPError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
            "field (with blank username) if you're accessing the API from your browser and are "
            "prompted for a username and password. You can obtain an API key from "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            "invalid_api_key",
        )
    scheme, _, token = auth.partition(" ")
    if scheme != "Bearer" or token != API_KEY:
        raise OpenAIHTTPError(
            401,
            f"Incorrect API key provided: {_mask_key(token or auth)}. You can find your API key "
            "at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            "invalid_api_key",
        )


async def read_json_body(request: web.Request) -> dict[str, Any]:
    ctype = request.headers.get("Content-Type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise bad(
            f"Invalid Content-Type header ({ctype or 'missing'}), expected application/json.",
        )
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
            "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
            "please contact us through our help center at help.openai.com.)"
        )
    if not isinstance(body, dict):
        raise bad(
            f"Invalid type for request body: expected an object, but got {_type_name(body)} instead.",
            code="invalid_type",
        )
    return body


def _validate_content_parts(parts: list[Any], where: str) -> None:
    for j, part in enumerate(parts):
        p = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise bad(f"Invalid type for '{p}': expected an object, but got {_type_name(part)} instead.", p, "invalid_type")
        t = part.get("type")
        if t not in PART_TYPES:
            supported = ", ".join(f"'{x}'" for x in PART_TYPES[:-1]) + f", and '{PART_TYPES[-1]}'"
            raise bad(f"Invalid value: '{t}'. Supported values are: {supported}.", f"{p}.type", "invalid_value")
        if t == "text" and not isinstance(part.get("text"), str):
            raise bad(f"Missing required parameter: '{p}.text'.", f"{p}.text", "missing_required_parameter")
        if t == "image_url":
            iu = part.get("image_url")
            if not isinstance(iu, dict) or not isinstance(iu.get("url"), str):
                raise bad(
                    f"Missing required parameter: '{p}.image_url.url'.",
                    f"{p}.image_url.url",
                    "missing_required_parameter",
                )


def validate_chat(body: dict[str, Any]) -> None:
    model = body.get("model")
    if model is None:
        raise bad("you must provide a model parameter")
    if not isinstance(model, str):
        raise bad(f"Invalid type for 'model': expected a string, but got {_type_name(model)} instead.", "model", "invalid_type")

    if "messages" not in body:
        raise bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise bad(f"Invalid type for 'messages': expected an array, but got {_type_name(msgs)} instead.", "messages", "invalid_type")
    if not msgs:
        raise bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )

    pending_tool_ids: list[str] = []  # ids of the last assistant tool_calls not yet answered
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad(f"Invalid type for '{where}': expected an object, but got {_type_name(m)} instead.", where, "invalid_type")
        role = m.get("role")
        if role is None:
            raise bad(f"Missing required parameter: '{where}.role'.", f"{where}.role", "missing_required_parameter")
        if role not in VALID_ROLES:
            raise bad(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                f"{where}.role",
                "invalid_value",
            )
        content = m.get("content")
        if role != "tool" and pending_tool_ids:
            raise bad(
                "An assistant message with 'tool_calls' must be followed by tool messages responding "
                "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                + ", ".join(pending_tool_ids),
                f"{where}.role",
            )
        if role in ("user", "system", "developer"):
            if "content" not in m or content is None:
                raise bad(f"Missing required parameter: '{where}.content'.", f"{where}.content", "missing_required_parameter")
        if isinstance(content, list):
            _validate_content_parts(content, f"{where}.content")
        elif content is not None and not isinstance(content, str):
            raise bad(
                f"Invalid type for '{where}.content': expected one of a string or array of objects, "
                f"but got {_type_name(content)} instead.",
                f"{where}.content",
                "invalid_type",
            )
        if role == "assistant":
            tcs = m.get("tool_calls")
            if content is None and not tcs and m.get("function_call") is None and m.get("refusal") is None:
                raise bad(f"Missing required parameter: '{where}.content'.", f"{where}.content", "missing_required_parameter")
            if tcs is not None:
                if not isinstance(tcs, list):
                    raise bad(f"Invalid type for '{where}.tool_calls': expected an array.", f"{where}.tool_calls", "invalid_type")
                for k, tc in enumerate(tcs):
                    tw = f"{where}.tool_calls[{k}]"
                    if not isinstance(tc, dict) or not isinstance(tc.get("id"), str):
                        raise bad(f"Missing required parameter: '{tw}.id'.", f"{tw}.id", "missing_required_parameter")
                    fn = tc.get("function")
                    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                        raise bad(f"Missing required parameter: '{tw}.function'.", f"{tw}.function", "missing_required_parameter")
                    if not isinstance(fn.get("arguments"), str):
                        raise bad(
                            f"Invalid type for '{tw}.function.arguments': expected a string.",
                            f"{tw}.function.arguments",
                            "invalid_type",
                        )
                    pending_tool_ids.append(tc["id"])
        if role == "tool":
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str):
                raise bad(
                    "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.",
                    f"{where}.tool_call_id",
                    "missing_required_parameter",
                )
            if tcid not in pending_tool_ids:
                raise bad(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'.",
                    f"{where}.role",
                )
            pending_tool_ids.remove(tcid)
    if pending_tool_ids:
        raise bad(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to "
            "each 'tool_call_id'. The following tool_call_ids did not have response messages: "
            + ", ".join(pending_tool_ids),
            "messages",
        )

    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad(f"Invalid type for 'stream': expected a boolean, but got {_type_name(stream)} instead.", "stream", "invalid_type")
    if body.get("stream_options") is not None:
        if stream is not True:
            raise bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
        if not isinstance(body["stream_options"], dict):
            raise bad("Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type")
    n = body.get("n")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise bad(f"Invalid type for 'n': expected an integer, but got {_type_name(n)} instead.", "n", "invalid_type")
        if not 1 <= n <= 128:
            raise bad(f"Invalid 'n': integer out of range. Expected a value between 1 and 128, got {n}.", "n", "integer_out_of_range")
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise bad("Invalid value: top_logprobs. 'logprobs' must be set to true when 'top_logprobs' is set.", "top_logprobs")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("Invalid type for 'tools': expected an array.", "tools", "invalid_type")
        for k, t in enumerate(tools):
            if not isinstance(t, dict) or t.get("type") != "function":
                raise bad(f"Invalid value for 'tools[{k}].type': expected 'function'.", f"tools[{k}].type", "invalid_value")
            fn = t.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise bad(f"Missing required parameter: 'tools[{k}].function.name'.", f"tools[{k}].function.name", "missing_required_parameter")
    tc = body.get("tool_choice")
    if tc is not None:
        if isinstance(tc, str):
            if tc not in ("none", "auto", "required"):
                raise bad(f"Invalid value: '{tc}'. Supported values are: 'none', 'auto', and 'required'.", "tool_choice", "invalid_value")
        elif not (isinstance(tc, dict) and isinstance(tc.get("function"), dict)):
            raise bad("Invalid type for 'tool_choice'.", "tool_choice", "invalid_type")
        if tc != "none" and not tools:
            raise bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice")
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_object":
        if "json" not in json.dumps(msgs).lower():
            raise bad(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                "messages",
            )


# --------------------------------------------------------------------------- the generated answer

_WORD = re.compile(r"\s*\S+|\s+$")


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", "input_text")
        )
    return str(content)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def count_tokens(text: str) -> int:
    return len(text.split())


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        total += 1 + count_tokens(content_text(m.get("content")))
        for tc in m.get("tool_calls") or []:
            total += count_tokens(str((tc.get("function") or {}).get("arguments", "")))
    return total


def _gen_id(prefix: str, n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def example_arguments(fn: dict[str, Any]) -> str:
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    args: dict[str, Any] = {}
    for name in params.get("required") or []:
        schema = props.get(name) or {}
        t = schema.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), "string")
        if schema.get("enum"):
            args[name] = schema["enum"][0]
        elif t == "integer" or t == "number":
            args[name] = 1
        elif t == "boolean":
            args[name] = True
        elif t == "array":
            args[name] = []
        elif t == "object":
            args[name] = {}
        else:
            args[name] = "Paris"
    return json.dumps(args)


class Answer:
    """The generated assistant turn (same for every choice)."""

    def __init__(self, body: dict[str, Any]) -> None:
        msgs = body["messages"]
        last = msgs[-1]
        tools = body.get("tools") or []
        tool_choice = body.get("tool_choice")
        self.tool_call: dict[str, Any] | None = None
        self.text = ""
        self.finish = "stop"
        if last.get("role") != "tool" and tools and tool_choice != "none":
            fn = tools[0]["function"]
            if isinstance(tool_choice, dict):
                wanted = (tool_choice.get("function") or {}).get("name")
                fn = next((t["function"] for t in tools if t["function"].get("name") == wanted), fn)
            self.tool_call = {
                "id": _gen_id("call_", 24),
                "type": "function",
                "function": {"name": fn["name"], "arguments": example_arguments(fn)},
            }
            self.finish = "tool_calls"
            self.completion_tokens = 1 + count_tokens(self.tool_call["function"]["arguments"])
            return
        if last.get("role") == "tool":
            text = "Tool said: " + content_text(last.get("content"))
        else:
            user = next((m for m in reversed(msgs) if m.get("role") == "user"), None)
            text = "Echo: " + (content_text(user.get("content")) if user else "")
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"):
            text = json.dumps({"answer": text})
        stops = body.get("stop")
        if isinstance(stops, str):
            stops = [stops]
        if isinstance(stops, list):
            cut = min((text.find(s) for s in stops if isinstance(s, str) and s and s in text), default=-1)
            if cut >= 0:
                text = text[:cut]
        pieces = words(text)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(pieces):
            pieces = pieces[:limit]
            text = "".join(pieces)
            self.finish = "length"
        self.text = text
        self.pieces = pieces
        self.completion_tokens = len(text.split())


def _logprob(piece: str, i: int, top: int) -> dict[str, Any]:
    lp = -round(0.01 * (i % 7 + 1), 4)
    entry = {"token": piece, "logprob": lp, "bytes": list(piece.encode())}
    alts = [entry] + [
        {"token": f"{piece}#{k}", "logprob": lp - k, "bytes": list(f"{piece}#{k}".encode())} for k in range(1, top)
    ]
    return {**entry, "top_logprobs": alts[:top]}


class Generated:
    def __init__(self, body: dict[str, Any], model: str) -> None:
        self.body = body
        self.model = model
        self.id = _gen_id("chatcmpl-", 29)
        self.created = int(time.time())
        self.n = body.get("n") or 1
        self.answer = Answer(body)
        self.want_logprobs = bool(body.get("logprobs"))
        self.top = int(body.get("top_logprobs") or 0)
        p = prompt_tokens(body["messages"])
        c = self.answer.completion_tokens * self.n
        self.usage = {
            "prompt_tokens": p,
            "completion_tokens": c,
            "total_tokens": p + c,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    # ---- non-stream
    def completion(self) -> dict[str, Any]:
        a = self.answer
        choices = []
        for i in range(self.n):
            if a.tool_call:
                msg = {"role": "assistant", "content": None, "tool_calls": [a.tool_call], "refusal": None, "annotations": []}
            else:
                msg = {"role": "assistant", "content": a.text, "refusal": None, "annotations": []}
            logprobs = None
            if self.want_logprobs and not a.tool_call:
                logprobs = {"content": [_logprob(p, k, self.top) for k, p in enumerate(a.pieces)], "refusal": None}
            choices.append({"index": i, "message": msg, "logprobs": logprobs, "finish_reason": a.finish})
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }

    # ---- stream
    def chunks(self) -> list[dict[str, Any]]:
        include_usage = bool((self.body.get("stream_options") or {}).get("include_usage"))
        a = self.answer

        def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
            c = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "service_tier": "default",
                "system_fingerprint": FINGERPRINT,
                "choices": choices,
            }
            if include_usage:
                c["usage"] = None
            return c

        def choice(i: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
            return {"index": i, "delta": delta, "logprobs": logprobs, "finish_reason": finish}

        out: list[dict[str, Any]] = []
        if a.tool_call:
            tc = a.tool_call
            args = tc["function"]["arguments"]
            frags = [args[k : k + 6] for k in range(0, len(args), 6)] or [""]
            for i in range(self.n):
                out.append(
                    chunk([
                        choice(
                            i,
                            {
                                "role": "assistant",
                                "content": None,
                                "tool_calls": [
                                    {"index": 0, "id": tc["id"], "type": "function", "function": {"name": tc["function"]["name"], "arguments": ""}}
                                ],
                                "refusal": None,
                            },
                        )
                    ])
                )
            for frag in frags:
                for i in range(self.n):
                    out.append(chunk([choice(i, {"tool_calls": [{"index": 0, "function": {"arguments": frag}}]})]))
        else:
            for i in range(self.n):
                out.append(chunk([choice(i, {"role": "assistant", "content": "", "refusal": None})]))
            for k, piece in enumerate(a.pieces):
                for i in range(self.n):
                    lp = None
                    if self.want_logprobs:
                        lp = {"content": [_logprob(piece, k, self.top)], "refusal": None}
                    out.append(chunk([choice(i, {"content": piece}, None, lp)]))
        for i in range(self.n):
            out.append(chunk([choice(i, {}, a.finish)]))
        if include_usage:
            u = chunk([])
            u["usage"] = self.usage
            out.append(u)
        return out


def sse_events(chunks: list[dict[str, Any]]) -> list[bytes]:
    events = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n" for c in chunks]
    events.append(b"data: [DONE]\n\n")
    return events


# --------------------------------------------------------------------------- handlers


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        check_auth(request)
        body = await read_json_body(request)
        validate_chat(body)
        try:
            plan = parse_model(body["model"])
        except GrammarError as e:
            raise bad(str(e), "model")
        if plan.kind == "normal":
            openai_models.check_chat_params(body, plan.model, bad, _not_found_error)
    except OpenAIHTTPError as e:
        return e.response()

    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    headers = _std_headers()

    if fault.status is not None:
        if fault.body:
            try:
                _, raw = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return bad(f"fleet: {e}", "model").response()
            return await wire.send_body(request, raw, fault, fault.status, headers)
        err = generic_error(fault.status, plan.model)
        raw, ctype = fault.error_body(err.body, _bearer(request))
        return await wire.send_body(request, raw, fault, fault.status, headers, ctype)

    stream = body.get("stream") is True
    if stream and fault.answer is not None:
        return await wire.send_not_a_stream(request, fault.answer, json.dumps(Generated(body, plan.model).completion()).encode(), headers)
    if plan.kind == "replay":
        stem = plan.fixture or ""
        status = fixtures.status_for_stem(stem)
        try:
            if status != 200 or not stream:
                _, raw = fixtures.json_fixture(NAME, stem)
                return await wire.send_body(request, raw, fault, status, headers)
            fx = fixtures.stream_fixture(NAME, stem)
        except fixtures.FixtureError as e:
            return bad(f"fleet: {e}", "model").response()
        return await wire.send_stream(request, fx.events, fault, headers)

    gen = Generated(body, plan.model)
    if stream:
        return await wire.send_stream(request, sse_events(gen.chunks()), fault, headers)
    return await wire.send_body(request, json.dumps(gen.completion()).encode(), fault, 200, headers)


EMBEDDING_PARAMS = {"model", "input", "encoding_format", "dimensions", "user"}


def embedding_of(item: Any, dims: int) -> list[float]:
    """A deterministic unit-free vector for one input (text or token ids)."""
    import hashlib

    digest = hashlib.sha256(json.dumps(item).encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dims)]


async def embeddings(request: web.Request) -> web.Response:
    """``POST /v1/embeddings``: checks the body like the API does, answers
    vectors of ``dimensions`` (default 8) floats, or base64 of little-endian
    float32 when ``encoding_format`` is ``base64``; usage counts words (or
    token ids)."""
    import base64
    import struct

    try:
        check_auth(request)
        body = await read_json_body(request)
        unknown = sorted(set(body) - EMBEDDING_PARAMS)
        if unknown:
            raise bad(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise bad("you must provide a model parameter", "model")
        inp = body.get("input")
        items = [inp] if isinstance(inp, str) else inp
        if not isinstance(items, list) or not items or any(
            not (isinstance(x, str) and x) and not (isinstance(x, list) and x and all(isinstance(t, int) for t in x))
            and not isinstance(x, int) for x in items
        ):
            raise bad("'$.input' is invalid.", "input")
        if all(isinstance(x, int) for x in items):
            items = [items]
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise bad("encoding_format must be 'float' or 'base64'", "encoding_format")
        dims = body.get("dimensions", 8)
        if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
            raise bad("dimensions must be a positive integer", "dimensions")
        plan = parse_model(body["model"])
    except GrammarError as e:
        return bad(str(e), "model").response()
    except OpenAIHTTPError as e:
        return e.response()
    if plan.fault.status is not None:
        err = generic_error(plan.fault.status, plan.model)
        raw, ctype = plan.fault.error_body(err.body, _bearer(request))
        return await wire.send_body(request, raw, plan.fault, plan.fault.status, _std_headers(), ctype)
    data = []
    tokens = 0
    for i, item in enumerate(items):
        vec = embedding_of(item, dims)
        tokens += len(item.split()) if isinstance(item, str) else len(item)
        out: Any = vec if fmt == "float" else base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": out})
    answer = {"object": "list", "data": data, "model": plan.model,
              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    return web.json_response(answer, headers=_std_headers())


COMPLETION_PARAMS = {"model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream",
                     "stream_options", "logprobs", "echo", "stop", "presence_penalty", "frequency_penalty",
                     "best_of", "logit_bias", "user", "seed"}
CHAT_ONLY = ("gpt-4", "gpt-5", "o1", "o3", "o4", "chatgpt", "gpt-3.5-turbo")


async def completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/completions`` (legacy): checks the body like the API does
    (chat models are refused as OpenAI refuses them) and completes each
    prompt as ``Completed: <prompt>``, whole or as ``text_completion``
    chunks; usage counts words."""
    try:
        check_auth(request)
        body = await read_json_body(request)
        unknown = sorted(set(body) - COMPLETION_PARAMS)
        if unknown:
            raise bad(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise bad("you must provide a model parameter", "model")
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise bad("'$.prompt' is invalid.", "prompt")
        plan = parse_model(body["model"])
        if plan.model.startswith(CHAT_ONLY) and "instruct" not in plan.model:
            raise OpenAIHTTPError(404, "This is a chat model and not supported in the v1/completions endpoint. "
                                  "Did you mean to use v1/chat/completions?", "invalid_request_error", "model")
    except GrammarError as e:
        return bad(str(e), "model").response()
    except OpenAIHTTPError as e:
        return e.response()
    n = body.get("n") or 1
    limit = body.get("max_tokens", 16)
    cid, created = _gen_id("cmpl-", 29), int(time.time())
    texts, finishes = [], []
    for p in prompts:
        pieces = words("Completed: " + p)
        finishes.append("length" if len(pieces) > limit else "stop")
        texts.append("".join(pieces[:limit]))
    prompt_tokens = sum(len(p.split()) for p in prompts)
    completion_tokens = n * sum(len(t.split()) for t in texts)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    base = {"id": cid, "object": "text_completion", "created": created, "model": plan.model}
    if body.get("stream") is not True:
        choices = [{"text": texts[k // n], "index": k, "logprobs": None, "finish_reason": finishes[k // n]}
                   for k in range(len(prompts) * n)]
        return web.json_response({**base, "choices": choices, "usage": usage}, headers=_std_headers())
    chunks = []
    for k in range(len(prompts) * n):
        for piece in words(texts[k // n]):
            chunks.append({**base, "choices": [{"text": piece, "index": k, "logprobs": None, "finish_reason": None}]})
        chunks.append({**base, "choices": [{"text": "", "index": k, "logprobs": None,
                                            "finish_reason": finishes[k // n]}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": usage})
    return await wire.send_stream(request, sse_events(chunks), plan.fault, _std_headers())


async def list_models(request: web.Request) -> web.Response:
    try:
        check_auth(request)
    except OpenAIHTTPError as e:
        return e.response()
    data = [{"id": m, "object": "model", "created": 1721172741, "owned_by": "system"} for m in MODELS]
    return web.json_response({"object": "list", "data": data}, headers=_std_headers())


async def not_found(request: web.Request) -> web.Response:
    path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
    return OpenAIHTTPError(404, f"Invalid URL ({request.method} {path})", "invalid_request_error").response()


def _not_found_error(message: str, param: str | None = None) -> OpenAIHTTPError:
    return OpenAIHTTPError(404, message, "invalid_request_error", param)


def register(app: web.Application, prefix: str = PREFIX) -> None:
    from . import openai_responses_face  # imports this module: import here, not at the top

    app.router.add_post(f"{prefix}/v1/chat/completions", chat_completions)
    app.router.add_post(f"{prefix}/v1/completions", completions)
    app.router.add_post(f"{prefix}/v1/embeddings", embeddings)
    openai_responses_face.register(app, prefix)
    app.router.add_get(f"{prefix}/v1/models", list_models)
    app.router.add_route("*", prefix + "/{tail:.*}", not_found)
