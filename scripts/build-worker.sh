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
# The Worker is built for size (opt-level "z"; the Lambda binary keeps "s"):
# 0.89 MiB gzip instead of 1.02 MiB at the merge of keys and guardrails,
# under the 1 MiB upload budget (see README, Benchmarks, for the CPU cost).
CARGO_PROFILE_RELEASE_OPT_LEVEL="${DX_WORKER_OPT_LEVEL:-z}" worker-build --release
# worker-build keeps the wasm name section (it passes --debuginfo to wasm-opt):
# function names for stack traces, 66 KB of the gzip upload. Stripped here;
# a trap's stack trace then shows function indices, which a local build
# without this step maps back to names. The same wasm-opt call runs one
# size pass (-Oz) over worker-build's speed pass (-O): about 2 KB less gzip
# (measured at 49e945a: 1,049,297 -> 1,047,316 B; -Oz in place of -O made
# it larger), for ~20 s more build time. Before it, a whole-program flow
# analysis (--gufa-optimizing: what values each call and global can hold)
# and merging functions that differ only in constants; --converge repeats
# -Oz until it stops shrinking: 677 B less gzip together (1,039,520 ->
# 1,038,843 B of wasm at a218bb1), about a minute more build time.
features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
"$WASM_OPT_BIN" "${features[@]/#/--enable-}" --gufa-optimizing --merge-similar-functions -Oz --converge \
  --strip-debug build/index_bg.wasm -o build/index_bg.wasm
