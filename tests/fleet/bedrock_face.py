"""The AWS Bedrock face of the fleet: Converse and ConverseStream.

Mounted under a prefix (``/bedrock``), so a deployment's endpoint
(``api_base``) is ``http://127.0.0.1:<port>/bedrock`` and the routes are
``POST /bedrock/model/{modelId}/converse`` and ``.../converse-stream`` (the
model id percent-encoded in the path, as the AWS SDKs send it).

Authentication, checked like AWS does:

* SigV4: the signature is recomputed here (canonical request, string to sign,
  HMAC chain; ``hashlib``/``hmac`` only) for the known test credentials
  (``CREDENTIALS``). Unknown access key or a wrong/missing session token →
  403 ``UnrecognizedClientException``; a signature that does not match, a
  scope for another service or date, or an ``x-amz-date`` more than 5 minutes
  off → 403 ``InvalidSignatureException``; no ``Authorization`` → 403
  ``MissingAuthenticationTokenException``.
* Bedrock API keys: ``Authorization: Bearer <API_KEY>``.

Errors are AWS restJson1 errors: the status, ``{"message": ...}`` and the type
in the ``x-amzn-ErrorType`` header (``Type:http://internal.amazon.com/...``)
or, for the authentication errors, in the body's ``__type``
(``com.amazon.coral.service#Type``), as Bedrock itself does.

The Converse body is validated (400 ``ValidationException``): known top-level
members only; ``messages`` non-empty, roles alternating and starting with
``user``; content blocks are one-member unions of known kinds, text not blank;
every ``toolResult`` answers a ``toolUse`` of the previous assistant turn and
every ``toolUse`` is answered in the next turn; tool blocks need
``toolConfig``; ``inferenceConfig`` types and ranges; ``toolChoice`` names a
declared tool; Claude's ``thinking`` budget (>= 1024, < ``maxTokens``, no
temperature other than 1); ``reasoningContent`` sent back must carry the
signature this face issued for that text. A prompt over 20,000 characters is
refused as ``Input is too long for requested model.``

Answers (model = the unquoted model id; ``faults.py`` grammar applies):

* ``replay:<stem>``: ``bedrock/<stem>.json`` (non-stream) or
  ``bedrock/<stem>.events.jsonl`` encoded into real event stream frames
  (``:event-type``, ``:content-type``, ``:message-type`` headers, CRC-32s)
* otherwise generated: after a user turn holding ``toolResult``s, text
  ``"Tool said: <their text>"``; with ``toolConfig`` tools, a ``toolUse`` of
  the chosen (or first) tool with example arguments; else ``"Echo: <last user
  text>"``. With ``thinking`` enabled a signed ``reasoningContent`` block
  ``"Thinking about: <last user text>"`` comes first. ``maxTokens`` cuts the
  text to that many words (``max_tokens``), ``stopSequences`` cut before the
  first match (``stop_sequence``). Usage: input = words of all text + 1 per
  message (words of system text before a ``cachePoint`` are reported as
  ``cacheReadInputTokens`` instead), output = words generated.
* faults: ``status=`` sends the AWS error for that status
  (``STATUS_ERRORS``); stream faults act on frames; ``exception_after=N``
  sends N frames then an exception frame (``exception=``, default
  ``throttlingException``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import struct
import uuid
import zlib
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from . import embed_faces, fixtures, wire
from .faults import GrammarError, parse_model
from .openai_face import count_tokens, example_arguments, words

NAME = "bedrock"
PREFIX = "/bedrock"
SERVICE = "bedrock"

# access key id -> (secret, session token or None)
CREDENTIALS: dict[str, tuple[str, str | None]] = {
    os.environ.get("FLEET_AWS_ACCESS_KEY_ID", "AKIAFLEETBEDROCK0001"): (
        os.environ.get("FLEET_AWS_SECRET_ACCESS_KEY", "fleet+bedrock/Secret/Key0001EXAMPLE"),
        None,
    ),
    os.environ.get("FLEET_AWS_STS_ACCESS_KEY_ID", "ASIAFLEETBEDROCKSTS1"): (
        os.environ.get("FLEET_AWS_STS_SECRET_ACCESS_KEY", "fleet+bedrock/Sts/Secret0001EXAMPLE"),
        os.environ.get("FLEET_AWS_SESSION_TOKEN", "FwoGZXIvYXdzEFleetSessionToken//0001=="),
    ),
}
API_KEY = os.environ.get("FLEET_BEDROCK_API_KEY", "ABSKZmxlZXQtYmVkcm9jay1hcGkta2V5")
MAX_CLOCK_SKEW_S = 300
MAX_PROMPT_CHARS = 20_000
EVENTSTREAM = "application/vnd.amazon.eventstream"
# Signs the reasoning this face emits, so a later turn can prove it sent it back unchanged.
_SIG_KEY = b"fleet-bedrock-reasoning"

TOP_LEVEL = {
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
    "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
    "requestMetadata", "performanceConfig", "serviceTier", "outputConfig",
}
BLOCKS = {
    "text", "image", "document", "video", "audio", "toolUse", "toolResult", "guardContent",
    "cachePoint", "reasoningContent", "citationsContent", "searchResult",
}
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp"}
DOC_FORMATS = {"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
DOC_NAME = re.compile(r"^(?:[A-Za-z0-9\-()\[\]]| (?! ))+$")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# fault:status=N -> the AWS error Bedrock sends with that status
STATUS_ERRORS = {
    400: ("ValidationException", "fleet fault: The provided request is not valid."),
    401: ("UnrecognizedClientException", "The security token included in the request is invalid."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."),
    408: ("ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    424: ("ModelErrorException", "The system encountered an unexpected error during processing. Try your request again."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an error processing your request."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}


# --------------------------------------------------------------------------- errors


class AwsError(Exception):
    """An AWS restJson1 error response."""

    def __init__(self, status: int, type_: str, message: str, *, in_body: bool = False, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.in_body = in_body
        self.headers = headers or {}

    def body(self) -> bytes:
        b: dict[str, Any] = {"message": self.message}
        if self.in_body:
            b["__type"] = f"com.amazon.coral.service#{self.type}"
        return json.dumps(b).encode()

    def all_headers(self) -> dict[str, str]:
        h = {"x-amzn-RequestId": str(uuid.uuid4()), **self.headers}
        if not self.in_body:
            h["x-amzn-ErrorType"] = f"{self.type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        return h

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=self.body(), headers=self.all_headers(), content_type="application/json")


def invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


# --------------------------------------------------------------------------- SigV4


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _uri_encode(s: str) -> str:
    return quote(s, safe="-_.~")


def canonical_uri(raw_path: str) -> str:
    # Non-S3 services sign the path as sent, encoded once more: `%3A` -> `%253A`.
    return quote(raw_path or "/", safe="/-_.~")


def canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else []:
        k, _, v = item.partition("=")
        pairs.append((_uri_encode(unquote(k)), _uri_encode(unquote(v))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(method: str, raw_path: str, query: str, headers: dict[str, list[str]], signed: list[str], body: bytes) -> str:
    lines = []
    for name in signed:
        values = [re.sub(r"\s+", " ", v.strip()) for v in headers.get(name, [])]
        lines.append(f"{name}:{','.join(values)}")
    return "\n".join([
        method,
        canonical_uri(raw_path),
        canonical_query(query),
        "\n".join(lines) + "\n",
        ";".join(signed),
        hashlib.sha256(body).hexdigest(),
    ])


def signature(secret: str, amz_date: str, region: str, service: str, creq: str) -> str:
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    return hmac.new(signing_key(secret, amz_date[:8], region, service), to_sign.encode(), hashlib.sha256).hexdigest()


_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<sig>[0-9a-f]{64})"
)


def check_auth(request: web.Request, body: bytes, now: float | None = None) -> str:
    """Returns ``"sigv4"`` or ``"api_key"``; raises :class:`AwsError` like Bedrock."""
    auth = request.headers.get("Authorization")
    if not auth:
        raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token", in_body=True)
    if auth.startswith("Bearer "):
        if hmac.compare_digest(auth[len("Bearer "):].encode(), API_KEY.encode()):
            return "api_key"
        raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.", in_body=True)
    m = _AUTH.fullmatch(auth.strip())
    if not m:
        raise AwsError(403, "IncompleteSignatureException", f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization={auth[:40]}...", in_body=True)
    creds = CREDENTIALS.get(m["key"])
    if creds is None:
        raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.", in_body=True)
    secret, token = creds
    sent_token = request.headers.get("X-Amz-Security-Token")
    signed = m["signed"].split(";")
    if token is not None and (sent_token != token or "x-amz-security-token" not in signed):
        raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.", in_body=True)
    if token is None and sent_token is not None:
        raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.", in_body=True)
    if m["service"] != SERVICE:
        raise AwsError(403, "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'.", in_body=True)
    amz_date = request.headers.get("X-Amz-Date", "")
    try:
        t = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise AwsError(403, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.", in_body=True)
    now_dt = dt.datetime.fromtimestamp(now if now is not None else dt.datetime.now(dt.timezone.utc).timestamp(), dt.timezone.utc)
    if abs((now_dt - t).total_seconds()) > MAX_CLOCK_SKEW_S:
        raise AwsError(403, "InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than {(now_dt - dt.timedelta(seconds=MAX_CLOCK_SKEW_S)).strftime('%Y%m%dT%H%M%SZ')} ({now_dt.strftime('%Y%m%dT%H%M%SZ')} - 5 min.)", in_body=True)
    if m["date"] != amz_date[:8]:
        raise AwsError(403, "InvalidSignatureException", f"Credential should be scoped to a valid date: '{amz_date[:8]}'.", in_body=True)
    if "host" not in signed or "x-amz-date" not in signed or signed != sorted(signed):
        raise AwsError(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", in_body=True)
    headers: dict[str, list[str]] = {}
    for k, v in request.headers.items():
        headers.setdefault(k.lower(), []).append(v)
    path, _, query = request.raw_path.partition("?")
    creq = canonical_request(request.method, path, query, headers, signed, body)
    want = signature(secret, amz_date, m["region"], m["service"], creq)
    if not hmac.compare_digest(want, m["sig"]):
        raise AwsError(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.",
            in_body=True,
        )
    return "sigv4"


# --------------------------------------------------------------------------- event stream frames


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v


def encode_frame(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One AWS event stream message (string headers only, which is all Bedrock sends)."""
    h = b"".join(_header(k, v) for k, v in headers)
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack(">II", total, len(h))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + h + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    return encode_frame(
        [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        json.dumps(payload, separators=(",", ":")).encode(),
    )


def exception_frame(kind: str, message: str) -> bytes:
    return encode_frame(
        [(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")],
        json.dumps({"message": message}).encode(),
    )


def frames_of_events(lines: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for obj in lines:
        ((kind, payload),) = obj.items()
        out.append(event_frame(kind, payload))
    return out


# --------------------------------------------------------------------------- fixtures


_STEM_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def stream_events(stem: str) -> list[dict[str, Any]]:
    if not _STEM_OK.match(stem) or ".." in stem:
        raise fixtures.FixtureError(f"bad fixture name {stem!r}")
    name = stem if stem.endswith(".events.jsonl") else f"{stem}.events.jsonl"
    path = fixtures.fixtures_dir() / NAME / name
    if not path.is_file():
        raise fixtures.FixtureError(f"no stream fixture {name!r} in {path.parent}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- validation


def _type_name(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "structure"}.get(type(v), "null")


def reasoning_signature(text: str) -> str:
    return base64.b64encode(hmac.new(_SIG_KEY, text.encode(), hashlib.sha256).digest()).decode()


def _check_block(block: Any, where: str, role: str | None) -> str:
    if not isinstance(block, dict) or len(block) != 1:
        raise invalid(f"{where} must be a union with exactly one member set.")
    ((kind, value),) = block.items()
    if kind not in BLOCKS:
        raise invalid(f"Malformed input request: {where}: extraneous key [{kind}] is not permitted.")
    if kind == "text":
        if not isinstance(value, str):
            raise invalid(f"{where}.text must be a string.")
        if not value.strip():
            raise invalid(f"The text field in the ContentBlock object at {where} is blank. Add text to the text field, and try again.")
    elif kind == "image":
        if not isinstance(value, dict) or value.get("format") not in IMAGE_FORMATS:
            raise invalid(f"{where}.image.format must be one of png, jpeg, gif, webp.")
        src = value.get("source") or {}
        if "bytes" in src:
            try:
                base64.b64decode(src["bytes"], validate=True)
            except (ValueError, TypeError):
                raise invalid(f"{where}.image.source.bytes is not valid base64.")
        elif "s3Location" not in src:
            raise invalid(f"{where}.image.source needs bytes or s3Location.")
    elif kind == "document":
        if not isinstance(value, dict) or value.get("format") not in DOC_FORMATS:
            raise invalid(f"{where}.document.format is not a supported document format.")
        if not isinstance(value.get("name"), str) or not DOC_NAME.match(value["name"]):
            raise invalid(f"{where}.document.name may only contain alphanumerics, single spaces, hyphens, parentheses and square brackets.")
    elif kind == "toolUse":
        if role != "assistant":
            raise invalid(f"{where}: toolUse blocks are only allowed in assistant messages.")
        if not isinstance(value, dict) or not isinstance(value.get("toolUseId"), str) or not isinstance(value.get("name"), str) or "input" not in value:
            raise invalid(f"{where}.toolUse needs toolUseId, name and input.")
    elif kind == "toolResult":
        if role != "user":
            raise invalid(f"{where}: toolResult blocks are only allowed in user messages.")
        if not isinstance(value, dict) or not isinstance(value.get("toolUseId"), str):
            raise invalid(f"{where}.toolResult needs toolUseId.")
        content = value.get("content")
        if not isinstance(content, list) or not content:
            raise invalid(f"{where}.toolResult.content must be a non-empty list.")
        for k, c in enumerate(content):
            if not isinstance(c, dict) or len(c) != 1 or next(iter(c)) not in ("text", "json", "image", "document", "video", "searchResult"):
                raise invalid(f"{where}.toolResult.content[{k}] is not a valid tool result block.")
        if value.get("status") not in (None, "success", "error"):
            raise invalid(f"{where}.toolResult.status must be success or error.")
    elif kind == "reasoningContent":
        if role != "assistant":
            raise invalid(f"{where}: reasoningContent is only allowed in assistant messages.")
        rt = value.get("reasoningText") if isinstance(value, dict) else None
        if rt is not None:
            text, sig = rt.get("text"), rt.get("signature")
            if not isinstance(sig, str) or not hmac.compare_digest(sig, reasoning_signature(text or "")):
                raise invalid(f"The model returned the following errors: {where}.reasoningContent: Invalid `signature` in `thinking` block")
        elif not (isinstance(value, dict) and isinstance(value.get("redactedContent"), str)):
            raise invalid(f"{where}.reasoningContent needs reasoningText or redactedContent.")
    elif kind == "cachePoint":
        if not isinstance(value, dict) or value.get("type") != "default":
            raise invalid(f"{where}.cachePoint.type must be default.")
    return kind


def _check_number(cfg: dict[str, Any], key: str, lo: float, hi: float, integer: bool = False) -> None:
    if key not in cfg:
        return
    v = cfg[key]
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok:
        raise invalid(f"1 validation error detected: Value at 'inferenceConfig.{key}' failed to satisfy constraint: Member must be {'an integer' if integer else 'a number'} (got {_type_name(v)}).")
    if not lo <= v <= hi:
        raise invalid(f"1 validation error detected: Value '{v}' at 'inferenceConfig.{key}' failed to satisfy constraint: Member must have value between {lo} and {hi}.")


def validate_converse(body: Any) -> None:
    if not isinstance(body, dict):
        raise AwsError(400, "SerializationException", "Malformed input request, please reformat your input and try again.")
    for k in body:
        if k not in TOP_LEVEL:
            raise invalid(f"Malformed input request: extraneous key [{k}] is not permitted, please reformat your input and try again.")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise invalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
    pending: list[str] = []
    has_tool_blocks = False
    for i, m in enumerate(msgs):
        where = f"messages.{i}"
        if not isinstance(m, dict) or set(m) - {"role", "content"}:
            raise invalid(f"Malformed input request: {where} has unknown members.")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"1 validation error detected: Value '{role}' at '{where}.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]")
        if i == 0 and role != "user":
            raise invalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
        if i > 0 and msgs[i - 1].get("role") == role:
            raise invalid("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
        content = m.get("content")
        if not isinstance(content, list) or not content:
            raise invalid(f"The content field in the Message object at {where} is empty. Add a ContentBlock object to the content field and try again.")
        used: list[str] = []
        answered: list[str] = []
        for j, block in enumerate(content):
            kind = _check_block(block, f"{where}.content.{j}", role)
            if kind == "toolUse":
                used.append(block["toolUse"]["toolUseId"])
            if kind == "toolResult":
                tid = block["toolResult"]["toolUseId"]
                if tid not in pending:
                    raise invalid(f"{where}.content.{j}: toolResult toolUseId '{tid}' does not match any toolUse in the previous assistant turn.")
                answered.append(tid)
        has_tool_blocks = has_tool_blocks or bool(used) or bool(answered)
        if role == "user":
            missing = [t for t in pending if t not in answered]
            if missing:
                raise invalid(f"Expected toolResult blocks at {where}.content for the following Ids: {', '.join(missing)}")
            pending = []
        else:
            if pending:
                raise invalid(f"Expected toolResult blocks at {where}.content for the following Ids: {', '.join(pending)}")
            pending = used
    system = body.get("system", [])
    if not isinstance(system, list):
        raise invalid("system must be a list of SystemContentBlock.")
    for k, s in enumerate(system):
        if not isinstance(s, dict) or len(s) != 1 or next(iter(s)) not in ("text", "guardContent", "cachePoint"):
            raise invalid(f"system.{k} is not a valid SystemContentBlock.")
        if "text" in s and (not isinstance(s["text"], str) or not s["text"].strip()):
            raise invalid(f"The text field in the SystemContentBlock object at system.{k} is blank.")
    cfg = body.get("inferenceConfig", {})
    if not isinstance(cfg, dict):
        raise invalid("inferenceConfig must be a structure.")
    for k in cfg:
        if k not in ("maxTokens", "temperature", "topP", "stopSequences"):
            raise invalid(f"Malformed input request: extraneous key [{k}] is not permitted in inferenceConfig.")
    _check_number(cfg, "maxTokens", 1, 1_000_000, integer=True)
    _check_number(cfg, "temperature", 0, 1)
    _check_number(cfg, "topP", 0, 1)
    stops = cfg.get("stopSequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops) or len(stops) > 2500:
        raise invalid("inferenceConfig.stopSequences must be a list of non-empty strings.")
    tool_names: list[str] = []
    tc = body.get("toolConfig")
    if tc is not None:
        tools = tc.get("tools") if isinstance(tc, dict) else None
        if not isinstance(tools, list) or not tools:
            raise invalid("toolConfig.tools must contain at least one tool.")
        for k, t in enumerate(tools):
            spec = t.get("toolSpec") if isinstance(t, dict) else None
            if not isinstance(spec, dict):
                raise invalid(f"toolConfig.tools.{k} must hold a toolSpec.")
            name = spec.get("name")
            if not isinstance(name, str) or not TOOL_NAME.match(name):
                raise invalid(f"1 validation error detected: Value at 'toolConfig.tools.{k}.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+")
            schema = (spec.get("inputSchema") or {}).get("json")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise invalid(f"The value at toolConfig.tools.{k}.toolSpec.inputSchema.json.type must be object.")
            if "description" in spec and (not isinstance(spec["description"], str) or not spec["description"]):
                raise invalid(f"toolConfig.tools.{k}.toolSpec.description must be a non-empty string.")
            tool_names.append(name)
        choice = tc.get("toolChoice")
        if choice is not None:
            if not isinstance(choice, dict) or len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool"):
                raise invalid("toolConfig.toolChoice must be one of auto, any, tool.")
            if "tool" in choice and (choice["tool"] or {}).get("name") not in tool_names:
                raise invalid("toolConfig.toolChoice.tool.name must name a tool in toolConfig.tools.")
    elif has_tool_blocks:
        raise invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    extra = body.get("additionalModelRequestFields")
    if extra is not None:
        if not isinstance(extra, dict):
            raise invalid("additionalModelRequestFields must be a JSON object.")
        thinking = extra.get("thinking")
        if thinking is not None:
            if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
                raise invalid("The model returned the following errors: thinking.type: Input should be 'enabled' or 'disabled'")
            if thinking["type"] == "enabled":
                budget = thinking.get("budget_tokens")
                if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
                    raise invalid("The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
                if "maxTokens" in cfg and cfg["maxTokens"] <= budget:
                    raise invalid("The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`.")
                if cfg.get("temperature", 1) != 1:
                    raise invalid("The model returned the following errors: `temperature` may only be set to 1 when thinking is enabled.")


# --------------------------------------------------------------------------- the generated answer


def _block_text(blocks: list[dict[str, Any]]) -> str:
    return " ".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))


def _prompt_chars(body: dict[str, Any]) -> int:
    return len(json.dumps(body.get("messages", []))) + len(json.dumps(body.get("system", [])))


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        msgs = body["messages"]
        last = msgs[-1]
        cfg = body.get("inferenceConfig") or {}
        user_text = _block_text(last["content"]) if last["role"] == "user" else ""
        results = [b["toolResult"] for b in last["content"] if "toolResult" in b]
        thinking = ((body.get("additionalModelRequestFields") or {}).get("thinking") or {}).get("type") == "enabled"
        self.reasoning = f"Thinking about: {user_text}" if thinking else None
        self.tool_use: dict[str, Any] | None = None
        self.text = ""
        self.stop = "end_turn"
        tc = body.get("toolConfig") or {}
        if results:
            parts = []
            for r in results:
                for c in r["content"]:
                    parts.append(c["text"] if "text" in c else json.dumps(c.get("json")))
            self.text = "Tool said: " + " ".join(parts)
        elif tc.get("tools"):
            specs = [t["toolSpec"] for t in tc["tools"]]
            chosen = ((tc.get("toolChoice") or {}).get("tool") or {}).get("name")
            spec = next((s for s in specs if s["name"] == chosen), specs[0])
            self.tool_use = {
                "toolUseId": "tooluse_" + uuid.uuid4().hex[:22],
                "name": spec["name"],
                "input": json.loads(example_arguments({"parameters": spec["inputSchema"]["json"]})),
            }
            self.stop = "tool_use"
        else:
            self.text = f"Echo: {user_text}"
        if self.text:
            for s in cfg.get("stopSequences") or []:
                at = self.text.find(s)
                if at >= 0:
                    self.text = self.text[:at]
                    self.stop = "stop_sequence"
            max_tokens = cfg.get("maxTokens")
            pieces = words(self.text)
            if max_tokens is not None and len(pieces) > max_tokens:
                self.text = "".join(pieces[:max_tokens])
                self.stop = "max_tokens"
        # Usage: words of all text + 1 per message; system words before a
        # cachePoint count as read from the prompt cache.
        total = 0
        for m in msgs:
            total += 1
            for b in m["content"]:
                if "text" in b:
                    total += count_tokens(b["text"])
                elif "toolResult" in b:
                    total += count_tokens(_block_text(b["toolResult"]["content"]))
                elif "toolUse" in b:
                    total += count_tokens(json.dumps(b["toolUse"]["input"]))
        cached = 0
        seen = 0
        for s in body.get("system") or []:
            if "text" in s:
                seen += count_tokens(s["text"])
                total += count_tokens(s["text"])
            elif "cachePoint" in s:
                cached = seen
        out = count_tokens(self.text) + (count_tokens(self.reasoning) if self.reasoning else 0)
        if self.tool_use:
            out += 1 + count_tokens(json.dumps(self.tool_use["input"]))
        self.usage = {
            "inputTokens": total - cached,
            "outputTokens": out,
            "totalTokens": total + out,
            "cacheReadInputTokens": cached,
            "cacheWriteInputTokens": 0,
        }

    def blocks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.reasoning is not None:
            out.append({"reasoningContent": {"reasoningText": {"text": self.reasoning, "signature": reasoning_signature(self.reasoning)}}})
        if self.text:
            out.append({"text": self.text})
        if self.tool_use:
            out.append({"toolUse": self.tool_use})
        return out

    def response(self) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": self.blocks()}},
            "stopReason": self.stop,
            "usage": self.usage,
            "metrics": {"latencyMs": 7},
        }

    def events(self) -> list[dict[str, Any]]:
        ev: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
        idx = 0
        if self.reasoning is not None:
            for piece in words(self.reasoning):
                ev.append({"contentBlockDelta": {"contentBlockIndex": idx, "delta": {"reasoningContent": {"text": piece}}}})
            ev.append({"contentBlockDelta": {"contentBlockIndex": idx, "delta": {"reasoningContent": {"signature": reasoning_signature(self.reasoning)}}}})
            ev.append({"contentBlockStop": {"contentBlockIndex": idx}})
            idx += 1
        if self.text:
            for piece in words(self.text):
                ev.append({"contentBlockDelta": {"contentBlockIndex": idx, "delta": {"text": piece}}})
            ev.append({"contentBlockStop": {"contentBlockIndex": idx}})
            idx += 1
        if self.tool_use:
            t = self.tool_use
            ev.append({"contentBlockStart": {"contentBlockIndex": idx, "start": {"toolUse": {"toolUseId": t["toolUseId"], "name": t["name"]}}}})
            args = json.dumps(t["input"], separators=(",", ":"))
            for k in range(0, len(args), 6):
                ev.append({"contentBlockDelta": {"contentBlockIndex": idx, "delta": {"toolUse": {"input": args[k : k + 6]}}}})
            ev.append({"contentBlockStop": {"contentBlockIndex": idx}})
        ev.append({"messageStop": {"stopReason": self.stop}})
        ev.append({"metadata": {"usage": self.usage, "metrics": {"latencyMs": 7}}})
        return ev


# --------------------------------------------------------------------------- handlers


def _route(request: web.Request) -> tuple[str, bool]:
    """(model id, stream?) from the raw path ``{prefix}/model/{id}/converse[-stream]``."""
    path = request.raw_path.partition("?")[0]
    rest = path[len(PREFIX) + len("/model/") :]
    encoded, _, op = rest.rpartition("/")
    if not encoded or op not in ("converse", "converse-stream"):
        raise AwsError(404, "UnknownOperationException", f"fleet: no Bedrock operation at {path}")
    return unquote(encoded), op == "converse-stream"


async def converse(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    try:
        model, stream = _route(request)
        check_auth(request, raw)
        if request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise AwsError(415, "UnsupportedMediaTypeException", "Content-Type must be application/json.")
        try:
            body = json.loads(raw)
        except ValueError:
            raise AwsError(400, "SerializationException", "Malformed input request, please reformat your input and try again.")
        validate_converse(body)
        if _prompt_chars(body) > MAX_PROMPT_CHARS:
            raise invalid("Input is too long for requested model.")
        try:
            plan = parse_model(model)
        except GrammarError as e:
            raise invalid(str(e))
    except AwsError as e:
        return e.response()

    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if fault.status is not None:
        if fault.body:
            try:
                _, body_bytes = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return invalid(f"fleet: {e}").response()
            return await wire.send_body(request, body_bytes, fault, fault.status, headers)
        type_, message = STATUS_ERRORS.get(fault.status, ("InternalServerException" if fault.status >= 500 else "ValidationException", f"fleet fault: HTTP {fault.status}."))
        err = AwsError(fault.status, type_, message)
        return await wire.send_body(request, err.body(), fault, fault.status, err.all_headers())

    if plan.kind == "replay":
        stem = plan.fixture or ""
        try:
            if stream:
                events = stream_events(stem)
            else:
                _, body_bytes = fixtures.json_fixture(NAME, stem)
        except fixtures.FixtureError as e:
            return invalid(f"fleet: {e}").response()
        if not stream:
            return await wire.send_body(request, body_bytes, fault, fixtures.status_for_stem(stem), headers)
    else:
        answer = Answer(body)
        if not stream:
            return await wire.send_body(request, json.dumps(answer.response()).encode(), fault, 200, headers)
        events = answer.events()

    frames = frames_of_events(events)
    if fault.exception_after is not None:
        frames = frames[: fault.exception_after] + [exception_frame(fault.exception, "Too many tokens, please wait before trying again.")]
    return await wire.send_stream(request, frames, fault, headers, content_type=EVENTSTREAM)


async def not_found(request: web.Request) -> web.Response:
    return AwsError(404, "UnknownOperationException", f"fleet: no Bedrock operation at {request.method} {request.path}").response()


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post(prefix + "/model/{tail:.+}/invoke", embed_faces.bedrock_invoke)
    app.router.add_post(prefix + "/model/{tail:.+}", converse)
    app.router.add_route("*", prefix + "/{tail:.*}", not_found)
