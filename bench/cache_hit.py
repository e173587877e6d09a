"""Worker c=1 figures for the response cache: a hit against a miss.

    python3 bench/cache_hit.py --gateway-port G --gateway-pid GP --upstream-port U [--n 400] [--rounds 5]

Expects bench/cache_hit.sh's processes: the gateway under plain workerd with
`[cache]` on and its Cache API served by bench/upstream/cache.js (another
workerd), and the fake upstream. One request at a time, over one kept-alive
connection each, taking turns per round:

- direct: the upstream without the gateway (the floor);
- bypass: `cache-control: no-cache, no-store`, neither read nor stored (the
  gateway as without a cache, plus keying the request);
- miss: a new prompt each time: looked up, not found, relayed, then stored
  (after the response, under waitUntil);
- hit: one prompt stored before, answered from the cache.

Latency is the client's whole exchange (request sent to last byte); CPU is
the gateway's workerd on-CPU time (schedstat) over the batch, per request.
Prints JSON: per kind, p50/p99 ms and CPU-ms per request (medians over the
rounds), and the added latency (p50 against direct).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import procstat  # noqa: E402
from httpraw import Conn, ProtocolError, percentile  # noqa: E402

QUESTION = "What is the capital of France?"


def body(model: str, prompt: str) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]},
                      separators=(",", ":")).encode()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateway-port", type=int, required=True)
    p.add_argument("--gateway-pid", type=int, required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    gw, up = Conn("127.0.0.1", a.gateway_port), Conn("127.0.0.1", a.upstream_port)
    gw_h = {"authorization": "Bearer sk-bench", "content-type": "application/json"}
    up_h = {"authorization": "Bearer sk-upstream", "content-type": "application/json"}
    seq = iter(range(10**9))
    run_id = f"{time.time_ns():x}"

    def send(conn: Conn, headers: dict, payload: bytes):
        # workerd closes a connection left idle while the other kinds ran.
        try:
            return conn.request("POST", "/v1/chat/completions", headers, payload)
        except (ProtocolError, OSError):
            conn.close()
            return conn.request("POST", "/v1/chat/completions", headers, payload)

    def one(kind: str):
        if kind == "direct":
            return send(up, up_h, body("gpt-4.1-nano", QUESTION)), None
        if kind == "hit":
            r = send(gw, gw_h, body("bench", QUESTION))
            return r, "hit"
        if kind == "bypass":
            h = {**gw_h, "cache-control": "no-cache, no-store"}
            return send(gw, h, body("bench", QUESTION)), "bypass"
        # The same length as the hit's prompt, never seen before.
        prompt = f"{QUESTION[:-12]}{run_id[-4:]}{next(seq):08d}"
        return send(gw, gw_h, body("bench", prompt)), "stored"

    # Store the hit's answer, then check each kind answers as it should.
    send(gw, gw_h, body("bench", QUESTION))
    time.sleep(0.3)
    for kind in ("direct", "bypass", "miss", "hit"):
        r, want = one(kind)
        if r.status != 200 or (want and r.headers.get("x-dx-cache") != want):
            sys.exit(f"cache_hit: {kind}: HTTP {r.status}, x-dx-cache {r.headers.get('x-dx-cache')!r}: {r.body[:300]!r}")
    for kind in ("direct", "bypass", "miss", "hit"):  # warm-up
        for _ in range(100):
            one(kind)

    kinds = ["direct", "bypass", "miss", "hit"]
    out: dict = {k: {"p50": [], "p99": [], "cpu_ms": []} for k in kinds}
    for rnd in range(a.rounds):
        order = kinds[rnd % 4:] + kinds[:rnd % 4]
        for kind in order:
            times = []
            c0 = procstat.tree_cpu_ms(a.gateway_pid)["sched_ms"]
            for _ in range(a.n):
                r, want = one(kind)
                if r.status != 200 or (want and r.headers.get("x-dx-cache") != want):
                    sys.exit(f"cache_hit: {kind}: HTTP {r.status}, x-dx-cache {r.headers.get('x-dx-cache')!r}")
                times.append(r.total_ms)
            time.sleep(0.05)  # a miss's store, after its response
            c1 = procstat.tree_cpu_ms(a.gateway_pid)["sched_ms"]
            times.sort()
            out[kind]["p50"].append(percentile(times, 50))
            out[kind]["p99"].append(percentile(times, 99))
            out[kind]["cpu_ms"].append((c1 - c0) / a.n)
            print(f"[cache_hit] round {rnd + 1} {kind:<6} p50 {out[kind]['p50'][-1]:.3f} ms  "
                  f"p99 {out[kind]['p99'][-1]:.3f} ms  cpu {out[kind]['cpu_ms'][-1]:.3f} ms/req",
                  file=sys.stderr, flush=True)
    result = {k: {m: round(statistics.median(v), 3) for m, v in d.items()} for k, d in out.items()}
    for k in ("bypass", "miss", "hit"):
        result[k]["added_p50_ms"] = round(result[k]["p50"] - result["direct"]["p50"], 3)
        result[k]["added_p99_ms"] = round(result[k]["p99"] - result["direct"]["p99"], 3)
    result["n_per_round"], result["rounds"] = a.n, a.rounds
    result["loadavg"] = procstat.loadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
