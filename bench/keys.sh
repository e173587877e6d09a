#!/usr/bin/env bash
# What a virtual key costs on the Worker (issue 11's benchmark): the gateway
# under plain workerd with its Ledger Durable Object namespace on local disk,
# the same requests sent with the master key (no ledger call) and with a
# virtual key that has a budget and rpm/tpm limits (one reserve and one
# settle per request), in alternating rounds.
#
#   bash bench/keys.sh            (after scripts/build-worker.sh)
#
#   KEYS_ROUNDS=3  KEYS_SECONDS=5  KEYS_CONNS=32  KEYS_C1_SECONDS=10
#
# Per round and key: CPU-ms per request at c=32 (utime+stime of the workerd
# process, which here also runs the Durable Object: in production that CPU is
# the object's, billed apart) and req/s; then c=1 latency p50/p99 (exact
# timing, bench/post.lua). Medians at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
rounds=${KEYS_ROUNDS:-3}; secs=${KEYS_SECONDS:-5}; conns=${KEYS_CONNS:-32}; c1=${KEYS_C1_SECONDS:-10}
work=$(mktemp -d /tmp/dx-keys.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk missing: run bash scripts/setup.sh" >&2; exit 1; }
WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true DX_SKIP_WORKER_BUILD=1 \
  node_modules/.bin/wrangler deploy --dry-run --outdir "$work/bundle" > "$work/wrangler.log" 2>&1
up_port=18932; gw_port=18931
python3 bench/workerd_config.py upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
python3 bench/workerd_config.py gateway --bundle "$work/bundle" --port "$gw_port" --upstream-port "$up_port" \
  --ledger "$work/ledger" --out "$work/bundle/gateway.capnp" > /dev/null
setsid taskset -c 1 node_modules/.bin/workerd serve "$work/upstream/upstream.capnp" > "$work/upstream.log" 2>&1 &
pids+=($!)
setsid taskset -c 0 node_modules/.bin/workerd serve "$work/bundle/gateway.capnp" > "$work/gateway.log" 2>&1 &
gw=$!
pids+=($gw)
base="http://127.0.0.1:$gw_port"
for _ in $(seq 50); do curl -fs "$base/health" > /dev/null && break; sleep 0.2; done
vkey=$(curl -s "$base/key/generate" -H 'authorization: Bearer sk-bench' -H 'content-type: application/json' \
  -d '{"max_budget": 100000, "budget_duration": "1d", "rpm_limit": 100000000, "tpm_limit": 1000000000}' \
  | tee "$work/key.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || { echo "no virtual key: $(cat "$work/key.json") $(tail -5 "$work/gateway.log")" >&2; exit 1; }
printf '{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":64}' > "$work/body.json"
cpu_ticks() { local t=0; for p in $(pgrep -g "$gw"); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
run() { # AUTH CONNS SECONDS MODE
  BENCH_BODY_FILE="$work/body.json" BENCH_AUTH="Bearer $1" BENCH_WRK_JSON="$work/wrk.json" BENCH_WRK_MODE="$4" \
    taskset -c 1 wrk -t1 -c"$2" -d"$3"s -s bench/post.lua "$base/v1/chat/completions" > /dev/null
}
results="$work/results.tsv"
for round in $(seq "$rounds"); do
  for who in master virtual; do
    auth=sk-bench; [ "$who" = virtual ] && auth="$vkey"
    run "$auth" "$conns" 2 fast
    t0=$(cpu_ticks); run "$auth" "$conns" "$secs" fast; t1=$(cpu_ticks)
    cp "$work/wrk.json" "$work/cN.json"
    run "$auth" 1 "$c1" exact
    python3 - "$work/cN.json" "$work/wrk.json" "$t0" "$t1" "$who" "$round" >> "$results" <<'PY'
import json, sys
cn, c1 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n = cn["requests"]
bad = sum(cn["errors"].values()) + sum(c1["errors"].values())
lat = c1["latency_us"]
print(f"{sys.argv[5]}\t{sys.argv[6]}\t{(int(sys.argv[4]) - int(sys.argv[3])) * 10 / max(n, 1):.3f}\t{cn['rps']:.0f}"
      f"\t{lat['p50'] / 1000:.3f}\t{lat['p99'] / 1000:.3f}\t{bad}")
PY
    tail -1 "$results" | awk -F'\t' '{printf "round %s  %-8s %6s CPU-ms/req %6s req/s (c=%s)   c=1 p50 %s ms p99 %s ms   errors %s\n", $2, $1, $3, $4, "'"$conns"'", $5, $6, $7}'
  done
done
echo "median over $rounds rounds:"
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for who in ("master", "virtual"):
    r = [x for x in rows if x[0] == who]
    med = lambda i: statistics.median(float(x[i]) for x in r)
    print(f"  {who:<8} {med(2):6.3f} CPU-ms/req {med(3):6.0f} req/s   c=1 p50 {med(4):.3f} ms  p99 {med(5):.3f} ms")
PY
