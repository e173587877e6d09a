// What a client of a Worker sees when the upstream's connection breaks
// mid-stream, by how the Worker relays it (env.MODE), and whether the Worker
// can still end the stream with an error event (bench/pipe_cut.sh):
//
//   native     the upstream body as the response body
//   pipe       pipeTo an IdentityTransformStream with preventClose and
//              preventAbort, then a tail written after the pipe settles
//   tee-pipe   the same from one tee branch, the other read by JS
//   pump       a JS read/write loop, then the tail
const enc = (s) => new TextEncoder().encode(s);
const SSE = { "content-type": "text/event-stream" };

export default {
  async fetch(request, env, ctx) {
    const upstream = await fetch(env.UPSTREAM, { method: "POST", body: "{}" });
    if (env.MODE === "native") return new Response(upstream.body, { headers: SSE });
    const { readable, writable } = new IdentityTransformStream();
    const tail = async (how) => {
      try {
        const writer = writable.getWriter();
        await writer.write(enc(`\n\ndata: {"error":{"message":"${how}"}}\n\n`));
        await writer.close();
        console.log(`${env.MODE}: ${how}; tail written`);
      } catch (e) {
        console.log(`${env.MODE}: ${how}; tail failed: ${e}`);
      }
    };
    if (env.MODE === "pump") {
      ctx.waitUntil((async () => {
        const reader = upstream.body.getReader();
        const writer = writable.getWriter();
        let how = "upstream ended";
        try {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            await writer.write(r.value);
          }
        } catch (e) {
          how = `upstream broke (${e.message})`;
        }
        writer.releaseLock();
        await tail(how);
      })());
      return new Response(readable, { headers: SSE });
    }
    let source = upstream.body;
    if (env.MODE === "tee-pipe") {
      const [toClient, toJs] = upstream.body.tee();
      source = toClient;
      ctx.waitUntil(toJs.pipeTo(new WritableStream()).catch(() => {}));
    }
    ctx.waitUntil(
      source
        .pipeTo(writable, { preventClose: true, preventAbort: true })
        .then(() => tail("upstream ended"), (e) => tail(`upstream broke (${e.message})`)),
    );
    return new Response(readable, { headers: SSE });
  },
};
