"""End to end: virtual keys, teams, budgets and rate limits on both shells
(issue 11), with the official openai and anthropic SDKs.

The Lambda shell runs 4 runtime instances sharing DynamoDB Local; the
Worker's ledgers are Durable Objects every isolate reaches. Each test makes
its own keys and teams, so tests do not share budgets.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import openai
import pytest
import requests

from conftest import MASTER_KEY, STATE_TABLE, worker_state_dir

PRICED = "keys-priced"
FREE = "keys-free"
PARALLEL = 200
# The fleet counts words as tokens; the gateway's input bound is the body's
# size in bytes (no token is shorter than a byte). A prompt of one-letter
# words keeps the worst case near twice the real cost, so a budget for ten
# answers admits several at once and the rest race for what they free.
PROMPT = "a " * 200


def admin(gateway, path: str, body: dict | None = None, method: str = "POST") -> requests.Response:
    return requests.request(method, f"{gateway.base_url}{path}", json=body,
                            headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)


def new_key(gateway, **fields) -> dict:
    r = admin(gateway, "/key/generate", fields)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key"].startswith("sk-dx-") and len(body["key"]) == 6 + 13 + 43
    assert body["key"] not in str({k: v for k, v in body.items() if k != "key"})
    return body


def oai(gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0, timeout=60)


def ask(client: openai.OpenAI, model: str = PRICED, max_tokens: int = 4):
    """(status, cost, headers, error code) of one chat request."""
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": PROMPT}])
        raw.parse()
        return 200, float(raw.headers.get("x-dx-cost-usd", "0")), raw.headers, None
    except openai.APIStatusError as e:
        if isinstance(e.body, dict):
            code = e.body.get("code")
        else:
            # Not the gateway's error shape: say what answered instead.
            code = f"not JSON: {e.response.text[:160]!r}"
        return e.status_code, 0.0, e.response.headers, code


def unexpected(gateway, results: list, allowed: set) -> str:
    """What came back besides ``allowed`` (status, code) pairs, with the
    gateway's log tail: what a failure under load needs to be explained."""
    odd = [(r[0], r[3]) for r in results if (r[0], r[3]) not in allowed]
    tail = gateway.proc.log_tail(40) if gateway.proc else ""
    return f"{len(odd)} unexpected answers {sorted(set(odd))}\n{tail}"


def flood(requests_: list) -> list:
    with ThreadPoolExecutor(max_workers=64) as pool:
        return list(pool.map(lambda f: f(), requests_))


def settled(gateway, path: str, read, want: float, timeout: float = 20.0) -> float:
    """Polls until ``read(json)`` equals ``want`` (settlement runs after the
    answer), returning the last value."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        r = admin(gateway, path, method="GET")
        assert r.status_code == 200, r.text
        got = read(r.json())
        if abs(got - want) < 1e-9:
            return got
        time.sleep(0.25)
    return got


def one_cost(gateway) -> float:
    probe = new_key(gateway)
    status, cost, _, _ = ask(oai(gateway, probe["key"]))
    assert status == 200 and cost > 0
    return cost


def away_from_minute_end():
    """Rate windows are calendar minutes: start a burst well inside one."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.5)


# ------------------------------------------------------------ budgets


def test_a_key_budget_holds_under_200_parallel_requests(gateway):
    cost = one_cost(gateway)
    key = new_key(gateway, max_budget=cost * 10, budget_duration="1d")
    client = oai(gateway, key["key"])
    results = flood([lambda: ask(client) for _ in range(PARALLEL)])
    served = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    assert 1 <= len(served) <= 10, [r[0] for r in results]
    assert all(r[0] == 429 and r[3] == "budget_exceeded" for r in refused), \
        unexpected(gateway, results, {(200, None), (429, "budget_exceeded")})
    spent = sum(r[1] for r in served)
    recorded = settled(gateway, f"/key/info?key={key['token']}", lambda b: b["info"]["spend"], spent)
    assert abs(recorded - spent) < 1e-9, (recorded, spent)
    assert recorded <= cost * 10 + 1e-9
    assert all("x-dx-budget-remaining" in r[2] for r in served)


