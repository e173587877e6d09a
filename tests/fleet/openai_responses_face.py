"""The OpenAI Responses API face of the fleet: ``POST /openai/v1/responses``.

Registered by ``openai_face.register`` under the same prefix and key, so the
upstream base URL stays ``http://127.0.0.1:<port>/openai/v1``.

What it checks (OpenAI's error JSON when wrong):

* ``Authorization: Bearer sk-fleet-openai``; a JSON object body
* only Responses parameters: ``messages``, ``max_tokens``, ``n``, ``stop`` ...
  are unknown here (400 ``unknown_parameter``)
* ``input``: a string or a list of items — messages (``user``/``system``/
  ``developer`` with ``input_text``/``input_image``/``input_file`` parts,
  ``assistant`` with a string or ``output_text``/``refusal`` parts),
  ``function_call`` {call_id, name, arguments}, ``function_call_output``
  whose ``call_id`` names an earlier ``function_call`` of the same input, and
  ``reasoning`` items, which must carry ``encrypted_content`` when ``store``
  is false (nothing is stored to look them up by id)
* ``tools`` are flat ``{"type": "function", "name", "parameters"}``;
  ``tool_choice`` is a mode or ``{"type": "function", "name"}``;
  ``max_output_tokens`` >= 16; ``text.format`` and ``reasoning`` well formed
* reasoning models (o-series, gpt-5 ...) refuse ``temperature``/``top_p``;
  other models refuse ``reasoning`` (see ``openai_models``)

What it answers for a plain model:

* last input item is a ``function_call_output`` -> text ``"Tool said: <output>"``
* ``tools`` given and ``tool_choice`` != "none" -> one ``function_call`` to the
  first (or named) tool, arguments as the chat face makes them
* otherwise -> text ``"Echo: <text of the last user message>"``; with a JSON
  ``text.format``: ``{"answer": "Echo: ..."}``
* with ``reasoning.summary``: first a reasoning item whose summary is
  ``"Reasoning about: <last user text>"``, with ``encrypted_content`` when
  ``include`` asks for ``reasoning.encrypted_content``
* ``max_output_tokens`` cuts the text to that many words: status
  ``incomplete``, ``incomplete_details.reason`` ``max_output_tokens``
* usage: ``input_tokens`` = words of all input text + 1 per item (+ words of
  ``instructions``); ``output_tokens`` = words generated incl. the summary,
  whose words are also ``output_tokens_details.reasoning_tokens``

Streams are typed SSE events, ``event: <type>`` + ``data: <json>``, no
``[DONE]``.  ``replay:<stem>`` replays ``openai/<stem>`` (else
``azure/<stem>``): ``.json`` when not streaming, ``.chunks.jsonl`` reframed as
typed events when streaming.  A recording of several runs (a new run starts
at each ``response.created``) answers with run N, N = the number of
``function_call_output`` items in the request, so a multi-step tool loop
replays step by step.  ``fault:`` works as on every face.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from aiohttp import web

from . import fixtures, openai_models, wire
from .faults import GrammarError, parse_model
from .openai_face import (
    NAME,
    OpenAIHTTPError,
    _gen_id,
    _std_headers,
    _type_name,
    bad,
    check_auth,
    count_tokens,
    example_arguments,
    generic_error,
    read_json_body,
    words,
)

KNOWN_PARAMS = {
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "max_output_tokens", "max_tool_calls", "temperature", "top_p", "top_logprobs",
    "reasoning", "text", "store", "include", "stream", "stream_options", "metadata",
    "service_tier", "user", "safety_identifier", "prompt_cache_key", "previous_response_id",
    "truncation", "background", "conversation", "prompt",
}
USER_PARTS = ("input_text", "input_image", "input_file")
ASSISTANT_PARTS = ("output_text", "refusal")
INCLUDABLE = (
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
    "file_search_call.results",
    "web_search_call.action.sources",
    "code_interpreter_call.outputs",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
)
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
SUMMARIES = ("auto", "concise", "detailed")


def _not_found(message: str, param: str | None = None) -> OpenAIHTTPError:
    return OpenAIHTTPError(404, message, "invalid_request_error", param)


# --------------------------------------------------------------------------- validation


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("input_text", "output_text")
        )
    return ""


def _validate_parts(parts: list[Any], allowed: tuple[str, ...], where: str) -> None:
    for j, part in enumerate(parts):
        p = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise bad(f"Invalid type for '{p}': expected an object, but got {_type_name(part)} instead.", p, "invalid_type")
        t = part.get("type")
        if t not in allowed:
            supported = " and ".join(f"'{x}'" for x in allowed)
            raise bad(f"Invalid value: '{t}'. Supported values are: {supported}.", f"{p}.type", "invalid_value")
        if t in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise bad(f"Missing required parameter: '{p}.text'.", f"{p}.text", "missing_required_parameter")
        if t == "input_image":
            if not isinstance(part.get("image_url"), str) and not isinstance(part.get("file_id"), str):
                raise bad(f"Missing required parameter: '{p}.image_url'.", f"{p}.image_url", "missing_required_parameter")
            if part.get("detail") not in ("auto", "low", "high", "original"):
                raise bad(f"Missing required parameter: '{p}.detail'.", f"{p}.detail", "missing_required_parameter")
        if t == "input_file" and not any(isinstance(part.get(k), str) for k in ("file_data", "file_url", "file_id")):
            raise bad(f"Missing required parameter: '{p}.file_data'.", f"{p}.file_data", "missing_required_parameter")


def validate_input(body: dict[str, Any]) -> None:
    items = body.get("input")
    if items is None:
        raise bad("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    if isinstance(items, str):
        return
    if not isinstance(items, list):
        raise bad(f"Invalid type for 'input': expected one of a string or array of input items, but got {_type_name(items)} instead.", "input", "invalid_type")
    store = body.get("store", True)
    calls: set[str] = set()
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad(f"Invalid type for '{where}': expected an object, but got {_type_name(item)} instead.", where, "invalid_type")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise bad(
                    f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
                    f"{where}.role", "invalid_value",
                )
            content = item.get("content")
            if isinstance(content, list):
                _validate_parts(content, ASSISTANT_PARTS if role == "assistant" else USER_PARTS, f"{where}.content")
            elif not isinstance(content, str):
                raise bad(f"Missing required parameter: '{where}.content'.", f"{where}.content", "missing_required_parameter")
        elif kind == "function_call":
            for k in ("call_id", "name", "arguments"):
                if not isinstance(item.get(k), str):
                    raise bad(f"Missing required parameter: '{where}.{k}'.", f"{where}.{k}", "missing_required_parameter")
            calls.add(item["call_id"])
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                raise bad(f"Missing required parameter: '{where}.call_id'.", f"{where}.call_id", "missing_required_parameter")
            if call_id not in calls:
                raise bad(f"No tool call found for function call output with call_id {call_id}.", "input")
            if not isinstance(item.get("output"), (str, list)):
                raise bad(f"Missing required parameter: '{where}.output'.", f"{where}.output", "missing_required_parameter")
        elif kind == "reasoning":
            rid = item.get("id")
            if not isinstance(rid, str) or not isinstance(item.get("summary"), list):
                raise bad(f"Missing required parameter: '{where}.id'.", f"{where}.id", "missing_required_parameter")
            if store is False and not isinstance(item.get("encrypted_content"), str):
                raise _not_found(
                    f"Item with id '{rid}' not found. Items are not persisted when `store` is set to false. "
                    "Try again with `store` set to true, or remove this item from your input.",
                    "input",
                )
        else:
            raise bad(f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', 'function_call_output', and 'reasoning'.", f"{where}.type", "invalid_value")


def validate_responses(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    for k in body:
        if k not in KNOWN_PARAMS:
            raise bad(f"Unknown parameter: '{k}'.", k, "unknown_parameter")
    validate_input(body)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad(f"Invalid type for 'stream': expected a boolean, but got {_type_name(stream)} instead.", "stream", "invalid_type")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("Invalid type for 'tools': expected an array.", "tools", "invalid_type")
        for k, t in enumerate(tools):
            if not isinstance(t, dict) or t.get("type") != "function":
                raise bad(f"Invalid value for 'tools[{k}].type': expected 'function'.", f"tools[{k}].type", "invalid_value")
            if not isinstance(t.get("name"), str) or not t["name"]:
                raise bad(f"Missing required parameter: 'tools[{k}].name'.", f"tools[{k}].name", "missing_required_parameter")
    tc = body.get("tool_choice")
    if tc is not None:
        if isinstance(tc, str):
            if tc not in ("none", "auto", "required"):
                raise bad(f"Invalid value: '{tc}'. Supported values are: 'none', 'auto', and 'required'.", "tool_choice", "invalid_value")
        elif not (isinstance(tc, dict) and tc.get("type") == "function" and isinstance(tc.get("name"), str)):
            raise bad("Invalid value for 'tool_choice'.", "tool_choice", "invalid_value")
        if tc not in ("none", "auto") and not tools:
            raise bad("Tool choice requires 'tools' to be specified.", "tool_choice")
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise bad(f"Invalid type for 'max_output_tokens': expected an integer, but got {_type_name(limit)} instead.", "max_output_tokens", "invalid_type")
        if limit < 16:
            raise bad(
                f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {limit} instead.",
                "max_output_tokens", "integer_below_min_value",
            )
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise bad("Invalid type for 'reasoning': expected an object.", "reasoning", "invalid_type")
        if reasoning.get("effort") is not None and reasoning["effort"] not in EFFORTS:
            raise bad(f"Invalid value: '{reasoning['effort']}'.", "reasoning.effort", "invalid_value")
        if reasoning.get("summary") is not None and reasoning["summary"] not in SUMMARIES:
            raise bad(f"Invalid value: '{reasoning['summary']}'.", "reasoning.summary", "invalid_value")
    text = body.get("text")
    if text is not None:
        fmt = text.get("format") if isinstance(text, dict) else None
        if fmt is not None:
            kind = fmt.get("type") if isinstance(fmt, dict) else None
            if kind not in ("text", "json_object", "json_schema"):
                raise bad(f"Invalid value: '{kind}'.", "text.format.type", "invalid_value")
            if kind == "json_schema" and not (isinstance(fmt.get("name"), str) and isinstance(fmt.get("schema"), dict)):
                raise bad("Missing required parameter: 'text.format.name'.", "text.format.name", "missing_required_parameter")
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list) or any(x not in INCLUDABLE for x in include):
            raise bad(f"Invalid value for 'include': {include!r}.", "include", "invalid_value")
    if body.get("store") is not None and not isinstance(body["store"], bool):
        raise bad("Invalid type for 'store': expected a boolean.", "store", "invalid_type")


# --------------------------------------------------------------------------- the generated answer


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body["input"]
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [dict(it, type=it.get("type", "message")) for it in raw]


def _input_tokens(body: dict[str, Any]) -> int:
    total = count_tokens(body.get("instructions") or "")
    for it in _items(body):
        total += 1
        if it["type"] == "message":
            total += count_tokens(_text_of(it.get("content")))
        elif it["type"] == "function_call":
            total += count_tokens(it.get("arguments", ""))
        elif it["type"] == "function_call_output":
            total += count_tokens(_text_of(it.get("output")))
    return total


class Generated:
    def __init__(self, body: dict[str, Any], model: str) -> None:
        self.body = body
        self.model = model
        self.id = _gen_id("resp_", 40)
        self.created = int(time.time())
        items = _items(body)
        last = items[-1] if items else {}
        tools = body.get("tools") or []
        tool_choice = body.get("tool_choice")
        user = next((it for it in reversed(items) if it["type"] == "message" and it.get("role") == "user"), None)
        topic = _text_of(user.get("content")) if user else ""
        self.output: list[dict[str, Any]] = []
        self.status = "completed"
        self.incomplete: dict[str, Any] | None = None
        reasoning_words = 0
        reasoning = body.get("reasoning") or {}
        if reasoning.get("summary"):
            summary = f"Reasoning about: {topic}"
            item: dict[str, Any] = {"id": _gen_id("rs_", 40), "type": "reasoning", "summary": [{"type": "summary_text", "text": summary}]}
            if "reasoning.encrypted_content" in (body.get("include") or []):
                item["encrypted_content"] = "gAAAAA" + base64.urlsafe_b64encode(summary.encode()).decode()
            self.output.append(item)
            reasoning_words = count_tokens(summary)
        output_words = 0
        if last.get("type") != "function_call_output" and tools and tool_choice != "none":
            tool = tools[0]
            if isinstance(tool_choice, dict):
                tool = next((t for t in tools if t.get("name") == tool_choice.get("name")), tool)
            args = example_arguments(tool)
            self.output.append({
                "id": _gen_id("fc_", 40), "type": "function_call", "status": "completed",
                "arguments": args, "call_id": _gen_id("call_", 24), "name": tool["name"],
            })
            output_words = 1 + count_tokens(args)
        else:
            if last.get("type") == "function_call_output":
                text = "Tool said: " + _text_of(last.get("output"))
            else:
                text = "Echo: " + topic
            fmt = ((body.get("text") or {}).get("format") or {}).get("type")
            if fmt in ("json_object", "json_schema"):
                text = json.dumps({"answer": text})
            pieces = words(text)
            limit = body.get("max_output_tokens")
            if isinstance(limit, int) and limit < len(pieces):
                pieces = pieces[:limit]
                text = "".join(pieces)
                self.status = "incomplete"
                self.incomplete = {"reason": "max_output_tokens"}
            self.pieces = pieces
            self.output.append({
                "id": _gen_id("msg_", 40), "type": "message", "status": self.status, "role": "assistant",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
            })
            output_words = count_tokens(text)
        p = _input_tokens(body)
        c = output_words + reasoning_words
        self.usage = {
            "input_tokens": p,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": c,
            "output_tokens_details": {"reasoning_tokens": reasoning_words},
            "total_tokens": p + c,
        }

    def response(self, final: bool = True) -> dict[str, Any]:
        b = self.body
        return {
            "id": self.id, "object": "response", "created_at": self.created,
            "status": self.status if final else "in_progress",
            "error": None, "incomplete_details": self.incomplete if final else None,
            "instructions": b.get("instructions"), "max_output_tokens": b.get("max_output_tokens"),
            "model": self.model, "output": self.output if final else [],
            "parallel_tool_calls": b.get("parallel_tool_calls", True),
            "reasoning": b.get("reasoning") or {"effort": None, "summary": None},
            "store": b.get("store", True), "temperature": b.get("temperature", 1.0),
            "text": b.get("text") or {"format": {"type": "text"}},
            "tool_choice": b.get("tool_choice", "auto"), "tools": b.get("tools") or [],
            "top_p": b.get("top_p", 1.0), "usage": self.usage if final else None,
            "metadata": b.get("metadata") or {},
            "previous_response_id": b.get("previous_response_id"),
        }

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"type": "response.created", "response": self.response(False)},
            {"type": "response.in_progress", "response": self.response(False)},
        ]
        for i, item in enumerate(self.output):
            base = {"output_index": i, "item_id": item["id"]}
            if item["type"] == "reasoning":
                out.append({"type": "response.output_item.added", "output_index": i, "item": {**item, "summary": []}})
                for k, part in enumerate(item["summary"]):
                    out.append({"type": "response.reasoning_summary_part.added", **base, "summary_index": k, "part": {"type": "summary_text", "text": ""}})
                    for piece in words(part["text"]):
                        out.append({"type": "response.reasoning_summary_text.delta", **base, "summary_index": k, "delta": piece})
                    out.append({"type": "response.reasoning_summary_text.done", **base, "summary_index": k, "text": part["text"]})
                    out.append({"type": "response.reasoning_summary_part.done", **base, "summary_index": k, "part": part})
            elif item["type"] == "function_call":
                out.append({"type": "response.output_item.added", "output_index": i, "item": {**item, "status": "in_progress", "arguments": ""}})
                args = item["arguments"]
                for k in range(0, len(args), 6):
                    out.append({"type": "response.function_call_arguments.delta", **base, "delta": args[k : k + 6]})
                out.append({"type": "response.function_call_arguments.done", **base, "arguments": args})
            else:
                part = item["content"][0]
                out.append({"type": "response.output_item.added", "output_index": i, "item": {**item, "status": "in_progress", "content": []}})
                out.append({"type": "response.content_part.added", **base, "content_index": 0, "part": {**part, "text": ""}})
                for piece in self.pieces:
                    out.append({"type": "response.output_text.delta", **base, "content_index": 0, "delta": piece, "logprobs": []})
                out.append({"type": "response.output_text.done", **base, "content_index": 0, "text": part["text"], "logprobs": []})
                out.append({"type": "response.content_part.done", **base, "content_index": 0, "part": part})
            out.append({"type": "response.output_item.done", "output_index": i, "item": item})
        final = "response.completed" if self.status == "completed" else "response.incomplete"
        out.append({"type": final, "response": self.response(True)})
        for n, ev in enumerate(out):
            ev["sequence_number"] = n
        return out


def typed_events(events: list[dict[str, Any]]) -> list[bytes]:
    """SSE as the Responses API frames it: the type twice, as ``event:`` and in the data."""
    return [
        f"event: {ev['type']}\n".encode() + b"data: " + json.dumps(ev, separators=(",", ":")).encode() + b"\n\n"
        for ev in events
    ]


# --------------------------------------------------------------------------- replay


def _find_fixture(stem: str, ext: str) -> tuple[str, str]:
    """(face directory, stem) of ``<stem><ext>`` in openai/, else azure/."""
    for face in (NAME, "azure"):
        if (fixtures.fixtures_dir() / face / f"{stem}{ext}").is_file():
            return face, stem
    raise fixtures.FixtureError(f"no fixture {stem}{ext} in openai/ or azure/")


def replay_stream(stem: str, step: int) -> list[bytes]:
    """Run ``step`` (clamped) of a ``.chunks.jsonl`` recording, as typed events."""
    stem = stem.removesuffix(".chunks.jsonl")
    face, stem = _find_fixture(stem, ".chunks.jsonl")
    fx = fixtures.stream_fixture(face, f"{stem}.chunks.jsonl")
    runs: list[list[dict[str, Any]]] = []
    for ev in fx.events:
        line = ev.removeprefix(b"data: ").strip()
        if line == b"[DONE]":
            continue
        data = json.loads(line)
        if data.get("type") == "response.created" or not runs:
            runs.append([])
        runs[-1].append(data)
    if not runs:
        raise fixtures.FixtureError(f"{stem}.chunks.jsonl is empty")
    return typed_events(runs[min(step, len(runs) - 1)])


def replay_json(stem: str) -> bytes:
    face, stem = _find_fixture(stem.removesuffix(".json"), ".json")
    return fixtures.json_fixture(face, stem)[1]


# --------------------------------------------------------------------------- handler


async def responses(request: web.Request) -> web.StreamResponse:
    try:
        check_auth(request)
    except OpenAIHTTPError as e:
        return e.response()
    return await answer(request)


async def answer(request: web.Request) -> web.StreamResponse:
    """A Responses request whose caller was let in (OpenAI's key here, Azure's
    on the Azure face): checked and answered as OpenAI does."""
    try:
        body = await read_json_body(request)
        validate_responses(body)
        try:
            plan = parse_model(body["model"])
        except GrammarError as e:
            raise bad(str(e), "model")
        if plan.kind == "normal":
            openai_models.check_responses_params(body, plan.model, bad)
    except OpenAIHTTPError as e:
        return e.response()

    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    headers = _std_headers()

    if fault.status is not None:
        if fault.body:
            try:
                raw = replay_json(fault.body)
            except fixtures.FixtureError as e:
                return bad(f"fleet: {e}", "model").response()
            return await wire.send_body(request, raw, fault, fault.status, headers)
        err = generic_error(fault.status, plan.model)
        return await wire.send_body(request, json.dumps(err.body).encode(), fault, fault.status, headers)

    stream = body.get("stream") is True
    if plan.kind == "replay":
        stem = plan.fixture or ""
        status = fixtures.status_for_stem(stem)
        try:
            if status != 200 or not stream:
                return await wire.send_body(request, replay_json(stem), fault, status, headers)
            step = sum(1 for it in _items(body) if it["type"] == "function_call_output")
            events = replay_stream(stem, step)
        except fixtures.FixtureError as e:
            return bad(f"fleet: {e}", "model").response()
        return await wire.send_stream(request, events, fault, headers)

    gen = Generated(body, plan.model)
    if stream:
        return await wire.send_stream(request, typed_events(gen.events()), fault, headers)
    return await wire.send_body(request, json.dumps(gen.response()).encode(), fault, 200, headers)


def register(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/v1/responses", responses)
