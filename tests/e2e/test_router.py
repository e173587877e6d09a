"""The router on both shells, through the official SDKs, over the fleet's
fault grammar (deployments/router.json).

Fault matrix: a group ``rt-<fault>-<P>-<B>`` has one deployment on face P
(``oai`` OpenAI, ``ant`` Anthropic) whose upstream model carries the fault,
and falls back to ``rt-backup-<B>``. Every fault, for both ingress formats,
streamed and not, same-format and cross-format, must reach the client as
the backup's clean answer: the fleet records that the primary was tried
once and the backup once (the prompt carries a unique marker), the headers
name the backup and the fallback, and a stream holds exactly one answer.

Then: a fault after content reaches the client as an error event and never
as a second answer; the client's own 400 is neither retried nor falls back;
a sibling in a group answers for a failing deployment; a prompt over a
window goes to the context-window fallback unsent; a content-policy
refusal (Azure's recorded one) goes to the content-policy fallback;
nearest-region and residency; weights."""

from __future__ import annotations

import anthropic
import openai
import pytest

from conftest import MASTER_KEY
from sdk import tag, user

FAULTS = ["s429ra", "s429", "s500", "slow", "stall", "cut", "garbage", "evt"]
STREAM_ONLY = {"stall", "evt"}
FACES = ["oai", "ant"]
UPSTREAM = {"oai": "gpt-4o-mini", "ant": "claude-sonnet-4-5"}


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def seen(fleet, upstream_model: str, marker: str) -> int:
    import json

    return sum(marker in json.dumps(r.get("body")) for r in fleet.requests(upstream_model))


def ask_openai(client, model: str, text: str, stream: bool):
    """(headers, answer text, role chunks) through the OpenAI SDK."""
    if not stream:
        raw = client.chat.completions.with_raw_response.create(model=model, messages=user(text))
        return raw.headers, raw.parse().choices[0].message.content, 0
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=user(text), stream=True, stream_options={"include_usage": True})
    out, roles = "", 0
    for chunk in raw.parse():
        for choice in chunk.choices:
            roles += choice.delta.role is not None
            out += choice.delta.content or ""
    return raw.headers, out, roles


def ask_claude(claude, model: str, text: str, stream: bool):
    """(headers, answer text, message_start events) through the Anthropic SDK."""
    if not stream:
        raw = claude.messages.with_raw_response.create(model=model, max_tokens=64, messages=user(text))
        msg = raw.parse()
        return raw.headers, "".join(b.text for b in msg.content if b.type == "text"), 0
    raw = claude.messages.with_raw_response.create(model=model, max_tokens=64, messages=user(text), stream=True)
    out, starts = "", 0
    for event in raw.parse():
        if event.type == "message_start":
            starts += 1
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            out += event.delta.text
    return raw.headers, out, starts


def matrix():
    for fault in FAULTS:
        for p in FACES:
            if fault == "evt" and p != "ant":
                continue
            for b in FACES:
                for ingress in ("openai", "anthropic"):
                    for stream in (False, True):
                        if fault in STREAM_ONLY and not stream:
                            continue
                        yield pytest.param(fault, p, b, ingress, stream,
                                           id=f"{fault}-{p}->{b}-{ingress}-{'stream' if stream else 'whole'}")


@pytest.mark.parametrize("fault,p,b,ingress,stream", list(matrix()))
def test_a_failure_before_content_falls_back_cleanly(client, claude, fleet, fault, p, b, ingress, stream):
    group = f"rt-{fault}-{p}-{b}"
    t = tag()
    text = f"route me {t}"
    if ingress == "openai":
        headers, out, starts = ask_openai(client, group, text, stream)
    else:
        headers, out, starts = ask_claude(claude, group, text, stream)
    assert out, "the backup's answer reached the client"
    if stream:
        assert starts == 1, "one answer, not two spliced into one stream"
    assert headers["x-dx-deployment"] == f"backup-{b}"
    assert headers["x-dx-fallback"].startswith(f"{group} -> rt-backup-{b} ("), headers["x-dx-fallback"]
    assert headers["x-dx-attempts"] == "2"
    assert seen(fleet, f"fault:{fault_directive(fault)}|{UPSTREAM[p]}-{group}", t) == 1
    assert seen(fleet, f"{UPSTREAM[b]}-rt-backup", t) == 1


