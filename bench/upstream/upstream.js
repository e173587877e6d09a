// The fake OpenAI upstream for the benchmarks: a tiny workerd worker that
// answers `POST /v1/chat/completions` with canned bytes, as fast as workerd
// can, so that it is never what the benchmark measures.
//
//   non-stream: fixtures/openai/chat-completion-text.json
//   "stream": true: fixtures/openai/chat-stream-text-usage.sse, as a few
//                   chunks split on event boundaries
//
// It checks the upstream key (`Authorization: Bearer sk-upstream`), so a
// gateway that forwards the wrong credentials shows up as 401s in the run.
// Both fixtures are text modules embedded by the generated capnp config.

import completion from "./completion.json";
import sse from "./stream.sse";

const encoder = new TextEncoder();
const COMPLETION = encoder.encode(completion);

// Split the SSE fixture into STREAM_CHUNKS pieces, each a run of whole events.
const STREAM_CHUNKS = 4;
const EVENTS = sse.split("\n\n").filter((e) => e.trim() !== "").map((e) => e + "\n\n");
const CHUNKS = [];
{
  const per = Math.ceil(EVENTS.length / STREAM_CHUNKS);
  for (let i = 0; i < EVENTS.length; i += per) {
    CHUNKS.push(encoder.encode(EVENTS.slice(i, i + per).join("")));
  }
}

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

function error(status, message, type) {
  return new Response(JSON.stringify({ error: { message, type, param: null, code: null } }), {
    status,
    headers: JSON_HEADERS,
  });
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (request.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      return error(404, `no route ${request.method} ${url.pathname}`, "invalid_request_error");
    }
    if (request.headers.get("authorization") !== "Bearer sk-upstream") {
      return error(401, "Incorrect API key provided.", "invalid_request_error");
    }
    let body;
    try {
      body = JSON.parse(await request.text());
    } catch {
      return error(400, "We could not parse the JSON body of your request.", "invalid_request_error");
    }
    if (body === null || typeof body !== "object" || !Array.isArray(body.messages)) {
      return error(400, "'messages' is a required property", "invalid_request_error");
    }
    if (body.stream !== true) {
      return new Response(COMPLETION, { headers: JSON_HEADERS });
    }
    let i = 0;
    const stream = new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (i < CHUNKS.length) controller.enqueue(CHUNKS[i++].slice());
        else controller.close();
      },
    });
    return new Response(stream, { headers: SSE_HEADERS });
  },
};
