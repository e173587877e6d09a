#!/usr/bin/env bash
# Sets up what is missing, then runs every check DX Gateway has:
# format, lints (native and wasm32), the core's unit tests, a short run of
# every fuzz target (scripts/fuzz.sh), the Worker and
# Lambda builds, template and bundle validation, and the end-to-end suite
# (official SDKs against both shells over the fake provider fleet).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
step() { printf '\n== %s\n' "$*" >&2; }
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true

step "setup"
bash scripts/setup.sh

step "format and lints"
cargo fmt --all -- --check
cargo fmt --manifest-path core/fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p dx-core -p dx-worker --target wasm32-unknown-unknown -- -D warnings
python3 scripts/check-layers.py

step "unit tests (dx-core)"
cargo test --workspace

# Every fuzz target runs briefly over its seeds (the recorded fixtures and the
# committed regression inputs): a new panic on client- or upstream-controlled
# bytes fails here. DX_FUZZ_SECONDS sets the time per target; the seed is
# fixed (DX_FUZZ_SEED) so a run explores the same paths each time.
step "fuzz (core/fuzz, ${DX_FUZZ_SECONDS:-10} s per target)"
DX_FUZZ_SEED="${DX_FUZZ_SEED:-1}" bash scripts/fuzz.sh "${DX_FUZZ_SECONDS:-10}"

step "build: Lambda binary and Worker bundle"
cargo build --profile lambda -p dx-lambda
bash scripts/build-worker.sh

step "validate: SAM template, wrangler deploy --dry-run"
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" sam validate --lint -t template.yaml
node_modules/.bin/wrangler deploy --dry-run --outdir target/worker-dist >/dev/null
gzip_bytes=$(cat worker/build/index_bg.wasm worker/build/index.js worker/index.js | gzip -9 | wc -c)
printf 'worker upload (wasm+js, gzip -9): %s bytes\n' "$gzip_bytes" >&2
[ "$gzip_bytes" -le 1048576 ] || { echo "worker bundle over the 1 MB gzip budget" >&2; exit 1; }

step "end-to-end (openai SDK x {worker, lambda} over the fake fleet)"
export DX_LAMBDA_BIN="$root/target/lambda/dx-lambda"
export DX_FIXTURES_DIR="$root/fixtures"
export DX_SKIP_WORKER_BUILD=1
python3 -m pytest tests -q -p no:cacheprovider "$@"
