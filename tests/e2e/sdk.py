"""Helpers for the end-to-end suites: request builders and checks of what
the official SDKs and raw HTTP clients receive from the gateway."""

from __future__ import annotations

import json
import uuid
from typing import Any

import openai
import requests

from conftest import FLEET_KEY, MASTER_KEY
from fleet import fixtures

UPSTREAM_PATH = "/openai/v1/chat/completions"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a place",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location"],
        },
    },
}


# ---------------------------------------------------------------- helpers


def tag() -> str:
    return uuid.uuid4().hex[:12]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def raw_post(gateway, body: Any = None, *, data: bytes | None = None, key: str | None = MASTER_KEY,
             stream: bool = False, path: str = "/v1/chat/completions", timeout: float = 30) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    payload = data if data is not None else json.dumps(body).encode()
    return requests.post(f"{gateway.base_url}{path}", data=payload, headers=headers, stream=stream, timeout=timeout)


def check_error_body(resp, status: int, type_: str | None = None, code: str | None = None) -> dict[str, Any]:
    """``resp`` (requests or httpx2 response) carries OpenAI's error shape and no upstream secret."""
    assert resp.status_code == status, f"expected HTTP {status}, got {resp.status_code}: {resp.text[:500]}"
    text = resp.text
    assert FLEET_KEY not in text, f"upstream key leaked in error body: {text[:500]}"
    body = json.loads(text)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"not OpenAI's error shape: {text[:500]}"
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), f"error lacks message/type/param/code: {err}"
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["type"], str) and err["type"], err
    if type_ is not None:
        assert err["type"] == type_, err
    if code is not None:
        assert err["code"] == code, err
    return err


def check_sdk_error(exc: openai.APIStatusError, cls: type, status: int, **kw) -> dict[str, Any]:
    assert type(exc) is cls, f"expected {cls.__name__}, got {type(exc).__name__}: {exc}"
    assert exc.status_code == status
    return check_error_body(exc.response, status, **kw)


def reassemble_tool_calls(chunks) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for ch in c.choices:
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
    return calls


def fixture_chunks(stem: str) -> list[dict[str, Any]]:
    fx = fixtures.stream_fixture("openai", stem)
    out = []
    for ev in fx.events:
        for line in ev.decode().splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(json.loads(line[6:]))
    return out


def sse_data_lines(text: str) -> list[str]:
    return [ln[5:].strip() for ln in text.splitlines() if ln.startswith("data:")]
