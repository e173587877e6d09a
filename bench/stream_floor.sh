#!/usr/bin/env bash
# What workerd charges for relaying a stream (and for an access log line),
# without the gateway: bench/reference/stream_variants.js in each MODE under
# plain workerd, in alternating rounds, CPU-ms per request read from /proc.
# The gateway's own figures (bench/e2e.sh, bench/cpu_ab.sh) are read against
# these: a relay that sees every chunk in JS cannot cost less than `pump`.
#
#   bash bench/stream_floor.sh
#
#   FLOOR_MODES="native pipe pump byob tee-min"   stream modes (see the .js)
#   FLOOR_LOG_MODES="log-none log-now log-timer log-microtask"
#   FLOOR_MODELS="s20 s500"   upstream stream shapes (bench/upstream/upstream.js)
#   FLOOR_ROUNDS=3  FLOOR_SECONDS=5  FLOOR_CONNS=4 (streams) / 32 (log modes)
#
# Pins the Worker to core 0 and wrk plus the upstream to core 1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
modes=(${FLOOR_MODES:-native pipe pump byob tee-min})
log_modes=(${FLOOR_LOG_MODES:-log-none log-now log-timer log-microtask})
models=(${FLOOR_MODELS:-s20 s500})
rounds=${FLOOR_ROUNDS:-3}; secs=${FLOOR_SECONDS:-5}
workerd="$root/node_modules/.bin/workerd"
[ -x "$workerd" ] || { echo "node_modules missing: run bash scripts/setup.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d /tmp/stream_floor.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
up_port=18832; gw_port=18831
python3 "$here/workerd_config.py" upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
setsid taskset -c 1 "$workerd" serve "$work/upstream/upstream.capnp" > "$work/upstream.log" 2>&1 &
pids+=($!)

one() {  # MODE MODEL STREAM CONNS -> "cpu_ms rps"
  local mode=$1 model=$2 stream=$3 conns=$4
  python3 "$here/workerd_config.py" passthrough --script stream_variants.js --mode "$mode" --port "$gw_port" \
    --upstream-port "$up_port" --out "$work/gw.capnp"
  setsid taskset -c 0 "$workerd" serve "$work/gw.capnp" > "$work/gw.log" 2>&1 &
  local gw=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$gw_port/" && break; sleep 0.1; done
  printf '{"model":"%s","messages":[{"role":"user","content":"hi"}],"stream":%s,"stream_options":{"include_usage":true}}' \
    "$model" "$stream" > "$work/body.json"
  load() {
    BENCH_BODY_FILE="$work/body.json" BENCH_AUTH="Bearer sk-bench" BENCH_WRK_JSON="$work/wrk.json" BENCH_WRK_MODE=fast \
      taskset -c 1 wrk -t1 -c"$conns" -d"$1"s -s "$here/post.lua" "http://127.0.0.1:$gw_port/v1/chat/completions" > /dev/null
  }
  load 2
  local pid; pid=$(pgrep -f "workerd serve $work/gw.capnp" | head -1)
  local t0; t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  load "$secs"
  local t1; t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -- -"$gw" 2>/dev/null || true; wait "$gw" 2>/dev/null || true
  local hz; hz=$(getconf CLK_TCK)
  python3 -c "import json; d = json.load(open('$work/wrk.json')); n = d['requests']; bad = sum(d['errors'].values())
print(f\"{($t1 - $t0) * 1000 / $hz / max(n, 1):.3f} {d['rps']:.0f} {bad}\")"
}

declare -A cpu
for round in $(seq "$rounds"); do
  for model in "${models[@]}"; do
    for mode in "${modes[@]}"; do
      read -r ms rps bad < <(one "$mode" "$model" true "${FLOOR_CONNS:-4}")
      printf 'round %s  %-8s %-6s %8s CPU-ms/request %6s req/s  (%s errors)\n' "$round" "$mode" "$model" "$ms" "$rps" "$bad"
      cpu["$mode $model"]+="$ms "
    done
  done
  for mode in "${log_modes[@]}"; do
    read -r ms rps bad < <(one "$mode" bench false "${FLOOR_CONNS_LOG:-32}")
    printf 'round %s  %-14s %8s CPU-ms/request %6s req/s  (%s errors)\n' "$round" "$mode" "$ms" "$rps" "$bad"
    cpu["$mode"]+="$ms "
  done
done
echo "median CPU-ms per request:"
for k in "${!cpu[@]}"; do
  printf '  %-16s %s\n' "$k" "$(python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" ${cpu[$k]})"
done | sort