def test_a_team_budget_is_shared_by_five_keys(gateway):
    cost = one_cost(gateway)
    team = f"team-{uuid.uuid4().hex[:8]}"
    r = admin(gateway, "/team/new", {"team_id": team, "max_budget": cost * 10})
    assert r.status_code == 200, r.text
    clients = [oai(gateway, new_key(gateway, team_id=team)["key"]) for _ in range(5)]
    results = flood([lambda c=clients[i % 5]: ask(c) for i in range(PARALLEL)])
    served = [r for r in results if r[0] == 200]
    assert 1 <= len(served) <= 10, len(served)
    spent = sum(r[1] for r in served)
    recorded = settled(gateway, f"/team/info?team_id={team}", lambda b: b["team_info"]["spend"], spent)
    assert abs(recorded - spent) < 1e-9, (recorded, spent)
    info = admin(gateway, f"/team/info?team_id={team}", method="GET").json()
    assert len(info["keys"]) == 5


def test_free_models_skip_budgets_but_count_toward_rpm(gateway):
    key = new_key(gateway, max_budget=0, rpm_limit=3)
    client = oai(gateway, key["key"])
    away_from_minute_end()
    assert ask(client, PRICED)[0:4:3] == (429, "budget_exceeded")
    statuses = [ask(client, FREE)[0] for _ in range(3)]
    # The priced request counted toward rpm too (it was refused after its
    # rate hold would have been taken only if it fit: holds are all-or-nothing).
    assert statuses == [200, 200, 200], statuses
    status, _, headers, code = ask(client, FREE)
    assert (status, code) == (429, "rate_limit_exceeded")
    assert int(headers["retry-after"]) >= 1


# ------------------------------------------------------------ rate limits


def test_rpm_limit_10_holds_under_200_parallel_requests(gateway):
    key = new_key(gateway, rpm_limit=10, tpm_limit=10_000_000)
    client = oai(gateway, key["key"])
    away_from_minute_end()
    results = flood([lambda: ask(client, FREE) for _ in range(PARALLEL)])
    served = [r for r in results if r[0] == 200]
    assert len(served) == 10, len(served)
    limited = [r for r in results if r[0] == 429]
    assert len(limited) == PARALLEL - 10, unexpected(gateway, results, {(200, None), (429, "rate_limit_exceeded")})
    assert all(r[3] == "rate_limit_exceeded" and int(r[2]["retry-after"]) >= 1 for r in limited)
    h = served[0][2]
    assert h["x-ratelimit-limit-requests"] == "10"
    assert int(h["x-ratelimit-remaining-requests"]) < 10
    assert h["x-ratelimit-limit-tokens"] == "10000000"
    assert "x-ratelimit-remaining-tokens" in h


