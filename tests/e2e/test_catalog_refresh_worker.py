"""The catalog's runtime refresh on the Worker: the cron handler (run through
``wrangler dev --test-scheduled``'s ``/__scheduled``) fetches models.dev and
LiteLLM from the fleet, merges, checks and stores the catalog in the local KV
namespace ``DX_STATE``; isolates pick the stored copy up off the request path.

The probe model exists only in the refreshed sources (see catalog_sources);
the refreshed catalog is otherwise the snapshot, so the session's other tests
see the same prices after these ran. Tests run in file order."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time

import openai
import pytest
import requests

from catalog_sources import (
    LITELLM, PROBE_CONTEXT, PROBE_INPUT_PER_M, PROBE_MODEL, PROBE_OUTPUT_PER_M, PROBE_PROVIDER,
    make_api_json, publish, with_probe_model,
)
from conftest import MASTER_KEY, WRANGLER_ENV, selected_shells, start_worker, worker_state_dir, wrangler_bin
from harness import REPO_ROOT
from sdk import tag, user

pytestmark = pytest.mark.skipif("worker" not in selected_shells(), reason="the worker shell is not selected")

PROBE = f"{PROBE_PROVIDER}/{PROBE_MODEL}"
CRON = "17 */6 * * *"


@pytest.fixture(scope="module")
def api_json(workdir) -> bytes:
    return make_api_json(workdir)


def run_cron(gw) -> None:
    r = requests.get(f"{gw.base_url}/__scheduled", params={"cron": CRON}, timeout=120)
    assert r.status_code == 200, r.text


def model_info(gw, model: str) -> requests.Response:
    return requests.get(f"{gw.base_url}/model/info", params={"model": model},
                        headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)


def kv(workdir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(wrangler_bin()), "kv", "key", *args, "--binding", "DX_STATE", "--local",
         "--persist-to", str(worker_state_dir(workdir))],
        cwd=REPO_ROOT, env={**os.environ, **WRANGLER_ENV},
        capture_output=True, timeout=120,
    )


def kv_get(workdir, key: str) -> bytes | None:
    out = kv(workdir, "get", key)
    if out.returncode != 0 or out.stdout.strip() in (b"", b"Value not found"):
        return None
    return out.stdout


def kv_put(workdir, key: str, value: str) -> None:
    out = kv(workdir, "put", key, value)
    assert out.returncode == 0, out.stderr.decode(errors="replace")


def fleet_fetches(fleet, since: int) -> list[str]:
    log = requests.get(f"{fleet.base_url}/_fleet/requests", timeout=30).json()
    return [r["path"] for r in log if r["seq"] > since and r["path"].startswith("/catalog/")]


def fleet_seq(fleet) -> int:
    log = requests.get(f"{fleet.base_url}/_fleet/requests", timeout=30).json()
    return log[-1]["seq"] if log else 0


def info_entry(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    return body["data"][0] if "data" in body else body


def catalog_status(gw) -> dict:
    r = requests.get(f"{gw.base_url}/catalog/status", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_probe_model_is_unknown_before_any_refresh(worker_gateway, client_for):
    status = catalog_status(worker_gateway)
    assert status["embedded"] is True and status["models"] > 6000
    assert requests.get(f"{worker_gateway.base_url}/catalog/status", timeout=30).status_code == 401
    # Named with its provider it is routable, but the catalog knows nothing of it.
    entry = info_entry(model_info(worker_gateway, PROBE))
    assert entry["model_info"]["priced"] is False
    assert entry["model_info"]["max_input_tokens"] is None
    # Named alone it cannot be placed at all.
    r = model_info(worker_gateway, PROBE_MODEL)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as e:
        client_for(worker_gateway).chat.completions.create(model=PROBE_MODEL, messages=user("hi"))
    assert e.value.body["code"] == "model_not_found"


@pytest.mark.parametrize("broken", ["http-500", "truncated", "too-small"])
def test_a_broken_source_changes_nothing(worker_gateway, fleet, workdir, api_json, broken):
    if broken == "http-500":
        publish(fleet, "models.dev", b'{"error": "upstream down"}', status=500)
    elif broken == "truncated":
        publish(fleet, "models.dev", api_json[: len(api_json) // 2])
    else:
        only_one = {PROBE_PROVIDER: json.loads(with_probe_model(api_json))[PROBE_PROVIDER]}
        publish(fleet, "models.dev", json.dumps(only_one).encode())
    publish(fleet, "litellm", LITELLM.read_bytes())
    seq = fleet_seq(fleet)
    run_cron(worker_gateway)
    assert "/catalog/models.dev/api.json" in fleet_fetches(fleet, seq), "the cron handler fetched the source"
    assert info_entry(model_info(worker_gateway, PROBE))["model_info"]["priced"] is False
    assert model_info(worker_gateway, PROBE_MODEL).status_code == 404
    assert info_entry(model_info(worker_gateway, "deepseek/deepseek-chat"))["model_info"]["priced"] is True
    assert kv_get(workdir, "catalog:version") is None, "nothing stored"


def test_refresh_installs_and_stores_the_catalog(worker_gateway, fleet, workdir, api_json, client_for):
    publish(fleet, "models.dev", with_probe_model(api_json))
    publish(fleet, "litellm", LITELLM.read_bytes())
    run_cron(worker_gateway)

    entry = info_entry(model_info(worker_gateway, PROBE))
    assert entry["model_info"]["max_input_tokens"] == PROBE_CONTEXT
    assert entry["model_info"]["input_cost_per_token"] == pytest.approx(PROBE_INPUT_PER_M / 1e6, abs=1e-15)
    assert entry["model_info"]["output_cost_per_token"] == pytest.approx(PROBE_OUTPUT_PER_M / 1e6, abs=1e-15)

    version = kv_get(workdir, "catalog:version")
    stored = kv_get(workdir, "catalog:text")
    assert version and stored
    assert version.decode().strip() == hashlib.sha256(stored).hexdigest()[:16]
    assert stored.startswith(b"#dx-catalog\t1\trefreshed from " + fleet.base_url.encode())
    status = catalog_status(worker_gateway)
    assert status["embedded"] is False
    assert status["version"] == version.decode().strip()
    assert status["source"].startswith("refreshed from " + fleet.base_url)
    assert f"\t{PROBE_MODEL}\t".encode() in stored or PROBE_MODEL.encode() in stored

    # Priced from the refreshed catalog: 3 prompt and 3 completion tokens.
    t = tag()
    raw = client_for(worker_gateway).chat.completions.with_raw_response.create(model=PROBE, messages=user(f"hi {t}"))
    cost = float(raw.headers["x-dx-cost-usd"])
    assert cost == pytest.approx(3 * PROBE_INPUT_PER_M / 1e6 + 3 * PROBE_OUTPUT_PER_M / 1e6, abs=1e-12)
    seen = [r for r in fleet.requests() if isinstance(r.get("body"), dict) and r["body"].get("model") == PROBE_MODEL]
    assert seen and seen[-1]["path"] == "/openai/v1/chat/completions"
    assert seen[-1]["headers"]["authorization"] == "Bearer sk-fleet-openai"


def test_the_same_sources_again_leave_the_store_alone(worker_gateway, workdir):
    before = kv_get(workdir, "catalog:version")
    run_cron(worker_gateway)
    assert kv_get(workdir, "catalog:version") == before
    assert info_entry(model_info(worker_gateway, PROBE))["model_info"]["priced"] is True


# Each starts another `wrangler dev` (several seconds, more on a busy machine).
@pytest.mark.timeout(300)
def test_a_fresh_isolate_refuses_a_tampered_copy_then_takes_a_valid_one(workdir, gateway_env, client_for):
    good_text = kv_get(workdir, "catalog:text")
    good_version = kv_get(workdir, "catalog:version")
    assert good_text and good_version
    # A version tag that does not match the text (a torn or tampered write).
    kv_put(workdir, "catalog:version", "0123456789abcdef")
    second = start_worker(workdir, gateway_env, "worker-second.log")
    try:
        # The first request starts the sync; the unknown model waits for it,
        # which refuses the copy: the embedded catalog stays in use.
        r = model_info(second, PROBE_MODEL)
        assert r.status_code == 404, r.text
        assert info_entry(model_info(second, PROBE))["model_info"]["priced"] is False
        assert info_entry(model_info(second, "deepseek/deepseek-chat"))["model_info"]["priced"] is True

        kv_put(workdir, "catalog:version", good_version.decode().strip())
        deadline = time.time() + 30
        while time.time() < deadline:
            if model_info(second, PROBE_MODEL).status_code == 200:
                break
            time.sleep(0.5)
        assert info_entry(model_info(second, PROBE))["model_info"]["priced"] is True, "taken within the sync interval"
        t = tag()
        reply = client_for(second).chat.completions.create(model=PROBE, messages=user(f"hi {t}"))
        assert reply.choices[0].message.content == f"Echo: hi {t}"
    finally:
        assert second.proc is not None
        second.proc.stop()


@pytest.mark.timeout(300)
def test_a_fresh_isolate_knows_a_refreshed_model_on_its_first_request(workdir, gateway_env, client_for):
    second = start_worker(workdir, gateway_env, "worker-third.log")
    try:
        # No request before this one: the model is resolved after the sync
        # this request started, not refused from the embedded snapshot.
        t = tag()
        raw = client_for(second).chat.completions.with_raw_response.create(model=PROBE_MODEL, messages=user(f"hi {t}"))
        assert raw.parse().choices[0].message.content == f"Echo: hi {t}"
        assert float(raw.headers["x-dx-cost-usd"]) == pytest.approx(5.4e-5, abs=1e-12)
    finally:
        assert second.proc is not None
        second.proc.stop()
