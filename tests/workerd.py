"""The Worker bundle under plain ``workerd serve``, for what ``wrangler dev``
cannot show: ``request.cf`` set per request (``cfBlobHeader``), and several
isolates reaching one Durable Object namespace, as Cloudflare's locations do.

The bundle is ``wrangler deploy --dry-run``'s (the wasm ``scripts/build-worker.sh``
built is reused when present), so these run the very upload a deploy sends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from conftest import WRANGLER_ENV, wrangler_bin
from harness import REPO_ROOT, Proc, free_port, wait_http_ok

sys.path.insert(0, str(REPO_ROOT / "bench"))
from workerd_config import COMPAT_DATE, bundle_modules, capnp_str  # noqa: E402

WORKERD = REPO_ROOT / "node_modules" / ".bin" / "workerd"


def dry_run_bundle(out: Path) -> tuple[str, str]:
    """Bundles the Worker into ``out``; answers (entry module, wasm module)."""
    if not (out / "index.js").is_file():
        env = {**os.environ, **WRANGLER_ENV}
        if (REPO_ROOT / "worker" / "build" / "index.js").is_file():
            env["DX_SKIP_WORKER_BUILD"] = "1"
        built = subprocess.run([str(wrangler_bin()), "deploy", "--dry-run", "--outdir", str(out)],
                               cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return bundle_modules(out)


@dataclass
class Isolate:
    """One gateway service (its own isolate) with its own socket."""
    name: str
    env: dict[str, str]
    cf_header: str | None = None
    # Hosts the ledger Durable Objects; the others reach them through it.
    hosts_ledger: bool = False
    port: int = field(default_factory=free_port)


def serve(bundle: Path, isolates: list[Isolate], log: Path, ledger_dir: Path | None = None,
          ready: Callable[[requests.Response], bool] | None = None) -> tuple[Proc, dict[str, str]]:
    """One ``workerd serve`` running every isolate; answers the process and
    each isolate's base URL once all answer ``/health`` with 200 (or
    ``ready(response)``)."""
    entry, wasm = dry_run_bundle(bundle)
    services = [f'(name = {capnp_str(i.name)}, worker = .{i.name})' for i in isolates]
    services.append('(name = "internet", network = (allow = ["public", "private", "local"]))')
    if ledger_dir is not None:
        ledger_dir.mkdir(parents=True, exist_ok=True)
        services.append(f'(name = "ledger-disk", disk = (path = {capnp_str(str(ledger_dir))}, writable = true))')
    host = next((i.name for i in isolates if i.hosts_ledger), None)
    sockets = []
    workers = []
    for i in isolates:
        http = f"(cfBlobHeader = {capnp_str(i.cf_header)})" if i.cf_header else "()"
        sockets.append(f'(name = {capnp_str(i.name)}, address = "127.0.0.1:{i.port}", http = {http}, service = {capnp_str(i.name)})')
        bindings = [f"(name = {capnp_str(k)}, text = {capnp_str(v)})" for k, v in i.env.items()]
        extra = ""
        if host is not None:
            ns = '"Ledger"' if i.hosts_ledger else f'(className = "Ledger", serviceName = {capnp_str(host)})'
            bindings.append(f"(name = \"DX_LEDGER\", durableObjectNamespace = {ns})")
        if i.hosts_ledger:
            extra = ('  durableObjectNamespaces = [(className = "Ledger", uniqueKey = "dx-ledger-e2e", enableSql = true)],\n'
                     '  durableObjectStorage = (localDisk = "ledger-disk"),\n')
        joined = ",\n    ".join(bindings)
        workers.append(f'''const {i.name} :Workerd.Worker = (
  modules = [
    (name = {capnp_str(entry)}, esModule = embed {capnp_str(entry)}),
    (name = {capnp_str(wasm)}, wasm = embed {capnp_str(wasm)}),
  ],
  compatibilityDate = "{COMPAT_DATE}",
  bindings = [
    {joined}
  ],
{extra}  globalOutbound = "internet",
);
''')
    config = bundle / f"{log.stem}.capnp"
    config.write_text('using Workerd = import "/workerd/workerd.capnp";\n\n'
                      "const config :Workerd.Config = (\n  services = [\n    " + ",\n    ".join(services)
                      + "\n  ],\n  sockets = [\n    " + ",\n    ".join(sockets) + "\n  ],\n);\n\n"
                      + "\n".join(workers))
    proc = Proc("workerd", [str(WORKERD), "serve", str(config)], log)
    bases = {i.name: f"http://127.0.0.1:{i.port}" for i in isolates}
    try:
        for base in bases.values():
            wait_http_ok(f"{base}/health", proc, 60, ready)
    except BaseException:
        proc.stop()
        raise
    return proc, bases
