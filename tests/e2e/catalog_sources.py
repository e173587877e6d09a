"""The catalog sources the fleet publishes for refresh tests: models.dev's
``api.json`` made from ``data/models.dev`` by ``tools/catalog-gen --api-json``
(the same shape as the public file) and LiteLLM's map from ``data/litellm``,
plus edits that make a refreshed catalog recognisable."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests

from harness import REPO_ROOT

LITELLM = REPO_ROOT / "data" / "litellm" / "model_prices_and_context_window.json"

# A model only a refreshed catalog knows, on a provider no code names.
PROBE_PROVIDER = "deepseek"
PROBE_MODEL = "dx-refresh-probe"
PROBE_INPUT_PER_M = 7.0
PROBE_OUTPUT_PER_M = 11.0
PROBE_CONTEXT = 65536


def make_api_json(workdir: Path) -> bytes:
    out = workdir / "models.dev-api.json"
    if not out.exists():
        subprocess.run(
            ["cargo", "run", "-q", "-p", "dx-catalog-gen", "--", "--api-json", str(out)],
            cwd=REPO_ROOT, check=True, timeout=900,
        )
    return out.read_bytes()


def with_probe_model(api_json: bytes) -> bytes:
    data = json.loads(api_json)
    data[PROBE_PROVIDER]["models"][PROBE_MODEL] = {
        "id": PROBE_MODEL,
        "name": "DX refresh probe",
        "tool_call": True,
        "reasoning": False,
        "modalities": {"input": ["text"], "output": ["text"]},
        "cost": {"input": PROBE_INPUT_PER_M, "output": PROBE_OUTPUT_PER_M},
        "limit": {"context": PROBE_CONTEXT, "output": 8192},
    }
    return json.dumps(data).encode()


def publish(fleet, source: str, body: bytes, status: int = 200) -> None:
    r = requests.put(f"{fleet.base_url}/_fleet/catalog/{source}", params={"status": status}, data=body, timeout=30)
    r.raise_for_status()


def source_urls(fleet) -> dict[str, str]:
    return {
        "models_dev_url": f"{fleet.base_url}/catalog/models.dev/api.json",
        "litellm_url": f"{fleet.base_url}/catalog/litellm/model_prices_and_context_window.json",
    }
