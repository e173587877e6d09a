// Reference points, not the product: what workerd itself charges a Worker
// for the ways it can relay an upstream stream (or write an access log line),
// with no gateway around them. bench/stream_floor.sh runs one MODE at a time
// under the same plain workerd and upstream as the gateway's benchmarks.
//
//   native     the upstream body as the response body: workerd pumps it
//   pipe       pipeTo an IdentityTransformStream: still native, started by JS
//   pump       a JS loop: reader.read() then writer.write() per chunk, the
//              least any relay that sees every chunk in JS can do
//   byob       the same with a BYOB reader and one reused buffer
//   tee-min    the byte-lane idea: one tee branch piped natively to the
//              client, the other read by JS with BYOB reads of at least
//              64 KiB (a few wake-ups a stream), and a tail written after
//   log-none / log-now / log-timer / log-microtask
//              a whole answer, with no access log line, console.log before
//              returning, after a timer under waitUntil (the gateway's way
//              until this was measured), or in a microtask under waitUntil

const LINE = JSON.stringify({
  ts: 1767225600000, method: "POST", path: "/v1/chat/completions", status: 200, stream: false,
  latency_ms: 1, model: "bench", provider: "openai_compatible", deployment: "bench-upstream", attempts: 1,
  usage: { input_tokens: 12, output_tokens: 20 }, cost_usd: 0.0000123, key_alias: "team-a-key",
  team: "team-a", user: "u1", cache: "miss",
});
const SSE = { "content-type": "text/event-stream" };

async function pump(body, writer) {
  const reader = body.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    writer.write(r.value);
  }
  writer.close();
}

async function byob(body, writer) {
  const reader = body.getReader({ mode: "byob" });
  let buf = new ArrayBuffer(16384);
  for (;;) {
    const r = await reader.read(new Uint8Array(buf));
    if (r.done) break;
    writer.write(r.value.slice());
    buf = r.value.buffer;
  }
  writer.close();
}

function teeMin(body) {
  const [toClient, toJs] = body.tee();
  const { readable, writable } = new IdentityTransformStream();
  const piped = toClient.pipeTo(writable, { preventClose: true });
  (async () => {
    const reader = toJs.getReader({ mode: "byob" });
    let buf = new ArrayBuffer(65536);
    let seen = 0;
    let reads = 0;
    for (;;) {
      const r = await reader.read(new Uint8Array(buf), { min: 65536 });
      reads++;
      if (r.value) {
        seen += r.value.length;
        buf = r.value.buffer;
      }
      if (r.done) break;
    }
    await piped;
    const writer = writable.getWriter();
    await writer.write(new TextEncoder().encode(`: ${reads} reads saw ${seen} bytes\n\n`));
    await writer.close();
  })();
  return readable;
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const upstream = await fetch(env.UPSTREAM + url.pathname, {
      method: "POST",
      headers: { authorization: "Bearer sk-upstream", "content-type": "application/json" },
      body: await request.text(),
    });
    const mode = env.MODE;
    if (mode.startsWith("log-")) {
      const out = new Response(await upstream.arrayBuffer(), { headers: { "content-type": "application/json" } });
      if (mode === "log-now") console.log(LINE);
      else if (mode === "log-timer") {
        let done;
        const written = new Promise((resolve) => (done = resolve));
        setTimeout(() => {
          console.log(LINE);
          done();
        }, 0);
        ctx.waitUntil(written);
      } else if (mode === "log-microtask") {
        ctx.waitUntil(Promise.resolve().then(() => console.log(LINE)));
      }
      return out;
    }
    if (mode === "native") return new Response(upstream.body, { headers: SSE });
    if (mode === "tee-min") return new Response(teeMin(upstream.body), { headers: SSE });
    const { readable, writable } = new IdentityTransformStream();
    if (mode === "pipe") upstream.body.pipeTo(writable);
    else if (mode === "pump") pump(upstream.body, writable.getWriter());
    else if (mode === "byob") byob(upstream.body, writable.getWriter());
    else return new Response(`unknown MODE ${mode}`, { status: 500 });
    return new Response(readable, { headers: SSE });
  },
};
