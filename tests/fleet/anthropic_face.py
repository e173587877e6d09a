"""The Anthropic face of the fleet: the Messages API, and Claude on Vertex AI.

Mounted under ``/anthropic`` (base URL ``http://127.0.0.1:<port>/anthropic``;
``POST /anthropic/v1/messages``, ``POST /anthropic/v1/messages/count_tokens``)
and, for Vertex AI, under ``/vertex``
(``POST /vertex/v1/projects/<p>/locations/<l>/publishers/anthropic/models/<m>:rawPredict``
or ``:streamRawPredict``; ``.../models/count-tokens:rawPredict``).

What it checks, answering with Anthropic's error JSON
``{"type": "error", "error": {"type", "message"}, "request_id"}`` when wrong:

* ``x-api-key: sk-fleet-anthropic`` (or ``Authorization: Bearer`` with that key,
  as newer SDKs send it; 401 ``authentication_error``) and an
  ``anthropic-version`` header (400); on Vertex ``Authorization: Bearer
  <FLEET_VERTEX_TOKEN>`` (401 in Google's error shape), no ``model`` in the
  body and ``anthropic_version: "vertex-2023-10-16"``
* the body like the real API: only known top-level fields; ``model`` and
  ``max_tokens`` required; ``messages`` non-empty, strictly alternating
  user/assistant starting with user (``role: "system"`` turns only with a
  mid-conversation-system / per-turn-control beta); text blocks non-empty;
  ``tool_result`` blocks only in user turns, first in their turn, each
  answering a ``tool_use`` of the previous assistant turn, and every
  ``tool_use`` answered; thinking blocks signed (fleet signatures verified);
  ``thinking.budget_tokens`` >= 1024 and < ``max_tokens``; with thinking,
  temperature 1 or absent, no ``top_k``, ``top_p`` >= 0.95; temperature and
  top_p in 0..1; tools named with an object ``input_schema`` (server tools by
  versioned type); ``tool_choice`` consistent with the tools;
  whitespace-only stop sequences refused; at most 4 ``cache_control`` blocks

What it answers for a plain model (see ``faults.py`` for ``replay:`` / ``fault:``):

* last user turn has ``tool_result`` -> text ``"Tool said: <its content>"``
* client tools given and ``tool_choice`` not ``none`` -> one ``tool_use`` of the
  first (or the named) tool, input from the schema's required properties
  (same rules as the OpenAI face), ``stop_reason: "tool_use"``
* otherwise -> text ``"Echo: <text of the last user turn>"``
* thinking enabled or adaptive -> a ``thinking`` block first, text
  ``"Considering: <same text>"`` with a fleet signature
* ``stop_sequences`` cut the text (``stop_reason: "stop_sequence"``);
  ``max_tokens`` below the word count truncates (``"max_tokens"``)
* usage: ``input_tokens`` = words in system + message texts + tool inputs + 1
  per message; with ``cache_control`` breakpoints, the tokens up to the last
  one are reported as ``cache_creation_input_tokens`` the first time that
  prefix is seen and as ``cache_read_input_tokens`` afterwards (and not in
  ``input_tokens``); ``output_tokens`` = words generated
* streaming: ``message_start``, per block ``content_block_start`` / deltas
  (one ``text_delta``/``thinking_delta`` per word, ``input_json_delta`` in
  8-character pieces, ``signature_delta``) / ``content_block_stop``, a
  ``ping``, ``message_delta`` (stop reason, output usage), ``message_stop``,
  each as ``event: <type>`` + ``data:``

Replays come from ``fixtures/anthropic/``: ``.sse`` byte for byte,
``.chunks.jsonl`` reframed with ``event: <type>`` lines. The fault key
``error_after=N`` sends N events then Anthropic's in-stream
``event: error`` (overloaded_error) and ends the body.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import string
from typing import Any

from aiohttp import web

from . import fixtures, wire
from .faults import GrammarError, parse_model
from .openai_face import count_tokens, example_arguments, words

NAME = "anthropic"
PREFIX = "/anthropic"
VERTEX_PREFIX = "/vertex"
API_KEY = os.environ.get("FLEET_ANTHROPIC_KEY", "sk-fleet-anthropic")
VERTEX_TOKEN = os.environ.get("FLEET_VERTEX_TOKEN", "ya29.fleet-vertex-token")
VERTEX_VERSION = "vertex-2023-10-16"

TOP_LEVEL = {
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier",
    "container", "mcp_servers", "context_management", "output_config", "output_format",
    "inference_geo", "cache_control", "diagnostics", "speed", "user_profile_id", "workspace_id",
}
BLOCK_TYPES = {
    "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
    "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "search_result",
    "container_upload", "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_reference", "mcp_tool_use", "mcp_tool_result",
}
SERVER_TOOL = re.compile(r"^[a-z_]+_\d{8}$")
MIDCONV_BETAS = ("mid-conversation-system", "per-turn-control")
MAX_BREAKPOINTS = 4

# Prefixes of prompts seen with cache_control (for cache read vs write usage).
_CACHE_SEEN: set[str] = set()


# --------------------------------------------------------------------------- errors


class AnthropicHTTPError(Exception):
    def __init__(self, status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": _request_id()}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=_std_headers() | self.headers)


def bad(message: str) -> AnthropicHTTPError:
    return AnthropicHTTPError(400, "invalid_request_error", message)


def generic_error(status: int, model: str) -> AnthropicHTTPError:
    """Anthropic's error for ``status`` (used by ``fault:status=``)."""
    table = {
        400: ("invalid_request_error", "fleet fault: invalid request."),
        401: ("authentication_error", "invalid x-api-key"),
        403: ("permission_error", "Your API key does not have permission to use the specified resource."),
        404: ("not_found_error", f"model: {model}"),
        413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429: ("rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute."),
        500: ("api_error", "Internal server error"),
        529: ("overloaded_error", "Overloaded"),
    }
    type_, message = table.get(status, ("api_error" if status >= 500 else "invalid_request_error", f"fleet fault: HTTP {status}."))
    return AnthropicHTTPError(status, type_, message)


