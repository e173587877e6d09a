"""Guardrails on both shells, through the official SDKs: a prompt with a
banned phrase is refused before anything is sent; personal data and keys in
a prompt are masked before the provider sees them (the fleet records what
it received); an answer holding them is masked or refused, whole and
streamed (the fleet streams one word per chunk, so every match is split
across chunks). Passthrough and translated paths, both ingress formats.

Sets (deployments/guardrails.json): on ``guard-*`` models, ``pii`` masks
input and ``banned`` blocks both ways; on ``guardout-*`` models only the
output is guarded (``pii-out`` masks, ``banned-out`` blocks), so the echoed
prompt reaches the answer unmasked and the output guard must catch it."""

from __future__ import annotations

import json
import time

import anthropic
import openai
import pytest
import requests

from conftest import MASTER_KEY, start_worker
from sdk import tag, user

CARD = "4111 1111 1111 1111"
KEY = "sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4"


def pii_prompt(t: str) -> str:
    return f"mail jane.{t}@example.com card {CARD} key {KEY} thanks"


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def sent_to(fleet, model: str) -> list[dict]:
    """What the fleet received for ``model`` (it sees the id after the group's ``/``)."""
    return fleet.requests(model=model.split("/", 1)[1])


def assert_no_pii(text: str, t: str) -> None:
    assert f"jane.{t}@example.com" not in text
    assert "4111" not in text
    assert KEY not in text


@pytest.mark.parametrize("path", ["guard-pt", "guard-tr"])
def test_banned_prompt_is_refused_before_sending(client, fleet, path):
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=user(f"about Project Nightingale {t}"))
    err = e.value.body
    assert err["code"] == "guardrail_blocked", err
    assert "`banned`" in err["message"] and "ightingale" not in err["message"]
    assert sent_to(fleet, model) == []


def test_banned_prompt_is_refused_on_the_messages_route(claude, fleet):
    t = tag()
    model = f"guard-an/claude-sonnet-4-5-{t}"
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model=model, max_tokens=50, messages=user(f"it is INTERNAL ONLY {t}"))
    assert e.value.body["type"] == "error"
    assert "`banned`" in e.value.body["error"]["message"]
    assert sent_to(fleet, model) == []


@pytest.mark.parametrize("path", ["guard-pt", "guard-tr"])
def test_pii_in_a_prompt_never_reaches_the_provider(client, fleet, path):
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "system", "content": f"owner: boss.{t}@example.com"}, *user(pii_prompt(t))]
    )
    assert raw.headers["x-dx-guardrails"] == "pii:email=2,pii:payment_card=1,pii:secret=1"
    sent = json.dumps(sent_to(fleet, model)[-1]["body"])
    assert_no_pii(sent, t)
    assert f"boss.{t}" not in sent
    assert "[EMAIL_1]" in sent and "[EMAIL_2]" in sent and "[PAYMENT_CARD_1]" in sent and "[SECRET_1]" in sent
    answer = raw.parse().choices[0].message.content
    assert answer == "Echo: mail [EMAIL_2] card [PAYMENT_CARD_1] key [SECRET_1] thanks"


def test_pii_in_a_prompt_is_masked_on_the_messages_route(claude, fleet):
    t = tag()
    model = f"guard-an/claude-sonnet-4-5-{t}"
    msg = claude.messages.create(model=model, max_tokens=100, messages=user(pii_prompt(t)))
    sent = json.dumps(sent_to(fleet, model)[-1]["body"])
    assert_no_pii(sent, t)
    assert msg.content[0].text == "Echo: mail [EMAIL_1] card [PAYMENT_CARD_1] key [SECRET_1] thanks"


