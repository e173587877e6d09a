// The Worker's hot path on the JS side (bound in src/glue.rs).
//
// Why: every call from wasm into a runtime API costs a boundary crossing plus
// workerd's own bookkeeping, and every Headers/Request/Response/closure object
// is C++ state to create and later collect. Doing the per-request JS work here,
// in a few calls that take and return flat strings, replaces some 50
// crossings and several short-lived objects per request with about 10.
//
// Header lists travel as "name:value\n" lines: header names cannot contain
// ':' and values cannot contain '\n', so the split is unambiguous.

/**
 * "name:value\n" lines to a HeadersInit: a plain record, which workerd reads
 * much faster than a Headers object or a list of pairs; a Headers object only
 * when a name repeats (a record would merge or lose the values).
 */
function headersInit(flat) {
  const record = Object.create(null);
  let start = 0;
  while (start < flat.length) {
    let end = flat.indexOf("\n", start);
    if (end < 0) end = flat.length;
    const colon = flat.indexOf(":", start);
    const name = flat.slice(start, colon);
    if (name in record) return headersObject(flat);
    record[name] = flat.slice(colon + 1, end);
    start = end + 1;
  }
  return record;
}

function headersObject(flat) {
  const headers = new Headers();
  for (const line of flat.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon), line.slice(colon + 1));
  }
  return headers;
}

/** The headers of `names` that are present, as "name:value\n" lines. */
function pick(headers, names) {
  let out = "";
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) out += name + ":" + value + "\n";
  }
  return out;
}

/** Every header, as "name:value\n" lines. */
function all(headers) {
  let out = "";
  for (const [name, value] of headers) out += name + ":" + value + "\n";
  return out;
}

function message(e) {
  if (e instanceof Error) return e.message;
  return typeof e === "string" ? e : "fetch failed";
}

/**
 * "METHOD\nURL\n" then the headers of `names` the request has, then
 * `x-dx-geo:lat,lon` from `request.cf` where the edge located the client
 * (the nearest-region strategy; a client cannot send this header: it is
 * not in `names`).
 */
export function requestHead(request, names) {
  let head = request.method + "\n" + request.url + "\n" + pick(request.headers, names);
  const cf = request.cf;
  if (cf && cf.latitude && cf.longitude) {
    head += "x-dx-geo:" + cf.latitude + "," + cf.longitude + "\n";
  }
  return head;
}

/**
 * Promises the wasm side awaits report through one callback set once per
 * instance, `settle(key, ok, value, text)`, rather than a pair of fresh wasm
 * closures per promise (wasm-bindgen's JsFuture: two JS functions and two
 * FinalizationRegistry entries each time). A promise may resolve to a
 * `Text` to hand over a string beside the value in the same call.
 */
let settle = null;

export function onSettled(callback) {
  settle = callback;
}

class Text {
  constructor(value, text) {
    this.value = value;
    this.text = text;
  }
}

function track(promise, key) {
  // The callback of the instance that asked, even if it is reset meanwhile.
  const callback = settle;
  promise.then(
    (v) => (v instanceof Text ? callback(key, true, v.value, v.text) : callback(key, true, v, undefined)),
    (error) => callback(key, false, error, undefined),
  );
}

/** The request body as bytes, settled under `key`. */
export function requestBody(request, key) {
  track(request.arrayBuffer().then((b) => new Uint8Array(b)), key);
}

/**
 * Sends a request upstream; the outcome settles under `key`. It resolves to
 * the body with "status\nheaders" as its text: for a 2xx answer only the
 * headers of `names`, else all of them; the body whole as a Uint8Array when
 * `whole` or not 2xx (the error's message, a string, if reading it failed),
 * else the ReadableStream (or null). It rejects with ["invalid", message]
 * when the request cannot be built (workerd's fetch rejects with a TypeError
 * for a bad URL, method or header, before any IO) and ["connect", message]
 * when the upstream cannot be reached. (`fetch(url, init)` rather than
 * `fetch(new Request(...))`: one object less per request.)
 */
export function send(url, method, headers, body, whole, names, key) {
  let answer;
  try {
    const init = { method, headers: headersInit(headers) };
    // `body` is a view into wasm memory: copy it before anything can move it.
    if (body.length > 0) init.body = body.slice();
    answer = fetch(url, init).then(
      (resp) => {
        const status = resp.status;
        const ok = status >= 200 && status < 300;
        const head = status + "\n" + (ok ? pick(resp.headers, names) : all(resp.headers));
        if (ok && !whole) return new Text(resp.body, head);
        return resp.arrayBuffer().then(
          (b) => new Text(new Uint8Array(b), head),
          (e) => new Text(message(e), head),
        );
      },
      (e) => {
        throw [e instanceof TypeError ? "invalid" : "connect", message(e)];
      },
    );
  } catch (e) {
    answer = Promise.reject(["invalid", message(e)]);
  }
  track(answer, key);
}

/**
 * Timers call back one function set once per instance with their key (a
 * plain JS closure here is cheaper than extra setTimeout arguments).
 */
let onTimer = null;

export function onTimerFired(callback) {
  onTimer = callback;
}

export function startTimer(ms, key) {
  const callback = onTimer;
  return setTimeout(() => callback(key), ms);
}

export function stopTimer(handle) {
  clearTimeout(handle);
}

