// The Worker's entry module (wrangler.toml `main`), around worker-build's
// bundle in build/.
//
// worker-build exports a WorkerEntrypoint class wrapped in Proxies (for its
// panic recovery): per request workerd constructs the class, and the proxies
// construct a second instance and wrap the handler in a new Proxy. That costs
// about 7% of the gateway's CPU per request. This module exports plain
// handlers instead, calling the same functions the class's prototype holds
// (`fetch(request)` reads `this.env` / `this.ctx`). After a Rust panic (the
// panic hook sets `criticalError` before the instance aborts), requests go
// through the class again, whose proxy resets the wasm instance first.

import Entrypoint from "./build/index.js";

export * from "./build/index.js";

const state = globalThis.__worker_init_state;
const handlers = {};
for (const name of ["fetch", "scheduled", "queue", "email"]) {
  const method = Entrypoint.prototype[name];
  if (typeof method !== "function") continue;
  handlers[name] = (event, env, ctx) => {
    if (state === undefined || state.criticalError) {
      return new Entrypoint(ctx, env)[name](event);
    }
    return method.call({ env, ctx }, event);
  };
}
if (handlers.fetch === undefined) {
  throw new Error("worker/index.js: build/index.js has no fetch handler (did worker-build's shim change?)");
}

export default handlers;