@pytest.mark.parametrize("path", ["guardout-pt", "guardout-tr"])
def test_pii_in_an_answer_is_masked_whole_and_streamed(client, fleet, path):
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    # The provider receives the prompt as sent (no input guard on these models)...
    whole = client.chat.completions.with_raw_response.create(model=model, messages=user(pii_prompt(t)))
    assert CARD in json.dumps(sent_to(fleet, model)[-1]["body"])
    # ... and the answer that echoes it comes back masked.
    want = "Echo: mail [EMAIL_1] card [PAYMENT_CARD_1] key [SECRET_1] thanks"
    assert whole.parse().choices[0].message.content == want
    assert whole.headers["x-dx-guardrails"] == "pii-out:email=1,pii-out:payment_card=1,pii-out:secret=1"
    chunks = list(
        client.chat.completions.create(
            model=model, messages=user(pii_prompt(t)), stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == want
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_pii_in_a_streamed_answer_is_masked_on_the_messages_route(claude):
    t = tag()
    model = f"guardout-an/claude-sonnet-4-5-{t}"
    with claude.messages.stream(model=model, max_tokens=100, messages=user(pii_prompt(t))) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Echo: mail [EMAIL_1] card [PAYMENT_CARD_1] key [SECRET_1] thanks"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


@pytest.mark.parametrize("path", ["guardout-pt", "guardout-tr"])
def test_a_banned_answer_is_refused_whole_and_ends_its_stream_with_an_error(client, path):
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    prompt = f"the plan {t} is called project nightingale and more words follow"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=user(prompt))
    assert e.value.body["code"] == "guardrail_blocked"
    seen = ""
    with pytest.raises(openai.APIError) as e:
        for c in client.chat.completions.create(model=model, messages=user(prompt), stream=True):
            if c.choices:
                seen += c.choices[0].delta.content or ""
    assert "guardrail `banned-out`" in str(e.value)
    # What came before the block was released; nothing of the phrase was.
    assert seen.startswith("Echo: the plan") and "project" not in seen.lower().split("called")[-1]
    assert "nightingale" not in seen.lower()


def test_a_banned_streamed_answer_ends_with_an_error_event_on_the_messages_route(claude):
    t = tag()
    model = f"guardout-an/claude-sonnet-4-5-{t}"
    seen = ""
    with pytest.raises(anthropic.APIStatusError) as e:
        with claude.messages.stream(
            model=model, max_tokens=100, messages=user(f"the plan {t} is Project Nightingale indeed")
        ) as s:
            for piece in s.text_stream:
                seen += piece
    assert "banned-out" in str(e.value)
    assert "nightingale" not in seen.lower()


def test_a_set_attached_to_a_key_or_its_team_guards_their_requests_only(gateway, fleet):
    """``per-key`` (``attach = "key"``) applies to keys whose key or team
    record names it, stored in the shell's ledger (Durable Object, DynamoDB)."""
    def admin(path: str, body: dict) -> requests.Response:
        return requests.post(f"{gateway.base_url}{path}", json=body,
                             headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)

    t = tag()
    assert admin("/key/generate", {"guardrails": ["banned"]}).status_code == 400
    assert admin("/key/generate", {"guardrails": ["no-such-set"]}).status_code == 400
    guarded = admin("/key/generate", {"guardrails": ["per-key"]}).json()["key"]
    plain = admin("/key/generate", {}).json()["key"]
    assert admin("/team/new", {"team_id": f"team-{t}", "guardrails": ["per-key"]}).status_code == 200
    in_team = admin("/key/generate", {"team_id": f"team-{t}"}).json()["key"]
    model = f"guard-pt/gpt-4o-mini-{t}"
    for key, refused in [(guarded, True), (in_team, True), (plain, False)]:
        c = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0, timeout=30)
        if refused:
            with pytest.raises(openai.BadRequestError) as e:
                c.chat.completions.create(model=model, messages=user(f"the codeword zebra {t}"))
            assert e.value.body["code"] == "guardrail_blocked" and "`per-key`" in e.value.body["message"]
        else:
            r = c.chat.completions.create(model=model, messages=user(f"the codeword zebra {t}"))
            assert r.choices[0].message.content == f"Echo: the codeword zebra {t}"
    assert len([r for r in sent_to(fleet, model) if "zebra" in json.dumps(r["body"])]) == 1


# ---------------------------------------------------------------- the Responses ingress