/** A response with a whole body (`body` views wasm memory, hence the copy). */
export function respondBytes(status, headers, body) {
  return new Response(body.slice(), { status, headers: headersInit(headers) });
}

/** A response with no body (null) or a ReadableStream. */
export function respondWith(status, headers, body) {
  return new Response(body, { status, headers: headersInit(headers) });
}

/**
 * Writes an access-log line now. Deferring it past the response (a timer
 * under waitUntil) cost more CPU than the write itself: measured under plain
 * workerd at c=32, console.log of a 400-byte line added 9 us a request and
 * the timer, promise and waitUntil around it another 11 us, where a
 * request's whole CPU is about 300 us (bench/stream_floor.sh, log modes).
 */
export function logLine(line) {
  console.log(line);
}

/**
 * wasm-bindgen's futures executor schedules each wake-up with
 * `queueMicrotask` when the global has one. workerd's implementation wraps
 * every callback in a new native function (for error reporting and async
 * context), which costs more than the work it schedules; a resolved promise's
 * `then` is a plain V8 microtask with the same ordering.
 */
export function useCheapMicrotasks() {
  const resolved = Promise.resolve();
  globalThis.queueMicrotask = (callback) => {
    if (typeof callback !== "function") throw new TypeError("queueMicrotask: callback is not a function");
    resolved.then(callback);
  };
}

/**
 * The response cache in this colo's Cache API (`caches.default`), under a
 * synthetic GET URL (the Cache API refuses POST). `cacheGet` settles under
 * `key` with the entry's bytes or null; `cachePut` stores `body` for `ttl`
 * seconds (`body` views wasm memory, hence the copy).
 */
export function cacheGet(url, key) {
  track(
    caches.default.match(url).then((r) => (r ? r.arrayBuffer().then((b) => new Uint8Array(b)) : null)),
    key,
  );
}

export function cachePut(url, body, ttl, key) {
  const resp = new Response(body.slice(), { headers: { "cache-control": "max-age=" + ttl } });
  track(caches.default.put(url, resp), key);
}

/**
 * RS256 (RSASSA-PKCS1-v1_5, SHA-256) with WebCrypto over `message`, with a
 * PKCS#8 DER key; settles under `key` with the signature's bytes. Both
 * arguments view wasm memory, hence the copies.
 */
export function signRs256(der, message, key) {
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const msg = message.slice();
  track(
    crypto.subtle
      .importKey("pkcs8", der.slice(), alg, false, ["sign"])
      .then((k) => crypto.subtle.sign(alg, k, msg))
      .then((s) => new Uint8Array(s)),
    key,
  );
}

/**
 * `ctx.waitUntil(promise)`, where the request's context may already be
 * closing (a client that hung up mid-stream): then the work still runs, it
 * is only not waited for. (workers-rs unwraps the throw, which aborts the
 * whole instance.)
 */
export function waitUntil(ctx, promise) {
  try {
    ctx.waitUntil(promise);
  } catch {
    // The promise runs on; nothing holds the context open for it.
  }
}

/**
 * An upstream body, read chunk by chunk: each read settles under `key`
 * (through the same callback as `track`, without its extra promise) with
 * the chunk's bytes, or null at the end.
 */
export function bodyReader(stream) {
  return stream.getReader();
}

export function readChunk(reader, key) {
  const callback = settle;
  reader.read().then(
    (r) => callback(key, true, r.done ? null : r.value, undefined),
    (error) => callback(key, false, error, undefined),
  );
}

export function cancelReader(reader) {
  reader.cancel().catch(() => {});
}

/**
 * A response body the wasm side writes into, through workerd's native
 * `IdentityTransformStream`: a write is one call per chunk, and the bytes
 * leave without workerd pumping a JS stream (measured here: a JS
 * `ReadableStream` as the body costs about a third more CPU per chunk).
 * `enqueue` says whether the writer may go on (1), should wait until the
 * client has taken what is queued, which calls `onDrained(key)` (0: more
 * than 64 KiB waiting), or is gone (-1). A client that goes away calls
 * `onCancelled(key)` once.
 */
let onDrained = null;
let onCancelled = null;

export function onBodyEvents(drained, cancelled) {
  onDrained = drained;
  onCancelled = cancelled;
}

const QUEUE_LIMIT = 65536;
const sinks = new Map();

export function bodyStream(key) {
  const drained = onDrained;
  const cancelled = onCancelled;
  const { readable, writable } = new IdentityTransformStream();
  const sink = { writer: writable.getWriter(), queued: 0, waiting: false };
  sink.written = (n) => {
    sink.queued -= n;
    if (sink.waiting && sink.queued < QUEUE_LIMIT) {
      sink.waiting = false;
      drained(key);
    }
  };
  sink.failed = () => {
    if (sinks.delete(key)) cancelled(key);
  };
  sink.writer.closed.catch(sink.failed);
  sinks.set(key, sink);
  return readable;
}

export function enqueue(key, bytes) {
  const sink = sinks.get(key);
  if (!sink) return -1;
  const n = bytes.length;
  sink.queued += n;
  // `bytes` views wasm memory: copy it before anything can move it.
  sink.writer.write(bytes.slice()).then(() => sink.written(n), sink.failed);
  if (sink.queued < QUEUE_LIMIT) return 1;
  sink.waiting = true;
  return 0;
}

export function closeBody(key) {
  const sink = sinks.get(key);
  if (!sink) return;
  sinks.delete(key);
  sink.writer.close().catch(() => {});
}
