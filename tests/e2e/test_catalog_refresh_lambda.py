"""The catalog refresh on AWS Lambda, end to end: the same binary as a
scheduled ``catalog-refresh`` function (invoked through the Invoke API with
an EventBridge event) fetches the catalog sources from the fleet, saves the
merged catalog to the state table in DynamoDB Local, and the gateway's
instances (the ``lambda_gateway`` fixture: 4 of them) load it off the
request path.

The tests walk one store through its life and run in file order: nothing
stored (the embedded catalog), failed refreshes, a good one, the same one
again, copies damaged in DynamoDB, and a last good refresh that leaves the
session with the snapshot plus one probe model (``catalog_sources``), which
the other suites do not notice: the snapshot's models, prices and limits are
unchanged.

Prices: the probe costs 7 / 11 USD per million input / output tokens. The
fleet counts one token per word plus one per message: "hi <tag>" is 3
prompt tokens, its echo 3 completion tokens, so 3 × 7e-6 + 3 × 11e-6 =
5.4e-5 USD."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests

from catalog_sources import (LITELLM, PROBE_CONTEXT, PROBE_INPUT_PER_M, PROBE_MODEL, PROBE_OUTPUT_PER_M,
                             PROBE_PROVIDER, make_api_json, publish, with_probe_model)
from conftest import MASTER_KEY, STATE_TABLE, start_lambda
from sdk import check_error_body, raw_post, tag, user

# Lambda only: run when DX_SHELLS picks the lambda shell (conftest).
pytestmark = pytest.mark.usefixtures("lambda_gateway")

PROBE = f"{PROBE_PROVIDER}/{PROBE_MODEL}"
PROBE_COST = 3 * PROBE_INPUT_PER_M / 1e6 + 3 * PROBE_OUTPUT_PER_M / 1e6
INVOKE = "/2015-03-31/functions/function/invocations"
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T06:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/dx-catalog-refresh"],
    "detail": {},
}
INSTANCES = 4
# How long instances may take to pick up a stored copy (they look every second).
SYNC_BOUND_S = 20


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def sources(workdir, fleet) -> dict[str, bytes]:
    api_json = make_api_json(workdir)
    return {"api": api_json, "probe": with_probe_model(api_json), "litellm": LITELLM.read_bytes()}


@pytest.fixture(scope="module")
def refresh_fn(workdir, gateway_env, dynamodb, lambda_gateway):
    """The refresh role: the same binary, ``DX_ROLE=catalog-refresh``."""
    env = {**gateway_env, **dynamodb.env(STATE_TABLE), "DX_ROLE": "catalog-refresh"}
    fn = start_lambda("lambda-refresh", workdir, env, instances=1, timeout_s=120)
    yield fn
    assert fn.proc is not None
    fn.proc.stop()


def invoke(fn) -> tuple[bool, dict]:
    """Runs the refresh once, as the schedule would: (succeeded, payload or error)."""
    r = requests.post(f"{fn.base_url}{INVOKE}", json=SCHEDULED_EVENT, timeout=180)
    assert r.status_code == 200, r.text
    return "X-Amz-Function-Error" not in r.headers, r.json()


def stored_items(dynamodb) -> dict[str, dict]:
    """Every item of the state table, by pk."""
    items = dynamodb.client.scan(TableName=STATE_TABLE, ConsistentRead=True)["Items"]
    return {it["pk"]["S"]: it for it in items}


def catalog_items(dynamodb) -> dict[str, dict]:
    return {pk: it for pk, it in stored_items(dynamodb).items() if pk == "catalog" or pk.startswith("catalog#")}


def get(gateway, path: str, **params) -> requests.Response:
    return requests.get(f"{gateway.base_url}{path}", params=params,
                        headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)


def probe_info(gateway) -> tuple[str, dict]:
    """(answering instance, /model/info of the probe)."""
    r = get(gateway, "/model/info", model=PROBE)
    assert r.status_code == 200, r.text
    return r.headers["x-rt-instance"], r.json()["data"][0]["model_info"]


def knows_probe(info: dict) -> bool:
    return info.get("key") == PROBE


def wait_all_instances(gateway, want, what: str) -> dict[str, dict]:
    """Asks until each instance has answered ``want(info)`` (bounded)."""
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + SYNC_BOUND_S
    while time.monotonic() < deadline:
        instance, info = probe_info(gateway)
        if want(info):
            seen[instance] = info
        else:
            seen.pop(instance, None)
        if len(seen) == INSTANCES:
            return seen
        time.sleep(0.05)
    pytest.fail(f"within {SYNC_BOUND_S}s only instances {sorted(seen)} of {INSTANCES} {what}")


def keep_serving_the_probe(gateway, seconds: float) -> None:
    """Traffic for a while (instances look at the store only when invoked):
    every answer still knows the probe model by its refreshed name."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _, info = probe_info(gateway)
        assert knows_probe(info) and info["name"] == "DX refresh probe", info
        time.sleep(0.02)


