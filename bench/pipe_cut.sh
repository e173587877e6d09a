#!/usr/bin/env bash
# Why the gateway's Worker relay reads every upstream chunk in JS although a
# native pipe costs a fraction of the CPU (bench/stream_floor.sh): when the
# upstream's connection breaks mid-stream, a natively piped body ends for the
# client as if the answer were complete, and the Worker cannot add an error
# event after it. Prints, per relay technique, curl's exit code (0: a clean
# end), the last bytes the client got, and what the Worker logged.
#
#   bash bench/pipe_cut.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
workerd="$root/node_modules/.bin/workerd"
[ -x "$workerd" ] || { echo "node_modules missing: run bash scripts/setup.sh" >&2; exit 1; }
work=$(mktemp -d /tmp/pipe_cut.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
up_port=18842; gw_port=18841
setsid python3 "$here/reference/cut_upstream.py" "$up_port" > "$work/upstream.log" 2>&1 &
pids+=($!)
for mode in native pipe tee-pipe pump; do
  python3 "$here/workerd_config.py" passthrough --script pipe_cut.js --mode "$mode" --port "$gw_port" \
    --upstream-port "$up_port" --out "$work/gw.capnp"
  setsid "$workerd" serve "$work/gw.capnp" > "$work/gw-$mode.log" 2>&1 &
  gw=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$gw_port/" -m 1 && break; sleep 0.1; done
  sleep 0.3
  set +e
  curl -sN -m 10 -X POST "http://127.0.0.1:$gw_port/" -o "$work/out-$mode.txt"
  code=$?
  set -e
  sleep 0.5
  kill -- -"$gw" 2>/dev/null || true; wait "$gw" 2>/dev/null || true
  printf '%-9s curl exit %-2s last bytes: %-48s worker: %s\n' "$mode" "$code" \
    "$(tail -c 46 "$work/out-$mode.txt" | tr '\n' ' ')" \
    "$(grep -h "^$mode: " "$work/gw-$mode.log" | head -1 || true)"
done
