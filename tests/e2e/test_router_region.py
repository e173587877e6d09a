"""Nearest-region routing from where a request really lands (issue 12).

Workers: the Worker bundle under plain ``workerd serve``, whose socket takes
``request.cf`` from a per-request header (workerd's ``cfBlobHeader``: what
Cloudflare's edge fills in, here written by the test), for clients in
Frankfurt, Virginia and Singapore. ``wrangler dev`` gives every request the
same ``cf`` (Austin), which ``test_router.py`` covers.

Lambda: the binary on its runtime loop with ``AWS_REGION`` set as Lambda sets
it, in three regions.

The group ``rt-near`` (``deployments/router.json``) has one deployment each
in us-east-1, europe-west4 and ap-southeast-1 under the ``nearest`` strategy;
``rt-near-eu-resident`` has one in us-east-1 and one in europe-west4 under
``nearest`` with an ``eu`` residency policy, which must win over distance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from conftest import MASTER_KEY, selected_shells, start_lambda
from workerd import Isolate, serve

CITIES = {
    "frankfurt": {"latitude": "50.11", "longitude": "8.68", "country": "DE", "continent": "EU",
                  "isEUCountry": "1", "colo": "FRA", "city": "Frankfurt am Main"},
    "virginia": {"latitude": "38.95", "longitude": "-77.45", "country": "US", "continent": "NA",
                 "colo": "IAD", "city": "Ashburn"},
    "singapore": {"latitude": "1.35", "longitude": "103.82", "country": "SG", "continent": "AS",
                  "colo": "SIN", "city": "Singapore"},
}
NEAREST = {"frankfurt": "near-eu", "virginia": "near-us", "singapore": "near-ap"}
CF_HEADER = "x-test-cf"


def ask(base_url: str, model: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        f"{base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {MASTER_KEY}", **(headers or {})},
        json={"model": model, "messages": [{"role": "user", "content": "where am I"}]},
        timeout=30,
    )


@pytest.fixture(scope="module")
def workerd_cf(workdir: Path, gateway_env: dict[str, str]):
    """The Worker bundle under plain workerd with ``cfBlobHeader`` set."""
    proc, bases = serve(workdir / "bundle", [Isolate("gateway", gateway_env, cf_header=CF_HEADER)],
                        workdir / "workerd-cf.log")
    try:
        yield bases["gateway"]
    finally:
        proc.stop()


@pytest.mark.skipif("worker" not in selected_shells(), reason="the worker shell is not selected")
@pytest.mark.parametrize("city", sorted(CITIES))
def test_the_worker_routes_each_city_to_its_nearest_deployment(workerd_cf, city):
    cf = {CF_HEADER: json.dumps(CITIES[city])}
    for _ in range(3):
        r = ask(workerd_cf, "rt-near", cf)
        assert r.status_code == 200, r.text
        assert r.headers["x-dx-deployment"] == NEAREST[city], (city, r.headers["x-dx-deployment"])


@pytest.mark.skipif("worker" not in selected_shells(), reason="the worker shell is not selected")
def test_on_the_worker_residency_wins_over_distance(workerd_cf):
    for city in ("virginia", "singapore", "frankfurt"):
        r = ask(workerd_cf, "rt-near-eu-resident", {CF_HEADER: json.dumps(CITIES[city])})
        assert r.status_code == 200, r.text
        assert r.headers["x-dx-deployment"] == "resident-eu", (city, r.headers["x-dx-deployment"])
    # Only a US deployment and an `eu` policy: refused, never sent to the US.
    r = ask(workerd_cf, "rt-eu-only", {CF_HEADER: json.dumps(CITIES["virginia"])})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "residency_violation"


@pytest.mark.skipif("worker" not in selected_shells(), reason="the worker shell is not selected")
def test_a_client_cannot_claim_a_place_on_the_worker(workerd_cf):
    # The gateway's internal header from a client is not believed: the edge's
    # own location (Singapore) decides.
    r = ask(workerd_cf, "rt-near", {CF_HEADER: json.dumps(CITIES["singapore"]), "x-dx-geo": "50.11,8.68"})
    assert r.status_code == 200, r.text
    assert r.headers["x-dx-deployment"] == "near-ap"


@pytest.mark.skipif("lambda" not in selected_shells(), reason="the lambda shell is not selected")
@pytest.mark.parametrize("region,expected", [
    ("eu-central-1", "near-eu"),
    ("ap-southeast-1", "near-ap"),
    ("us-west-2", "near-us"),
])
def test_lambda_prefers_the_deployment_nearest_its_region(workdir, gateway_env, region, expected):
    gw = start_lambda(f"lambda-{region}", workdir, {**gateway_env, "AWS_REGION": region}, instances=1)
    try:
        for _ in range(3):
            r = ask(gw.base_url, "rt-near")
            assert r.status_code == 200, r.text
            assert r.headers["x-dx-deployment"] == expected, (region, r.headers["x-dx-deployment"])
        r = ask(gw.base_url, "rt-near-eu-resident")
        assert r.status_code == 200, r.text
        assert r.headers["x-dx-deployment"] == "resident-eu"
    finally:
        assert gw.proc is not None
        gw.proc.stop()
