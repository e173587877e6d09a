// The Cache API's backend for a plain `workerd serve` of the gateway
// (its `cacheApiOutbound`), in memory: what Miniflare's cache service does
// for `wrangler dev`, without its Durable Object and disk, so that a hit's
// cost in the gateway is measured and not the emulator's. workerd sends
// `cache.put` as a PUT whose body is the response as HTTP/1.1 bytes (the
// gateway's entries have a Content-Length and `cache-control: max-age`),
// `cache.match` as a GET that expects `cf-cache-status: HIT` or `MISS`.
// Run in its own workerd process: its CPU is not the gateway's.
const entries = new Map();

function split(raw) {
  for (let i = 0; i + 3 < raw.length; i++) {
    if (raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10) {
      return [new TextDecoder().decode(raw.subarray(0, i)), raw.slice(i + 4)];
    }
  }
  return null;
}

export default {
  async fetch(req) {
    if (req.method === "PUT") {
      const parts = split(new Uint8Array(await req.arrayBuffer()));
      if (!parts) return new Response(null, { status: 400 });
      const [statusLine, ...lines] = parts[0].split("\r\n");
      const headers = lines.map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]);
      const cc = headers.find(([k]) => k.toLowerCase() === "cache-control");
      const ttl = Number((/max-age=(\d+)/.exec(cc ? cc[1] : "") || [0, 0])[1]);
      entries.set(req.url, {
        status: Number(statusLine.split(" ")[1]),
        headers,
        body: parts[1],
        expires: Date.now() + ttl * 1000,
      });
      return new Response(null, { status: 204 });
    }
    if (req.method === "GET") {
      const e = entries.get(req.url);
      if (!e || e.expires <= Date.now()) {
        return new Response(null, { status: 504, headers: { "cf-cache-status": "MISS" } });
      }
      const h = new Headers(e.headers);
      h.set("cf-cache-status", "HIT");
      return new Response(e.body, { status: e.status, headers: h });
    }
    if (req.method === "PURGE") return new Response(null, { status: entries.delete(req.url) ? 200 : 404 });
    return new Response(null, { status: 405 });
  },
};
