"""End to end: the budget clamp (issue 11, item 4) on both shells, with the
official openai and anthropic SDKs.

A request whose worst case (every body byte an input token, plus its output
bound, at the catalog's prices) is more than what remains of a budget, but
whose prompt and at least 16 output tokens fit, is sent with the output bound
lowered to the largest count the remainder pays for. The fleet records what
it received and truncates its echo to that many words, so each test checks
the number the upstream was told, not only the gateway's header.

Prices (deployments/keys.json): ``keys-priced`` $1/M input and $2/M output
(1,000 and 2,000 nano-USD a token), ``keys-claude`` $3/M and $15/M, with the
catalog's 1-hour cache-write price ($6/M) as its dearest input rate: the
worst case prices every body byte at it.
"""

from __future__ import annotations

import json
import time
import uuid

import anthropic
import openai
import pytest

from test_keys import PRICED, admin, flood, new_key, oai, settled, unexpected

FLOOR = 16
# Echoed back by the fleet one word a token: 201 words, more than any clamp here.
PROMPT = "a " * 200


def marker() -> str:
    return f"clamp-{uuid.uuid4().hex[:10]}"


def clamp_header(headers) -> tuple[int, int] | None:
    v = headers.get("x-dx-max-tokens-clamped")
    if v is None:
        return None
    a, b = v.split("->")
    return int(a), int(b)


def expected(budget_nano: int, sent: bytes, in_nano: int, out_nano: int) -> int:
    """The largest output count the budget pays for beside the body's worst case."""
    return (budget_nano - len(sent) * in_nano) // out_nano


def budget_for(prompt_bytes: int, tokens: int, in_nano: int, out_nano: int) -> int:
    """A budget in nano-USD that pays for a body of about ``prompt_bytes``
    and about ``tokens`` output tokens (half a token of slack)."""
    return prompt_bytes * in_nano + tokens * out_nano + out_nano // 2


def chat(client, mark: str, stream: bool, max_tokens: int = 4_000):
    """(parsed text, finish reason, headers, request bytes) of one chat request."""
    raw = client.chat.completions.with_raw_response.create(
        model=PRICED, max_tokens=max_tokens, stream=stream,
        **({"stream_options": {"include_usage": True}} if stream else {}),
        messages=[{"role": "user", "content": f"{mark} {PROMPT}"}])
    sent = raw.http_request.content
    if not stream:
        c = raw.parse()
        return c.choices[0].message.content, c.choices[0].finish_reason, raw.headers, sent
    text, finish = "", None
    for chunk in raw.parse():
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return text, finish, raw.headers, sent


def logged(gateway, text: str) -> bool:
    """Whether the gateway's log gets a line with ``text`` (the Lambda
    runtime's log holds the access log; `wrangler dev`'s does not)."""
    if gateway.proc is None or gateway.name != "lambda":
        return True
    for _ in range(40):
        if text in gateway.proc.log_path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def fleet_max_tokens(fleet, model: str, mark: str) -> int | None:
    body = fleet.request_with(model, mark)["body"]
    return body.get("max_completion_tokens", body.get("max_tokens"))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_key_budget_clamps_max_tokens_on_openai_chat(gateway, fleet, stream):
    budget = budget_for(470, 100, 1_000, 2_000)
    key = new_key(gateway, max_budget=budget / 1e9)
    mark = marker()
    text, finish, headers, sent = chat(oai(gateway, key["key"]), mark, stream)
    want = expected(budget, sent, 1_000, 2_000)
    assert FLOOR <= want < 4_000, want
    assert clamp_header(headers) == (4_000, want), dict(headers)
    # What the upstream was told, and what it did with it.
    assert fleet_max_tokens(fleet, "gpt-4o-mini", mark) == want
    assert finish == "length" and len(text.split()) == want, (finish, text)
    assert logged(gateway, f'"max_tokens_clamped":"4000->{want}"')
    # Reserved or settled, the key's spend never passes its budget.
    spent = admin(gateway, f"/key/info?key={key['token']}", method="GET").json()["info"]["spend"]
    assert 0 < spent <= budget / 1e9 + 1e-12


def test_no_clamp_and_no_header_when_the_bound_fits(gateway, fleet):
    key = new_key(gateway, max_budget=1.0)
    mark = marker()
    _, finish, headers, _ = chat(oai(gateway, key["key"]), mark, False, max_tokens=30)
    assert "x-dx-max-tokens-clamped" not in headers
    assert fleet_max_tokens(fleet, "gpt-4o-mini", mark) == 30 and finish == "length"


def test_below_the_floor_the_budget_refuses(gateway, fleet):
    # The prompt and 10 output tokens: less than the floor of 16.
    budget = budget_for(470, 10, 1_000, 2_000)
    key = new_key(gateway, max_budget=budget / 1e9)
    mark = marker()
    with pytest.raises(Exception) as e:
        chat(oai(gateway, key["key"]), mark, False)
    assert getattr(e.value, "status_code", None) == 429, e.value
    assert e.value.body["code"] == "budget_exceeded"
    assert not any(mark in json.dumps(r.get("body")) for r in fleet.requests(model="gpt-4o-mini"))


