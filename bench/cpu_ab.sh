#!/usr/bin/env bash
# CPU per request of the Worker under plain workerd, for one or more builds,
# in alternating rounds so that a change of machine load hits every build
# alike. What `bench/e2e.sh` measures once, this repeats to tell a real
# difference from noise before anyone believes a before/after pair.
#
#   bash bench/cpu_ab.sh [ROOT...]     each ROOT is a checkout with worker/build
#
#   CPU_AB_MODELS="bench bench-s20"   gateway models (bench: one whole answer;
#                                     bench-s20/-s500: streams of 20/500 events)
#   CPU_AB_ROUNDS=3  CPU_AB_SECONDS=6  CPU_AB_CONNS=32
#   CPU_AB_GUARDRAILS="0 1"           per ROOT, in order: whether its gateway
#                                     runs README's example guardrail sets
#                                     (the same ROOT twice compares on/off)
#
# Pins workerd (gateway) to core 0 and wrk plus the upstream to core 1, reads
# the gateway's CPU from /proc (user + system) around each measured run, and
# prints CPU-ms per request and requests/s per build, model and round, then
# the median per build and model.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
main="$(cd "$here/.." && pwd)"
roots=("${@:-$main}")
models=(${CPU_AB_MODELS:-bench})
guards=(${CPU_AB_GUARDRAILS:-})
rounds=${CPU_AB_ROUNDS:-3}
secs=${CPU_AB_SECONDS:-6}
conns=${CPU_AB_CONNS:-32}
work=$(mktemp -d /tmp/cpu_ab.XXXXXX)
wrangler="$main/node_modules/.bin/wrangler"
workerd="$main/node_modules/.bin/workerd"
[ -x "$wrangler" ] && [ -x "$workerd" ] || { echo "node_modules missing: run bash scripts/setup.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: run bash scripts/setup.sh" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

up_port=18912
python3 "$here/workerd_config.py" upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
setsid taskset -c 1 "$workerd" serve "$work/upstream/upstream.capnp" > "$work/upstream.log" 2>&1 &
pids+=($!)

gw_port=18911
bundle_of() { echo "$work/bundle$1"; }
for i in "${!roots[@]}"; do
  b=$(bundle_of "$i")
  mkdir -p "$b"
  (cd "${roots[$i]}" && WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true \
    DX_SKIP_WORKER_BUILD=1 "$wrangler" deploy --dry-run --outdir "$b" > "$b.wrangler.log" 2>&1) \
    || { echo "wrangler could not bundle ${roots[$i]} (see $b.wrangler.log)" >&2; exit 1; }
  BENCH_GUARDRAILS="${guards[$i]:-${BENCH_GUARDRAILS:-0}}" \
    python3 "$here/workerd_config.py" gateway --bundle "$b" --port "$gw_port" --upstream-port "$up_port" \
    --out "$b/gateway.capnp" > /dev/null
done

cpu_ticks() { local t=0; for p in $(pgrep -g "$1"); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
results="$work/results.tsv"
for round in $(seq 1 "$rounds"); do
  for i in "${!roots[@]}"; do
    b=$(bundle_of "$i")
    setsid taskset -c 0 "$workerd" serve "$b/gateway.capnp" > "$b.log" 2>&1 &
    gw=$!
    sleep 1.5
    for m in "${models[@]}"; do
      stream=false; [[ "$m" == *-s* || "$m" == *-p* ]] && stream=true
      printf '{"model":"%s","messages":[{"role":"user","content":"hi"}],"stream":%s}' "$m" "$stream" > "$work/body.json"
      run() {
        BENCH_BODY_FILE="$work/body.json" BENCH_AUTH="Bearer sk-bench" BENCH_WRK_JSON="$work/wrk.json" BENCH_WRK_MODE=fast \
          taskset -c 1 wrk -t1 -c"$conns" -d"$1"s -s "$here/post.lua" "http://127.0.0.1:$gw_port/v1/chat/completions" > /dev/null
      }
      run 2
      t0=$(cpu_ticks "$gw")
      run "$secs"
      t1=$(cpu_ticks "$gw")
      python3 - "$work/wrk.json" "$t0" "$t1" "${roots[$i]}" "$m" "$round" >> "$results" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n, t0, t1 = d["requests"], int(sys.argv[2]), int(sys.argv[3])
bad = sum(d["errors"].values())
print(f"{sys.argv[4]}\t{sys.argv[5]}\t{sys.argv[6]}\t{(t1 - t0) * 10 / max(n, 1):.3f}\t{d['rps']:.0f}\t{bad}")
EOF
      tail -1 "$results" | awk -F'\t' '{printf "round %s  %-28s %-11s %7s CPU-ms/req %6s req/s  errors %s\n", $3, $1, $2, $4, $5, $6}'
    done
    kill -- -"$gw" 2>/dev/null || true
    wait "$gw" 2>/dev/null || true
  done
done
echo "median over $rounds rounds:"
python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
keys = []
for r in rows:
    if (r[0], r[1]) not in keys:
        keys.append((r[0], r[1]))
for root, model in keys:
    cpu = [float(r[3]) for r in rows if (r[0], r[1]) == (root, model)]
    rps = [float(r[4]) for r in rows if (r[0], r[1]) == (root, model)]
    print(f"  {root:<28} {model:<11} {statistics.median(cpu):7.3f} CPU-ms/req {statistics.median(rps):6.0f} req/s")
EOF
