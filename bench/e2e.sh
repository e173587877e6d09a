#!/usr/bin/env bash
# End-to-end benchmark of DX Gateway: Worker upload size, the Worker's added
# latency / throughput / CPU per request / streamed TTFB under plain
# `workerd serve`, and the Lambda binary's size, cold init, RSS and
# per-invocation time. Writes bench/out/e2e.json and prints a summary.
#
#   bash bench/e2e.sh            (from the repo root, after scripts/setup.sh)
#
# Knobs (environment):
#   BENCH_SECONDS=10          length of each measured wrk run
#   BENCH_WARMUP_SECONDS=3    length of each warm-up run
#   BENCH_CONNS=32            connections for the throughput run
#   BENCH_ROUNDS=5            c=1 runs take turns in this many rounds
#   BENCH_C1_SECONDS=30       measured c=1 seconds per target, over all rounds
#   BENCH_TTFB_N=200          streamed requests per side for TTFB
#   BENCH_LAMBDA_N=200        measured Lambda invocations (each kind)
#   BENCH_COLD_RUNS=20        Lambda cold starts
#   BENCH_GATEWAY_CPU=0       core for the gateway (workerd / the Lambda binary)
#   BENCH_LOAD_CPU=1          core for wrk, the clients and the fake upstream
#   BENCH_SKIP_WORKER=1 / BENCH_SKIP_LAMBDA=1   leave a part out
#   BENCH_EMULATOR=0          skip the tests/lambda_rt/runtime_api.py cross-check
#   BENCH_STATE_TABLE=0       skip the cold starts with DX_STATE_TABLE (DynamoDB Local)
#   BENCH_REFERENCE=0         skip the JS passthrough reference runs
#   BENCH_GUARDRAILS=1        the gateway runs README's example guardrail sets
#   BENCH_GROUP=<strategy>    "bench" is a group of five deployments under that
#                             routing strategy (e.g. simple-shuffle, nearest)
#
# Only 127.0.0.1 is used. Every process started here runs in its own process
# group and is killed on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

SECONDS_EACH="${BENCH_SECONDS:-10}"
WARMUP="${BENCH_WARMUP_SECONDS:-3}"
CONNS="${BENCH_CONNS:-32}"
TTFB_N="${BENCH_TTFB_N:-200}"
LAMBDA_N="${BENCH_LAMBDA_N:-200}"
COLD_RUNS="${BENCH_COLD_RUNS:-20}"
GW_CPU="${BENCH_GATEWAY_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"