def test_anthropic_ingress_answers_in_its_own_shape(gateway):
    key = new_key(gateway, rpm_limit=1, models=["keys-claude", "keys-priced"])
    client = anthropic.Anthropic(base_url=gateway.base_url, api_key=key["key"], max_retries=0, timeout=30)
    away_from_minute_end()
    msg = client.messages.create(model="keys-claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert msg.type == "message"
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(model="keys-claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["type"] == "error" and e.value.response.headers.get("retry-after")
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="keys-free", max_tokens=16, messages=[{"role": "user", "content": "hi"}])


# ------------------------------------------------------------ revocation


def test_blocked_deleted_and_expired_keys_are_refused_on_the_next_request(gateway):
    key = new_key(gateway)
    client = oai(gateway, key["key"])
    assert ask(client, FREE)[0] == 200
    assert admin(gateway, "/key/block", {"key": key["token"]}).status_code == 200
    assert ask(client, FREE)[0::3] == (401, "key_blocked")
    assert admin(gateway, "/key/unblock", {"key": key["key"]}).status_code == 200
    assert ask(client, FREE)[0] == 200
    assert admin(gateway, "/key/delete", {"keys": [key["token"]]}).status_code == 200
    assert ask(client, FREE)[0::3] == (401, "invalid_api_key")
    short = new_key(gateway, duration="2s")
    c2 = oai(gateway, short["key"])
    assert ask(c2, FREE)[0] == 200
    time.sleep(2.5)
    assert ask(c2, FREE)[0::3] == (401, "key_expired")
    # Regenerated: the old key stops, the new one works.
    k3 = new_key(gateway)
    r = admin(gateway, "/key/regenerate", {"key": k3["token"]})
    assert r.status_code == 200, r.text
    assert ask(oai(gateway, k3["key"]), FREE)[0] == 401
    assert ask(oai(gateway, r.json()["key"]), FREE)[0] == 200


def test_model_lists_refuse_with_403(gateway):
    key = new_key(gateway, models=["keys-*", "keys-free"], blocked_models=["keys-priced"])
    client = oai(gateway, key["key"])
    assert ask(client, FREE)[0] == 200
    assert ask(client, PRICED)[0::3] == (403, "model_not_allowed")
    assert ask(client, "gpt-4o-mini")[0] == 403


# ------------------------------------------------------------ admin input


def test_the_key_list_pages_with_litellm_s_parameters(gateway):
    """`page` and `size` page the list (other tests add keys meanwhile:
    compare within one listing of a team made for this test)."""
    team = f"paging-{uuid.uuid4().hex[:8]}"
    assert admin(gateway, "/team/new", {"team_id": team}).status_code == 200
    made = {new_key(gateway, team_id=team)["token"] for _ in range(3)}
    pages = [admin(gateway, f"/key/list?team_id={team}&size=2&page={n}", method="GET").json() for n in (1, 2, 3)]
    assert [len(p["keys"]) for p in pages] == [2, 1, 0]
    assert all(p["total_count"] == 3 and p["total_pages"] == 2 for p in pages)
    assert {k for p in pages for k in p["keys"]} == made
    r = admin(gateway, "/key/list?size=500", method="GET")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_admin_request"



def test_bad_admin_input_is_refused_and_changes_nothing(gateway):
    before = admin(gateway, "/key/list", method="GET").json()["total_count"]
    teams_before = admin(gateway, "/team/list", method="GET").json()
    for body in [{"max_budget": -1}, {"max_budget": "10"}, {"max_budget": 1e300}, {"rpm_limit": 1.5},
                 {"rpm_limit": -3}, {"nonsense": 1}, {"team_id": "no-such-team"}, {"budget_duration": "fortnight"},
                 {"models": "gpt-4o"}, {"key": "sk-dx-chosen-by-me"}]:
        r = admin(gateway, "/key/generate", body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.json()["error"]["message"], body
    for body in [{"team_id": "a#b"}, {"max_budget": -5}, {"models": [1]}]:
        r = admin(gateway, "/team/new", body)
        assert 400 <= r.status_code < 500, (body, r.text)
    r = requests.post(f"{gateway.base_url}/key/generate", data=b"not json",
                      headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert r.status_code == 400
    key = new_key(gateway)
    # Only admins: a virtual key may not make keys.
    r = requests.post(f"{gateway.base_url}/key/generate", json={},
                      headers={"Authorization": f"Bearer {key['key']}"}, timeout=10)
    assert r.status_code == 403
    r = admin(gateway, "/key/update", {"key": key["token"], "max_budget": -1})
    assert r.status_code == 400
    info = admin(gateway, f"/key/info?key={key['token']}", method="GET").json()["info"]
    assert "max_budget" not in info
    assert admin(gateway, "/key/list", method="GET").json()["total_count"] == before + 1
    assert admin(gateway, "/team/list", method="GET").json() == teams_before


# ------------------------------------------------------------ secrets at rest and in logs


def test_no_plaintext_key_in_the_stores_or_the_logs(gateway, request):
    key = new_key(gateway, key_alias="secret-check")
    assert ask(oai(gateway, key["key"]), FREE)[0] == 200
    secret = key["key"]
    tail = secret[-43:]
    assert key["token"] != secret
    if gateway.name == "lambda":
        db = request.getfixturevalue("dynamodb")
        items = db.client.scan(TableName=STATE_TABLE)["Items"]
        text = str(items)
        assert key["token"] in text  # the hash is there ...
        assert secret not in text and tail not in text  # ... the key is not
    elif gateway.name == "worker":
        state = worker_state_dir(request.getfixturevalue("workdir"))
        files = [p for p in Path(state).rglob("*") if p.is_file()]
        blob = b"".join(p.read_bytes() for p in files)
        assert key["token"].encode() in blob
        assert secret.encode() not in blob and tail.encode() not in blob
    if gateway.proc is not None:
        log = Path(gateway.proc.log_path).read_bytes()
        assert tail.encode() not in log


def test_spend_logs_and_daily_activity_attribute_spend(gateway):
    cost = one_cost(gateway)
    team = f"team-{uuid.uuid4().hex[:8]}"
    assert admin(gateway, "/team/new", {"team_id": team}).status_code == 200
    user = f"user-{uuid.uuid4().hex[:8]}"
    assert admin(gateway, "/user/new", {"user_id": user, "team_id": team}).status_code == 200
    key = new_key(gateway, user_id=user)
    assert key["team_id"] == team
    client = oai(gateway, key["key"])
    for _ in range(3):
        assert ask(client)[0] == 200
    settled(gateway, f"/key/info?key={key['token']}", lambda b: b["info"]["spend"], cost * 3)
    logs = admin(gateway, f"/spend/logs?user_id={user}", method="GET").json()
    assert len(logs) == 3 and all(e["team_id"] == team and e["model"] == PRICED for e in logs)
    assert abs(sum(e["spend"] for e in logs) - cost * 3) < 1e-9
    act = admin(gateway, f"/team/daily/activity?team_id={team}", method="GET").json()
    assert act["metadata"]["api_requests"] == 3
    assert PRICED in act["results"][0]["breakdown"]["models"]
    info = admin(gateway, f"/user/info?user_id={user}", method="GET").json()
    assert abs(info["user_info"]["spend"] - cost * 3) < 1e-9


def test_concurrent_creations_of_one_id_have_exactly_one_winner(gateway):
    """A team or user id is claimed in one conditional write: of 20
    simultaneous `/team/new` (and `/user/new`) calls with the same id,
    exactly one succeeds and the rest are 409 `already_exists`."""
    for path, field in (("/team/new", "team_id"), ("/user/new", "user_id")):
        ident = f"race-{uuid.uuid4().hex[:8]}"
        results = flood([lambda: admin(gateway, path, {field: ident}) for _ in range(20)])
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200] + [409] * 19, [r.text for r in results if r.status_code not in (200, 409)]
        assert all(r.json()["error"]["code"] == "already_exists" for r in results if r.status_code == 409)
        listed = admin(gateway, path.replace("/new", "/list"), method="GET").json()
        rows = listed if isinstance(listed, list) else next(v for v in listed.values() if isinstance(v, list))
        assert sum(1 for row in rows if row.get(field) == ident) == 1


@pytest.mark.timeout(120)
def test_an_instance_that_dies_mid_stream_leaves_its_reservation_charged_in_full(
        gateway, request, workdir, gateway_env):
    """The stated reclaim rule: a reservation is debited from the budget and
    the spend totals when it is made and a settlement only returns what went
    unused, so when the instance dies mid-stream (the Lambda runtime killed,
    `wrangler dev` stopped) nothing is ever settled and the key stays charged
    the request's worst case: its body size in tokens at the input price plus
    `max_tokens` at the output price. Read back through a new instance."""
    import json as _json
    from conftest import start_lambda, start_worker

    def fresh(name: str):
        if gateway.name == "worker":
            # Its own state, shared by the two processes in turn (never at once).
            return start_worker(workdir, gateway_env, f"worker-{name}.log",
                                state_dir=workdir / "wrangler-state-dies")
        db = request.getfixturevalue("dynamodb")
        return start_lambda(f"lambda-{name}", workdir, {**gateway_env, **db.env(STATE_TABLE)}, instances=1)

    if gateway.name not in ("worker", "lambda"):
        pytest.skip("needs a shell this suite starts")
    doomed = fresh("doomed")
    try:
        key = new_key(doomed, max_budget=1.0)
        body = _json.dumps({"model": "keys-slow/fault:delay_chunks_ms=400|gpt-4o-mini", "max_tokens": 50,
                            "stream": True, "messages": [{"role": "user", "content": "a slow answer please"}]})
        r = requests.post(f"{doomed.base_url}/v1/chat/completions", data=body, stream=True, timeout=30,
                          headers={"Authorization": f"Bearer {key['key']}", "Content-Type": "application/json"})
        assert r.status_code == 200
        first = next(r.iter_content(chunk_size=None))
        assert first.startswith(b"data: ")
    finally:
        doomed.proc.stop()
    survivor = fresh("after-death")
    try:
        worst = len(body.encode()) * 0.000001 + 50 * 0.000002
        info = admin(survivor, f"/key/info?key={key['token']}", method="GET").json()["info"]
        assert abs(info["budget_spent"] - worst) < 1e-9, (info, worst)
        assert abs(info["budget_remaining"] - (1.0 - worst)) < 1e-9, (info, worst)
        # The lifetime total was reserved with it: nothing is lost from it.
        assert abs(info["spend"] - worst) < 1e-9, (info, worst)
    finally:
        survivor.proc.stop()
