"""The Gemini face of the fleet: Google AI Studio, Vertex AI and Google's OAuth2 token endpoint.

Mounted paths (base URLs for the gateway: ``http://127.0.0.1:<port>/gemini`` and
``http://127.0.0.1:<port>/vertex``)::

    POST /gemini/v1beta/models/{model}:generateContent
    POST /gemini/v1beta/models/{model}:streamGenerateContent?alt=sse
    POST /vertex/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent
    POST /vertex/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:streamGenerateContent?alt=sse
    POST /oauth2/token                       the service-account JWT bearer grant (RFC 7523)
    GET  /_fleet/oauth2/mints                {"by_email": {client_email: tokens minted}}

What it checks (answering with Google's ``{"error": {"code", "message", "status", "details"}}``):

* AI Studio: ``x-goog-api-key: sk-fleet-gemini`` (a wrong key is the recorded 400
  ``INVALID_ARGUMENT`` / ``API_KEY_INVALID``, a missing one 403); a ``key=``
  query parameter is refused (it would leak into access logs).
* Vertex: ``Authorization: Bearer <token>`` with a token this face minted and
  that has not expired, or the static pre-minted ``ya29.fleet-static-token``;
  else 401 ``UNAUTHENTICATED``.
* Token endpoint: ``grant_type`` is the JWT bearer URN; the assertion is an RS256
  JWT whose signature verifies against the public key of the throwaway test
  service account (``vertex_test_service_account.json``; any client_email in its
  domain); ``aud`` is this endpoint's URL, ``scope`` has cloud-platform,
  ``iat``/``exp`` are now-ish and at most an hour apart. ``refused-*`` accounts
  get ``invalid_grant``, ``outage-*`` accounts a 503.
* Body: only known top-level fields; ``contents`` non-empty, roles ``user``/``model``
  alternating, starting and ending with ``user``; every part has exactly one data
  field; a ``functionResponse`` turn follows a ``functionCall`` turn with as many
  responses as calls, named alike; on ``gemini-3`` models the first call of each
  model turn carries a ``thoughtSignature`` this face issued (or Google's
  documented ``skip_thought_signature_validator``); tool schemas use only keys
  Gemini's ``Schema`` knows (no ``$schema``, ``additionalProperties``, ``$ref``,
  ``oneOf``, ``const`` …), ``type`` is one string, ``required`` names existing
  properties, OBJECT parameters have properties; ``toolConfig`` and
  ``generationConfig`` fields are known and consistent.
* Streaming requires ``alt=sse``.

What it answers for a plain model (``replay:`` and ``fault:`` as in ``faults.py``):

* last user turn holds ``functionResponse`` parts -> text ``"Tool said: <responses>"``
  (each response's ``content`` string, else its compact JSON, joined by a space)
* function declarations and mode != NONE -> one ``functionCall`` to the first
  allowed function, args from its schema (string -> "Paris", number -> 1, ...);
  gemini-3 models attach a fresh ``thoughtSignature``
* otherwise -> ``"Echo: <text of the last user turn>"``; ``responseMimeType:
  application/json`` wraps it as ``{"answer": ...}``; ``stopSequences`` cut it;
  ``maxOutputTokens`` truncates to that many words with ``MAX_TOKENS``;
  ``thinkingConfig.includeThoughts`` adds a thought part ``"Thinking about: <text>"``
* ``candidateCount`` candidates; usage: ``promptTokenCount`` = words in all text
  (system included) + 1 per content, ``candidatesTokenCount`` = answer words (a
  call: words in its args + 1) times candidates, ``thoughtsTokenCount`` = thought words
* streaming (CRLF framed like Google): a thought event if any, one event per word
  per candidate, the last one with ``finishReason``; every event carries
  ``usageMetadata`` (cumulative).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from . import embed_faces, fixtures, wire
from .faults import GrammarError, parse_model

NAME = "gemini"
PREFIX = "/gemini"
VERTEX_PREFIX = "/vertex"
TOKEN_PATH = "/oauth2/token"
API_KEY = os.environ.get("FLEET_GEMINI_KEY", "sk-fleet-gemini")
STATIC_TOKEN = "ya29.fleet-static-token"
SERVICE_ACCOUNT_FILE = Path(__file__).resolve().parent / "vertex_test_service_account.json"
SA_DOMAIN = "@dx-fleet-test.iam.gserviceaccount.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_LIFETIME_S = 3599
SKIP_SIGNATURE = "skip_thought_signature_validator"

TOKENS: dict[str, tuple[str, float]] = {}  # token -> (client_email, expires_at)
MINTS: Counter[str] = Counter()
SIGNATURES: set[str] = set()  # thought signatures this face issued

_public_key = None


def public_key():
    global _public_key
    if _public_key is None:
        sa = json.loads(SERVICE_ACCOUNT_FILE.read_text())
        _public_key = serialization.load_pem_private_key(sa["private_key"].encode(), None).public_key()
    return _public_key


# --------------------------------------------------------------------------- errors


class GoogleError(Exception):
    def __init__(self, code: int, status: str, message: str, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.body = {"error": {"code": code, "message": message, "status": status}}
        if details:
            self.body["error"]["details"] = details

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.code)


def invalid(message: str) -> GoogleError:
    return GoogleError(400, "INVALID_ARGUMENT", message)


def generic_error(status: int, retry_after: int | None = None) -> GoogleError:
    """A Google-shaped error body for ``fault:status=``."""
    table = {
        400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
        403: ("PERMISSION_DENIED", "The caller does not have permission"),
        404: ("NOT_FOUND", "models/fleet is not found for API version v1beta, or is not supported for generateContent."),
        429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        500: ("INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
        503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
        504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    }
    status_name, message = table.get(status, ("UNKNOWN", f"fleet fault: HTTP {status}."))
    details = None
    if status == 429 and retry_after is not None:
        details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}]
    return GoogleError(status, status_name, message, details)


# --------------------------------------------------------------------------- auth


def check_api_key(request: web.Request) -> None:
    if "key" in request.query:
        raise invalid("fleet: the API key must travel in x-goog-api-key, never in ?key= (URLs are logged).")
    key = request.headers.get("x-goog-api-key")
    if not key:
        raise GoogleError(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    if key != API_KEY:
        raise GoogleError(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )


def check_bearer(request: web.Request) -> None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    ok = False
    if scheme == "Bearer" and token == STATIC_TOKEN:
        ok = True
    elif scheme == "Bearer" and token in TOKENS:
        ok = TOKENS[token][1] > time.time()
    if not ok:
        raise GoogleError(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
            "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _grant_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


async def oauth_token(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("grant_type") != JWT_BEARER:
        return _grant_error("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}")
    assertion = str(form.get("assertion") or "")
    parts = assertion.split(".")
    if len(parts) != 3:
        return _grant_error("invalid_request", "Invalid JWT: not three dot-separated parts.")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return _grant_error("invalid_request", "Invalid JWT: parts are not base64url JSON.")
    if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
        return _grant_error("invalid_grant", f"Invalid JWT: unsupported alg {header.get('alg')!r}.")
    try:
        public_key().verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return _grant_error("invalid_grant", "Invalid JWT Signature.")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss.endswith(SA_DOMAIN):
        return _grant_error("invalid_grant", "Invalid JWT: iss is not a service account of this fleet.")
    expected_aud = f"{request.scheme}://{request.host}{TOKEN_PATH}"
    if claims.get("aud") != expected_aud:
        return _grant_error("invalid_grant", f"Invalid JWT: aud must be {expected_aud}.")
    if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
        return _grant_error("invalid_scope", "Invalid JWT: scope must include cloud-platform.")
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not (isinstance(iat, int) and isinstance(exp, int) and abs(iat - now) <= 300 and now < exp and 0 < exp - iat <= 3600):
        return _grant_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
    local = iss.split("@")[0]
    if local.startswith("refused-"):
        return _grant_error("invalid_grant", "Invalid grant: account not found")
    if local.startswith("outage-"):
        return web.Response(status=503, text="upstream connect error or disconnect/reset before headers")
    token = "ya29.fleet-" + secrets.token_hex(16)
    TOKENS[token] = (iss, now + TOKEN_LIFETIME_S)
    MINTS[iss] += 1
    return web.json_response({"access_token": token, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer"})


async def mints(request: web.Request) -> web.Response:
    return web.json_response({"by_email": dict(MINTS)})


# --------------------------------------------------------------------------- validation


TOP_LEVEL = {
    "contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings",
    "cachedContent", "labels",
}
PART_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult")
PART_META = ("thought", "thoughtSignature", "videoMetadata", "mediaResolution")
SCHEMA_KEYS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
}
SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL", "TYPE_UNSPECIFIED"}
GENERATION_KEYS = {
    "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount", "seed",
    "responseMimeType", "responseSchema", "responseJsonSchema", "presencePenalty", "frequencyPenalty",
    "responseLogprobs", "logprobs", "thinkingConfig", "responseModalities", "mediaResolution", "speechConfig",
}
THINKING_KEYS = {"thinkingBudget", "includeThoughts", "thinkingLevel"}
FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def unknown_name(name: str, where: str) -> GoogleError:
    at = f" at '{where}'" if where else ""
    return invalid(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')


def validate_schema(schema: Any, where: str, function_parameters: bool = False) -> None:
    if not isinstance(schema, dict):
        raise invalid(f"Invalid JSON payload received. Schema at '{where}' is not an object.")
    for k in schema:
        if k not in SCHEMA_KEYS:
            raise unknown_name(k, where)
    t = schema.get("type")
    if t is not None:
        if not isinstance(t, str) or t.upper() not in SCHEMA_TYPES:
            raise invalid(f"Invalid value at '{where}.type' ({json.dumps(t)}): not a Type enum value.")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise invalid(f"'{where}.properties' must be an object.")
        for name, sub in props.items():
            validate_schema(sub, f"{where}.properties[{name}]")
    if isinstance(t, str) and t.upper() == "OBJECT" and function_parameters and not props:
        raise invalid(f"* GenerateContentRequest.{where}.properties: should be non-empty for OBJECT type")
    for r in schema.get("required") or []:
        if not props or r not in props:
            raise invalid(f"* GenerateContentRequest.{where}.required[{r}]: property is not defined")
    enum = schema.get("enum")
    if enum is not None and not (isinstance(enum, list) and all(isinstance(e, str) for e in enum)):
        raise invalid(f"Invalid value at '{where}.enum': enum values must be strings.")
    if "items" in schema:
        validate_schema(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf") or []):
        validate_schema(sub, f"{where}.any_of[{i}]")


def _function_calls(content: dict) -> list[dict]:
    return [p["functionCall"] for p in content["parts"] if "functionCall" in p]


def _function_responses(content: dict) -> list[dict]:
    return [p["functionResponse"] for p in content["parts"] if "functionResponse" in p]


def validate_body(body: Any, model: str) -> None:
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    for k in body:
        if k not in TOP_LEVEL:
            raise unknown_name(k, "")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified")
    for i, c in enumerate(contents):
        where = f"contents[{i}]"
        if not isinstance(c, dict):
            raise invalid(f"Invalid value at '{where}': expected an object.")
        for k in c:
            if k not in ("role", "parts"):
                raise unknown_name(k, where)
        if c.get("role") not in ("user", "model"):
            raise invalid(f"Please use a valid role: user, model. ({where}.role = {c.get('role')!r})")
        parts = c.get("parts")
        if not isinstance(parts, list) or not parts:
            raise invalid(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
        for j, p in enumerate(parts):
            pw = f"{where}.parts[{j}]"
            if not isinstance(p, dict):
                raise invalid(f"Invalid value at '{pw}': expected an object.")
            for k in p:
                if k not in PART_DATA and k not in PART_META:
                    raise unknown_name(k, pw)
            data = [k for k in PART_DATA if k in p]
            if len(data) != 1:
                raise invalid(f"* GenerateContentRequest.{pw}.data: required oneof field 'data' must have one initialized field")
            if "text" in p and not isinstance(p["text"], str):
                raise invalid(f"Invalid value at '{pw}.text': expected a string.")
            if "functionCall" in p:
                fc = p["functionCall"]
                if not isinstance(fc, dict) or not isinstance(fc.get("name"), str) or not fc["name"]:
                    raise invalid(f"* GenerateContentRequest.{pw}.function_call.name: name is not specified")
                if "args" in fc and not isinstance(fc["args"], dict):
                    raise invalid(f"Invalid value at '{pw}.function_call.args': expected an object.")
                if c["role"] != "model":
                    raise invalid(f"{pw}: functionCall parts belong to model turns.")
            if "functionResponse" in p:
                fr = p["functionResponse"]
                if not isinstance(fr, dict) or not isinstance(fr.get("name"), str) or not fr["name"]:
                    raise invalid(f"* GenerateContentRequest.{pw}.function_response.name: name is not specified")
                if not isinstance(fr.get("response"), dict):
                    raise invalid(f"Invalid value at '{pw}.function_response.response': expected an object.")
                if c["role"] != "user":
                    raise invalid(f"{pw}: functionResponse parts belong to user turns.")
            for blob_key, fields in (("inlineData", ("mimeType", "data")), ("fileData", ("mimeType", "fileUri"))):
                if blob_key in p:
                    blob = p[blob_key]
                    if not isinstance(blob, dict) or any(not isinstance(blob.get(f), str) or not blob[f] for f in fields):
                        raise invalid(f"* GenerateContentRequest.{pw}.{blob_key}: needs {' and '.join(fields)}")
    roles = [c["role"] for c in contents]
    if roles[0] != "user":
        raise invalid("Please ensure that multiturn requests alternate between user and model (the first turn must be user).")
    for a, b in zip(roles, roles[1:]):
        if a == b:
            raise invalid("Please ensure that multiturn requests alternate between user and model.")
    if roles[-1] != "user":
        raise invalid("Please ensure that multiturn requests ends with a user role or a function response.")
    for i, c in enumerate(contents):
        responses = _function_responses(c)
        calls = _function_calls(contents[i - 1]) if i > 0 else []
        if responses:
            if not calls:
                raise invalid("Please ensure that function response turn comes immediately after a function call turn.")
            if len(responses) != len(calls):
                raise invalid(
                    "Please ensure that the number of function response parts is equal to the number of function "
                    "call parts of the function call turn."
                )
            if sorted(r["name"] for r in responses) != sorted(fc["name"] for fc in calls):
                raise invalid("Function response names must match the function call names of the preceding turn.")
        elif calls:
            raise invalid("Please ensure that function call turn comes immediately before a function response turn.")
    if "gemini-3" in model:
        for i, c in enumerate(contents):
            parts = [p for p in c["parts"] if "functionCall" in p]
            if c["role"] != "model" or not parts:
                continue
            sig = parts[0].get("thoughtSignature")
            if sig is None:
                raise invalid(
                    f"Function call is missing a thought_signature in functionCall parts. This is required for tools "
                    f"to work correctly, and missing thought_signature may lead to degraded model performance. "
                    f"Additional data, function call `default_api:{parts[0]['functionCall']['name']}` , position {i + 1}. "
                    "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )
            if sig != SKIP_SIGNATURE and sig not in SIGNATURES:
                raise invalid("Thought signature is not valid.")

    si = body.get("systemInstruction")
    if si is not None:
        if not isinstance(si, dict) or not isinstance(si.get("parts"), list) or not si["parts"]:
            raise invalid("* GenerateContentRequest.system_instruction.parts: must not be empty")
        for k in si:
            if k not in ("role", "parts"):
                raise unknown_name(k, "system_instruction")
        if any(not isinstance(p, dict) or not isinstance(p.get("text"), str) for p in si["parts"]):
            raise invalid("* GenerateContentRequest.system_instruction.parts: only text parts are allowed")

    declared: list[str] = []
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid("Invalid value at 'tools': expected a list.")
        for t, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise invalid(f"Invalid value at 'tools[{t}]': expected an object.")
            for k in tool:
                if k not in ("functionDeclarations", "googleSearch", "codeExecution", "urlContext"):
                    raise unknown_name(k, f"tools[{t}]")
            for d, decl in enumerate(tool.get("functionDeclarations") or []):
                where = f"tools[{t}].function_declarations[{d}]"
                for k in decl:
                    if k not in ("name", "description", "parameters", "parametersJsonSchema", "response", "behavior"):
                        raise unknown_name(k, where)
                name = decl.get("name")
                if not isinstance(name, str) or not FUNCTION_NAME.match(name):
                    raise invalid(f"* GenerateContentRequest.{where}.name: Invalid function name.")
                if "parameters" in decl:
                    validate_schema(decl["parameters"], f"{where}.parameters", function_parameters=True)
                declared.append(name)
    tc = body.get("toolConfig")
    if tc is not None:
        fcc = (tc or {}).get("functionCallingConfig") or {}
        for k in tc:
            if k not in ("functionCallingConfig", "retrievalConfig"):
                raise unknown_name(k, "tool_config")
        mode = fcc.get("mode", "AUTO")
        if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
            raise invalid(f"Invalid value at 'tool_config.function_calling_config.mode' ({json.dumps(mode)})")
        allowed = fcc.get("allowedFunctionNames")
        if allowed is not None:
            if mode not in ("ANY", "VALIDATED"):
                raise invalid("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed with mode ANY.")
            for n in allowed:
                if n not in declared:
                    raise invalid(f"* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: {n} is not declared.")
        if not declared and mode != "NONE":
            raise invalid("* GenerateContentRequest.tool_config.function_calling_config: needs function declarations.")
    gc = body.get("generationConfig")
    if gc is not None:
        if not isinstance(gc, dict):
            raise invalid("Invalid value at 'generation_config': expected an object.")
        for k in gc:
            if k not in GENERATION_KEYS:
                raise unknown_name(k, "generation_config")
        stops = gc.get("stopSequences")
        if stops is not None and (not isinstance(stops, list) or len(stops) > 5):
            raise invalid("* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences.")
        n = gc.get("candidateCount")
        if n is not None and not (isinstance(n, int) and 1 <= n <= 8):
            raise invalid("* GenerateContentRequest.generation_config.candidate_count: must be in [1, 8].")
        if "responseSchema" in gc:
            if gc.get("responseMimeType") != "application/json":
                raise invalid("* GenerateContentRequest.generation_config.response_schema: requires response_mime_type application/json.")
            validate_schema(gc["responseSchema"], "generation_config.response_schema")
        th = gc.get("thinkingConfig")
        if th is not None:
            for k in th:
                if k not in THINKING_KEYS:
                    raise unknown_name(k, "generation_config.thinking_config")
            if "thinkingBudget" in th and "thinkingLevel" in th:
                raise invalid("You can only set only one of thinking budget and thinking level.")
            if "thinkingLevel" in th and th["thinkingLevel"] not in ("minimal", "low", "medium", "high"):
                raise invalid(f"Invalid value at 'generation_config.thinking_config.thinking_level' ({json.dumps(th['thinkingLevel'])})")


# --------------------------------------------------------------------------- the generated answer

_WORD = re.compile(r"\s*\S+|\s+$")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def count_tokens(text: str) -> int:
    return len(text.split())


def parts_text(parts: list[dict]) -> str:
    return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))


def example_args(schema: dict | None) -> dict[str, Any]:
    schema = schema or {}
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        s = props.get(name) or {}
        t = str(s.get("type", "string")).upper()
        if s.get("enum"):
            out[name] = s["enum"][0]
        elif t in ("INTEGER", "NUMBER"):
            out[name] = 1
        elif t == "BOOLEAN":
            out[name] = True
        elif t == "ARRAY":
            out[name] = []
        elif t == "OBJECT":
            out[name] = {}
        else:
            out[name] = "Paris"
    return out


def _response_text(resp: dict) -> str:
    if isinstance(resp.get("content"), str):
        return resp["content"]
    return json.dumps(resp, separators=(",", ":"))


class Answer:
    def __init__(self, body: dict[str, Any], model: str) -> None:
        contents = body["contents"]
        last = contents[-1]
        gc = body.get("generationConfig") or {}
        decls = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        fcc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = fcc.get("mode", "AUTO")
        self.n = gc.get("candidateCount") or 1
        self.call: dict[str, Any] | None = None
        self.signature: str | None = None
        self.finish = "STOP"
        self.thought = ""
        responses = _function_responses(last)
        if not responses and decls and mode != "NONE":
            allowed = fcc.get("allowedFunctionNames")
            decl = next((d for d in decls if allowed and d["name"] in allowed), decls[0])
            self.call = {"name": decl["name"], "args": example_args(decl.get("parameters"))}
            if "gemini-3" in model:
                self.signature = base64.b64encode(secrets.token_bytes(24)).decode()
                SIGNATURES.add(self.signature)
            self.pieces: list[str] = []
            self.text = ""
            self.completion_tokens = 1 + count_tokens(json.dumps(self.call["args"]))
            return
        if responses:
            text = "Tool said: " + " ".join(_response_text(r.get("response") or {}) for r in responses)
        else:
            text = "Echo: " + parts_text(last["parts"])
        if (gc.get("thinkingConfig") or {}).get("includeThoughts"):
            self.thought = "Thinking about: " + text
        if gc.get("responseMimeType") == "application/json":
            text = json.dumps({"answer": text})
        stops = gc.get("stopSequences") or []
        cut = min((text.find(s) for s in stops if s and s in text), default=-1)
        if cut >= 0:
            text = text[:cut]
        pieces = words(text)
        limit = gc.get("maxOutputTokens")
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces = pieces[:limit]
            text = "".join(pieces)
            self.finish = "MAX_TOKENS"
        self.text = text
        self.pieces = pieces
        self.completion_tokens = count_tokens(text)


class Generated:
    def __init__(self, body: dict[str, Any], model: str) -> None:
        self.body = body
        self.model = model
        self.answer = Answer(body, model)
        self.response_id = secrets.token_urlsafe(16)
        prompt = 0
        for c in body["contents"]:
            prompt += 1 + count_tokens(parts_text(c["parts"]))
        si = body.get("systemInstruction")
        if si:
            prompt += 1 + count_tokens(parts_text(si["parts"]))
        self.prompt_tokens = prompt
        self.thought_tokens = count_tokens(self.answer.thought) * self.answer.n

    def usage(self, candidates_tokens: int | None) -> dict[str, Any]:
        u: dict[str, Any] = {"promptTokenCount": self.prompt_tokens}
        total = self.prompt_tokens
        if candidates_tokens is not None:
            u["candidatesTokenCount"] = candidates_tokens
            total += candidates_tokens
        if self.thought_tokens:
            u["thoughtsTokenCount"] = self.thought_tokens
            total += self.thought_tokens
        u["totalTokenCount"] = total
        u["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.prompt_tokens}]
        return u

    def _envelope(self, candidates: list[dict], usage: dict) -> dict[str, Any]:
        return {"candidates": candidates, "usageMetadata": usage, "modelVersion": self.model, "responseId": self.response_id}

    def _call_part(self) -> dict[str, Any]:
        part: dict[str, Any] = {"functionCall": dict(self.answer.call or {})}
        if self.answer.signature:
            part["thoughtSignature"] = self.answer.signature
        return part

    def response(self) -> dict[str, Any]:
        a = self.answer
        candidates = []
        for i in range(a.n):
            parts: list[dict] = []
            if a.thought:
                parts.append({"text": a.thought, "thought": True})
            if a.call:
                parts.append(self._call_part())
            else:
                parts.append({"text": a.text})
            candidates.append({"content": {"parts": parts, "role": "model"}, "finishReason": a.finish, "index": i})
        return self._envelope(candidates, self.usage(a.completion_tokens * a.n))

    def events(self) -> list[bytes]:
        a = self.answer
        out: list[dict] = []
        if a.thought:
            out.append(
                self._envelope(
                    [{"content": {"parts": [{"text": a.thought, "thought": True}], "role": "model"}, "index": i} for i in range(a.n)],
                    self.usage(None),
                )
            )
        if a.call:
            out.append(
                self._envelope(
                    [{"content": {"parts": [self._call_part()], "role": "model"}, "finishReason": "STOP", "index": i} for i in range(a.n)],
                    self.usage(a.completion_tokens * a.n),
                )
            )
        else:
            pieces = a.pieces or [""]
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                done_words = count_tokens("".join(pieces[: k + 1]))
                cands = []
                for i in range(a.n):
                    c: dict[str, Any] = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": i}
                    if last:
                        c["finishReason"] = a.finish
                    cands.append(c)
                out.append(self._envelope(cands, self.usage(done_words * a.n if last else None)))
        return [b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\r\n\r\n" for e in out]


# --------------------------------------------------------------------------- handlers


def _split_model_method(tail: str) -> tuple[str, str]:
    model, sep, method = tail.rpartition(":")
    if not sep or method not in ("generateContent", "streamGenerateContent"):
        raise GoogleError(404, "NOT_FOUND", f"fleet: unknown method in {tail!r}")
    return model, method


async def _serve(request: web.Request, model: str, method: str) -> web.StreamResponse:
    entry = request.get("fleet_entry")
    if isinstance(entry, dict):
        entry["model"] = model
    stream = method == "streamGenerateContent"
    try:
        if stream and request.query.get("alt") != "sse":
            raise invalid("fleet: streamGenerateContent is served only with alt=sse.")
        if request.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            raise invalid("fleet: Content-Type must be application/json.")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise invalid("Invalid JSON payload received.")
        try:
            plan = parse_model(model)
        except GrammarError as e:
            raise invalid(str(e))
        validate_body(body, plan.model)
    except GoogleError as e:
        return e.response()

    fault = plan.fault
    if fault.delay_headers_ms:
        await asyncio.sleep(fault.delay_headers_ms / 1000)
    if fault.status is not None:
        if fault.body:
            try:
                _, raw = fixtures.json_fixture(NAME, fault.body)
            except fixtures.FixtureError as e:
                return invalid(f"fleet: {e}").response()
            return await wire.send_body(request, raw, fault, fault.status)
        err = generic_error(fault.status, fault.retry_after)
        return await wire.send_body(request, json.dumps(err.body).encode(), fault, fault.status)

    if plan.kind == "replay":
        stem = plan.fixture or ""
        status = fixtures.status_for_stem(stem)
        try:
            if status != 200 or not stream:
                _, raw = fixtures.json_fixture(NAME, stem)
                return await wire.send_body(request, raw, fault, status)
            fx = fixtures.stream_fixture(NAME, stem)
        except fixtures.FixtureError as e:
            return invalid(f"fleet: {e}").response()
        return await wire.send_stream(request, fx.events, fault)

    gen = Generated(body, plan.model)
    if stream:
        return await wire.send_stream(request, gen.events(), fault)
    return await wire.send_body(request, json.dumps(gen.response()).encode(), fault, 200)


async def ai_studio(request: web.Request) -> web.StreamResponse:
    try:
        check_api_key(request)
        tail = request.match_info["tail"]
        if tail.endswith(":batchEmbedContents"):
            return await _embed(request, tail, embed_faces.gemini_batch)
        model, method = _split_model_method(tail)
    except GoogleError as e:
        return e.response()
    return await _serve(request, model, method)


async def vertex(request: web.Request) -> web.StreamResponse:
    try:
        check_bearer(request)
        tail = request.match_info["tail"]
        if tail.endswith(":predict"):
            return await _embed(request, tail, embed_faces.vertex_predict)
        model, method = _split_model_method(tail)
    except GoogleError as e:
        return e.response()
    return await _serve(request, model, method)


async def _embed(request: web.Request, tail: str, handler) -> web.Response:
    model = tail.rpartition(":")[0]
    entry = request.get("fleet_entry")
    if isinstance(entry, dict):
        entry["model"] = model
    return await handler(request, model)


async def not_found(request: web.Request) -> web.Response:
    return GoogleError(404, "NOT_FOUND", f"fleet: no Gemini route for {request.method} {request.path}").response()


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app.router.add_post(f"{prefix}/v1beta/models/{{tail:.+}}", ai_studio)
    app.router.add_post(
        VERTEX_PREFIX + "/v1/projects/{project}/locations/{location}/publishers/google/models/{tail:.+}", vertex
    )
    app.router.add_post(TOKEN_PATH, oauth_token)
    app.router.add_get("/_fleet/oauth2/mints", mints)
    app.router.add_route("*", prefix + "/{rest:.*}", not_found)
    app.router.add_route("*", VERTEX_PREFIX + "/{rest:.*}", not_found)
