"""Budgets and rate limits across several Worker isolates (issue 11).

Cloudflare runs a Worker in many isolates at once, all reaching one Durable
Object per ledger. ``wrangler dev`` runs one isolate (and two ``wrangler dev``
processes each run their own copy of a Durable Object, which production never
does), so this runs the deployable bundle under plain ``workerd serve`` as
three gateway services — three isolates — of which one hosts the ``Ledger``
namespace on disk and the others reach it by binding, as other locations do.
Requests and admin calls are spread over all three.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from conftest import selected_shells
from test_keys import PARALLEL, admin, ask, flood, new_key, oai, one_cost, settled, unexpected, away_from_minute_end
from workerd import Isolate, serve

pytestmark = pytest.mark.skipif("worker" not in selected_shells(), reason="the worker shell is not selected")


class Base:
    """What the helpers of test_keys need of a gateway."""

    def __init__(self, base_url: str, proc):
        self.base_url = base_url
        self.proc = proc


@pytest.fixture(scope="module")
def isolates(workdir: Path, gateway_env: dict[str, str]):
    names = ["gwA", "gwB", "gwC"]
    proc, bases = serve(
        workdir / "bundle",
        [Isolate(n, gateway_env, hosts_ledger=(n == "gwA")) for n in names],
        workdir / "workerd-isolates.log",
        ledger_dir=workdir / "ledger-disk",
    )
    try:
        yield [Base(bases[n], proc) for n in names]
    finally:
        proc.stop()


def spread(gws: list, make) -> list:
    return flood([(lambda i=i: make(gws[i % len(gws)])) for i in range(PARALLEL)])


def test_a_key_budget_holds_across_three_isolates(isolates):
    a, b, c = isolates
    cost = one_cost(b)
    key = new_key(c, max_budget=cost * 10, budget_duration="1d")
    clients = {gw.base_url: oai(gw, key["key"]) for gw in isolates}
    results = spread(isolates, lambda gw: ask(clients[gw.base_url]))
    served = [r for r in results if r[0] == 200]
    assert 1 <= len(served) <= 10, [r[0] for r in results]
    assert all(r[0] == 200 or (r[0], r[3]) == (429, "budget_exceeded") for r in results), \
        unexpected(a, results, {(200, None), (429, "budget_exceeded")})
    spent = sum(r[1] for r in served)
    # Any isolate reads the one ledger.
    recorded = settled(a, f"/key/info?key={key['token']}", lambda j: j["info"]["spend"], spent)
    assert abs(recorded - spent) < 1e-9, (recorded, spent)
    assert recorded <= cost * 10 + 1e-9


def test_a_team_budget_shared_by_keys_on_different_isolates(isolates):
    a, b, c = isolates
    cost = one_cost(a)
    team = f"team-{uuid.uuid4().hex[:8]}"
    r = admin(b, "/team/new", {"team_id": team, "max_budget": cost * 10})
    assert r.status_code == 200, r.text
    keys = [new_key(isolates[i % 3], team_id=team)["key"] for i in range(5)]
    clients = [(isolates[i % 3], oai(isolates[i % 3], k)) for i, k in enumerate(keys)]
    results = flood([(lambda i=i: ask(clients[i % 5][1])) for i in range(PARALLEL)])
    served = [r for r in results if r[0] == 200]
    assert 1 <= len(served) <= 10, [r[0] for r in results]
    spent = sum(r[1] for r in served)
    recorded = settled(c, f"/team/info?team_id={team}", lambda j: j["team_info"]["spend"], spent)
    assert abs(recorded - spent) < 1e-9, (recorded, spent)
    assert recorded <= cost * 10 + 1e-9


def test_rpm_limit_10_holds_across_three_isolates(isolates):
    a, _, _ = isolates
    key = new_key(a, rpm_limit=10, tpm_limit=10_000_000)
    clients = {gw.base_url: oai(gw, key["key"]) for gw in isolates}
    away_from_minute_end()
    results = spread(isolates, lambda gw: ask(clients[gw.base_url], model="keys-free"))
    served = [r for r in results if r[0] == 200]
    assert len(served) == 10, unexpected(a, results, {(200, None), (429, "rate_limit_exceeded")})
    assert all(r[0] == 200 or (r[0], r[3]) == (429, "rate_limit_exceeded") for r in results), \
        unexpected(a, results, {(200, None), (429, "rate_limit_exceeded")})


def test_a_key_blocked_on_one_isolate_is_refused_on_the_others_next(isolates):
    a, b, c = isolates
    key = new_key(a)
    for gw in isolates:
        assert ask(oai(gw, key["key"]), model="keys-free")[0] == 200
    r = admin(b, "/key/block", {"key": key["token"]})
    assert r.status_code == 200, r.text
    for gw in (a, c, b):
        status, _, _, code = ask(oai(gw, key["key"]), model="keys-free")
        assert (status, code) == (401, "key_blocked"), (gw.base_url, status, code)