def fault_directive(fault: str) -> str:
    return {
        "s429ra": "status=429,retry_after=1",
        "s429": "status=429",
        "s500": "status=500",
        "slow": "delay_headers_ms=4000",
        "stall": "stall_after=1,stall_ms=8000",
        "cut": "cut_after=1",
        "garbage": "garbage_after=1",
        "evt": "error_after=1",
    }[fault]


@pytest.mark.parametrize("p", FACES)
def test_a_stream_cut_after_content_ends_with_an_error_not_a_second_answer(client, fleet, p):
    t = tag()
    stream = client.chat.completions.create(model=f"rt-late-{p}", messages=user(f"late {t}"), stream=True)
    got = ""
    with pytest.raises(openai.APIError):
        for chunk in stream:
            for choice in chunk.choices:
                got += choice.delta.content or ""
    assert got, "content arrived before the cut"
    assert seen(fleet, "gpt-4o-mini-rt-backup", t) == 0, "no fallback after content"


def test_the_client_s_own_error_is_not_retried_or_sent_elsewhere(client, fleet):
    t = tag()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="rt-client-error", messages=user(f"bad {t}"))
    assert seen(fleet, "fault:status=400|gpt-4o-mini-rt-client-error", t) == 1
    assert seen(fleet, "gpt-4o-mini-rt-backup", t) == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_sibling_in_the_group_answers_across_formats(client, fleet, stream):
    t = tag()
    headers, out, _ = ask_openai(client, "rt-group", f"group {t}", stream)
    assert out
    assert headers["x-dx-deployment"] == "group-good"
    assert headers.get("x-dx-fallback") is None, "a sibling is not a fallback"
    assert seen(fleet, "fault:status=503|gpt-4o-mini-rt-group-bad", t) == 1
    assert seen(fleet, "claude-sonnet-4-5-rt-group-good", t) == 1


def test_a_prompt_over_the_window_goes_to_its_fallback_unsent(client, fleet):
    t = tag()
    headers, out, _ = ask_openai(client, "rt-window", f"{t} " + "many words here " * 100, False)
    assert out
    assert headers["x-dx-fallback"] == "rt-window -> rt-backup-oai (context_window)"
    assert headers["x-dx-attempts"] == "1"
    assert seen(fleet, "gpt-4o-mini-rt-window", t) == 0
    assert seen(fleet, "gpt-4o-mini-rt-backup", t) == 1


def test_a_content_policy_refusal_goes_to_its_fallback(client, fleet):
    t = tag()
    headers, out, _ = ask_openai(client, "rt-policy", f"policy {t}", False)
    assert out
    assert headers["x-dx-fallback"] == "rt-policy -> rt-backup-oai (content_policy)"
    assert seen(fleet, "gpt-4o-mini-rt-backup", t) == 1


def test_residency_refuses_rather_than_leaving_the_allowed_regions(client, fleet):
    t = tag()
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(model="rt-eu-only", messages=user(f"eu {t}"))
    assert e.value.body["code"] == "residency_violation"
    assert seen(fleet, "gpt-4o-mini-rt-eu-only", t) == 0


def test_nearest_region_follows_where_the_request_landed(gateway):
    # Workers: request.cf (wrangler dev's is Austin, Texas); Lambda: the
    # function's AWS_REGION (us-east-1 under the local runtime). Both are
    # nearer Virginia than the Netherlands. A client claiming to be in
    # Frankfurt through the shells' internal header is not believed.
    import requests

    for geo in (None, "50.11,8.68"):
        headers = {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"}
        if geo:
            headers["x-dx-geo"] = geo
        for _ in range(4):
            r = requests.post(f"{gateway.base_url}/v1/chat/completions", headers=headers, timeout=30,
                              json={"model": "rt-near", "messages": user("near")})
            assert r.status_code == 200, r.text
            assert r.headers["x-dx-deployment"] == "near-us", (geo, r.headers["x-dx-deployment"])


def test_weights_share_the_traffic(client):
    counts = {"weighted-heavy": 0, "weighted-light": 0}
    for _ in range(60):
        headers, _, _ = ask_openai(client, "rt-weighted", "w", False)
        counts[headers["x-dx-deployment"]] += 1
    # 3:1 → 45 expected; 30 is over 4 standard deviations away.
    assert counts["weighted-heavy"] > 30, counts
    assert counts["weighted-light"] > 3, counts
