// node --experimental-websocket bench/profile.mjs INSPECTOR_PORT SECONDS OUT.cpuprofile
//
// Samples a V8 CPU profile of the isolate behind workerd's inspector for
// SECONDS, writes it (open it in Chrome DevTools' Performance panel), and
// prints where the time went: by kind (wasm, the bundle's JS, workerd's
// native calls, GC) and the 30 busiest functions by self time.
const [port, seconds, out] = process.argv.slice(2);
if (!port || !seconds || !out) {
  console.error("usage: node --experimental-websocket bench/profile.mjs INSPECTOR_PORT SECONDS OUT");
  process.exit(2);
}
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
if (!targets.length) throw new Error("workerd's inspector lists no isolate");
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
let id = 0;
const pending = new Map();
ws.onmessage = (m) => {
  const d = JSON.parse(m.data);
  if (d.id && pending.has(d.id)) {
    pending.get(d.id)(d);
    pending.delete(d.id);
  }
};
await new Promise((resolve) => (ws.onopen = resolve));
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const i = ++id;
    pending.set(i, resolve);
    ws.send(JSON.stringify({ id: i, method, params }));
  });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 50 });
await call("Profiler.start");
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const profile = (await call("Profiler.stop")).result.profile;
(await import("node:fs")).writeFileSync(out, JSON.stringify(profile));

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const bySelf = new Map();
const byKind = new Map();
let busy = 0;
for (const sample of profile.samples) {
  const f = nodes.get(sample).callFrame;
  const name = f.functionName || "(anonymous)";
  if (name === "(idle)") continue;
  busy++;
  const kind = name.startsWith("wasm-") || f.url.includes("wasm") ? "wasm"
    : f.url.endsWith(".js") ? "bundle JS"
    : name === "(program)" || name === "(garbage collector)" ? name
    : `native ${name === "(anonymous)" ? "(other)" : name}`;
  byKind.set(kind, (byKind.get(kind) || 0) + 1);
  const key = `${name} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
  bySelf.set(key, (bySelf.get(key) || 0) + 1);
}
const pct = (c) => ((100 * c) / Math.max(busy, 1)).toFixed(1).padStart(5);
console.log(`busy samples: ${busy} (50 µs apart)`);
for (const [k, c] of [...byKind].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${pct(c)}  ${k}`);
console.log("busiest functions (self time):");
for (const [k, c] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${pct(c)}  ${k}`);
process.exit(0);
