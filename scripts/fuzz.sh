#!/usr/bin/env bash
# Builds dx-core's fuzz targets (core/fuzz) once, seeds their corpora from the
# recorded fixtures, and runs each target for SECONDS (default 10). Fails on
# any crash, hang or out-of-memory input, naming the input that caused it.
#
#   bash scripts/fuzz.sh [SECONDS]
#
# DX_FUZZ_SEED fixes libFuzzer's random seed (0, the default, means a new
# one each run); the test script fixes it so CI explores the same paths on
# every run and a failure there is the code's, reproducible.
#
# Works on the stable toolchain: cargo-fuzz passes nightly-only flags, which
# RUSTC_BOOTSTRAP=1 lets stable accept. No sanitizer: the core is safe Rust,
# so panics (which libFuzzer reports as crashes) are what there is to find,
# and AddressSanitizer would double the build and halve the runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-10}"
cd "$root/core/fuzz"
export RUSTC_BOOTSTRAP=1
say() { printf '[fuzz] %s\n' "$*" >&2; }

command -v cargo-fuzz >/dev/null 2>&1 || { say "cargo-fuzz is missing: run scripts/setup.sh"; exit 1; }
# Release with debug assertions and overflow checks (cargo-fuzz's default),
# 16 codegen units: a third of the one-unit build time for a few percent
# fewer executions per second.
flags=(--sanitizer none --codegen-units 16)

start=$(date +%s)
cargo fuzz build "${flags[@]}"
say "built in $(( $(date +%s) - start )) s"

python3 seed_corpus.py "${DX_FIXTURES_DIR:-$root/fixtures}" corpus

mkdir -p artifacts
failed=()
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "seeds/$target"
  log="artifacts/$target.log"
  # corpus/ first: libFuzzer adds what it finds there; seeds/ (committed hand
  # seeds and regression inputs) is only read.
  if cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$secs" -seed="${DX_FUZZ_SEED:-0}" -timeout=10 -rss_limit_mb=2048 -dict=fuzz.dict \
      -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    say "$target: ok, ${runs:-?} runs in ${secs} s"
  else
    failed+=("$target")
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    say "$target: FAILED; input: ${input:-none written}; log: core/fuzz/$log"
    for seed in "seeds/$target"/*; do
      if [ -n "$input" ] && [ -f "$seed" ] && cmp -s "$seed" "$input"; then
        say "$target: that input is the regression seed core/fuzz/$seed"
      fi
    done
    grep -m1 -A12 -E "panicked at|ERROR: libFuzzer" "$log" >&2 || tail -20 "$log" >&2
    [ -z "$input" ] || say "reproduce: (cd core/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $target $input)"
  fi
done

say "total $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  say "failing targets: ${failed[*]}"
  exit 1
fi
