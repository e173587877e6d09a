"""Writes the capnp configs for the two plain `workerd serve` processes.

    python3 bench/workerd_config.py gateway  --bundle DIR --port P --upstream-port U --out DIR/gateway.capnp
    python3 bench/workerd_config.py upstream --port U --out WORK/upstream/upstream.capnp
    python3 bench/workerd_config.py passthrough --port R --upstream-port U --out WORK/passthrough/passthrough.capnp
    python3 bench/workerd_config.py cache --port C --out WORK/cache/cache.capnp

gateway: the bundle that `wrangler deploy --dry-run --outdir DIR` wrote
(index.js + the .wasm module it imports), the DX_MASTER_KEY / DX_CONFIG text
bindings, and a `globalOutbound` network service that may reach loopback. The
config is written inside DIR because capnp `embed` paths are relative to the
config file.

upstream: bench/upstream/upstream.js and the two OpenAI fixtures, copied next
to the config.

gateway --cache-port C: the gateway with `[cache]` on (ttl_s = 3600) and its
Cache API (`cacheApiOutbound`) served by the cache process on port C.

cache: bench/upstream/cache.js, an in-memory Cache API backend, in a
workerd process of its own.

passthrough: bench/reference/passthrough.js, the reference floor (a JS Worker
that only forwards), with the upstream URL as a text binding.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPAT_DATE = "2026-04-01"
MASTER_KEY = "sk-bench"
UPSTREAM_KEY = "sk-upstream"
UPSTREAM_MODEL = "gpt-4.1-nano"


def capnp_str(s: str) -> str:
    """A capnp string literal (ASCII; C-style escapes)."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            raise SystemExit(f"workerd_config: non-ASCII character {ch!r} in a capnp string")
    return '"' + "".join(out) + '"'


# BENCH_GUARDRAILS=1: README's example sets (PII and secrets masked, two
# phrases blocked) on input and output, to measure what guardrails add.
GUARDRAILS = [
    {"name": "pii", "detectors": ["email", "payment_card", "secrets"], "action": "mask",
     "apply_to": ["input", "output"]},
    {"name": "banned", "keywords": ["project nightingale", "internal only"], "action": "block",
     "apply_to": ["input", "output"]},
]


STREAM_SHAPES = ["s20", "s500", "p20"]


def gateway_config(upstream_port: int, cache: bool = False) -> str:
    config: dict = {
        "general": {},
        "model_list": [{
            "model_name": "bench",
            "provider": "openai_compatible",
            "model": UPSTREAM_MODEL,
            "api_base": f"http://127.0.0.1:{upstream_port}/v1",
            "api_key": UPSTREAM_KEY,
        }],
    }
    if os.environ.get("BENCH_GUARDRAILS") == "1":
        config["guardrails"] = GUARDRAILS
    if cache:
        config["cache"] = {"ttl_s": 3600}
    # BENCH_GROUP=<strategy>: "bench" is a group of five deployments of the
    # same upstream under that strategy, to measure what routing adds.
    strategy = os.environ.get("BENCH_GROUP", "")
    if strategy:
        one = config["model_list"][0]
        regions = ["us-east-1", "eu-central-1", "ap-southeast-1", "europe-west4", "westus2"]
        config["model_list"] = [{**one, "id": f"d{i}", "region": r} for i, r in enumerate(regions)]
        config["router_settings"] = {"routing_strategy": strategy}
    # Streams of a given shape (bench/upstream/upstream.js): `bench-s20` is
    # 20 events unpaced, `bench-p20` 20 events 5 ms apart.
    base = {k: v for k, v in config["model_list"][0].items() if k not in ("id", "region")}
    for shape in STREAM_SHAPES:
        config["model_list"].append({**base, "model_name": f"bench-{shape}", "model": shape})
    return json.dumps(config, separators=(",", ":"))


def bundle_modules(bundle: pathlib.Path) -> tuple[str, str]:
    """(entry module, wasm module name) of a wrangler dry-run bundle."""
    index = bundle / "index.js"
    if not index.is_file():
        raise SystemExit(f"workerd_config: {index} missing (did `wrangler deploy --dry-run --outdir` run?)")
    src = index.read_text()
    specs = set(re.findall(r'''(?:from|import)\s*["']([^"']+)["']''', src))
    relative = sorted(s for s in specs if not s.startswith(("cloudflare:", "node:")))
    wasm = [s for s in relative if s.endswith(".wasm")]
    other = [s for s in relative if not s.endswith(".wasm")]
    if len(wasm) != 1 or other:
        raise SystemExit(f"workerd_config: expected index.js to import exactly one .wasm module and "
                         f"nothing else relative; it imports {relative}")
    name = wasm[0].removeprefix("./")
    if "/" in name or not (bundle / name).is_file():
        raise SystemExit(f"workerd_config: index.js imports {wasm[0]!r}, not found in {bundle}")
    return "index.js", name