@pytest.mark.parametrize("path", ["guard-pt", "guard-tr"])
def test_a_banned_prompt_is_refused_on_the_responses_route(client, fleet, path):
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=model, input=f"it is about Project Nightingale {t}")
    err = e.value.body
    assert err["code"] == "guardrail_blocked", err
    assert "`banned`" in err["message"] and "ightingale" not in err["message"]
    assert sent_to(fleet, model) == []


@pytest.mark.parametrize("path", ["guardout-pt", "guardout-tr"])
def test_pii_in_an_answer_is_masked_whole_and_streamed_on_the_responses_route(client, fleet, path):
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    want = "Echo: mail [EMAIL_1] card [PAYMENT_CARD_1] key [SECRET_1] thanks"
    raw = client.responses.with_raw_response.create(model=model, input=pii_prompt(t))
    assert CARD in json.dumps(sent_to(fleet, model)[-1]["body"])
    assert raw.parse().output_text == want
    assert raw.headers["x-dx-guardrails"] == "pii-out:email=1,pii-out:payment_card=1,pii-out:secret=1"
    events = []
    with client.responses.stream(model=model, input=pii_prompt(t)) as stream:
        for event in stream:
            events.append(event)
        final = stream.get_final_response()
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == want
    # The whole text repeated at the end (`output_text.done`, `completed`) is masked alike.
    assert final.output_text == want and final.usage.output_tokens > 0
    assert_no_pii(json.dumps([e.model_dump(warnings=False) for e in events]), t)


# ---------------------------------------------------------------- the access log


@pytest.fixture
def logging_gateway(gateway, workdir, gateway_env):
    """A gateway whose log holds its access-log lines: the Lambda runtime's
    log does; the suite's `wrangler dev` runs at log level `warn`, which
    drops the Worker's console lines, so a second one runs at `log`."""
    if gateway.name != "worker":
        yield gateway
        return
    mp = pytest.MonkeyPatch()
    mp.setenv("DX_WORKER_LOG_LEVEL", "log")
    try:
        gw = start_worker(workdir, gateway_env, "worker-guard-log.log", state_dir=workdir / "wrangler-state-guard-log")
    finally:
        mp.undo()
    yield gw
    assert gw.proc is not None
    gw.proc.stop()


def access_log_line(gateway, needle: str) -> dict:
    assert gateway.proc is not None, "no log to read for an external gateway"
    for _ in range(100):
        for line in gateway.proc.log_path.read_text(errors="replace").splitlines():
            at = line.find("{")
            if at >= 0 and needle in line and '"path"' in line:
                return json.loads(line[at:])
        time.sleep(0.05)
    raise AssertionError(f"no access-log line with {needle} in {gateway.proc.log_path}")


@pytest.mark.parametrize("path", ["guardout-pt", "guardout-tr"])
def test_a_streamed_answers_output_matches_are_counted_in_the_access_log(logging_gateway, path):
    """A stream's headers leave before its answer is checked, so its
    ``x-dx-guardrails`` carries input counts only; the access log line,
    written once the guard has checked the text it held at the end, carries
    the output counts, never the values."""
    t = tag()
    model = f"{path}/gpt-4o-mini-{t}"
    c = openai.OpenAI(base_url=f"{logging_gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    raw = c.chat.completions.with_raw_response.create(model=model, messages=user(pii_prompt(t)), stream=True)
    assert "x-dx-guardrails" not in raw.headers
    text = "".join(ch.choices[0].delta.content or "" for ch in raw.parse() if ch.choices)
    assert text == "Echo: mail [EMAIL_1] card [PAYMENT_CARD_1] key [SECRET_1] thanks"
    line = access_log_line(logging_gateway, model)
    assert line["stream"] is True, line
    assert line["guardrails"] == "pii-out:email=1,pii-out:payment_card=1,pii-out:secret=1", line
    log = logging_gateway.proc.log_path.read_text(errors="replace")
    assert_no_pii("\n".join(x for x in log.splitlines() if t in x), t)
