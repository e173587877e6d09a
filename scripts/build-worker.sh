#!/usr/bin/env bash
# Builds the Worker bundle into worker/build/ with the tools .ci/run and
# scripts/setup.sh install locally (worker-build must never download).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
# The test suite builds once up front; wrangler dev would otherwise rebuild.
if [ "${DX_SKIP_WORKER_BUILD:-}" = 1 ] && [ -f "$root/worker/build/index.js" ]; then
  exit 0
fi
cd "$root/worker"
worker-build --release
# worker-build keeps the wasm name section (it passes --debuginfo to wasm-opt):
# function names for stack traces, 66 KB of the gzip upload. Stripped here;
# a trap's stack trace then shows function indices, which a local build
# without this step maps back to names. Only the custom sections go: no
# optimisation pass runs again.
features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
"$WASM_OPT_BIN" "${features[@]/#/--enable-}" --strip-debug build/index_bg.wasm -o build/index_bg.wasm
