// Reference point, not the product: the thinnest possible JS Worker in front of
// the benchmark upstream. It swaps the client's key for the upstream's and
// returns the upstream response as is (body streamed through). Measured under
// the same plain workerd, on the same core, as the gateway, it shows what
// workerd itself costs on this machine; the gateway's own cost is the rest.

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.headers.get("authorization") !== "Bearer sk-bench") {
      return new Response('{"error":{"message":"bad key","type":"invalid_request_error"}}', { status: 401 });
    }
    return fetch(env.UPSTREAM + url.pathname + url.search, {
      method: request.method,
      headers: { "authorization": "Bearer sk-upstream", "content-type": "application/json" },
      body: request.body,
    });
  },
};
