"""Added time to first streamed byte: gateway vs the upstream directly.

    python3 bench/ttfb.py --gateway-port G --upstream-port U [--n 200] [--warmup 20] --out FILE

Sends `"stream": true` chat requests one at a time, alternating direct and
via-gateway (the order flips every round so neither side always goes first),
each over its own keep-alive connection, and records per request:
  ttfb       send -> first response byte (status line)
  ttfb_body  send -> first body byte (the first SSE bytes)
  ttfc       send -> the first content delta (`"content":"` with text): a
             stream's role chunk comes first, and the gateway holds it until
             content shows (so that a failure before the first token can fall
             over, see core/src/relays/first_content.rs); what a user waits
             for is this one
  total      send -> end of the stream
Reports medians and the gateway-minus-direct differences; the budget is on
the median ttfb_body difference. Every response must be 200 and end with
`data: [DONE]`; failures are counted and reported, not hidden.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from httpraw import Conn, ProtocolError, summary  # noqa: E402

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


FIRST_CONTENT = re.compile(rb'"content":"[^"]')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gateway-port", type=int, required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--gateway-model", default="bench")
    p.add_argument("--direct-model", default="gpt-4.1-nano")
    p.add_argument("--out", required=True)
    a = p.parse_args()

    sides = {
        "direct": (Conn("127.0.0.1", a.upstream_port), "/v1/chat/completions", "Bearer sk-upstream",
                   json.dumps({"model": a.direct_model, "messages": PROMPT, "stream": True}).encode()),
        "gateway": (Conn("127.0.0.1", a.gateway_port), "/v1/chat/completions", "Bearer sk-bench",
                    json.dumps({"model": a.gateway_model, "messages": PROMPT, "stream": True}).encode()),
    }
    rec: dict[str, dict[str, list[float]]] = {s: {"ttfb": [], "ttfb_body": [], "ttfc": [], "total": [], "body_recvs": []}
                                         for s in sides}
    failures: dict[str, list[str]] = {s: [] for s in sides}
    deadline = time.monotonic() + a.max_seconds

    def one(side: str, keep: bool) -> None:
        conn, path, auth, body = sides[side]
        try:
            r = conn.request("POST", path, {"Authorization": auth, "Content-Type": "application/json",
                                            "Accept": "text/event-stream"}, body)
        except (OSError, ProtocolError) as e:
            conn.close()
            failures[side].append(f"{type(e).__name__}: {e}")
            return
        ok = r.status == 200 and r.body.rstrip().endswith(b"data: [DONE]")
        if not ok:
            failures[side].append(f"status {r.status}, body {r.body[:200]!r}")
            return
        content = FIRST_CONTENT.search(r.body)
        ttfc = r.until_ms(content.start()) if content else None
        if ttfc is None:
            failures[side].append(f"no content delta in {r.body[:200]!r}")
            return
        if keep:
            rec[side]["ttfc"].append(ttfc)
            rec[side]["ttfb"].append(r.ttfb_ms)
            rec[side]["ttfb_body"].append(r.ttfb_body_ms)
            rec[side]["total"].append(r.total_ms)
            rec[side]["body_recvs"].append(float(r.chunks))

    for i in range(a.warmup + a.n):
        if time.monotonic() > deadline:
            print(f"ttfb: stopped after {i} rounds (--max-seconds {a.max_seconds})", file=sys.stderr)
            break
        order = ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct")
        for side in order:
            one(side, keep=i >= a.warmup)
    for conn, *_ in sides.values():
        conn.close()

    out: dict = {"n_requested": a.n, "warmup": a.warmup}
    for side in sides:
        out[side] = {k: summary(v) for k, v in rec[side].items()}
        out[side]["failures"] = len(failures[side])
        out[side]["failure_samples"] = failures[side][:5]
    for k in ("ttfb", "ttfb_body", "ttfc", "total"):
        g, d = out["gateway"][k], out["direct"][k]
        out[f"added_{k}_ms"] = {q: round(g[q] - d[q], 4) for q in ("p50", "p90", "p99")}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"ttfb: direct p50 {out['direct']['ttfb_body']['p50']:.3f} ms, gateway p50 "
          f"{out['gateway']['ttfb_body']['p50']:.3f} ms, added {out['added_ttfb_body_ms']['p50']:.3f} ms "
          f"(failures: direct {out['direct']['failures']}, gateway {out['gateway']['failures']}); first content "
          f"p50 direct {out['direct']['ttfc']['p50']:.3f} / gateway {out['gateway']['ttfc']['p50']:.3f} ms, added p99 "
          f"{out['added_ttfc_ms']['p99']:.3f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