out="bench/out"
work="$out/work"
say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup
groups=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pg
  for pg in "${groups[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  local i
  for i in $(seq 1 30); do  # up to 3 s for them to go
    local alive=0
    for pg in "${groups[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pg in "${groups[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg NAME CMD... : runs CMD in a new session (its own process group),
# output to $work/NAME.log; sets BG_PID (= the group id).
start_bg() {
  local name="$1"; shift
  setsid "$@" >"$work/$name.log" 2>&1 </dev/null &
  BG_PID=$!
  groups+=("$BG_PID")
}
# run_fg NAME CMD... : the same, but waits for it; its exit status is returned.
run_fg() {
  local name="$1"; shift
  setsid "$@" </dev/null 2> >(tee "$work/$name.log" >&2) &
  local pid=$!
  groups+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}
stop_group() { kill -TERM -- "-$1" 2>/dev/null || true; }

# wait_http URL SECONDS : until URL answers anything over HTTP.
wait_http() {
  local url="$1" tries=$(( $2 * 10 )) i
  for i in $(seq 1 "$tries"); do
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.1
  done
  return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- prerequisites
rm -rf "$work"
mkdir -p "$work"
ncores=$(nproc)
notes=()
if [ "$ncores" -lt 2 ]; then
  notes+=("only $ncores core(s): gateway and load generator share core 0")
  GW_CPU=0; LOAD_CPU=0
fi
[ -x node_modules/.bin/wrangler ] && [ -x node_modules/.bin/workerd ] || die "node_modules missing: run bash scripts/setup.sh"
if ! command -v wrk >/dev/null; then
  say "installing wrk"
  apt-get update -qq >"$work/apt.log" 2>&1 || die "apt-get update failed (see $work/apt.log)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >>"$work/apt.log" 2>&1 || die "apt-get install wrk failed (see $work/apt.log)"
fi
command -v taskset >/dev/null || die "taskset (util-linux) missing"

if [ "${BENCH_SKIP_WORKER:-}" != 1 ] && [ ! -f worker/build/index.js ]; then
  say "building the Worker (bash scripts/build-worker.sh)"
  bash scripts/build-worker.sh
fi
if [ "${BENCH_SKIP_LAMBDA:-}" != 1 ] && [ ! -x target/lambda/dx-lambda ]; then
  say "building the Lambda binary (cargo build --profile lambda -p dx-lambda)"
  cargo build --profile lambda -p dx-lambda
fi

# Background load before we start: the other core may be busy with builds.
busy_before=$(python3 - <<'PY'
import sys, time
sys.path.insert(0, "bench")
import procstat
a = procstat.cores_busy_ms(); time.sleep(1); b = procstat.cores_busy_ms()
print(" ".join(f"cpu{c}={(b[c]-a[c])/10:.0f}%" for c in sorted(a)))
PY
)
say "cores busy before the run (1 s): $busy_before"
BENCH_GW_CPU="$GW_CPU" BENCH_LD_CPU="$LOAD_CPU" \
python3 - "$work/meta.json" "$ncores" "$busy_before" "${notes[@]+"${notes[@]}"}" <<'PY'
import json, subprocess, sys, time
sys.path.insert(0, "bench")
import procstat
path, ncores, busy, *notes = sys.argv[1:]
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 -- metadata only
        return f"? ({type(e).__name__})"
commit = run("git", "rev-parse", "--short", "HEAD")
dirty = run("git", "status", "--porcelain", "--untracked-files=no")
json.dump({
    "commit": commit + ("+dirty" if dirty and not dirty.startswith("?") else ""),
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "nproc": int(ncores),
    "loadavg_start": procstat.loadavg(),
    "cores_busy_before": busy,
    "gateway_cpu": int(__import__("os").environ["BENCH_GW_CPU"]),
    "load_cpu": int(__import__("os").environ["BENCH_LD_CPU"]),
    "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],  # exits 1
    "workerd": run("node_modules/.bin/workerd", "--version"),
    "wrangler": run("node_modules/.bin/wrangler", "--version"),
    "notes": notes,
}, open(path, "w"), indent=2)
PY

# ---------------------------------------------------------------- 1. Worker upload size
bundle="$work/bundle"
worker_json=""
if [ "${BENCH_SKIP_WORKER:-}" != 1 ]; then
  say "wrangler deploy --dry-run --outdir $bundle"
  WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true DX_SKIP_WORKER_BUILD=1 \
    timeout 300 node_modules/.bin/wrangler deploy --dry-run --outdir "$bundle" >"$work/wrangler.log" 2>&1 \
    || { cat "$work/wrangler.log" >&2; die "wrangler dry-run failed"; }
  python3 bench/report.py size --bundle "$bundle" --wrangler-log "$work/wrangler.log" --out "$work/size.json"

  # -------------------------------------------------------------- 2. Worker under plain workerd
  up_port=$(free_port); gw_port=$(free_port)
  while [ "$gw_port" = "$up_port" ]; do gw_port=$(free_port); done
  python3 bench/workerd_config.py upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
  wasm_name=$(python3 bench/workerd_config.py gateway --bundle "$bundle" --port "$gw_port" \
    --upstream-port "$up_port" --out "$bundle/gateway.capnp")
  say "gateway modules: index.js + $wasm_name"

  start_bg upstream taskset -c "$LOAD_CPU" node_modules/.bin/workerd serve "$work/upstream/upstream.capnp"
  up_pid=$BG_PID
  start_bg gateway taskset -c "$GW_CPU" node_modules/.bin/workerd serve "$bundle/gateway.capnp"
  gw_pid=$BG_PID
  ref_args=()
  if [ "${BENCH_REFERENCE:-1}" != 0 ]; then
    ref_port=$(free_port)
    python3 bench/workerd_config.py passthrough --port "$ref_port" --upstream-port "$up_port" \
      --out "$work/passthrough/passthrough.capnp"
    start_bg passthrough taskset -c "$GW_CPU" node_modules/.bin/workerd serve "$work/passthrough/passthrough.capnp"
    ref_pid=$BG_PID
    ref_args=(--ref-port "$ref_port" --ref-pid "$ref_pid")
    wait_http "http://127.0.0.1:$ref_port/" 20 || { cat "$work/passthrough.log" >&2; die "passthrough workerd did not come up"; }
  fi
  wait_http "http://127.0.0.1:$up_port/health" 20 || { cat "$work/upstream.log" >&2; die "upstream workerd did not come up"; }
  wait_http "http://127.0.0.1:$gw_port/" 20 || { cat "$work/gateway.log" >&2; die "gateway workerd did not come up"; }
  say "upstream on :$up_port (pid $up_pid, core $LOAD_CPU), gateway on :$gw_port (pid $gw_pid, core $GW_CPU)"

  run_fg worker-bench timeout $(( 12 * SECONDS_EACH + 8 * WARMUP + 3 * ${BENCH_C1_SECONDS:-30} + 500 )) taskset -c "$LOAD_CPU" \
    python3 bench/worker_bench.py --gateway-port "$gw_port" --gateway-pid "$gw_pid" \
      --upstream-port "$up_port" --upstream-pid "$up_pid" --work "$work" --out "$work/worker.json" \
      --seconds "$SECONDS_EACH" --warmup-seconds "$WARMUP" --conns "$CONNS" \
      --gateway-cpu "$GW_CPU" --load-cpu "$LOAD_CPU" --ttfb-n "$TTFB_N" --gateway-log "$work/gateway.log" \
      --rounds "${BENCH_ROUNDS:-5}" --c1-seconds "${BENCH_C1_SECONDS:-30}" \
      "${ref_args[@]+"${ref_args[@]}"}" \
    || { say "worker benchmark failed; gateway log tail:"; tail -20 "$work/gateway.log" >&2; \
         [ -f "$work/worker.json" ] && cp "$work/worker.json" "$out/worker-failed.json"; exit 1; }
  worker_json="$work/worker.json"
  stop_group "$gw_pid"  # keep the gateway core quiet for the Lambda part
  if [ -n "${ref_pid:-}" ]; then stop_group "$ref_pid"; fi
fi

# ---------------------------------------------------------------- 3. Lambda binary
lambda_json=""
if [ "${BENCH_SKIP_LAMBDA:-}" != 1 ]; then
  if [ -z "${up_port:-}" ]; then  # the Worker part was skipped: start the upstream here
    up_port=$(free_port)
    python3 bench/workerd_config.py upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
    start_bg upstream taskset -c "$LOAD_CPU" node_modules/.bin/workerd serve "$work/upstream/upstream.capnp"
    wait_http "http://127.0.0.1:$up_port/health" 20 || { cat "$work/upstream.log" >&2; die "upstream workerd did not come up"; }
  fi
  emulator=()
  if [ "${BENCH_EMULATOR:-1}" != 0 ] && [ -f tests/lambda_rt/runtime_api.py ]; then
    emulator=(--emulator tests/lambda_rt/runtime_api.py)
  fi
  state_table=()
  if [ "${BENCH_STATE_TABLE:-1}" != 0 ]; then
    state_table=(--state-table)
  fi
  run_fg lambda-bench timeout 400 taskset -c "$LOAD_CPU" \
    python3 bench/lambda_bench.py --binary target/lambda/dx-lambda --upstream-port "$up_port" \
      --out "$work/lambda.json" --log "$work/lambda-binary.log" --cpu "$GW_CPU" \
      --cold-runs "$COLD_RUNS" --n "$LAMBDA_N" "${emulator[@]+"${emulator[@]}"}" \
      "${state_table[@]+"${state_table[@]}"}" \
    || die "lambda benchmark failed (see $work/lambda-bench.log, $work/lambda-binary.log)"
  lambda_json="$work/lambda.json"
fi

# ---------------------------------------------------------------- report
python3 bench/report.py final --meta "$work/meta.json" \
  ${worker_json:+--size "$work/size.json" --worker "$worker_json"} \
  ${lambda_json:+--lambda "$lambda_json"} --out "$out/e2e.json"
say "wrote $out/e2e.json (raw runs and logs in $work/)"
