"""Telemetry out, on both shells, against the fleet's sink face (an OTLP/HTTP
collector and a webhook receiver that keep the exact bytes they got):

* a request becomes one OTLP span with the GenAI attributes and metric
  points (requests, tokens, cost, duration), posted to `<endpoint>/v1/traces`
  and `/v1/metrics`, and one webhook JSON signed with HMAC-SHA256;
* neither carries a key value or the prompt or answer, unless the sink has
  ``include_content = true``: then the prompt and the completion (whole and
  streamed) as GenAI messages, masked by every guardrail set of the request
  whatever its action; a sink without it next to one with it gets none;
* a sink that hangs, and one that answers 500, do not slow requests down.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import openai
import pytest
import requests

from conftest import FLEET_KEY, MASTER_KEY, STATE_TABLE, dx_config, selected_shells, start_lambda, start_worker
from sdk import tag, user

HOOK_SECRET = "whsec-test-0123456789"
LANGFUSE_SECRET = "sk-lf-test-secret"


def start(request, workdir, gateway_env, fleet, sinks, name, guardrails=()):
    config = dx_config(fleet)
    config["telemetry"] = sinks
    if guardrails:
        config["guardrails"] = [*config.get("guardrails", []), *guardrails]
    env = {**gateway_env, "DX_CONFIG": json.dumps(config), "DX_HOOK_SECRET": HOOK_SECRET,
           "DX_LANGFUSE_SECRET": LANGFUSE_SECRET}
    if request.param == "worker":
        return start_worker(workdir, env, f"worker-{name}.log", state_dir=workdir / f"wrangler-state-{name}")
    db = request.getfixturevalue("dynamodb")
    return start_lambda(f"lambda-{name}", workdir, {**env, **db.env(STATE_TABLE)}, instances=4)


SHELLS = [s for s in selected_shells() if s != "external"]


@pytest.fixture(scope="module", params=SHELLS)
def tgw(request, workdir, gateway_env, fleet):
    sinks = [
        {"kind": "otlp", "endpoint": f"{fleet.base_url}/sink/ok/otlp", "protocol": "http/json"},
        {"kind": "webhook", "endpoint": f"{fleet.base_url}/sink/ok/hook", "secret": "env:DX_HOOK_SECRET"},
        {"kind": "langfuse", "endpoint": f"{fleet.base_url}/sink/ok/langfuse", "public_key": "pk-lf-test",
         "secret_key": "env:DX_LANGFUSE_SECRET"},
    ]
    gw = start(request, workdir, gateway_env, fleet, sinks, "telemetry")
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="module", params=SHELLS)
def broken_sinks_gw(request, workdir, gateway_env, fleet):
    sinks = [
        {"kind": "otlp", "endpoint": f"{fleet.base_url}/sink/hang/otlp", "protocol": "http/json", "timeout_ms": 1500},
        {"kind": "webhook", "endpoint": f"{fleet.base_url}/sink/fail/hook", "secret": "env:DX_HOOK_SECRET"},
    ]
    gw = start(request, workdir, gateway_env, fleet, sinks, "telemetry-broken")
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="module", params=SHELLS)
def content_gw(request, workdir, gateway_env, fleet):
    sinks = [
        {"kind": "otlp", "endpoint": f"{fleet.base_url}/sink/ok/otlp-content", "include_content": True},
        {"kind": "webhook", "endpoint": f"{fleet.base_url}/sink/ok/hook-content", "secret": "env:DX_HOOK_SECRET",
         "include_content": True},
        {"kind": "langfuse", "endpoint": f"{fleet.base_url}/sink/ok/lf-content", "public_key": "pk-lf-test",
         "secret_key": "env:DX_LANGFUSE_SECRET", "include_content": True},
        {"kind": "webhook", "endpoint": f"{fleet.base_url}/sink/ok/hook-plain", "secret": "env:DX_HOOK_SECRET"},
    ]
    # Logs emails on `content-*` models: the client's text is left alone,
    # the export is masked all the same.
    watch = {"name": "watch", "detectors": ["email"], "action": "log", "apply_to": ["input", "output"],
             "models": ["fleet/content-*"]}
    gw = start(request, workdir, gateway_env, fleet, sinks, "content", guardrails=[watch])
    yield gw
    gw.proc.stop()


def sink_log(fleet) -> list[dict]:
    r = requests.get(f"{fleet.base_url}/_fleet/sink", timeout=10)
    r.raise_for_status()
    return r.json()


def wait_for(fleet, path_end: str, needle: str, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [e for e in sink_log(fleet) if e["path"].endswith(path_end) and needle in e["raw"]]
        if got:
            return got
        time.sleep(0.1)
    seen = [(e["path"], e["raw"][:300]) for e in sink_log(fleet)][-6:]
    raise AssertionError(f"nothing posted to *{path_end} mentioning {needle!r} within {timeout}s; last: {seen}")


def attrs(span: dict) -> dict:
    out = {}
    for a in span["attributes"]:
        v = a["value"]
        out[a["key"]] = next(iter(v.values()))
    return out


def chat(gw, model: str, prompt: str):
    c = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    return c.chat.completions.create(model=model, messages=user(prompt))


def test_a_request_is_one_span_and_its_metrics_over_otlp_json(tgw, fleet):
    t = tag()
    model = f"fleet/tele-{t}"
    prompt = f"secret prompt {t}"
    resp = chat(tgw, model, prompt)
    traces = wait_for(fleet, "/sink/ok/otlp/v1/traces", model)
    assert traces[0]["headers"]["content-type"] == "application/json"
    spans = [s for e in traces for rs in json.loads(e["raw"])["resourceSpans"]
             for ss in rs["scopeSpans"] for s in ss["spans"]]
    span = next(s for s in spans if attrs(s)["gen_ai.request.model"] == model)
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"]
    assert a["gen_ai.response.model"]
    assert int(a["gen_ai.usage.input_tokens"]) == resp.usage.prompt_tokens
    assert int(a["gen_ai.usage.output_tokens"]) == resp.usage.completion_tokens
    assert a["http.response.status_code"] == "200"
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16
    assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"]) > 0

    metrics = wait_for(fleet, "/sink/ok/otlp/v1/metrics", model)
    names = {m["name"] for e in metrics for rm in json.loads(e["raw"])["resourceMetrics"]
             for sm in rm["scopeMetrics"] for m in sm["metrics"]}
    assert {"dx.requests", "gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names

    for e in traces + metrics:
        text = e["raw"] + json.dumps(e["headers"])
        assert MASTER_KEY not in text and FLEET_KEY not in text
        assert prompt not in text and resp.choices[0].message.content not in text


def test_a_fallback_is_child_spans_and_a_stream_s_first_token_is_timed(tgw, fleet):
    # rt-s500-oai-oai's one deployment answers 500; the group falls back to
    # rt-backup-oai (deployments/router.json).
    t = tag()
    c = openai.OpenAI(base_url=f"{tgw.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    stream = c.chat.completions.create(model="rt-s500-oai-oai", messages=user(f"child spans {t}"), stream=True,
                                       stream_options={"include_usage": True})
    assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    traces = wait_for(fleet, "/sink/ok/otlp/v1/traces", "rt-s500-oai-oai")
    spans = [s for e in traces for rs in json.loads(e["raw"])["resourceSpans"]
             for ss in rs["scopeSpans"] for s in ss["spans"]]
    parent = next(s for s in spans if attrs(s).get("gen_ai.request.model") == "rt-s500-oai-oai"
                  and attrs(s).get("dx.stream") is True)
    assert attrs(parent)["dx.attempts"] == "2"
    assert int(attrs(parent)["dx.ttft_ms"]) >= 0
    kids = sorted((s for s in spans if s.get("parentSpanId") == parent["spanId"]),
                  key=lambda s: int(s["startTimeUnixNano"]))
    assert [attrs(k)["dx.deployment"] for k in kids] == ["primary-s500-oai-oai", "backup-oai"]
    assert [attrs(k).get("error.type") for k in kids] == ["server_error", None]
    assert [k["status"]["code"] for k in kids] == [2, 1]
    assert all(k["traceId"] == parent["traceId"] for k in kids)
    assert int(parent["startTimeUnixNano"]) <= int(kids[0]["startTimeUnixNano"])
    assert int(kids[0]["endTimeUnixNano"]) <= int(kids[1]["startTimeUnixNano"])

    metrics = wait_for(fleet, "/sink/ok/otlp/v1/metrics", "time_to_first_token")
    points = [p for e in metrics for rm in json.loads(e["raw"])["resourceMetrics"]
              for sm in rm["scopeMetrics"] for m in sm["metrics"]
              if m["name"] == "gen_ai.server.time_to_first_token" for p in m["histogram"]["dataPoints"]
              if attrs(p).get("gen_ai.request.model") == "rt-s500-oai-oai"]
    assert points and all(p["count"] == "1" and p["sum"] >= 0 for p in points)


def test_the_webhook_gets_one_signed_json_per_request(tgw, fleet):
    t = tag()
    model = f"fleet/hook-{t}"
    resp = chat(tgw, model, f"hook prompt {t}")
    posts = wait_for(fleet, "/sink/ok/hook", model)
    assert len(posts) == 1
    post = posts[0]
    want = hmac.new(HOOK_SECRET.encode(), post["raw"].encode(), hashlib.sha256).hexdigest()
    assert post["headers"]["x-dx-signature"] == f"sha256={want}"
    body = json.loads(post["raw"])
    assert body["model"] == model and body["status"] == 200
    assert body["input_tokens"] == resp.usage.prompt_tokens
    assert HOOK_SECRET not in post["raw"] and MASTER_KEY not in post["raw"]
    assert f"hook prompt {t}" not in post["raw"]


def test_langfuse_gets_a_trace_and_a_generation_with_usage(tgw, fleet):
    import base64

    t = tag()
    model = f"fleet/lf-{t}"
    resp = chat(tgw, model, f"langfuse prompt {t}")
    posts = wait_for(fleet, "/sink/ok/langfuse/api/public/ingestion", model)
    auth = base64.b64encode(f"pk-lf-test:{LANGFUSE_SECRET}".encode()).decode()
    assert posts[0]["headers"]["authorization"] == f"Basic {auth}"
    events = [e for p in posts for e in json.loads(p["raw"])["batch"]]
    gen = next(e["body"] for e in events if e["type"] == "generation-create" and model in e["body"]["name"])
    trace = next(e["body"] for e in events if e["type"] == "trace-create" and e["body"]["id"] == gen["traceId"])
    assert trace["name"] == f"chat {model}"
    assert gen["usageDetails"]["input"] == resp.usage.prompt_tokens
    assert gen["usageDetails"]["output"] == resp.usage.completion_tokens
    assert gen["startTime"].endswith("Z") and gen["endTime"] >= gen["startTime"]
    for p in posts:
        assert LANGFUSE_SECRET not in p["raw"] and MASTER_KEY not in p["raw"]
        assert f"langfuse prompt {t}" not in p["raw"]


def test_a_hanging_or_failing_sink_does_not_slow_requests(broken_sinks_gw, fleet):
    t = tag()
    model = f"fleet/slow-sink-{t}"
    chat(broken_sinks_gw, model, "warm up")
    times = []
    for n in range(3):
        started = time.monotonic()
        chat(broken_sinks_gw, model, f"go {n} {t}")
        times.append(time.monotonic() - started)
    # the hanging sink holds each export for 1.5 s, the failing one is retried
    assert max(times) < 1.0, times
    wait_for(fleet, "/sink/hang/otlp/v1/traces", model)
    fails = wait_for(fleet, "/sink/fail/hook", model)
    assert len([f for f in fails if f"go 0 {t}" in f["raw"]]) == 0  # no content


def test_spend_logs_and_the_exports_agree_on_every_figure(tgw, fleet):
    """What a team's spend logs say and what the webhook and the OTLP spans
    said about the same requests: the same models, tokens and cost, request
    by request (whole and streamed)."""
    def admin(path: str, body: dict | None = None) -> requests.Response:
        return requests.request("POST" if body is not None else "GET", f"{tgw.base_url}{path}", json=body,
                                headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=30)

    team = f"team-agree-{tag()}"
    assert admin("/team/new", {"team_id": team}).status_code == 200
    r = admin("/key/generate", {"team_id": team})
    assert r.status_code == 200, r.text
    client = openai.OpenAI(base_url=f"{tgw.base_url}/v1", api_key=r.json()["key"], max_retries=0, timeout=30)
    for words in ("one", "one two three", "one two three four five"):
        client.chat.completions.create(model="keys-priced", messages=user(words), max_tokens=20)
    stream = client.chat.completions.create(model="keys-priced", messages=user("streamed and priced by its usage chunk"),
                                            stream=True, stream_options={"include_usage": True})
    assert [c for c in stream][-1].usage.total_tokens > 0

    deadline = time.monotonic() + 20
    while True:
        logs = admin(f"/spend/logs?team_id={team}").json()
        hooks = [json.loads(e["raw"]) for e in sink_log(fleet) if e["path"].endswith("/sink/ok/hook")]
        hooks = [h for h in hooks if h.get("team") == team]
        spans = [attrs(s) for e in sink_log(fleet) if e["path"].endswith("/sink/ok/otlp/v1/traces")
                 for rs in json.loads(e["raw"])["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
        spans = [a for a in spans if a.get("dx.team") == team]
        if (len(logs), len(hooks), len(spans)) == (4, 4, 4) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert (len(logs), len(hooks), len(spans)) == (4, 4, 4)

    def rows(items, model, tin, tout, cost):
        return sorted((i[model], int(i[tin]), int(i[tout]), round(float(i[cost]), 12)) for i in items)

    logged = rows(logs, "model", "prompt_tokens", "completion_tokens", "spend")
    assert len({r[1] for r in logged}) == 4 and all(r[3] > 0 for r in logged)
    assert rows(hooks, "model", "input_tokens", "output_tokens", "cost") == logged
    assert rows(spans, "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                "dx.cost_usd") == logged


@pytest.mark.parametrize("stream", [False, True])
def test_a_sink_with_content_gets_the_prompt_and_completion_masked(content_gw, fleet, stream):
    t = tag()
    model = f"fleet/content-{t}"
    mail = f"ann.{t}@example.com"
    prompt = f"tell {t} to {mail}"
    c = openai.OpenAI(base_url=f"{content_gw.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    if stream:
        chunks = c.chat.completions.create(model=model, messages=user(prompt), stream=True)
        answer = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    else:
        answer = c.chat.completions.create(model=model, messages=user(prompt)).choices[0].message.content
    assert mail in answer  # the set only logs: the client's text is untouched

    def said(messages: list) -> str:
        return "".join(p["content"] for m in messages for p in m["parts"])

    masked_prompt, masked_answer = prompt.replace(mail, "[EMAIL_1]"), answer.replace(mail, "[EMAIL_1]")
    traces = wait_for(fleet, "/sink/ok/otlp-content/v1/traces", model)
    span = next(s for e in traces for rs in json.loads(e["raw"])["resourceSpans"] for ss in rs["scopeSpans"]
                for s in ss["spans"] if attrs(s)["gen_ai.request.model"] == model)
    a = attrs(span)
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": masked_prompt}]}]
    out = json.loads(a["gen_ai.output.messages"])
    assert out[0]["role"] == "assistant" and out[0]["finish_reason"] == "stop"
    assert said(out) == masked_answer

    hook = json.loads(wait_for(fleet, "/sink/ok/hook-content", model)[0]["raw"])
    assert said(hook["input"]) == masked_prompt and said(hook["output"]) == masked_answer
    lf = [e for p in wait_for(fleet, "/sink/ok/lf-content/api/public/ingestion", model)
          for e in json.loads(p["raw"])["batch"] if e["type"] == "generation-create" and model in e["body"]["name"]]
    assert said(lf[0]["body"]["input"]) == masked_prompt and said(lf[0]["body"]["output"]) == masked_answer

    plain = wait_for(fleet, "/sink/ok/hook-plain", model)[0]["raw"]
    assert "input" not in json.loads(plain) and "output" not in json.loads(plain)
    for e in sink_log(fleet):
        if model in e["raw"]:
            assert mail not in e["raw"], e["path"]
            assert f"tell {t}" not in e["raw"] or "-content" in e["path"], e["path"]
