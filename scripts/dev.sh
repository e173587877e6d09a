#!/usr/bin/env bash
# Sets up what is missing and serves the gateway locally with `wrangler dev`
# (workerd + Miniflare, state in .wrangler/state) on http://127.0.0.1:8787.
# Runs on the embedded dx.toml: the `mock-chat` model answers without any key.
# Provider keys and DX_MASTER_KEY can go in a `.dev.vars` file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true
# --test-scheduled: GET /__scheduled runs the cron handler (the catalog refresh).
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" --test-scheduled "$@"