def _request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _std_headers() -> dict[str, str]:
    return {"request-id": _request_id(), "anthropic-organization-id": "org-fleet"}


class GoogleHTTPError(Exception):
    """Vertex AI's own errors (auth, routing) come in Google's shape."""

    def __init__(self, status: int, message: str, google_status: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": status, "message": message, "status": google_status}}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status)


# --------------------------------------------------------------------------- validation


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def sign(thinking: str) -> str:
    """The fleet's thinking signature: the API verifies signatures it gave out."""
    digest = hashlib.sha256(b"fleet-thinking:" + thinking.encode()).digest()[:24]
    return "fleetsig." + base64.b64encode(digest).decode()


def _credential(request: web.Request) -> str:
    """The key or token the request carried (for faults that echo it)."""
    key = request.headers.get("x-api-key")
    if key is not None:
        return key
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    return token


def check_auth(request: web.Request) -> None:
    # The API takes the key as x-api-key or, from newer SDKs, as a bearer token.
    key = request.headers.get("x-api-key")
    if key is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        key = token if scheme == "Bearer" else None
    if key != API_KEY:
        raise AnthropicHTTPError(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        raise bad("anthropic-version: header is required")


def check_vertex_auth(request: web.Request) -> None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme != "Bearer" or token != VERTEX_TOKEN:
        raise GoogleHTTPError(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
            "UNAUTHENTICATED",
        )


async def read_json_body(request: web.Request) -> dict[str, Any]:
    ctype = request.headers.get("Content-Type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise bad(f"Invalid Content-Type header ({ctype or 'missing'}): expected application/json")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("There was an issue with your request body: invalid JSON")
    if not isinstance(body, dict):
        raise bad("body: Input should be an object")
    return body


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise bad(f"{where}: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise bad(f"{where}: Input should be a valid list")
    for j, b in enumerate(content):
        w = f"{where}.{j}"
        if not isinstance(b, dict):
            raise bad(f"{w}: Input should be an object")
        t = b.get("type")
        if t not in BLOCK_TYPES:
            raise bad(f"{w}.type: Input tag '{t}' found using 'type' does not match any of the expected tags")
        if t == "text" and (not isinstance(b.get("text"), str) or not b["text"]):
            raise bad(f"{w}: text content blocks must be non-empty")
        if t in ("image", "document"):
            src = b.get("source")
            if not isinstance(src, dict) or src.get("type") not in ("base64", "url", "text", "file", "content"):
                raise bad(f"{w}.source: Field required")
            if src["type"] == "base64" and not (isinstance(src.get("media_type"), str) and isinstance(src.get("data"), str)):
                raise bad(f"{w}.source.data: Field required")
            if src["type"] == "url" and not isinstance(src.get("url"), str):
                raise bad(f"{w}.source.url: Field required")
        if t == "tool_use":
            if not isinstance(b.get("id"), str) or not isinstance(b.get("name"), str):
                raise bad(f"{w}.id: Field required")
            if not isinstance(b.get("input"), dict):
                raise bad(f"{w}.input: Input should be a valid dictionary")
        if t == "tool_result":
            if not isinstance(b.get("tool_use_id"), str):
                raise bad(f"{w}.tool_use_id: Field required")
            inner = b.get("content")
            if inner is not None and not isinstance(inner, str):
                _blocks(inner, f"{w}.content")
        if t == "thinking":
            sig = b.get("signature")
            if not isinstance(b.get("thinking"), str):
                raise bad(f"{w}.thinking: Field required")
            if not isinstance(sig, str) or not sig:
                raise bad(f"{w}.signature: Field required")
            if sig.startswith("fleetsig.") and sig != sign(b["thinking"]):
                raise bad(f"{w}: Invalid `signature` in `thinking` block")
        if t == "redacted_thinking" and not isinstance(b.get("data"), str):
            raise bad(f"{w}.data: Field required")
    return content


def validate_messages(body: dict[str, Any], headers: Any, vertex: bool = False, count_only: bool = False) -> None:
    allowed = TOP_LEVEL | ({"anthropic_version"} if vertex else set())
    for k in body:
        if k not in allowed:
            raise bad(f"{k}: Extra inputs are not permitted")
    if vertex:
        if "model" in body:
            raise bad("model: Extra inputs are not permitted")
        if body.get("anthropic_version") != VERTEX_VERSION:
            raise bad(f"anthropic_version: Input should be '{VERTEX_VERSION}'")
    else:
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise bad("model: Field required")
    max_tokens = body.get("max_tokens")
    if not count_only:
        if max_tokens is None:
            raise bad("max_tokens: Field required")
        if not _is_int(max_tokens) or max_tokens < 1:
            raise bad("max_tokens: Input should be a valid integer greater than or equal to 1")
    msgs = body.get("messages")
    if msgs is None:
        raise bad("messages: Field required")
    if not isinstance(msgs, list) or not msgs:
        raise bad("messages: at least one message is required")
    betas = headers.get("anthropic-beta", "")
    midconv = any(b in betas for b in MIDCONV_BETAS)

    system = body.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise bad("system: Input should be a valid string or list")
        for j, b in enumerate(system):
            if not isinstance(b, dict) or b.get("type") != "text" or not isinstance(b.get("text"), str) or not b["text"]:
                raise bad(f"system.{j}: text content blocks must be non-empty")

    expected = "user"
    turns = 0
    prev_tool_ids: list[str] = []
    for i, m in enumerate(msgs):
        where = f"messages.{i}"
        if not isinstance(m, dict):
            raise bad(f"{where}: Input should be an object")
        role = m.get("role")
        if role == "system":
            if not midconv:
                raise bad(
                    f"{where}.role: Unexpected role \"system\". The Messages API accepts a top-level "
                    "`system` parameter, not \"system\" as an input message role."
                )
            _blocks(m.get("content"), f"{where}.content")
            continue
        if role not in ("user", "assistant"):
            raise bad(f"{where}.role: Input should be 'user' or 'assistant'")
        if "content" not in m:
            raise bad(f"{where}.content: Field required")
        if role != expected:
            if expected == "user" and not turns:
                raise bad("messages: first message must use the \"user\" role")
            raise bad("messages: roles must alternate between \"user\" and \"assistant\", but found multiple "
                      f"\"{role}\" roles in a row")
        turns += 1
        blocks = _blocks(m["content"], f"{where}.content")
        if isinstance(m["content"], list) and not m["content"] and i != len(msgs) - 1:
            raise bad(f"{where}: all messages must have non-empty content except for the optional final assistant message")
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if role == "assistant":
            if results:
                raise bad(f"{where}.content: tool_result blocks are only allowed in user messages")
            prev_tool_ids = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        else:
            seen_other = False
            for j, b in enumerate(blocks):
                if b.get("type") == "tool_result":
                    if seen_other:
                        raise bad(f"{where}.content.{j}: tool_result blocks must come first in the user message")
                    if b["tool_use_id"] not in prev_tool_ids:
                        raise bad(
                            f"{where}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                            f"{b['tool_use_id']}. Each `tool_result` block must have a corresponding `tool_use` "
                            "block in the previous message."
                        )
                else:
                    seen_other = True
            answered = {b["tool_use_id"] for b in results}
            missing = [t for t in prev_tool_ids if t not in answered]
            if missing:
                raise bad(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    + ", ".join(missing)
                    + ". Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
            prev_tool_ids = []
        expected = "assistant" if role == "user" else "user"

    temperature = body.get("temperature")
    if temperature is not None and (not _is_num(temperature) or not 0 <= temperature <= 1):
        raise bad("temperature: Input should be less than or equal to 1")
    top_p = body.get("top_p")
    if top_p is not None and (not _is_num(top_p) or not 0 <= top_p <= 1):
        raise bad("top_p: Input should be less than or equal to 1")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
            raise bad("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
        if thinking["type"] == "enabled":
            budget = thinking.get("budget_tokens")
            if not _is_int(budget):
                raise bad("thinking.enabled.budget_tokens: Field required")
            if budget < 1024:
                raise bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
            if not count_only and budget >= max_tokens:
                raise bad("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                          "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
        if thinking["type"] != "disabled":
            if temperature is not None and temperature != 1:
                raise bad("`temperature` may only be set to 1 when thinking is enabled. Please consult our "
                          "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
            if body.get("top_k") is not None:
                raise bad("`top_k` is not supported when thinking is enabled.")
            if top_p is not None and top_p < 0.95:
                raise bad("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled.")
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise bad("stop_sequences: Input should be a valid list of strings")
        if any(not s.strip() for s in stops):
            raise bad("stop_sequences: each stop sequence must contain non-whitespace")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or any(k != "user_id" for k in metadata):
            raise bad("metadata: Extra inputs are not permitted")
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("tools: Input should be a valid list")
        for k, t in enumerate(tools):
            w = f"tools.{k}"
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"]:
                raise bad(f"{w}.name: Field required")
            kind = t.get("type")
            if kind in (None, "custom"):
                schema = t.get("input_schema")
                if not isinstance(schema, dict):
                    raise bad(f"{w}.custom.input_schema: Field required")
                if schema.get("type") != "object":
                    raise bad(f"{w}.custom.input_schema.type: Input should be 'object'")
            elif not (isinstance(kind, str) and SERVER_TOOL.match(kind)):
                raise bad(f"{w}: Input tag '{kind}' found using 'type' does not match any of the expected tags")
            if t["name"] in names:
                raise bad(f"tools: Tool names must be unique. Found duplicate: {t['name']}")
            names.add(t["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise bad("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise bad(f"tool_choice: Tool '{choice.get('name')}' not found in tools")
        if choice["type"] != "none" and not tools:
            raise bad("tool_choice: tool_choice may only be specified while providing tools.")
        if choice["type"] == "none" and "disable_parallel_tool_use" in choice:
            raise bad("tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted")
    if breakpoints(body) > MAX_BREAKPOINTS:
        raise bad(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {breakpoints(body)}.")


def breakpoints(body: dict[str, Any]) -> int:
    n = 0
    system = body.get("system")
    if isinstance(system, list):
        n += sum(1 for b in system if isinstance(b, dict) and b.get("cache_control"))
    for t in body.get("tools") or []:
        n += 1 if isinstance(t, dict) and t.get("cache_control") else 0
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            for b in content:
                if isinstance(b, dict):
                    n += 1 if b.get("cache_control") else 0
                    inner = b.get("content")
                    if isinstance(inner, list):
                        n += sum(1 for x in inner if isinstance(x, dict) and x.get("cache_control"))
    return n


# --------------------------------------------------------------------------- the generated answer


def block_text(b: dict[str, Any]) -> str:
    t = b.get("type")
    if t == "text":
        return b.get("text", "")
    if t == "tool_use":
        return json.dumps(b.get("input", {}))
    if t == "tool_result":
        return content_text(b.get("content"))
    if t == "thinking":
        return b.get("thinking", "")
    return ""


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(block_text(b) for b in content if isinstance(b, dict) and block_text(b))
    return ""


def _units(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """Every prompt piece in order, with whether it carries a cache breakpoint."""
    out: list[tuple[str, bool]] = []
    for t in body.get("tools") or []:
        out.append((str(t.get("name", "")) + " " + str(t.get("description", "")), bool(t.get("cache_control"))))
    system = body.get("system")
    if isinstance(system, str):
        out.append((system, False))
    elif isinstance(system, list):
        for b in system:
            out.append((b.get("text", ""), bool(b.get("cache_control"))))
    for m in body["messages"]:
        out.append(("", False))  # one token per message
        content = m.get("content")
        if isinstance(content, str):
            out.append((content, False))
        else:
            for b in content or []:
                out.append((block_text(b), bool(b.get("cache_control"))))
    return out


def input_usage(body: dict[str, Any], scope: str) -> dict[str, int]:
    units = _units(body)
    tokens = [count_tokens(text) + (1 if text == "" else 0) for text, _ in units]
    total = sum(tokens)
    last = max((i for i, (_, bp) in enumerate(units) if bp), default=-1)
    if last < 0:
        return {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    prefix = sum(tokens[: last + 1])
    key = hashlib.sha256((scope + json.dumps(units[: last + 1])).encode()).hexdigest()
    if key in _CACHE_SEEN:
        return {"input_tokens": total - prefix, "cache_creation_input_tokens": 0, "cache_read_input_tokens": prefix}
    _CACHE_SEEN.add(key)
    return {"input_tokens": total - prefix, "cache_creation_input_tokens": prefix, "cache_read_input_tokens": 0}


def _gen_id(prefix: str, n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


class Answer:
    """The generated assistant turn as Anthropic content blocks."""

    def __init__(self, body: dict[str, Any]) -> None:
        msgs = [m for m in body["messages"] if m.get("role") in ("user", "assistant")]
        last_user = next((m for m in reversed(msgs) if m.get("role") == "user"), None)
        blocks = _blocks(last_user["content"], "last") if last_user else []
        results = [b for b in blocks if b.get("type") == "tool_result"]
        tools = [t for t in body.get("tools") or [] if t.get("type") in (None, "custom")]
        choice = body.get("tool_choice") or {"type": "auto"}
        thinking = body.get("thinking") or {}
        self.blocks: list[dict[str, Any]] = []
        self.stop_reason = "end_turn"
        self.stop_sequence: str | None = None
        if results:
            text = "Tool said: " + " ".join(content_text(r.get("content")) for r in results)
        else:
            text = "Echo: " + " ".join(block_text(b) for b in blocks if b.get("type") == "text")
        self.output_tokens = 0
        if thinking.get("type") in ("enabled", "adaptive"):
            thought = "Considering: " + text.split(": ", 1)[1]
            self.blocks.append({"type": "thinking", "thinking": thought, "signature": sign(thought)})
            self.output_tokens += count_tokens(thought)
        if not results and tools and choice.get("type") != "none":
            tool = tools[0]
            if choice.get("type") == "tool":
                tool = next((t for t in tools if t["name"] == choice.get("name")), tool)
            args = json.loads(example_arguments({"parameters": tool.get("input_schema") or {}}))
            self.blocks.append({"type": "tool_use", "id": _gen_id("toolu_", 24), "name": tool["name"], "input": args})
            self.stop_reason = "tool_use"
            self.output_tokens += 1 + count_tokens(json.dumps(args))
            return
        for s in body.get("stop_sequences") or []:
            at = text.find(s)
            if at >= 0 and (self.stop_sequence is None or at < text.find(self.stop_sequence)):
                self.stop_sequence = s
        if self.stop_sequence is not None:
            text = text[: text.find(self.stop_sequence)]
            self.stop_reason = "stop_sequence"
        pieces = words(text)
        limit = body.get("max_tokens")
        if _is_int(limit) and limit < len(pieces):
            pieces = pieces[:limit]
            text = "".join(pieces)
            self.stop_reason = "max_tokens"
        self.blocks.append({"type": "text", "text": text})
        self.output_tokens += count_tokens(text)


class Generated:
    def __init__(self, body: dict[str, Any], model: str, scope: str) -> None:
        self.body = body
        self.model = model
        self.id = _gen_id("msg_01", 22)
        self.answer = Answer(body)
        self.usage_in = input_usage(body, scope)

    def usage(self) -> dict[str, Any]:
        return {
            **self.usage_in,
            "cache_creation": {"ephemeral_5m_input_tokens": self.usage_in["cache_creation_input_tokens"], "ephemeral_1h_input_tokens": 0},
            "output_tokens": self.answer.output_tokens,
            "service_tier": "standard",
        }

    def message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.answer.blocks,
            "stop_reason": self.answer.stop_reason,
            "stop_sequence": self.answer.stop_sequence,
            "usage": self.usage(),
        }

    def events(self) -> list[dict[str, Any]]:
        a = self.answer
        start_usage = {**self.usage(), "output_tokens": 1}
        out: list[dict[str, Any]] = [{
            "type": "message_start",
            "message": {**self.message(), "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage},
        }]
        for i, b in enumerate(a.blocks):
            t = b["type"]
            start = {"type": "content_block_start", "index": i}
            if t == "thinking":
                out.append({**start, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            elif t == "text":
                out.append({**start, "content_block": {"type": "text", "text": ""}})
            else:
                out.append({**start, "content_block": {**b, "input": {}}})
            if i == 0:
                # Like the API: one ping right after the first block opens.
                out.append({"type": "ping"})
            if t == "thinking":
                for piece in words(b["thinking"]):
                    out.append({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": piece}})
                out.append({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": b["signature"]}})
            elif t == "text":
                for piece in words(b["text"]):
                    out.append({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": piece}})
            else:
                args = json.dumps(b["input"])
                out.append({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": ""}})
                for k in range(0, len(args), 8):
                    out.append({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": args[k : k + 8]}})
            out.append({"type": "content_block_stop", "index": i})
        out.append({
            "type": "message_delta",
            "delta": {"stop_reason": a.stop_reason, "stop_sequence": a.stop_sequence},
            "usage": {"output_tokens": a.output_tokens},
        })
        out.append({"type": "message_stop"})
        return out


def sse_event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


ERROR_EVENT = sse_event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def replay_events(stem: str) -> list[bytes]:
    """A recorded stream: ``.sse`` as is, ``.chunks.jsonl`` with ``event:`` lines put back."""
    fx = fixtures.stream_fixture(NAME, stem)
    if fx.path.name.endswith(".sse"):
        return fx.events
    out = []
    for line in fx.path.read_bytes().splitlines():
        if line.strip():
            kind = json.loads(line).get("type", "message")
            out.append(b"event: " + kind.encode() + b"\ndata: " + line + b"\n\n")
    return out


def count_input_tokens(body: dict[str, Any]) -> int:
    return sum(count_tokens(text) + (1 if text == "" else 0) for text, _ in _units(body))


# --------------------------------------------------------------------------- handlers


async def _answer(request: web.Request, body: dict[str, Any], model: str, stream: bool, scope: str) -> web.StreamResponse:
    try:
        plan = parse_model(model)
    except GrammarError as e:
        return bad(str(e)).response()
    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    headers = _std_headers()
    if fault.status is not None:
        if fault.body:
            try:
                _, raw = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return bad(f"fleet: {e}").response()
            return await wire.send_body(request, raw, fault, fault.status, headers)
        err = generic_error(fault.status, plan.model)
        raw, ctype = fault.error_body(err.body, _credential(request))
        return await wire.send_body(request, raw, fault, fault.status, headers, ctype)

    if stream and fault.answer is not None and plan.kind != "replay":
        whole = json.dumps(Generated(body, plan.model, scope).message()).encode()
        return await wire.send_not_a_stream(request, fault.answer, whole, headers)

    if plan.kind == "replay":
        stem = plan.fixture or ""
        try:
            if stream:
                try:
                    events = replay_events(stem)
                except fixtures.FixtureError:
                    _, raw = fixtures.json_fixture(NAME, stem)
                    return await wire.send_body(request, raw, fault, fixtures.status_for_stem(stem), headers)
            else:
                _, raw = fixtures.json_fixture(NAME, stem)
                return await wire.send_body(request, raw, fault, fixtures.status_for_stem(stem), headers)
        except fixtures.FixtureError as e:
            return bad(f"fleet: {e}").response()
    else:
        gen = Generated(body, plan.model, scope)
        if not stream:
            return await wire.send_body(request, json.dumps(gen.message()).encode(), fault, 200, headers)
        events = [sse_event(e) for e in gen.events()]
    if fault.error_after is not None:
        events = events[: fault.error_after] + [ERROR_EVENT]
    return await wire.send_stream(request, events, fault, headers)


async def messages(request: web.Request) -> web.StreamResponse:
    try:
        check_auth(request)
        body = await read_json_body(request)
        validate_messages(body, request.headers)
    except AnthropicHTTPError as e:
        return e.response()
    return await _answer(request, body, body["model"], body.get("stream") is True, "anthropic")


async def count_tokens_handler(request: web.Request) -> web.Response:
    try:
        check_auth(request)
        body = await read_json_body(request)
        if "max_tokens" in body:
            raise bad("max_tokens: Extra inputs are not permitted")
        validate_messages(body, request.headers, count_only=True)
    except AnthropicHTTPError as e:
        return e.response()
    return web.json_response({"input_tokens": count_input_tokens(body)}, headers=_std_headers())


async def vertex_predict(request: web.Request) -> web.StreamResponse:
    model, _, method = request.match_info["model_action"].rpartition(":")
    entry = request.get("fleet_entry")
    if entry is not None:
        entry["model"] = model
    try:
        check_vertex_auth(request)
    except GoogleHTTPError as e:
        return e.response()
    try:
        body = await read_json_body(request)
        if model == "count-tokens" and method == "rawPredict":
            # Counting names the model in the body, unlike prediction.
            validate_messages(body, request.headers, vertex=False, count_only=True)
            if entry is not None:
                entry["model"] = body["model"]
            return web.json_response({"input_tokens": count_input_tokens(body)})
        if method not in ("rawPredict", "streamRawPredict"):
            raise GoogleHTTPError(404, f"Method {method} not found.", "NOT_FOUND")
        validate_messages(body, request.headers, vertex=True)
        stream = body.get("stream") is True
        if stream != (method == "streamRawPredict"):
            raise bad(f"stream: {method} needs stream={'true' if method == 'streamRawPredict' else 'false'}")
    except (AnthropicHTTPError, GoogleHTTPError) as e:
        return e.response()
    scope = "vertex:" + request.match_info["project"] + "/" + request.match_info["location"]
    return await _answer(request, body, model, stream, scope)


async def not_found(request: web.Request) -> web.Response:
    path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
    return AnthropicHTTPError(404, "not_found_error", f"Not Found: {request.method} {path}").response()


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post(f"{prefix}/v1/messages", messages)
    app.router.add_post(f"{prefix}/v1/messages/count_tokens", count_tokens_handler)
    app.router.add_route("*", prefix + "/{tail:.*}", not_found)
    # Claude on Vertex AI. Only the anthropic publisher path is claimed, so a
    # Gemini-on-Vertex face can share the /vertex prefix.
    app.router.add_post(
        VERTEX_PREFIX + "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model_action}",
        vertex_predict,
    )
