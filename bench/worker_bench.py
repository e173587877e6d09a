"""Worker figures: added latency, throughput and CPU per request, added TTFB.

    python3 bench/worker_bench.py --gateway-port G --gateway-pid GP --upstream-port U --upstream-pid UP \\
        --work DIR --out FILE [--seconds 10] [--warmup-seconds 3] [--conns 32] [--load-cpu 1] [--ttfb-n 200]

Expects the gateway (plain `workerd serve` on the wrangler dry-run bundle,
pinned to one core) and the fake upstream (bench/upstream/upstream.js under
workerd) to be listening already; bench/e2e.sh starts both. This script:

1. smoke-checks both (non-stream and stream through the gateway, and a wrong
   key), and stops if the gateway does not answer like the upstream would;
2. warms up, then runs wrk (bench/post.lua) pinned to --load-cpu: c=1
   direct, via the gateway and (with --ref-port) via the JS passthrough
   reference, taking turns over --rounds rounds, each request timed exactly;
   then c=32 via the gateway, direct, and via the reference (wrk's own
   figures), reading utime+stime of the Worker's workerd and per-core busy
   time from /proc around each run;
3. runs bench/ttfb.py for the streamed time to first byte.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import procstat  # noqa: E402
from httpraw import Conn, ProtocolError  # noqa: E402

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
GW_AUTH = "Bearer sk-bench"
UP_AUTH = "Bearer sk-upstream"


def log(msg: str) -> None:
    print(f"[worker] {msg}", file=sys.stderr, flush=True)


def body(model: str, stream: bool = False) -> bytes:
    doc: dict = {"model": model, "messages": PROMPT}
    if stream:
        # With usage in the stream, as an accounting client asks for it.
        doc["stream"] = True
        doc["stream_options"] = {"include_usage": True}
    return json.dumps(doc, separators=(",", ":")).encode()


def smoke(a: argparse.Namespace) -> dict:
    """One request of each kind; the run stops here if the gateway misbehaves."""
    out: dict = {}
    problems: list[str] = []
    checks = [
        ("direct", a.upstream_port, UP_AUTH, body("gpt-4.1-nano"), b'"chat.completion"', 200),
        ("gateway", a.gateway_port, GW_AUTH, body("bench"), b'"chat.completion"', 200),
        ("gateway_stream", a.gateway_port, GW_AUTH, body("bench", True), b"data: [DONE]", 200),
        ("gateway_stream_s500", a.gateway_port, GW_AUTH, body("bench-s500", True), b'"completion_tokens":500', 200),
        ("gateway_wrong_key", a.gateway_port, "Bearer sk-wrong", body("bench"), b"", 401),
    ]
    for name, port, auth, payload, must, want in checks:
        conn = Conn("127.0.0.1", port)
        try:
            r = conn.request("POST", "/v1/chat/completions", {"Authorization": auth, "Content-Type": "application/json"}, payload)
        except (OSError, ProtocolError) as e:
            problems.append(f"{name}: {type(e).__name__}: {e}")
            continue
        finally:
            conn.close()
        out[name] = {"status": r.status, "ms": round(r.total_ms, 3), "bytes": len(r.body),
                     "headers": {k: v for k, v in r.headers.items() if k.startswith("x-") or k == "content-type"}}
        if r.status != want or must not in r.body:
            out[name]["body_head"] = r.body[:300].decode("utf-8", "replace")
            problems.append(f"{name}: status {r.status} (want {want}), body {r.body[:200]!r}")
    if out.get("direct") and out.get("gateway") and out["direct"]["bytes"] != out["gateway"]["bytes"]:
        out["note"] = (f"non-stream body size differs: direct {out['direct']['bytes']} B, "
                       f"gateway {out['gateway']['bytes']} B")
    out["problems"] = problems
    return out


def wrk(a: argparse.Namespace, name: str, port: int, pid: int, model: str, auth: str, conns: int,
        seconds: float, mode: str, samples: bool = False, stream: bool = False) -> dict:
    """One wrk run pinned to the load core, with /proc CPU accounting of `pid` (the Worker under test)."""
    body_file = os.path.join(a.work, f"body-{model}{'-stream' if stream else ''}.json")
    with open(body_file, "wb") as f:
        f.write(body(model, stream))
    json_file = os.path.join(a.work, f"wrk-{name}.json")
    samples_file = os.path.join(a.work, f"wrk-{name}.samples")
    for path in (json_file, samples_file):
        if os.path.exists(path):
            os.remove(path)
    env = dict(os.environ, BENCH_BODY_FILE=body_file, BENCH_AUTH=auth, BENCH_WRK_JSON=json_file, BENCH_WRK_MODE=mode,
               BENCH_WRK_SAMPLES=samples_file if samples else "")
    cmd = ["taskset", "-c", str(a.load_cpu), "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s",
           "--latency", "--timeout", "5s", "-s", os.path.join(HERE, "post.lua"),
           f"http://127.0.0.1:{port}/v1/chat/completions"]
    gw0, up0 = procstat.tree_cpu_ms(pid), procstat.tree_cpu_ms(a.upstream_pid)
    cores0, t0 = procstat.cores_busy_ms(), time.monotonic()
    with open(os.path.join(a.work, f"wrk-{name}.txt"), "w") as f:
        subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=seconds + 60, check=True)
    wall_ms = (time.monotonic() - t0) * 1000
    gw1, up1 = procstat.tree_cpu_ms(pid), procstat.tree_cpu_ms(a.upstream_pid)
    cores1 = procstat.cores_busy_ms()
    with open(json_file) as f:
        res = json.load(f)
    res.update({
        "name": name, "connections": conns, "wall_ms": round(wall_ms, 1),
        "gateway_cpu_ms": {k: round(gw1[k] - gw0[k], 1) for k in gw0},
        "upstream_cpu_ms": {k: round(up1[k] - up0[k], 1) for k in up0},
        "core_busy_ms": {str(c): round(cores1[c] - cores0[c], 1) for c in cores0 if c in cores1},
    })
    if samples and os.path.exists(samples_file):
        with open(samples_file) as f:
            res["_samples"] = [float(x) for x in f if x.strip()]
    e = res["errors"]
    res["ok"] = res["requests"] > 0 and not any(e.values()) and \
        all(k == "200" for k in res.get("statuses", {"200": 1}))
    return res


def c1_rounds(a: argparse.Namespace, targets: dict[str, tuple[int, int, str, str]], rounds: int,
              seconds: float) -> dict[str, dict]:
    """c=1 latency, the targets taking turns: `rounds` wrk runs each of seconds/rounds.

    Bursts of outside load (a build on the other core) then hit every target
    alike instead of whichever ran at the time. The first request of each run
    (a new connection) is dropped. Percentiles are over the merged samples.
    """
    per = max(1.0, seconds / rounds)
    merged: dict[str, dict] = {}
    names = list(targets)
    for r in range(rounds):
        for key in (names if r % 2 == 0 else names[::-1]):
            port, pid, model, auth = targets[key]
            res = wrk(a, f"c1-{key}-r{r}", port, pid, model, auth, 1, per, "exact", samples=True)
            m = merged.setdefault(key, {"samples": [], "requests": 0, "duration_s": 0.0, "runs": [],
                                        "gateway_cpu_ms": 0.0, "other_load_on_gateway_core_ms": 0.0,
                                        "errors": {}, "statuses": {}, "ok": True})
            m["samples"] += res.pop("_samples", [])[1:]
            m["requests"] += res["requests"]
            m["duration_s"] += res["duration_s"]
            if pid != a.upstream_pid:  # a Worker on the gateway core (direct runs have none)
                m["gateway_cpu_ms"] += res["gateway_cpu_ms"]["stat_ms"]
                m["other_load_on_gateway_core_ms"] += (res["core_busy_ms"].get(str(a.gateway_cpu), 0.0)
                                                       - res["gateway_cpu_ms"]["stat_ms"])
            for k, v in res["errors"].items():
                m["errors"][k] = m["errors"].get(k, 0) + v
            for k, v in res.get("statuses", {}).items():
                m["statuses"][k] = m["statuses"].get(k, 0) + v
            m["ok"] = m["ok"] and res["ok"]
            m["runs"].append({k: res[k] for k in ("name", "requests", "rps", "latency_us") if k in res})
    for m in merged.values():
        s = sorted(m.pop("samples"))
        m["latency_us"] = {"n": len(s), "min": s[0] if s else 0, "mean": round(sum(s) / len(s), 1) if s else 0,
                           "p50": pct(s, 50), "p75": pct(s, 75), "p90": pct(s, 90), "p99": pct(s, 99),
                           "p99_9": pct(s, 99.9), "max": s[-1] if s else 0}
        round_p99 = sorted(r["latency_us"]["p99"] for r in m["runs"] if "latency_us" in r)
        m["median_of_round_p99_us"] = round_p99[len(round_p99) // 2] if round_p99 else 0
        m["rps"] = round(m["requests"] / m["duration_s"], 1) if m["duration_s"] else 0
        m["gateway_cpu_ms"] = round(m["gateway_cpu_ms"], 1)
        m["other_load_on_gateway_core_ms"] = round(m["other_load_on_gateway_core_ms"], 1)
    return merged


def streams(a: argparse.Namespace, gw: tuple, ref: tuple | None) -> dict:
    """CPU per streamed request and unpaced stream throughput, at 20 and 500 events.

    wrk at c=32 pulls `bench-s20` / `bench-s500` streams (usage in the stream)
    through the gateway, and the same shapes through the JS passthrough
    reference, for --seconds each. The gateway core is saturated, so streams/s
    is the per-core figure and CPU-ms per stream is utime+stime ÷ streams.
    """
    out: dict = {"connections": a.conns, "ok": True}
    for shape in ("s20", "s500"):
        sides = {"gateway": (gw[0], gw[1], f"bench-{shape}", gw[3])}
        if ref:
            sides["passthrough"] = (ref[0], ref[1], shape, ref[3])
        for side, (port, pid, model, auth) in sides.items():
            wrk(a, f"warmup-stream-{shape}-{side}", port, pid, model, auth, a.conns, max(1.0, a.warmup_seconds / 2),
                "fast", stream=True)
            log(f"streams of {shape[1:]} events via {side}, c={a.conns}, {a.seconds:.0f}s")
            r = wrk(a, f"stream-{shape}-{side}", port, pid, model, auth, a.conns, a.seconds, "fast", stream=True)
            cpu = r["gateway_cpu_ms"]["stat_ms"]
            out[f"{side}_{shape}"] = {
                "streams_per_s": round(r["rps"], 1),
                "streams": r["requests"],
                "cpu_ms_per_stream": round(cpu / max(r["requests"], 1), 4),
                "cpu_ms_per_stream_schedstat": round(r["gateway_cpu_ms"]["sched_ms"] / max(r["requests"], 1), 4),
                "gateway_core_utilization": round(cpu / (r["duration_s"] * 1000), 3),
                "load_core_utilization": round(r["core_busy_ms"].get(str(a.load_cpu), float("nan"))
                                               / (r["duration_s"] * 1000), 3),
                "ok": r["ok"],
                "errors": r["errors"],
                "statuses": r.get("statuses", {}),
            }
            out["ok"] = out["ok"] and r["ok"]
    return out


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    i = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[i - 1]


def gateway_log(path: str) -> dict:
    """What the gateway printed: its JSON access-log lines (by status, by error) and anything else."""
    out: dict = {"lines": 0, "access_log_statuses": {}, "errors": {}, "other_lines": 0, "other_samples": []}
    if not path or not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            out["lines"] += 1
            line = line.strip()
            try:
                doc = json.loads(line) if line.startswith("{") else None
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "status" in doc:
                k = str(doc["status"])
                out["access_log_statuses"][k] = out["access_log_statuses"].get(k, 0) + 1
                if doc.get("error"):
                    e = str(doc["error"])[:120]
                    out["errors"][e] = out["errors"].get(e, 0) + 1
            elif line:
                out["other_lines"] += 1
                if len(out["other_samples"]) < 5:
                    out["other_samples"].append(line[:300])
    return out


def lat_ms(run: dict, key: str) -> float:
    return run["latency_us"][key] / 1000 if "latency_us" in run else run["wrk_latency_us"][key] / 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateway-port", type=int, required=True)
    p.add_argument("--gateway-pid", type=int, required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--upstream-pid", type=int, required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--warmup-seconds", type=float, default=3)
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--gateway-cpu", type=int, default=0)
    p.add_argument("--ttfb-n", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5, help="c=1: turns per target")
    p.add_argument("--c1-seconds", type=float, default=30, help="c=1: measured seconds per target in all")
    p.add_argument("--gateway-log", help="the gateway workerd's output, summarized into the result")
    p.add_argument("--ref-port", type=int, help="the JS passthrough reference Worker, if running")
    p.add_argument("--ref-pid", type=int)
    a = p.parse_args()

    res: dict = {"seconds": a.seconds, "warmup_seconds": a.warmup_seconds, "conns": a.conns,
                 "gateway_cpu": a.gateway_cpu, "load_cpu": a.load_cpu}
    log("smoke checks")
    res["smoke"] = smoke(a)
    if res["smoke"]["problems"]:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2)
        log("smoke checks failed: " + "; ".join(res["smoke"]["problems"]))
        sys.exit(2)

    W, S = a.warmup_seconds, a.seconds
    GW = (a.gateway_port, a.gateway_pid, "bench", GW_AUTH)
    UP = (a.upstream_port, a.upstream_pid, "gpt-4.1-nano", UP_AUTH)
    REF = (a.ref_port, a.ref_pid, "bench", GW_AUTH) if a.ref_port and a.ref_pid else None
    log(f"warm-up {W:.0f}s each (c=1)")
    wrk(a, "warmup-c1-gateway", *GW, 1, W, "fast")
    wrk(a, "warmup-c1-direct", *UP, 1, W, "fast")
    if REF:
        wrk(a, "warmup-c1-passthrough", *REF, 1, W, "fast")
    targets = {"direct": UP, "gateway": GW, **({"passthrough": REF} if REF else {})}
    log(f"c=1: {', '.join(targets)} taking turns, {a.rounds} rounds, {a.c1_seconds:.0f}s each in all")
    c1 = c1_rounds(a, targets, a.rounds, a.c1_seconds)
    runs = {f"c1_{k}": v for k, v in c1.items()}
    log(f"warm-up {W:.0f}s (c={a.conns})")
    wrk(a, f"warmup-c{a.conns}-gateway", *GW, a.conns, W, "fast")
    log(f"c={a.conns} via gateway, {S:.0f}s")
    runs["cN_gateway"] = wrk(a, f"c{a.conns}-gateway", *GW, a.conns, S, "fast")
    log(f"c={a.conns} direct (upstream capacity on the load core), {S:.0f}s")
    runs["cN_direct"] = wrk(a, f"c{a.conns}-direct", *UP, a.conns, S, "fast")
    if REF:
        log(f"c={a.conns} via the JS passthrough reference, {S:.0f}s")
        runs["cN_passthrough"] = wrk(a, f"c{a.conns}-passthrough", *REF, a.conns, S, "fast")
    res["runs"] = runs

    def throughput(n: dict) -> dict:
        cpu = n["gateway_cpu_ms"]["stat_ms"]
        busy = n["core_busy_ms"].get(str(a.gateway_cpu), float("nan"))
        return {
            "connections": a.conns,
            "rps": round(n["rps"], 1),
            "requests": n["requests"],
            "gateway_cpu_ms": cpu,
            "cpu_ms_per_request": round(cpu / max(n["requests"], 1), 4),
            "cpu_ms_per_request_schedstat": round(n["gateway_cpu_ms"]["sched_ms"] / max(n["requests"], 1), 4),
            "gateway_core_utilization": round(cpu / (n["duration_s"] * 1000), 3),
            "rps_per_core_projected": round(1000 / (cpu / n["requests"]), 1) if n["requests"] and cpu else None,
            "other_load_on_gateway_core_ms": round(busy - cpu, 1),
            "load_core_utilization": round(n["core_busy_ms"].get(str(a.load_cpu), float("nan")) / (n["duration_s"] * 1000), 3),
            "wrk_latency_ms_corrected": {k: round(n["wrk_latency_us"][k] / 1000, 3) for k in ("p50", "p99")},
        }

    d, g = runs["c1_direct"], runs["c1_gateway"]
    res["latency_c1"] = {
        "rounds": a.rounds,
        "direct_p50_ms": round(lat_ms(d, "p50"), 4), "direct_p99_ms": round(lat_ms(d, "p99"), 4),
        "gateway_p50_ms": round(lat_ms(g, "p50"), 4), "gateway_p99_ms": round(lat_ms(g, "p99"), 4),
        "added_p50_ms": round(lat_ms(g, "p50") - lat_ms(d, "p50"), 4),
        "added_p99_ms": round(lat_ms(g, "p99") - lat_ms(d, "p99"), 4),
        "samples": {"direct": d["latency_us"]["n"], "gateway": g["latency_us"]["n"]},
        # Less sensitive to a burst of outside load in one round than the merged p99:
        "added_p99_median_of_rounds_ms": round((g["median_of_round_p99_us"] - d["median_of_round_p99_us"]) / 1000, 4),
        # At c=1 this includes work workerd does while idle between requests (e.g. GC),
        # so it is higher than the c=32 figure; the budget is on the c=32 one.
        "gateway_cpu_ms_per_request": round(g["gateway_cpu_ms"] / max(g["requests"], 1), 4),
        "other_load_on_gateway_core_ms": g["other_load_on_gateway_core_ms"],
    }
    res["throughput"] = throughput(runs["cN_gateway"])
    res["throughput"]["direct_rps_same_load_core"] = round(runs["cN_direct"]["rps"], 1)

    if REF:
        r1, rn = runs["c1_passthrough"], throughput(runs["cN_passthrough"])
        res["reference_passthrough"] = {
            "what": "bench/reference/passthrough.js under the same workerd setup",
            "added_p50_ms": round(lat_ms(r1, "p50") - lat_ms(d, "p50"), 4),
            "added_p99_ms": round(lat_ms(r1, "p99") - lat_ms(d, "p99"), 4),
            "rps": rn["rps"],
            "cpu_ms_per_request": rn["cpu_ms_per_request"],
            "core_utilization": rn["gateway_core_utilization"],
            "load_core_utilization": rn["load_core_utilization"],
        }
        ref = res["reference_passthrough"]
        res["gateway_minus_passthrough"] = {
            "p50_ms": round(res["latency_c1"]["added_p50_ms"] - ref["added_p50_ms"], 4),
            "p99_ms": round(res["latency_c1"]["added_p99_ms"] - ref["added_p99_ms"], 4),
            "cpu_ms_per_request": round(res["throughput"]["cpu_ms_per_request"] - ref["cpu_ms_per_request"], 4),
        }
    res["all_runs_ok"] = all(r["ok"] for r in runs.values())

    res["streams"] = streams(a, GW, REF)
    res["all_runs_ok"] = res["all_runs_ok"] and res["streams"]["ok"]

    log(f"streamed TTFB, {a.ttfb_n} requests each side")
    ttfb_file = os.path.join(a.work, "ttfb.json")
    subprocess.run(["taskset", "-c", str(a.load_cpu), sys.executable, os.path.join(HERE, "ttfb.py"),
                    "--gateway-port", str(a.gateway_port), "--upstream-port", str(a.upstream_port),
                    "--n", str(a.ttfb_n), "--out", ttfb_file], check=True, timeout=300)
    with open(ttfb_file) as f:
        res["ttfb"] = json.load(f)
    paced_n = max(20, a.ttfb_n // 2)
    log(f"paced streamed TTFB (20 events 5 ms apart), {paced_n} requests each side")
    paced_file = os.path.join(a.work, "ttfb-paced.json")
    subprocess.run(["taskset", "-c", str(a.load_cpu), sys.executable, os.path.join(HERE, "ttfb.py"),
                    "--gateway-port", str(a.gateway_port), "--upstream-port", str(a.upstream_port),
                    "--gateway-model", "bench-p20", "--direct-model", "p20",
                    "--n", str(paced_n), "--out", paced_file], check=True, timeout=300)
    with open(paced_file) as f:
        res["ttfb_paced"] = json.load(f)
    res["gateway_log"] = gateway_log(a.gateway_log)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
