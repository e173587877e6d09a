#!/usr/bin/env bash
# A V8 CPU profile of the Worker under plain workerd while wrk loads it:
# where a request's CPU goes (wasm, the JS glue, workerd's native calls, GC).
#
#   bash bench/profile.sh [MODEL] [SECONDS] [CONNS]
#
# MODEL is a gateway model of bench/workerd_config.py: `bench` (one whole
# answer, the default), `bench-s20` / `bench-s500` (streams of 20 / 500
# events). Writes bench/out/profile-MODEL.cpuprofile and prints the summary
# of bench/profile.mjs. The wasm is built without its name section
# (scripts/build-worker.sh), so wasm functions show as indices.
# PROFILE_VIRTUAL_KEY=1: with the Ledger Durable Object on local disk, and
# requests sent with a virtual key that has a budget and rpm/tpm limits.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
model=${1:-bench}; secs=${2:-8}; conns=${3:-8}
cd "$root"
work=$(mktemp -d /tmp/dx-profile.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true DX_SKIP_WORKER_BUILD=1 \
  node_modules/.bin/wrangler deploy --dry-run --outdir "$work/bundle" > "$work/wrangler.log" 2>&1
up_port=18922; gw_port=18921; inspector=19229
python3 bench/workerd_config.py upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
ledger=(); [ "${PROFILE_VIRTUAL_KEY:-0}" = 1 ] && ledger=(--ledger "$work/ledger")
python3 bench/workerd_config.py gateway --bundle "$work/bundle" --port "$gw_port" --upstream-port "$up_port" \
  "${ledger[@]}" --out "$work/bundle/gateway.capnp" > /dev/null
setsid taskset -c 1 node_modules/.bin/workerd serve "$work/upstream/upstream.capnp" > "$work/upstream.log" 2>&1 &
pids+=($!)
setsid taskset -c 0 node_modules/.bin/workerd serve --inspector-addr="127.0.0.1:$inspector" \
  "$work/bundle/gateway.capnp" > "$work/gateway.log" 2>&1 &
pids+=($!)
sleep 1.5
auth=sk-bench
if [ "${PROFILE_VIRTUAL_KEY:-0}" = 1 ]; then
  auth=$(curl -s "http://127.0.0.1:$gw_port/key/generate" -H 'authorization: Bearer sk-bench' \
    -H 'content-type: application/json' \
    -d '{"max_budget": 100000, "budget_duration": "1d", "rpm_limit": 100000000, "tpm_limit": 1000000000}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
fi
stream=false; [[ "$model" == *-s* || "$model" == *-p* ]] && stream=true
printf '{"model":"%s","messages":[{"role":"user","content":"hi"}],"stream":%s}' "$model" "$stream" > "$work/body.json"
load() {
  BENCH_BODY_FILE="$work/body.json" BENCH_AUTH="Bearer $auth" BENCH_WRK_JSON="$work/wrk.json" BENCH_WRK_MODE=fast \
    taskset -c 1 wrk -t1 -c"$conns" -d"$1"s -s bench/post.lua "http://127.0.0.1:$gw_port/v1/chat/completions" > /dev/null
}
load 3
load "$((secs + 2))" &
wrk_pid=$!
sleep 1
mkdir -p bench/out
curl -s "http://127.0.0.1:$inspector/json/list" > "$work/targets.json"; python3 -c "import json; t = json.load(open('$work/targets.json')); print('inspector targets:', len(t), [x.get('title') for x in t])"
node --experimental-websocket bench/profile.mjs "$inspector" "$secs" "bench/out/profile-$model.cpuprofile"
wait "$wrk_pid"
python3 -c "import json; d = json.load(open('$work/wrk.json')); print(f\"wrk: {d['requests']} requests, {d['rps']:.0f}/s, errors {d['errors']}\")"
