#!/usr/bin/env bash
# Worker c=1: added latency and CPU-ms of a response-cache hit against a
# miss, under plain workerd with an in-memory Cache API backend
# (bench/upstream/cache.js in its own workerd; plain workerd has no cache
# unless `cacheApiOutbound` names one). Uses worker/build as it is.
#
#   bash bench/cache_hit.sh            CACHE_HIT_N=400 CACHE_HIT_ROUNDS=5
#
# Pins the gateway's workerd to core 0; the client, the upstream and the
# cache backend to core 1. bench/cache_hit.py does the measuring.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
main="$(cd "$here/.." && pwd)"
work=$(mktemp -d /tmp/cache_hit.XXXXXX)
wrangler="$main/node_modules/.bin/wrangler"
workerd="$main/node_modules/.bin/workerd"
[ -x "$wrangler" ] && [ -x "$workerd" ] || { echo "node_modules missing: run bash scripts/setup.sh" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

gw_port=18961 up_port=18962 cache_port=18963
python3 "$here/workerd_config.py" upstream --port "$up_port" --out "$work/upstream/upstream.capnp"
setsid taskset -c 1 "$workerd" serve "$work/upstream/upstream.capnp" > "$work/upstream.log" 2>&1 &
pids+=($!)
python3 "$here/workerd_config.py" cache --port "$cache_port" --out "$work/cache/cache.capnp"
setsid taskset -c 1 "$workerd" serve "$work/cache/cache.capnp" > "$work/cache.log" 2>&1 &
pids+=($!)
b="$work/bundle"
mkdir -p "$b"
(cd "$main" && WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true \
  DX_SKIP_WORKER_BUILD=1 "$wrangler" deploy --dry-run --outdir "$b" > "$b.wrangler.log" 2>&1) \
  || { echo "wrangler could not bundle $main (see $b.wrangler.log)" >&2; exit 1; }
python3 "$here/workerd_config.py" gateway --bundle "$b" --port "$gw_port" --upstream-port "$up_port" \
  --cache-port "$cache_port" --out "$b/gateway.capnp" > /dev/null
setsid taskset -c 0 "$workerd" serve "$b/gateway.capnp" > "$work/gateway.log" 2>&1 &
gw=$!
pids+=("$gw")
for port in "$up_port" "$cache_port" "$gw_port"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
taskset -c 1 python3 "$here/cache_hit.py" --gateway-port "$gw_port" --gateway-pid "$gw" \
  --upstream-port "$up_port" --n "${CACHE_HIT_N:-400}" --rounds "${CACHE_HIT_ROUNDS:-5}" \
  || { tail -n 20 "$work/gateway.log" "$work/cache.log" >&2; exit 1; }
