"""A LiteLLM ``config.yaml`` as ``DX_CONFIG`` on both shells (issue 12).

The file below is in the shape LiteLLM's docs give (``model_list`` with
``litellm_params``, ``os.environ/`` keys, ``router_settings``,
``litellm_settings.fallbacks``, plus settings this gateway does not use),
pointed at the fake fleet. The Worker runs it under plain ``workerd serve``
(the same bundle ``wrangler dev`` serves), the Lambda binary on its runtime
loop. Each must load it and route as LiteLLM would: a two-deployment group
shuffled over both, a failing primary falling back across wire formats to
the group ``litellm_settings.fallbacks`` names. A file that is not valid
YAML refuses requests with ``config_error``, never echoing the file."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests

from conftest import MASTER_KEY, selected_shells, start_lambda
from workerd import Isolate, serve

CONFIG = """\
# LiteLLM proxy config (docs: "Quick Start", "Load Balancing", "Fallbacks")
model_list:
  - model_name: yaml-pair
    litellm_params:
      model: openai/gpt-4o-mini-yaml-a
      api_base: {fleet}/openai/v1
      api_key: os.environ/FLEET_OPENAI_KEY
      rpm: 600
    model_info:
      id: yaml-a
  - model_name: yaml-pair
    litellm_params:
      model: openai/gpt-4o-mini-yaml-b
      api_base: {fleet}/openai/v1
      api_key: os.environ/FLEET_OPENAI_KEY
      rpm: 600
    model_info:
      id: yaml-b
  - model_name: yaml-broken
    litellm_params:
      model: "openai/fault:status=500|gpt-4o-mini-yaml-broken"
      api_base: {fleet}/openai/v1
      api_key: os.environ/FLEET_OPENAI_KEY
    model_info:
      id: yaml-broken-1
  - model_name: yaml-claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5-yaml-backup
      api_base: {fleet}/anthropic
      api_key: os.environ/FLEET_ANTHROPIC_KEY
    model_info:
      id: yaml-claude-1

router_settings:
  routing_strategy: simple-shuffle
  num_retries: 0
  allowed_fails: 3
  cooldown_time: 30
  redis_host: os.environ/REDIS_HOST   # not used: cooldowns are per instance

litellm_settings:
  drop_params: true
  request_timeout: 20
  fallbacks: [{"yaml-broken": ["yaml-claude"]}]
  success_callback: ["langfuse"]

general_settings:
  master_key: os.environ/DX_MASTER_KEY
"""

SHELLS = [s for s in ("worker", "lambda") if s in selected_shells()]


def env_for(fleet, gateway_env: dict[str, str], config: str) -> dict[str, str]:
    # The fleet's faces accept only their own keys: a 200 means the
    # `os.environ/` references resolved.
    keys = {k: gateway_env[k] for k in ("FLEET_OPENAI_KEY", "FLEET_ANTHROPIC_KEY")}
    return {"DX_CONFIG": config.replace("{fleet}", fleet.base_url), "DX_MASTER_KEY": MASTER_KEY, **keys}


def start(shell: str, name: str, workdir: Path, env: dict[str, str]):
    """(base URL, stop) of one gateway of ``shell`` under ``env``."""
    if shell == "worker":
        proc, bases = serve(workdir / "bundle", [Isolate("gateway", env)], workdir / f"workerd-{name}.log")
        return bases["gateway"], proc.stop
    gw = start_lambda(f"lambda-{name}", workdir, env, instances=1)
    assert gw.proc is not None
    return gw.base_url, gw.proc.stop


@pytest.fixture(scope="module", params=SHELLS)
def yaml_gateway(request, workdir: Path, fleet, gateway_env):
    base, stop = start(request.param, "litellm-yaml", workdir, env_for(fleet, gateway_env, CONFIG))
    try:
        yield base
    finally:
        stop()


def ask(base: str, model: str, marker: str) -> requests.Response:
    return requests.post(
        f"{base}/v1/chat/completions",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"model": model, "messages": [{"role": "user", "content": f"hello {marker}"}]},
        timeout=30,
    )


def test_a_group_from_the_yaml_spreads_over_both_deployments(yaml_gateway, fleet):
    marker = uuid.uuid4().hex
    served = {}
    for _ in range(24):
        r = ask(yaml_gateway, "yaml-pair", marker)
        assert r.status_code == 200, r.text
        served[r.headers["x-dx-deployment"]] = served.get(r.headers["x-dx-deployment"], 0) + 1
    assert set(served) == {"yaml-a", "yaml-b"}, served
    # The fleet saw each request once, at the upstream model LiteLLM's
    # `openai/<model>` names, with the key `os.environ/` resolved.
    seen = [fleet.requests(m) for m in ("gpt-4o-mini-yaml-a", "gpt-4o-mini-yaml-b")]
    hits = [[x for x in s if marker in str(x.get("body"))] for s in seen]
    assert [len(h) for h in hits] == [served["yaml-a"], served["yaml-b"]]


def test_the_yaml_fallback_goes_across_formats(yaml_gateway, fleet):
    marker = uuid.uuid4().hex
    r = ask(yaml_gateway, "yaml-broken", marker)
    assert r.status_code == 200, r.text
    assert r.headers["x-dx-fallback"].startswith("yaml-broken -> yaml-claude ("), r.headers["x-dx-fallback"]
    assert r.json()["choices"][0]["message"]["content"]
    # Tried once (num_retries: 0), then the Anthropic backup once.
    fleet.request_with("fault:status=500|gpt-4o-mini-yaml-broken", marker)
    fleet.request_with("claude-sonnet-4-5-yaml-backup", marker)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_broken_yaml_refuses_requests_without_echoing_it(shell, workdir: Path, fleet, gateway_env):
    secret = "sk-literal-yaml-0123456789"
    broken = CONFIG + f"  extra_key: [\"{secret}\"\n"  # an unclosed flow sequence
    env = env_for(fleet, gateway_env, broken)
    if shell == "worker":
        proc, bases = serve(workdir / "bundle", [Isolate("gateway", env)], workdir / "workerd-broken-yaml.log",
                            ready=lambda r: r.status_code == 500)
        base, stop = bases["gateway"], proc.stop
    else:
        gw = start_lambda("lambda-broken-yaml", workdir, env, instances=1)
        assert gw.proc is not None
        base, stop = gw.base_url, gw.proc.stop
    try:
        r = ask(base, "yaml-pair", "x")
        assert r.status_code == 500, r.text
        assert r.json()["error"]["code"] == "config_error", r.text
        assert secret not in r.text
    finally:
        stop()