def version_of(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()[:16]


def stored_text(dynamodb) -> tuple[str, bytes]:
    items = catalog_items(dynamodb)
    pointer = items["catalog"]
    version = pointer["version"]["S"]
    parts = int(pointer["parts"]["N"])
    return version, b"".join(items[f"catalog#{version}#{n}"]["data"]["B"] for n in range(parts))


def sync_log_lines(fn) -> list[dict]:
    lines = []
    for line in fn.proc.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"catalog_sync"' in line:
            lines.append(json.loads(line))
    return lines


# ---------------------------------------------------------------- the store's life


def test_before_any_refresh_instances_serve_the_embedded_catalog(lambda_gateway, dynamodb):
    assert catalog_items(dynamodb) == {}, "this suite expects to start on an empty store"
    r = raw_post(lambda_gateway, {"model": PROBE_MODEL, "messages": user("hi")})
    err = check_error_body(r, 404, code="model_not_found")
    assert PROBE_MODEL in err["message"], err
    for _ in range(INSTANCES):
        _, info = probe_info(lambda_gateway)
        assert not knows_probe(info) and info["priced"] is False, info
    status = get(lambda_gateway, "/catalog/status").json()
    assert status["embedded"] is True and status["source"].startswith("models.dev "), status
    # the snapshot's own models are there as always
    r = get(lambda_gateway, "/model/info", model="deepseek/deepseek-chat")
    assert r.json()["data"][0]["model_info"]["input_cost_per_token"] == 1.4e-7


@pytest.mark.parametrize("broken", ["http-500", "truncated", "far-too-small"])
def test_a_broken_source_is_an_invocation_error_that_changes_nothing(refresh_fn, lambda_gateway, dynamodb, fleet,
                                                                      sources, broken):
    publish(fleet, "litellm", sources["litellm"])
    if broken == "http-500":
        publish(fleet, "models.dev", b'{"error": "upstream down"}', status=500)
        want = "HTTP 500"
    elif broken == "truncated":
        publish(fleet, "models.dev", sources["probe"][: len(sources["probe"]) // 2])
        want = "models.dev"
    else:
        one = {PROBE_PROVIDER: json.loads(sources["probe"])[PROBE_PROVIDER]}
        publish(fleet, "models.dev", json.dumps(one).encode())
        publish(fleet, "litellm", b"{}")
        want = "at least"
    before = catalog_items(dynamodb)
    ok, out = invoke(refresh_fn)
    assert not ok, out
    assert out["errorType"] == "CatalogRefreshFailed" and want in out["errorMessage"], out
    assert catalog_items(dynamodb) == before
    _, info = probe_info(lambda_gateway)
    assert not knows_probe(info)


def test_a_good_refresh_reaches_every_instance(refresh_fn, lambda_gateway, dynamodb, fleet, sources):
    publish(fleet, "models.dev", sources["probe"])
    publish(fleet, "litellm", sources["litellm"])
    ok, summary = invoke(refresh_fn)
    assert ok, summary
    assert summary["outcome"] == "installed"
    assert summary["providers"] >= 100 and summary["models"] >= 2000, summary

    # DynamoDB: the pointer, then chunks below the item limit that add up to the catalog
    items = catalog_items(dynamodb)
    pointer = items["catalog"]
    assert pointer["version"]["S"] == summary["version"]
    parts = int(pointer["parts"]["N"])
    assert parts >= 2 and set(items) == {"catalog"} | {f"catalog#{summary['version']}#{n}" for n in range(parts)}
    assert all(len(items[f"catalog#{summary['version']}#{n}"]["data"]["B"]) <= 256 * 1024 for n in range(parts))
    version, text = stored_text(dynamodb)
    assert version_of(text) == version and len(text) == int(pointer["bytes"]["N"])
    assert b"DX refresh probe" in text

    infos = wait_all_instances(lambda_gateway, knows_probe, "learned the probe model")
    for info in infos.values():
        assert info["max_input_tokens"] == PROBE_CONTEXT and info["max_output_tokens"] == 8192
        assert info["input_cost_per_token"] == pytest.approx(PROBE_INPUT_PER_M / 1e6)
        assert info["output_cost_per_token"] == pytest.approx(PROBE_OUTPUT_PER_M / 1e6)
        assert info["name"] == "DX refresh probe" and info["sources"] == ["models.dev"]
    # every instance reports the stored version as the catalog it uses
    statuses: dict[str, dict] = {}
    deadline = time.monotonic() + SYNC_BOUND_S
    while len(statuses) < INSTANCES and time.monotonic() < deadline:
        r = get(lambda_gateway, "/catalog/status")
        assert r.status_code == 200, r.text
        statuses[r.headers["x-rt-instance"]] = r.json()
    assert len(statuses) == INSTANCES
    for status in statuses.values():
        assert status["embedded"] is False and status["version"] == summary["version"], status
        assert status["models"] == summary["models"]


@pytest.mark.parametrize("name", [PROBE, PROBE_MODEL])
def test_the_refreshed_model_is_served_and_priced(lambda_gateway, fleet, name):
    t = tag()
    r = raw_post(lambda_gateway, {"model": name, "messages": user(f"hi {t}")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["choices"][0]["message"]["content"] == f"Echo: hi {t}"
    assert (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]) == (3, 3)
    assert r.headers["x-dx-provider"] == PROBE_PROVIDER
    assert float(r.headers["x-dx-cost-usd"]) == pytest.approx(PROBE_COST, abs=1e-12)
    assert body["cost"] == pytest.approx(PROBE_COST, abs=1e-12)
    got = fleet.request_with(PROBE_MODEL, t)
    assert got["headers"]["authorization"] == "Bearer sk-fleet-openai"


def test_a_fresh_instance_serves_the_refreshed_model_from_its_first_request(workdir, gateway_env, dynamodb, fleet):
    """Its first request arrives while the stored copy is still loading:
    the unknown model waits for that sync instead of being refused."""
    env = {**gateway_env, **dynamodb.env(STATE_TABLE)}
    fresh = start_lambda("lambda-first-request", workdir, env, instances=1)
    try:
        t = tag()
        r = raw_post(fresh, {"model": PROBE_MODEL, "messages": user(f"hi {t}")})
        assert r.status_code == 200, r.text
        assert float(r.headers["x-dx-cost-usd"]) == pytest.approx(PROBE_COST, abs=1e-12)
        fleet.request_with(PROBE_MODEL, t)
        assert [line.get("outcome") for line in sync_log_lines(fresh)] == ["installed"]
    finally:
        assert fresh.proc is not None
        fresh.proc.stop()


def test_the_same_refresh_again_is_unchanged(refresh_fn, dynamodb):
    before = catalog_items(dynamodb)
    ok, summary = invoke(refresh_fn)
    assert ok and summary["outcome"] == "unchanged", summary
    assert summary["version"] == before["catalog"]["version"]["S"]
    assert catalog_items(dynamodb) == before


def test_a_broken_source_after_a_good_refresh_keeps_the_stored_copy(refresh_fn, lambda_gateway, dynamodb, fleet,
                                                                   sources):
    before = catalog_items(dynamodb)
    publish(fleet, "models.dev", b"", status=500)
    ok, out = invoke(refresh_fn)
    assert not ok and "HTTP 500" in out["errorMessage"], out
    assert catalog_items(dynamodb) == before
    publish(fleet, "models.dev", sources["probe"])
    wait_all_instances(lambda_gateway, knows_probe, "kept the probe model")


def test_damaged_copies_in_dynamodb_are_refused(workdir, gateway_env, lambda_gateway, dynamodb, refresh_fn):
    good_version, good_text = stored_text(dynamodb)
    # 1. tampered: another version tag over an edited text (same length)
    tampered = good_text.replace(b"DX refresh probe", b"DX TAMPER probe!")
    assert len(tampered) == len(good_text) and tampered != good_text
    dynamodb.put_catalog_copy(STATE_TABLE, tampered, version="feedfacefeedface")
    # the running instances look at it, refuse it and keep what they have
    keep_serving_the_probe(lambda_gateway, 3)
    # 2. garbage under its own correct tag (a torn or foreign write)
    garbage = b"#dx-catalog\t1\tgarbage\nP\tx\n"
    dynamodb.put_catalog_copy(STATE_TABLE, garbage)
    keep_serving_the_probe(lambda_gateway, 3)

    # a fresh instance refuses it too, and starts (stays) on the embedded catalog
    env = {**gateway_env, **dynamodb.env(STATE_TABLE)}
    fresh = start_lambda("lambda-fresh", workdir, env, instances=1)
    try:
        deadline = time.monotonic() + SYNC_BOUND_S
        while not any("error" in line for line in sync_log_lines(fresh)) and time.monotonic() < deadline:
            time.sleep(0.1)
        errors = [line["error"] for line in sync_log_lines(fresh) if "error" in line]
        assert errors and "refused" in errors[0], sync_log_lines(fresh)
        _, info = probe_info(fresh)
        assert not knows_probe(info), info
        r = raw_post(fresh, {"model": PROBE_MODEL, "messages": user("hi")})
        check_error_body(r, 404, code="model_not_found")
    finally:
        assert fresh.proc is not None
        fresh.proc.stop()

    # Each of the gateway's instances said why, once, without secrets.
    refusals = [line for line in sync_log_lines(lambda_gateway) if "error" in line]
    tag_mismatch = [r for r in refusals if "feedfacefeedface does not match its version tag" in r["error"]]
    refused = [r for r in refusals if f"{version_of(garbage)} is refused" in r["error"]]
    assert (len(tag_mismatch), len(refused)) == (INSTANCES, INSTANCES), refusals
    assert not any(dynamodb.env(STATE_TABLE)["AWS_SECRET_ACCESS_KEY"] in json.dumps(line) for line in refusals)

    # The next refresh writes the good copy again (and drops the garbage's chunks).
    ok, summary = invoke(refresh_fn)
    assert ok and summary["outcome"] == "installed" and summary["version"] == good_version, summary
    for n in range(len(tampered) // (256 * 1024) + 1):
        dynamodb.client.delete_item(TableName=STATE_TABLE, Key={"pk": {"S": f"catalog#feedfacefeedface#{n}"}})
    assert stored_text(dynamodb) == (good_version, good_text)
    assert not any(pk.startswith(f"catalog#{version_of(garbage)}") for pk in catalog_items(dynamodb))
    wait_all_instances(lambda_gateway, knows_probe, "kept the probe model")
