// The fake OpenAI upstream for the benchmarks: a tiny workerd worker that
// answers `POST /v1/chat/completions` with canned bytes, as fast as workerd
// can, so that it is never what the benchmark measures.
//
//   non-stream: fixtures/openai/chat-completion-text.json
//   "stream": true: fixtures/openai/chat-stream-text-usage.sse, as a few
//                   chunks split on event boundaries
//
// Models named `s<N>` stream N content events (one per read the consumer
// makes, as fast as it reads), then a finish event, a usage event (when
// `stream_options.include_usage`) and `[DONE]`; `p<N>` does the same with
// the events paced PACE_MS apart, as a model generating tokens would.
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

const PACE_MS = 5;

function event(doc) {
  return encoder.encode("data: " + JSON.stringify(doc) + "\n\n");
}

/** The events of an N-token answer: N deltas, the finish, usage, [DONE]. */
function generated(model, n, usage) {
  const base = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1767225600, model };
  const out = [event({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })];
  for (let i = 0; i < n; i++) {
    out.push(event({ ...base, choices: [{ index: 0, delta: { content: " tok" + i }, finish_reason: null }] }));
  }
  out.push(event({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
  if (usage) {
    out.push(event({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: n, total_tokens: 12 + n } }));
  }
  out.push(encoder.encode("data: [DONE]\n\n"));
  return out;
}

// Built once per shape: the upstream must not be what the benchmark measures.
const GENERATED = new Map();
function cachedGenerated(model, n, usage) {
  const key = model + "/" + usage;
  let chunks = GENERATED.get(key);
  if (!chunks) GENERATED.set(key, (chunks = generated(model, n, usage)));
  return chunks;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
    const shaped = /^([sp])(\d+)$/.exec(body.model || "");
    const chunks = shaped
      ? cachedGenerated(body.model, Math.min(Number(shaped[2]), 100000), body.stream_options?.include_usage === true)
      : CHUNKS;
    const paced = shaped !== null && shaped[1] === "p";
    let i = 0;
    const stream = new ReadableStream({
      type: "bytes",
      async pull(controller) {
        if (paced && i > 0) await sleep(PACE_MS);
        if (i < chunks.length) controller.enqueue(chunks[i++].slice());
        else controller.close();
      },
    });
    return new Response(stream, { headers: SSE_HEADERS });
  },
};
