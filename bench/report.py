"""Bundle sizes, and the final report: bench/out/e2e.json plus a summary.

    python3 bench/report.py size --bundle DIR --wrangler-log FILE --out FILE
    python3 bench/report.py final --meta F --size F [--worker F] [--lambda F] --out bench/out/e2e.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess

MiB = 1024 * 1024

# (key, label, unit, budget, "le" | "ge")
BUDGETS = {
    "worker_upload_gzip_bytes": ("Worker upload, gzip -9", "MiB", 1 * MiB, "le"),
    "added_latency_p50_ms": ("added latency c=1, p50", "ms", 0.45, "le"),
    "added_latency_p99_ms": ("added latency c=1, p99", "ms", 0.7, "le"),
    "rps_c32": ("throughput c=32 (one core)", "req/s", 4000, "ge"),
    "cpu_ms_per_request": ("gateway CPU per request, c=32", "ms", 0.25, "le"),
    "added_ttfb_ms": ("added TTFB, streamed, median", "ms", 1.0, "le"),
    "cpu_ms_per_stream_20": ("CPU per 20-event stream, c=32", "ms", 0.6, "le"),
    "cpu_ms_per_stream_500": ("CPU per 500-event stream, c=32", "ms", 6.0, "le"),
    "streams_per_s_20": ("unpaced 20-event streams (one core)", "streams/s", 1500, "ge"),
    "paced_ttfb_p99_ms": ("paced stream TTFB, p99", "ms", 5.0, "le"),
    "lambda_binary_bytes": ("Lambda binary", "MiB", 10 * MiB, "le"),
    "lambda_cold_init_ms": ("Lambda cold init, median", "ms", 30, "le"),
    "lambda_cold_init_state_table_ms": ("Lambda cold init, state table set", "ms", 30, "le"),
    "lambda_rss_bytes": ("Lambda RSS (VmHWM)", "MiB", 32 * MiB, "le"),
}


def gzip9(path: str) -> int:
    out = subprocess.run(["gzip", "-9", "-c", path], check=True, stdout=subprocess.PIPE).stdout
    return len(out)


def size(a: argparse.Namespace) -> None:
    files = sorted(f for f in os.listdir(a.bundle) if f == "index.js" or f.endswith(".wasm"))
    per = {f: {"bytes": os.path.getsize(os.path.join(a.bundle, f)), "gzip9_bytes": gzip9(os.path.join(a.bundle, f))}
           for f in files}
    res = {
        "bundle_dir": a.bundle,
        "files": per,
        "total_bytes": sum(v["bytes"] for v in per.values()),
        "total_gzip9_bytes": sum(v["gzip9_bytes"] for v in per.values()),
        "other_files": sorted(set(os.listdir(a.bundle)) - set(files)),
    }
    if a.wrangler_log and os.path.exists(a.wrangler_log):
        m = re.search(r"Total Upload:\s*([\d.]+\s*\w+)\s*/\s*gzip:\s*([\d.]+\s*\w+)", open(a.wrangler_log).read())
        if m:
            res["wrangler_reports"] = {"total": m.group(1), "gzip": m.group(2)}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)


def load(path: str | None) -> dict | None:
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def g(d: dict | None, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def final(a: argparse.Namespace) -> None:
    meta, sz, wk, lm = load(a.meta) or {}, load(a.size), load(a.worker), load(a.lambda_)
    figures = {
        "worker_upload_gzip_bytes": g(sz, "total_gzip9_bytes"),
        "worker_upload_bytes": g(sz, "total_bytes"),
        "added_latency_p50_ms": g(wk, "latency_c1", "added_p50_ms"),
        "added_latency_p99_ms": g(wk, "latency_c1", "added_p99_ms"),
        "direct_latency_p50_ms": g(wk, "latency_c1", "direct_p50_ms"),
        "direct_latency_p99_ms": g(wk, "latency_c1", "direct_p99_ms"),
        "gateway_latency_p50_ms": g(wk, "latency_c1", "gateway_p50_ms"),
        "gateway_latency_p99_ms": g(wk, "latency_c1", "gateway_p99_ms"),
        "rps_c32": g(wk, "throughput", "rps"),
        "cpu_ms_per_request": g(wk, "throughput", "cpu_ms_per_request"),
        "rps_per_core_projected": g(wk, "throughput", "rps_per_core_projected"),
        "gateway_core_utilization_c32": g(wk, "throughput", "gateway_core_utilization"),
        "added_ttfb_ms": g(wk, "ttfb", "added_ttfb_body_ms", "p50"),
        "cpu_ms_per_stream_20": g(wk, "streams", "gateway_s20", "cpu_ms_per_stream"),
        "cpu_ms_per_stream_500": g(wk, "streams", "gateway_s500", "cpu_ms_per_stream"),
        "streams_per_s_20": g(wk, "streams", "gateway_s20", "streams_per_s"),
        "paced_ttfb_p50_ms": g(wk, "ttfb_paced", "gateway", "ttfb_body", "p50"),
        "paced_ttfb_p99_ms": g(wk, "ttfb_paced", "gateway", "ttfb_body", "p99"),
        "paced_added_first_content_p50_ms": g(wk, "ttfb_paced", "added_ttfc_ms", "p50"),
        "paced_added_first_content_p99_ms": g(wk, "ttfb_paced", "added_ttfc_ms", "p99"),
        "lambda_binary_bytes": g(lm, "binary_bytes"),
        "lambda_cold_init_ms": g(lm, "cold_init", "init_ms", "p50"),
        "lambda_cold_init_state_table_ms": g(lm, "cold_init_state_table", "init_ms", "p50"),
        "lambda_rss_bytes": (g(lm, "warm", "mem_kb", "VmHWM") or 0) * 1024 or None,
        "lambda_invocation_ms": g(lm, "warm", "non_stream", "invocation_ms", "p50"),
        "lambda_invocation_stream_ms": g(lm, "warm", "stream", "invocation_ms", "p50"),
        "lambda_invocation_quickack_ms": g(lm, "warm_quickack", "non_stream", "invocation_ms", "p50"),
        "lambda_invocation_stream_quickack_ms": g(lm, "warm_quickack", "stream", "invocation_ms", "p50"),
        "lambda_cpu_ms_per_invocation": g(lm, "warm_quickack", "non_stream", "cpu_ms_per_invocation"),
    }
    verdicts = {}
    for key, (_label, _unit, budget, how) in BUDGETS.items():
        v = figures.get(key)
        if v is None:
            verdicts[key] = "n/a"
        else:
            verdicts[key] = "PASS" if (v <= budget if how == "le" else v >= budget) else "FAIL"
    report = {
        "meta": meta,
        "figures": figures,
        "budgets": {k: {"label": label, "budget": b, "unit": u, "rule": h, "value": figures.get(k), "verdict": verdicts[k]}
                    for k, (label, u, b, h) in BUDGETS.items()},
        "worker_bundle": sz,
        "worker": wk,
        "lambda": lm,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
    print_summary(report)


def fmt(v, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "MiB":
        return f"{v / MiB:.2f} MiB"
    if unit in ("req/s", "streams/s"):
        return f"{v:,.0f} {unit}"
    return f"{v:.3f} {unit}"


def print_summary(r: dict) -> None:
    m, wk, lm = r["meta"], r["worker"] or {}, r["lambda"] or {}
    p = print
    p("")
    p("DX Gateway end-to-end benchmark")
    p(f"  commit {m.get('commit', '?')}  {m.get('date', '')}  cores {m.get('nproc', '?')}  "
      f"loadavg at start {m.get('loadavg_start')}  gateway core {m.get('gateway_cpu', '?')}, load core {m.get('load_cpu', '?')}")
    p(f"  cores busy in the second before the run: {m.get('cores_busy_before')}")
    p("")
    p(f"  {'figure':<38}{'value':>16}   {'budget':>14}   verdict")
    for b in r["budgets"].values():
        rule = "<=" if b["rule"] == "le" else ">="
        p(f"  {b['label']:<38}{fmt(b['value'], b['unit']):>16}   {rule + ' ' + fmt(b['budget'], b['unit']):>14}   {b['verdict']}")
    p("")
    if wk:
        lat, th, tt = wk.get("latency_c1", {}), wk.get("throughput", {}), wk.get("ttfb", {})
        p("  Worker (plain workerd, one core)")
        p(f"    c=1 latency   direct p50 {lat.get('direct_p50_ms')} / p99 {lat.get('direct_p99_ms')} ms;"
          f"  gateway p50 {lat.get('gateway_p50_ms')} / p99 {lat.get('gateway_p99_ms')} ms"
          f" ({g(lat, 'samples', 'gateway')} samples, {lat.get('rounds')} rounds)")
        p(f"                  added p99, median of the rounds' p99s: {lat.get('added_p99_median_of_rounds_ms')} ms;"
          f" other load on the gateway core during the gateway's turns {lat.get('other_load_on_gateway_core_ms')} ms")
        p(f"    c={th.get('connections')} throughput  {th.get('rps')} req/s, gateway core {th.get('gateway_core_utilization')} busy,"
          f" {th.get('cpu_ms_per_request')} CPU-ms/req (schedstat {th.get('cpu_ms_per_request_schedstat')}),"
          f" projected {th.get('rps_per_core_projected')} req/s per core")
        p(f"                  load core {th.get('load_core_utilization')} busy; other load on the gateway core"
          f" {th.get('other_load_on_gateway_core_ms')} ms; upstream alone on the load core: {th.get('direct_rps_same_load_core')} req/s")
        if tt:
            p(f"    streamed TTFB (first body byte) direct {g(tt, 'direct', 'ttfb_body', 'p50')} ms, gateway"
              f" {g(tt, 'gateway', 'ttfb_body', 'p50')} ms; stream total direct {g(tt, 'direct', 'total', 'p50')} ms,"
              f" gateway {g(tt, 'gateway', 'total', 'p50')} ms; failures {g(tt, 'direct', 'failures')}/{g(tt, 'gateway', 'failures')}")
        st, tp = wk.get("streams") or {}, wk.get("ttfb_paced") or {}
        for shape in ("s20", "s500"):
            gw, rf = st.get(f"gateway_{shape}") or {}, st.get(f"passthrough_{shape}") or {}
            if gw:
                p(f"    {shape[1:]}-event streams, c={st.get('connections')}: gateway {gw.get('streams_per_s')} streams/s at"
                  f" {gw.get('cpu_ms_per_stream')} CPU-ms each (core {gw.get('gateway_core_utilization')} busy);"
                  f" JS passthrough {rf.get('streams_per_s')} streams/s at {rf.get('cpu_ms_per_stream')} CPU-ms")
        if tp:
            p(f"    paced stream TTFB (20 events 5 ms apart): direct p50 {g(tp, 'direct', 'ttfb_body', 'p50')} /"
              f" p99 {g(tp, 'direct', 'ttfb_body', 'p99')} ms, gateway p50 {g(tp, 'gateway', 'ttfb_body', 'p50')} /"
              f" p99 {g(tp, 'gateway', 'ttfb_body', 'p99')} ms; failures {g(tp, 'direct', 'failures')}/{g(tp, 'gateway', 'failures')}")
            p(f"      first content delta (the gateway holds the role chunk until content shows, so its first byte"
              f" is the first content): direct p50 {g(tp, 'direct', 'ttfc', 'p50')} / p99 {g(tp, 'direct', 'ttfc', 'p99')} ms,"
              f" gateway p50 {g(tp, 'gateway', 'ttfc', 'p50')} / p99 {g(tp, 'gateway', 'ttfc', 'p99')} ms")
        ref, gm = wk.get("reference_passthrough"), wk.get("gateway_minus_passthrough")
        if ref:
            p(f"    reference, JS passthrough Worker (the floor of this setup): added p50 {ref['added_p50_ms']} /"
              f" p99 {ref['added_p99_ms']} ms, c={th.get('connections')} {ref['rps']} req/s at {ref['cpu_ms_per_request']}"
              f" CPU-ms/req; gateway minus floor: p50 {gm['p50_ms']} ms, p99 {gm['p99_ms']} ms,"
              f" {gm['cpu_ms_per_request']} CPU-ms/req")
        gl = wk.get("gateway_log") or {}
        if gl:
            p(f"    gateway log: {gl.get('lines')} lines, access-log statuses {gl.get('access_log_statuses')},"
              f" errors {gl.get('errors')}, other lines {gl.get('other_lines')}")
            for line in gl.get("other_samples", [])[:3]:
                p(f"      | {line[:160]}")
        bad = [k for k, v in (wk.get("runs") or {}).items() if not v.get("ok")]
        if bad:
            p(f"    !! runs with errors or non-200 answers: {bad}")
    if lm:
        w, q = lm.get("warm", {}), lm.get("warm_quickack", {})
        p("  Lambda (own Runtime API on 127.0.0.1, binary pinned to one core)")
        p(f"    cold init p50 {g(lm, 'cold_init', 'init_ms', 'p50')} ms (max {g(lm, 'cold_init', 'init_ms', 'max')}) over"
          f" {g(lm, 'cold_init', 'runs')} starts; VmHWM {g(w, 'mem_kb', 'VmHWM')} kB")
        st = lm.get("cold_init_state_table")
        if st:
            p(f"    cold init with DX_STATE_TABLE p50 {g(st, 'init_ms', 'p50')} ms (max {g(st, 'init_ms', 'max')}) over"
              f" {st.get('runs')} starts" + (f"; failures {st['failures'][:2]}" if st.get("failures") else ""))
        p(f"    per invocation p50: non-stream {g(w, 'non_stream', 'invocation_ms', 'p50')} ms, stream"
          f" {g(w, 'stream', 'invocation_ms', 'p50')} ms; with a quick-ACK Runtime API {g(q, 'non_stream', 'invocation_ms', 'p50')}"
          f" / {g(q, 'stream', 'invocation_ms', 'p50')} ms; CPU {g(q, 'non_stream', 'cpu_ms_per_invocation')} ms/invocation")
        plain, quick = g(w, "non_stream", "invocation_ms", "p50"), g(q, "non_stream", "invocation_ms", "p50")
        if isinstance(plain, (int, float)) and isinstance(quick, (int, float)) and plain - quick > 10:
            p("    !! the plain Runtime API run is >10 ms slower than the quick-ACK one: the runtime client"
              " waits for delayed ACKs (TCP_NODELAY off? see vendor/lambda_runtime_api_client)")
        p(f"    upstream alone, same machine: {g(lm, 'upstream_direct_ms', 'non_stream', 'p50')} /"
          f" {g(lm, 'upstream_direct_ms', 'stream', 'p50')} ms")
        bl = lm.get("binary_log") or {}
        if bl:
            p(f"    binary log: {bl.get('lines')} lines, access-log statuses {bl.get('access_log_statuses')},"
              f" errors {bl.get('errors')}, other lines {bl.get('other_lines')}")
            for line in bl.get("other_samples", [])[:3]:
                p(f"      | {line[:160]}")
        em = lm.get("emulator")
        if em:
            init = em.get("init_ms")
            init = round(init, 3) if isinstance(init, (int, float)) else init
            p(f"    tests/lambda_rt emulator cross-check: init {init} ms, VmHWM {em.get('hwm_kb')} kB,"
              f" request {em.get('request_status')} ok={em.get('request_ok')}" + (f", error {em['error']}" if em.get("error") else ""))
    for note in m.get("notes", []):
        p(f"  note: {note}")
    p("")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("size")
    s.add_argument("--bundle", required=True)
    s.add_argument("--wrangler-log")
    s.add_argument("--out", required=True)
    f = sub.add_parser("final")
    f.add_argument("--meta")
    f.add_argument("--size")
    f.add_argument("--worker")
    f.add_argument("--lambda", dest="lambda_")
    f.add_argument("--out", required=True)
    a = p.parse_args()
    size(a) if a.cmd == "size" else final(a)


if __name__ == "__main__":
    main()
