"""What the gateway must never hand a client, and answers it must never
garble, on both shells:

* provider keys echoed by an upstream error, in any field, or inside a long
  non-JSON error page (the key across the 1,000-character cut);
* a stream request an OpenAI-compatible or Anthropic upstream answered with
  one JSON body (converted into a real stream) or an HTML page (a clean 502);
* providers this deployment has no credentials for (a 404 naming no
  variable; the operator finds the variable in the log);
* local servers (`lmstudio/…`) nobody configured (a 404, no connection);
* a `DX_CONFIG` that does not load (a generic 500 `config_error`; the detail,
  without the config's text, in the shell's log);
* a header byte that is not UTF-8 (Lambda: a 400, not a 502).
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import anthropic
import openai
import pytest
import requests

from conftest import FLEET_KEY, MASTER_KEY, selected_shells, start_lambda, start_worker
from sdk import tag, user

ANTHROPIC_KEY = "sk-fleet-anthropic"


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def raw_text(err: Exception) -> str:
    resp = getattr(err, "response", None)
    return resp.text if resp is not None else str(err)


# ---------------------------------------------------------------- keys in upstream errors

# (ingress, gateway model, key the upstream saw): passthrough and translated on each ingress.
ROUTES = [
    ("openai", "fleet/{fault}", FLEET_KEY),
    ("openai", "anthropic-fleet/{fault}", ANTHROPIC_KEY),
    ("anthropic", "anthropic-fleet/{fault}", ANTHROPIC_KEY),
    ("anthropic", "fleet/{fault}", FLEET_KEY),
]


def call(ingress: str, client, claude, model: str):
    if ingress == "openai":
        return client.chat.completions.create(model=model, messages=user("hi"))
    return claude.messages.create(model=model, max_tokens=50, messages=user("hi"))


@pytest.mark.parametrize("ingress,model,key", ROUTES)
def test_a_key_echoed_in_any_error_field_is_redacted(client, claude, ingress, model, key):
    with pytest.raises((openai.BadRequestError, anthropic.BadRequestError)) as e:
        call(ingress, client, claude, model.format(fault="fault:status=400,echo_key=all"))
    text = raw_text(e.value)
    assert key not in text and key[:8] not in text, text
    assert "[redacted]" in text, text


@pytest.mark.parametrize("ingress,model,key", ROUTES)
def test_a_key_across_the_cut_of_a_long_error_page_leaves_no_prefix(client, claude, ingress, model, key):
    with pytest.raises((openai.InternalServerError, anthropic.InternalServerError)) as e:
        call(ingress, client, claude, model.format(fault="fault:status=502,key_at=990"))
    assert e.value.status_code == 502
    text = raw_text(e.value)
    assert key[:6] not in text, text
    assert "y" * 500 not in text, "the page was not cut"


# ---------------------------------------------------------------- stream requests answered without a stream


def test_a_json_answer_to_a_stream_request_becomes_a_stream(client):
    t = tag()
    chunks = list(client.chat.completions.create(
        model="fleet/fault:answer=json|gpt-4o-mini", messages=user(f"one two {t}"), stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: one two {t}"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]


def test_an_html_answer_to_a_stream_request_is_a_502_before_any_byte(client, gateway):
    with pytest.raises(openai.InternalServerError) as e:
        list(client.chat.completions.create(
            model="fleet/fault:answer=html|gpt-4o-mini", messages=user("x"), stream=True))
    assert e.value.status_code == 502
    body = e.value.response.json()
    assert body["error"]["code"] == "invalid_upstream_response"
    assert "<html" not in e.value.response.text


def test_anthropic_stream_answered_with_json_or_html(claude):
    t = tag()
    with claude.messages.stream(model="anthropic-fleet/fault:answer=json|claude-sonnet-4-5", max_tokens=50,
                                messages=user(f"alpha {t}")) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert t in text and final.stop_reason == "end_turn"
    with pytest.raises(anthropic.InternalServerError) as e:
        with claude.messages.stream(model="anthropic-fleet/fault:answer=html|claude-sonnet-4-5", max_tokens=50,
                                    messages=user("x")) as s:
            list(s.text_stream)
    assert e.value.status_code == 502
    assert e.value.response.json()["type"] == "error"


# ---------------------------------------------------------------- providers without credentials, local servers

UNCONFIGURED = ["mistral/x", "openai_compatible/x", "cloudflare/x", "databricks/x", "vertex_ai/x"]
ENV_NAMES = ["API_KEY", "_TOKEN", "API_BASE", "ACCOUNT_ID", "DATABRICKS_HOST", "AWS_", "VERTEX"]


def lambda_log_mentions(gateway, needle: str) -> bool:
    for _ in range(40):
        if needle in gateway.proc.log_path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("model", UNCONFIGURED)
def test_a_provider_without_credentials_is_a_404_naming_no_variable(client, claude, gateway, model):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model=model, messages=user("x"))
    text = raw_text(e.value)
    assert e.value.response.json()["error"]["code"] == "provider_not_configured", text
    assert not any(name in text for name in ENV_NAMES), text
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model=model, max_tokens=10, messages=user("x"))
    text = raw_text(e.value)
    assert e.value.response.json()["error"]["type"] == "not_found_error", text
    assert not any(name in text for name in ENV_NAMES), text
    if gateway.name == "lambda" and model == "mistral/x":
        assert lambda_log_mentions(gateway, "MISTRAL_API_KEY")


@pytest.mark.parametrize("model", ["lmstudio/x", "atomic-chat/x", "vllm/x", "llamacpp/x", "lemonade/x",
                                   "localai/x", "privatemode-ai/x"])
def test_local_servers_nobody_configured_are_not_reachable(client, model):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model=model, messages=user("x"))
    text = raw_text(e.value)
    assert e.value.response.json()["error"]["code"] == "provider_not_configured", text
    assert "127.0.0.1" not in text and "localhost" not in text


# ---------------------------------------------------------------- a configuration that does not load

SECRET_IN_CONFIG = "sk-literal-in-config-0123456789"
# An unknown section holding a literal key, and a value of the wrong type next to one.
BROKEN_CONFIGS = {
    "unknown-section": f'[general]\nmaster_key = "{SECRET_IN_CONFIG}"\n\n[secrets]\nopenai = "{SECRET_IN_CONFIG}"\n',
    "bad-value": f'[general]\nmax_request_bytes = "{SECRET_IN_CONFIG}"\n',
}


@pytest.mark.parametrize("shell", [s for s in ("worker", "lambda") if s in selected_shells()])
@pytest.mark.parametrize("which", sorted(BROKEN_CONFIGS))
def test_a_broken_config_is_a_generic_500_and_its_detail_is_logged(shell, which, workdir, gateway_env):
    env = {**gateway_env, "DX_CONFIG": BROKEN_CONFIGS[which]}
    name = f"broken-config-{which}"
    # Up when it answers at all: /health says the deployment is broken too.
    gw = start_worker(workdir, env, f"worker-{name}.log", ready=lambda r: r.status_code == 500) \
        if shell == "worker" else start_lambda(f"lambda-{name}", workdir, env, instances=1)
    try:
        r = requests.get(f"{gw.base_url}/health", timeout=30)
        assert r.status_code == 500 and r.json()["error"]["code"] == "config_error", r.text
        for path, body in [("/v1/chat/completions", {"model": "fleet/x", "messages": user("x")}),
                           ("/v1/messages", {"model": "fleet/x", "max_tokens": 5, "messages": user("x")})]:
            r = requests.post(f"{gw.base_url}{path}", json=body, timeout=30,
                              headers={"Authorization": f"Bearer {MASTER_KEY}", "anthropic-version": "2023-06-01"})
            assert r.status_code == 500, r.text
            assert SECRET_IN_CONFIG[:12] not in r.text, r.text
            v = r.json()
            if path == "/v1/messages":
                assert v["type"] == "error" and v["error"]["type"] == "api_error", v
            else:
                assert v["error"]["code"] == "config_error", v
        # The operator's log says where, without the config's text.
        expect = "secrets" if which == "unknown-section" else "max_request_bytes"
        log = ""
        for _ in range(100):
            log = gw.proc.log_path.read_text(errors="replace")
            if "CONFIGURATION ERROR" in log:
                break
            time.sleep(0.1)
        assert "CONFIGURATION ERROR" in log and expect in log, log[-3000:]
        assert SECRET_IN_CONFIG[:12] not in log, log[-3000:]
    finally:
        gw.proc.stop()


# ---------------------------------------------------------------- header bytes that are not UTF-8


def raw_request(base_url: str, header_line: bytes) -> tuple[int, bytes]:
    u = urlparse(base_url)
    body = json.dumps({"model": "mock-chat", "messages": user("hi")}).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + u.netloc.encode() + b"\r\n"
           b"Authorization: Bearer " + MASTER_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
           + header_line + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(req)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


@pytest.mark.parametrize("header", [b"X-Probe: \xff", b"Cookie: session=\xfe\xff"])
def test_a_header_byte_that_is_not_utf8_is_never_a_5xx(gateway, header):
    status, body = raw_request(gateway.base_url, header)
    if gateway.name == "lambda":
        assert status == 400, body[:300]
        assert b"invalid_header" in body, body[:300]
    else:
        # workerd hands the byte over as Latin-1 text: the request is served.
        assert status in (200, 400), body[:300]
    # The instance still serves the next request.
    r = requests.post(f"{gateway.base_url}/v1/chat/completions", json={"model": "mock-chat", "messages": user("x")},
                      headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    assert r.status_code == 200