def write_gateway(args: argparse.Namespace) -> None:
    bundle = pathlib.Path(args.bundle).resolve()
    entry, wasm = bundle_modules(bundle)
    out = pathlib.Path(args.out).resolve()
    if out.parent != bundle:
        raise SystemExit("workerd_config: the gateway config must live in the bundle dir (embed paths are relative)")
    # --ledger DIR: the Ledger Durable Object namespace (virtual keys and
    # budgets), SQLite on disk in DIR, as `wrangler.toml` declares it.
    ledger_service, ledger_binding, ledger_ns = "", "", ""
    if args.ledger:
        ledger = pathlib.Path(args.ledger).resolve()
        ledger.mkdir(parents=True, exist_ok=True)
        ledger_service = f'\n    (name = "ledger-disk", disk = (path = {capnp_str(str(ledger))}, writable = true)),'
        ledger_binding = '\n    (name = "DX_LEDGER", durableObjectNamespace = "Ledger"),'
        ledger_ns = ('\n  durableObjectNamespaces = [(className = "Ledger", uniqueKey = "dx-ledger-bench", enableSql = true)],'
                     '\n  durableObjectStorage = (localDisk = "ledger-disk"),')
    cache_service, cache_outbound = "", ""
    if args.cache_port:
        cache_service = f'\n    (name = "cache", external = (address = "127.0.0.1:{args.cache_port}", http = ())),'
        cache_outbound = '\n  cacheApiOutbound = "cache",'
    out.write_text(f'''# Generated by bench/workerd_config.py -- the gateway under plain workerd.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "gateway", worker = .gateway),
    (name = "internet", network = (allow = ["public", "private", "local"])),{ledger_service}{cache_service}
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:{args.port}", http = (), service = "gateway"),
  ],
);

const gateway :Workerd.Worker = (
  modules = [
    (name = {capnp_str(entry)}, esModule = embed {capnp_str(entry)}),
    (name = {capnp_str(wasm)}, wasm = embed {capnp_str(wasm)}),
  ],
  compatibilityDate = "{COMPAT_DATE}",
  bindings = [
    (name = "DX_MASTER_KEY", text = {capnp_str(MASTER_KEY)}),
    (name = "DX_CONFIG", text = {capnp_str(gateway_config(args.upstream_port, bool(args.cache_port)))}),{ledger_binding}
  ],{ledger_ns}
  globalOutbound = "internet",{cache_outbound}
);
''')
    print(wasm)


def write_upstream(args: argparse.Namespace) -> None:
    out = pathlib.Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "bench/upstream/upstream.js", out.parent / "upstream.js")
    shutil.copyfile(ROOT / "fixtures/openai/chat-completion-text.json", out.parent / "completion.json")
    shutil.copyfile(ROOT / "fixtures/openai/chat-stream-text-usage.sse", out.parent / "stream.sse")
    out.write_text(f'''# Generated by bench/workerd_config.py -- the fake OpenAI upstream.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "upstream", worker = .upstream)],
  sockets = [(name = "http", address = "127.0.0.1:{args.port}", http = (), service = "upstream")],
);

const upstream :Workerd.Worker = (
  modules = [
    (name = "upstream.js", esModule = embed "upstream.js"),
    (name = "completion.json", text = embed "completion.json"),
    (name = "stream.sse", text = embed "stream.sse"),
  ],
  compatibilityDate = "{COMPAT_DATE}",
);
''')


def write_passthrough(args: argparse.Namespace) -> None:
    """A reference Worker from bench/reference/ (`--script`, default the JS
    passthrough) with the upstream's URL as UPSTREAM and `--mode` as MODE."""
    out = pathlib.Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    script = args.script or "passthrough.js"
    shutil.copyfile(ROOT / "bench/reference" / script, out.parent / script)
    mode = f", (name = \"MODE\", text = {capnp_str(args.mode)})" if args.mode else ""
    out.write_text(f'''# Generated by bench/workerd_config.py -- the reference Worker {script}.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "passthrough", worker = .passthrough),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{args.port}", http = (), service = "passthrough")],
);

const passthrough :Workerd.Worker = (
  modules = [(name = "{script}", esModule = embed "{script}")],
  compatibilityDate = "{COMPAT_DATE}",
  bindings = [(name = "UPSTREAM", text = "http://127.0.0.1:{args.upstream_port}"){mode}],
  globalOutbound = "internet",
);
''')


def write_cache(args: argparse.Namespace) -> None:
    out = pathlib.Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "bench/upstream/cache.js", out.parent / "cache.js")
    out.write_text(f'''# Generated by bench/workerd_config.py -- an in-memory Cache API backend.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "cache", worker = .cache)],
  sockets = [(name = "http", address = "127.0.0.1:{args.port}", http = (), service = "cache")],
);

const cache :Workerd.Worker = (
  modules = [(name = "cache.js", esModule = embed "cache.js")],
  compatibilityDate = "{COMPAT_DATE}",
);
''')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["gateway", "upstream", "passthrough", "cache", "dx-config"])
    p.add_argument("--bundle")
    p.add_argument("--port", type=int)
    p.add_argument("--upstream-port", type=int)
    p.add_argument("--out")
    p.add_argument("--cache-port", type=int, help="gateway: [cache] on, its Cache API served on this port")
    p.add_argument("--ledger", help="gateway: a directory for the Ledger Durable Objects' SQLite files")
    p.add_argument("--script", help="passthrough: another reference Worker of bench/reference/")
    p.add_argument("--mode", help="passthrough: the reference Worker's MODE binding")
    args = p.parse_args()
    if args.kind == "gateway":
        write_gateway(args)
    elif args.kind == "upstream":
        write_upstream(args)
    elif args.kind == "passthrough":
        write_passthrough(args)
    elif args.kind == "cache":
        write_cache(args)
    else:  # the same DX_CONFIG, for the Lambda run
        sys.stdout.write(gateway_config(args.upstream_port))


if __name__ == "__main__":
    main()