@pytest.mark.parametrize("scope", ["team", "user"])
def test_team_and_user_budgets_clamp_too(gateway, fleet, scope):
    """The key's own budget is ample; the team's (or user's) is the one that
    is short, and the bound follows it (on Lambda this is the second limited
    hold of the transaction: its refusal must name the right one)."""
    budget = budget_for(470, 60, 1_000, 2_000)
    name = f"{scope}-{uuid.uuid4().hex[:8]}"
    r = admin(gateway, f"/{scope}/new", {f"{scope}_id": name, "max_budget": budget / 1e9})
    assert r.status_code == 200, r.text
    key = new_key(gateway, max_budget=1.0, **{f"{scope}_id": name})
    mark = marker()
    text, finish, headers, sent = chat(oai(gateway, key["key"]), mark, False)
    want = expected(budget, sent, 1_000, 2_000)
    assert clamp_header(headers) == (4_000, want), dict(headers)
    assert fleet_max_tokens(fleet, "gpt-4o-mini", mark) == want
    assert len(text.split()) == want


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_anthropic_ingress_clamps_max_tokens(gateway, fleet, stream):
    budget = budget_for(470, 80, 6_000, 15_000)
    key = new_key(gateway, max_budget=budget / 1e9)
    client = anthropic.Anthropic(base_url=gateway.base_url, api_key=key["key"], max_retries=0, timeout=30)
    mark = marker()
    raw = client.messages.with_raw_response.create(
        model="keys-claude", max_tokens=4_000, stream=stream,
        messages=[{"role": "user", "content": f"{mark} {PROMPT}"}])
    sent = raw.http_request.content
    want = expected(budget, sent, 6_000, 15_000)
    assert FLOOR <= want < 4_000, want
    assert clamp_header(raw.headers) == (4_000, want), dict(raw.headers)
    if stream:
        text, stop = "", None
        for event in raw.parse():
            if event.type == "content_block_delta":
                text += event.delta.text
            elif event.type == "message_delta":
                stop = event.delta.stop_reason
    else:
        msg = raw.parse()
        text, stop = msg.content[0].text, msg.stop_reason
    assert stop == "max_tokens" and len(text.split()) == want, (stop, text)
    assert fleet.request_with("claude-sonnet-4-5", mark)["body"]["max_tokens"] == want


def test_50_parallel_clamped_requests_never_spend_past_the_budget(gateway):
    """Each request's worst case is more than the whole budget: every
    admission is a clamp against what the others left, and the recorded
    spend is exactly what the served requests cost, within the budget."""
    budget = 0.004
    key = new_key(gateway, max_budget=budget)
    client = oai(gateway, key["key"])

    def one():
        try:
            text, _, headers, _ = chat(client, marker(), False)
            return 200, float(headers["x-dx-cost-usd"]), headers, None, clamp_header(headers)
        except openai.APIStatusError as e:
            # A body that is not the gateway's error shape says what answered instead.
            code = e.body.get("code") if isinstance(e.body, dict) else f"not JSON: {e.response.text[:160]!r}"
            return e.status_code, 0.0, {}, code, None

    results = flood([one for _ in range(50)])
    served = [r for r in results if r[0] == 200]
    assert served, unexpected(gateway, results, {(200, None), (429, "budget_exceeded")})
    assert all((r[0], r[3]) in {(200, None), (429, "budget_exceeded")} for r in results), \
        unexpected(gateway, results, {(200, None), (429, "budget_exceeded")})
    # 4,000 output tokens cost $0.008 alone: every served request was clamped.
    assert all(r[4] is not None and FLOOR <= r[4][1] < 4_000 for r in served)
    spent = sum(r[1] for r in served)
    recorded = settled(gateway, f"/key/info?key={key['token']}", lambda b: b["info"]["spend"], spent)
    assert abs(recorded - spent) < 1e-9, (recorded, spent)
    assert recorded <= budget + 1e-12, recorded


def test_responses_ingress_clamps_on_the_translated_path(gateway, fleet):
    """``keys-priced`` is an OpenAI-compatible chat deployment: a Responses
    request reaches it through the unified request, whose output bound the
    clamp lowers (``max_output_tokens`` -> chat ``max_tokens``)."""
    budget = budget_for(470, 70, 1_000, 2_000)
    key = new_key(gateway, max_budget=budget / 1e9)
    mark = marker()
    raw = oai(gateway, key["key"]).responses.with_raw_response.create(
        model=PRICED, max_output_tokens=4_000, input=f"{mark} {PROMPT}")
    want = expected(budget, raw.http_request.content, 1_000, 2_000)
    assert FLOOR <= want < 4_000, want
    assert clamp_header(raw.headers) == (4_000, want), dict(raw.headers)
    assert fleet_max_tokens(fleet, "gpt-4o-mini", mark) == want
    r = raw.parse()
    assert len(r.output_text.split()) == want and r.incomplete_details.reason == "max_output_tokens", r


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_text_completions_clamp_on_the_passthrough(gateway, fleet, stream):
    """A local server (vLLM) takes ``/v1/completions`` as sent: the body's
    ``max_tokens`` is the clamped one."""
    budget = budget_for(470, 90, 1_000, 2_000)
    key = new_key(gateway, max_budget=budget / 1e9)
    mark = marker()
    raw = oai(gateway, key["key"]).completions.with_raw_response.create(
        model="keys-vllm", max_tokens=4_000, prompt=f"{mark} {PROMPT}", stream=stream)
    want = expected(budget, raw.http_request.content, 1_000, 2_000)
    assert FLOOR <= want < 4_000, want
    assert clamp_header(raw.headers) == (4_000, want), dict(raw.headers)
    got = fleet.request_with("gpt-3.5-turbo-instruct", mark)
    assert got["path"].endswith("/completions") and got["body"]["max_tokens"] == want, got
    if stream:
        text = "".join(c.choices[0].text for c in raw.parse() if c.choices)
    else:
        text = raw.parse().choices[0].text
    assert len(text.split()) == want, text
