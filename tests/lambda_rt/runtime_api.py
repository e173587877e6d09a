"""A small local AWS Lambda: the Runtime API (2018-06-01) + a Function URL front.

Run::

    python tests/lambda_rt/runtime_api.py --binary target/release/dx-lambda \\
        --port 0 --port-file /tmp/lambda.port --instances 4 [--env KEY=VALUE ...]

What it does

* Starts ``--instances`` copies of ``--binary`` (plus any ``--arg``), each an
  "execution environment" that handles one invocation at a time, with this
  process's environment plus ``AWS_LAMBDA_RUNTIME_API``,
  ``AWS_LAMBDA_FUNCTION_NAME=dx-gateway``, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128``,
  ``AWS_LAMBDA_FUNCTION_VERSION=$LATEST``, ``AWS_LAMBDA_LOG_STREAM_NAME``,
  ``AWS_LAMBDA_LOG_GROUP_NAME``, ``AWS_REGION=us-east-1`` and the ``--env``
  pairs.  Each instance gets its own Runtime API listener on a free loopback
  port (so the emulator knows which instance is calling); the listeners all
  speak the same API:

  - ``GET  /2018-06-01/runtime/invocation/next``  (long poll; event JSON +
    ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``,
    ``-Invoked-Function-Arn``, ``-Trace-Id``)
  - ``POST /2018-06-01/runtime/invocation/{id}/response``  buffered JSON, or
    ``Lambda-Runtime-Function-Response-Mode: streaming`` (chunked; content
    type ``application/vnd.awslambda.http-integration-response``: JSON
    prelude ``{"statusCode","headers","cookies"}``, 8 NUL bytes, payload)
  - ``POST /2018-06-01/runtime/invocation/{id}/error``
  - ``POST /2018-06-01/runtime/init/error``

* The Function URL front on ``--port`` turns every HTTP request into a Function
  URL event (payload format 2.0), queues it for a free instance and relays the
  answer.  Streamed payload bytes are relayed to the client as they arrive
  (chunked), under the prelude's status/headers/cookies.  A buffered answer
  ``{"statusCode","headers","cookies","body","isBase64Encoded"}`` is also
  accepted (any other JSON is returned as a 200 ``application/json`` body).
  Answers carry ``x-rt-instance: <index>`` (not Lambda's: tells tests which
  instance answered).

* The Lambda Invoke API (as AWS's Runtime Interface Emulator serves it) on
  the same port: ``POST /2015-03-31/functions/{name}/invocations`` with the
  raw event as the body (synchronous ``RequestResponse`` invocations only)
  answers 200 with the function's response payload as it was posted, or,
  when the invocation failed, 200 with ``X-Amz-Function-Error: Unhandled``
  and the error document (``{"errorType", "errorMessage"}``) -- what the
  runtime posted to ``/error``, or one made up for a crash or a timeout.
  Scheduled and other non-HTTP events go this way.

* Failures: an ``/error`` report, an instance that dies, an invocation that
  outlives ``--timeout`` (the instance is killed, like Lambda) -> 502 if nothing
  was sent yet; once the prelude was relayed, the client connection is closed
  without finishing the chunked body.  Mid-stream errors reported as HTTP
  trailers ``Lambda-Runtime-Function-Error-Type``/``-Body`` -- or as a payload
  chunk starting with ``Lambda-Runtime-Function-Error-Type:``, which is how
  the Rust ``lambda_runtime`` crate writes them -- do the same.  Dead instances
  are restarted.  Request bodies (or events) over 6 MiB get 413 without an
  invocation, as the Function URL would.

* Measurements: each instance's init duration (spawn -> first ``/next``) is
  printed on stderr and served, with per-instance counters and RSS, by
  ``GET /_rt/stats`` on the front port.  ``--quiet`` drops the per-invocation
  lines.  For the last 256 streamed responses, ``stats["streams"]`` holds
  ``{"id", "instance", "head_to_body_ms"}``: the time from the response POST's
  head to its first body chunk.  A runtime client that leaves Nagle on
  (no ``TCP_NODELAY``) and writes the two separately waits there for this
  server's delayed ACK of the head, ~40 ms on Linux.  The listeners
  deliberately keep the kernel's default ACK behaviour (no ``TCP_QUICKACK``),
  as the real Runtime API does, so such a stall shows.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import http
import json
import os
import re
import secrets
import signal
import sys
import time
import uuid
from collections import deque
from typing import Any, AsyncIterator
from urllib.parse import unquote

from aiohttp import web

API = "/2018-06-01"
FUNCTION_NAME = "dx-gateway"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
URL_ID = "dxgatewaylocal0000000000000000"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Function URL / Invoke payload limit
MAX_BUFFERED_RESPONSE = 6 * 1024 * 1024
INTEGRATION_CT = "application/vnd.awslambda.http-integration-response"
ERROR_IN_DATA = b"Lambda-Runtime-Function-Error-Type:"
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}

_RESP_RE = re.compile(rf"^{API}/runtime/invocation/([^/]+)/(response|error)$")
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations$")


def log(msg: str) -> None:
    print(f"[rt] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- invocations


class Failure:
    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failure({self.reason!r})"


END = object()


class Head:
    def __init__(self, kind: str, status: int = 502, headers: list[tuple[str, str]] | None = None,
                 cookies: list[str] | None = None, body: bytes = b"", reason: str = ""):
        self.kind = kind  # "stream" | "buffered" | "error"
        self.status = status
        self.headers = headers or []
        self.cookies = cookies or []
        self.body = body
        self.reason = reason


class Invocation:
    def __init__(self, event: bytes, method: str, path: str, raw: bool = False):
        self.id = str(uuid.uuid4())
        # raw: an Invoke API call, whose answer is the payload as posted
        # (not an HTTP response object for a Function URL)
        self.raw = raw
        self.error_doc: bytes | None = None
        self.event = event
        self.method = method
        self.path = path
        now = time.time()
        self.trace_id = f"Root=1-{int(now):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0;Lineage=1:{secrets.token_hex(4)}:0"
        loop = asyncio.get_running_loop()
        self.head: asyncio.Future[Head] = loop.create_future()
        self.chunks: asyncio.Queue[Any] = asyncio.Queue()
        self.state = "queued"  # queued -> running -> done
        self.abandoned = False
        self.instance: Instance | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.t_submit = time.perf_counter()
        self.t_start = 0.0
        self.sent_bytes = 0
        self.outcome = ""
        self.head_to_body_ms: float | None = None  # streamed responses: POST head -> first body chunk

    @property
    def done(self) -> bool:
        return self.state == "done"

    def _finish(self, outcome: str) -> None:
        self.state = "done"
        self.outcome = outcome
        if self.timer:
            self.timer.cancel()

    def start_stream(self, status: int, headers: list[tuple[str, str]], cookies: list[str]) -> None:
        if not self.head.done():
            self.head.set_result(Head("stream", status, headers, cookies))

    def push(self, data: bytes) -> None:
        if data and not self.done:
            self.sent_bytes += len(data)
            self.chunks.put_nowait(data)

    def end(self) -> None:
        if self.done:
            return
        self._finish("ok")
        self.chunks.put_nowait(END)

    def buffered(self, status: int, headers: list[tuple[str, str]], cookies: list[str], body: bytes) -> None:
        if self.done:
            return
        self._finish("ok")
        if not self.head.done():
            self.head.set_result(Head("buffered", status, headers, cookies, body))

    def fail(self, reason: str) -> None:
        if self.done:
            return
        self._finish(f"error: {reason}")
        if not self.head.done():
            self.head.set_result(Head("error", reason=reason))
        else:
            self.chunks.put_nowait(Failure(reason))


class Dispatcher:
    """FIFO of invocations waiting for a free instance."""

    def __init__(self) -> None:
        self.pending: deque[Invocation] = deque()
        self.waiters: deque[asyncio.Future[Invocation]] = deque()

    def submit(self, inv: Invocation, front: bool = False) -> None:
        while self.waiters:
            w = self.waiters.popleft()
            if not w.done():
                w.set_result(inv)
                return
        if front:
            self.pending.appendleft(inv)
        else:
            self.pending.append(inv)

    async def take(self) -> Invocation:
        while True:
            while self.pending:
                inv = self.pending.popleft()
                if not inv.abandoned:
                    return inv
            fut: asyncio.Future[Invocation] = asyncio.get_running_loop().create_future()
            self.waiters.append(fut)
            try:
                inv = await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self.submit(fut.result(), front=True)
                else:
                    try:
                        self.waiters.remove(fut)
                    except ValueError:
                        pass
                raise
            if not inv.abandoned:
                return inv


# --------------------------------------------------------------------------- minimal HTTP/1.1 (Runtime API side)


async def read_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    try:
        data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise ConnectionError("truncated request head")
    lines = data[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ConnectionError(f"bad request line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        headers[k] = f"{headers[k]}, {v.strip()}" if k in headers else v.strip()
    return parts[0], parts[1], headers


async def iter_body(reader: asyncio.StreamReader, headers: dict[str, str], trailers: dict[str, str]) -> AsyncIterator[bytes]:
    """Yield the request body as it arrives: one item per HTTP chunk (chunked) or read."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while True:
                    tl = await reader.readuntil(b"\r\n")
                    if tl == b"\r\n":
                        return
                    k, _, v = tl.decode("latin-1").partition(":")
                    trailers[k.strip().lower()] = v.strip()
            data = await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise ConnectionError("bad chunk framing")
            yield data
    else:
        n = int(headers.get("content-length", "0") or 0)
        while n > 0:
            data = await reader.read(min(n, 65536))
            if not data:
                raise asyncio.IncompleteReadError(b"", n)
            n -= len(data)
            yield data


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str], limit: int = 64 * 1024 * 1024) -> bytes:
    out = bytearray()
    async for chunk in iter_body(reader, headers, {}):
        out += chunk
        if len(out) > limit:
            raise ConnectionError("body too large")
    return bytes(out)


async def write_response(writer: asyncio.StreamWriter, status: int, body: Any = None,
                         headers: dict[str, str] | None = None, content_type: str = "application/json") -> None:
    if isinstance(body, (dict, list)):
        payload = json.dumps(body).encode()
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = (body or "").encode()
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
             f"Content-Type: {content_type}",
             f"Content-Length: {len(payload)}",
             f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
    await writer.drain()


def parse_error_in_data(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    etype, ebody = "", ""
    for line in text.split("\r\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == "lambda-runtime-function-error-type":
            etype = v.strip()
        elif k.strip().lower() == "lambda-runtime-function-error-body":
            try:
                ebody = base64.b64decode(v.strip()).decode("utf-8", "replace")
            except ValueError:
                ebody = v.strip()
    return f"{etype}: {ebody}"


def prelude_headers(raw: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            for item in v if isinstance(v, list) else [v]:
                out.append((str(k), str(item)))
    return out


# --------------------------------------------------------------------------- instances


def _pdeathsig() -> None:  # runs in the child before exec: die with the emulator
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Instance:
    def __init__(self, rt: "Runtime", index: int):
        self.rt = rt
        self.index = index
        self.port = 0
        self.server: asyncio.base_events.Server | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.spawn_t = 0.0
        self.ready = False
        self.init_ms: float | None = None
        self.init_history: list[float] = []
        self.restarts = 0
        self.invocations = 0
        self.current: Invocation | None = None
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{secrets.token_hex(16)}"
        self._fast_exits = 0
        self._watch_task: asyncio.Task | None = None

    async def start_server(self) -> None:
        self.server = await asyncio.start_server(self.handle_conn, "127.0.0.1", 0, limit=1 << 20)
        self.port = self.server.sockets[0].getsockname()[1]

    async def spawn(self) -> None:
        env = dict(os.environ)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        })
        env.update(self.rt.extra_env)
        self.ready = False
        self.spawn_t = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            self.rt.binary, *self.rt.binary_args,
            env=env, stdin=asyncio.subprocess.DEVNULL, stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno(),
            preexec_fn=_pdeathsig,
        )
        self._watch_task = asyncio.ensure_future(self.watch(self.proc))

    async def watch(self, proc: asyncio.subprocess.Process) -> None:
        rc = await proc.wait()
        if self.rt.stopping:
            return
        lived = time.perf_counter() - self.spawn_t
        log(f"instance {self.index} (pid {proc.pid}) exited rc={rc} after {lived:.2f}s; restarting")
        if self.current is not None:
            self.current.fail(f"Runtime exited with error: exit status {rc}")
            self.current = None
        self._fast_exits = self._fast_exits + 1 if lived < 1.0 else 0
        if self._fast_exits:
            await asyncio.sleep(min(5.0, 0.1 * 2 ** self._fast_exits))
        if self.rt.stopping:
            return
        self.restarts += 1
        await self.spawn()

    def kill(self) -> None:
        if self.proc and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def rss(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if not self.proc or self.proc.returncode is not None:
            return out
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        k, v = line.split(":", 1)
                        out["rss_kb" if k == "VmRSS" else "hwm_kb"] = int(v.split()[0])
        except OSError:
            pass
        return out

    def stats(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.proc.pid if self.proc else None,
            "alive": bool(self.proc and self.proc.returncode is None),
            "runtime_api": f"127.0.0.1:{self.port}",
            "ready": self.ready,
            "init_ms": self.init_ms,
            "init_ms_history": self.init_history,
            "restarts": self.restarts,
            "invocations": self.invocations,
            "busy": self.current is not None,
            **self.rss(),
        }

    # ---- Runtime API
    async def handle_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await read_head(reader)
                if head is None:
                    break
                method, target, headers = head
                path = target.split("?", 1)[0]
                if method == "GET" and path == f"{API}/runtime/invocation/next":
                    await read_body(reader, headers)
                    if not await self.serve_next(reader, writer):
                        break
                elif method == "POST" and (m := _RESP_RE.match(path)):
                    if m.group(2) == "response":
                        await self.serve_response(m.group(1), reader, writer, headers)
                    else:
                        await self.serve_error(m.group(1), reader, writer, headers)
                elif method == "POST" and path == f"{API}/runtime/init/error":
                    body = await read_body(reader, headers)
                    log(f"instance {self.index} init error: {headers.get('lambda-runtime-function-error-type', '')} {body[:500]!r}")
                    await write_response(writer, 202, {"status": "OK"})
                    self.kill()
                else:
                    await read_body(reader, headers)
                    await write_response(writer, 404, {"errorMessage": f"unknown path {method} {path}", "errorType": "InvalidRequest"})
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            if self.current is not None and not self.rt.stopping:
                log(f"instance {self.index}: runtime connection error: {type(e).__name__}: {e}")
        finally:
            writer.close()

    async def serve_next(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if not self.ready:
            self.ready = True
            self.init_ms = (time.perf_counter() - self.spawn_t) * 1000
            self.init_history.append(round(self.init_ms, 3))
            log(f"instance {self.index} pid {self.proc.pid if self.proc else '?'} init {self.init_ms:.1f} ms")
        if self.current is not None:  # asked for more work without answering the last one
            self.current.fail("Runtime asked for the next event without responding")
            self.current = None
        take = asyncio.ensure_future(self.rt.dispatcher.take())
        eof = asyncio.ensure_future(reader.read(1))
        done, _ = await asyncio.wait({take, eof}, return_when=asyncio.FIRST_COMPLETED)
        if eof in done:  # the runtime went away (or sent garbage) while polling
            take.cancel()
            try:
                inv = await take
            except asyncio.CancelledError:
                pass
            else:
                self.rt.dispatcher.submit(inv, front=True)
            return False
        eof.cancel()
        try:
            await eof
        except asyncio.CancelledError:
            pass
        inv = take.result()
        deadline_ms = int(time.time() * 1000 + self.rt.timeout * 1000)
        try:
            await write_response(writer, 200, inv.event, {
                "Lambda-Runtime-Aws-Request-Id": inv.id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": inv.trace_id,
            })
        except (ConnectionError, OSError):
            self.rt.dispatcher.submit(inv, front=True)
            return False
        inv.state = "running"
        inv.instance = self
        inv.t_start = time.perf_counter()
        self.current = inv
        self.invocations += 1
        inv.timer = asyncio.get_running_loop().call_later(self.rt.timeout, self.on_timeout, inv)
        return True

    def on_timeout(self, inv: Invocation) -> None:
        if inv.done:
            return
        inv.fail(f"Task timed out after {self.rt.timeout:.2f} seconds")
        log(f"instance {self.index}: invocation {inv.id[:8]} timed out; killing the instance")
        if self.current is inv:
            self.current = None
        self.kill()

    def _lookup(self, req_id: str) -> Invocation | None:
        inv = self.rt.invocations.get(req_id)
        if inv is None or inv.state != "running" or inv.instance is not self:
            return None
        return inv

    async def serve_error(self, req_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]) -> None:
        body = await read_body(reader, headers)
        inv = self._lookup(req_id)
        if inv is None:
            await write_response(writer, 400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            return
        inv.error_doc = body
        try:
            detail = json.loads(body)
            reason = f"{detail.get('errorType', '')}: {detail.get('errorMessage', '')}"
        except (ValueError, AttributeError):
            reason = body[:500].decode("utf-8", "replace")
        inv.fail(f"function error ({headers.get('lambda-runtime-function-error-type', 'Unhandled')}) {reason}")
        if self.current is inv:
            self.current = None
        await write_response(writer, 202, {"status": "OK"})

    async def serve_response(self, req_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]) -> None:
        inv = self._lookup(req_id)
        if inv is None:
            await read_body(reader, headers)
            await write_response(writer, 400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            return
        streaming = headers.get("lambda-runtime-function-response-mode", "").lower() == "streaming"
        t_head = time.perf_counter()  # the head was parsed just before this call
        try:
            if streaming:
                await self._relay_stream(inv, reader, headers, t_head)
            else:
                self._finish_buffered(inv, await read_body(reader, headers))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            inv.fail(f"response stream broken: {type(e).__name__}: {e}")
            if self.current is inv:
                self.current = None
            raise ConnectionError("response stream broken") from e
        if self.current is inv:
            self.current = None
        await write_response(writer, 202, {"status": "OK"})

    async def _relay_stream(self, inv: Invocation, reader: asyncio.StreamReader, headers: dict[str, str], t_head: float) -> None:
        ctype = headers.get("content-type", "")
        integration = ctype.split(";")[0].strip().lower() == INTEGRATION_CT
        if not integration:
            inv.start_stream(200, [("content-type", ctype or "application/octet-stream")], [])
        buf = bytearray()
        have_prelude = not integration
        trailers: dict[str, str] = {}
        errored = False
        async for chunk in iter_body(reader, headers, trailers):
            if inv.head_to_body_ms is None:
                inv.head_to_body_ms = (time.perf_counter() - t_head) * 1000
                self.rt.streams.append({"id": inv.id, "instance": self.index, "head_to_body_ms": round(inv.head_to_body_ms, 3)})
            if errored:
                continue
            if not have_prelude:
                buf += chunk
                idx = buf.find(b"\0" * 8)
                if idx < 0:
                    if len(buf) > 1024 * 1024:
                        raise ValueError("no prelude delimiter in the first MiB")
                    continue
                prelude = json.loads(bytes(buf[:idx]))
                rest = bytes(buf[idx + 8 :])
                have_prelude = True
                inv.start_stream(int(prelude.get("statusCode", 200)), prelude_headers(prelude.get("headers")),
                                 [str(c) for c in prelude.get("cookies") or []])
                chunk = rest
            if chunk.startswith(ERROR_IN_DATA):
                inv.fail(f"mid-stream error: {parse_error_in_data(chunk)}")
                errored = True
                continue
            inv.push(chunk)
        if errored:
            return
        if "lambda-runtime-function-error-type" in trailers:
            body = trailers.get("lambda-runtime-function-error-body", "")
            try:
                body = base64.b64decode(body).decode("utf-8", "replace")
            except ValueError:
                pass
            inv.fail(f"mid-stream error (trailer): {trailers['lambda-runtime-function-error-type']}: {body}")
        elif not have_prelude:
            inv.fail("streaming response ended before the prelude delimiter")
        else:
            inv.end()

    def _finish_buffered(self, inv: Invocation, body: bytes) -> None:
        if len(body) > MAX_BUFFERED_RESPONSE:
            inv.fail(f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size ({MAX_BUFFERED_RESPONSE} bytes).")
            return
        if inv.raw:
            inv.buffered(200, [("content-type", "application/json")], [], body)
            return
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            inv.buffered(200, [("content-type", "application/json")], [], body)
            return
        if isinstance(doc, dict) and "statusCode" in doc:
            hdrs = prelude_headers(doc.get("headers"))
            for k, vs in (doc.get("multiValueHeaders") or {}).items():
                for v in vs if isinstance(vs, list) else [vs]:
                    hdrs.append((str(k), str(v)))
            raw = doc.get("body")
            if raw is None:
                payload = b""
            elif doc.get("isBase64Encoded"):
                payload = base64.b64decode(raw)
            else:
                payload = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
            inv.buffered(int(doc["statusCode"]), hdrs, [str(c) for c in doc.get("cookies") or []], payload)
        else:
            inv.buffered(200, [("content-type", "application/json")], [], body)


# --------------------------------------------------------------------------- the Function URL front


# aiohttp hands over header bytes that are not UTF-8 as surrogate escapes
# (U+DC80..U+DCFF), which json.dumps writes as lone ``\udcNN`` escapes.
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


def encode_event(event: dict[str, Any]) -> bytes:
    r"""The event's JSON as Lambda's HTTP fronts write it.

    AWS does not document what a Function URL puts in the event for header
    bytes that are not UTF-8. What is on record is an AWS front (an ALB,
    aws-lambda-rust-runtime issue #509) writing such a byte as a ``\xNN``
    escape inside the JSON string -- not valid JSON, which ``lambda_http``
    then refuses. This emulator does the same, so the runtime has to cope.
    """
    text = json.dumps(event, separators=(",", ":"))
    return _SURROGATE_ESCAPE.sub(lambda m: m.group(1) + "\\x" + m.group(2), text).encode()


def build_event(request: web.Request, body: bytes, request_id: str) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for k, v in request.headers.items():
        lk = k.lower()
        if lk == "cookie":
            cookies.extend(c.strip() for c in v.split(";") if c.strip())
            continue
        headers[lk] = f"{headers[lk]},{v}" if lk in headers else v
    peer = (request.transport.get_extra_info("peername") if request.transport else None) or ("127.0.0.1", 0)
    sock = (request.transport.get_extra_info("sockname") if request.transport else None) or ("127.0.0.1", 0)
    headers.setdefault("x-forwarded-for", peer[0])
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-forwarded-port", str(sock[1]))
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
    raw_query = request.rel_url.raw_query_string
    query: dict[str, str] = {}
    for k, v in request.rel_url.query.items():
        query[k] = f"{query[k]},{v}" if k in query else v
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.rel_url.raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": "anonymous",
        "apiId": URL_ID,
        "domainName": f"{URL_ID}.lambda-url.{REGION}.on.aws",
        "domainPrefix": URL_ID,
        "http": {
            "method": request.method,
            "path": unquote(request.rel_url.raw_path),
            "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
            "sourceIp": peer[0],
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if body:
        try:
            event["body"] = body.decode("utf-8")
            event["isBase64Encoded"] = False
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def _lambda_error(status: int, message: str, etype: str) -> web.Response:
    return web.json_response({"Message": message}, status=status, headers={"x-amzn-ErrorType": etype})


async def _drop_connection(request: web.Request) -> None:
    tr = request.transport
    if tr is None:
        return
    for _ in range(200):
        if tr.is_closing() or tr.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    tr.close()


class Runtime:
    def __init__(self, args: argparse.Namespace):
        self.binary = args.binary
        self.binary_args = args.arg or []
        self.timeout = args.timeout
        self.quiet = args.quiet
        self.extra_env = dict(kv.split("=", 1) for kv in (args.env or []))
        self.instances: list[Instance] = []
        self.dispatcher = Dispatcher()
        self.invocations: dict[str, Invocation] = {}
        self.total = 0
        self.streams: deque[dict[str, Any]] = deque(maxlen=256)  # see "Measurements" above
        self.stopping = False
        self.n_instances = args.instances

    async def start(self) -> None:
        for i in range(self.n_instances):
            inst = Instance(self, i)
            await inst.start_server()
            self.instances.append(inst)
        for inst in self.instances:
            await inst.spawn()

    async def stop(self) -> None:
        self.stopping = True
        for inst in self.instances:
            if inst.proc and inst.proc.returncode is None:
                try:
                    inst.proc.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3
        for inst in self.instances:
            if inst.proc:
                try:
                    await asyncio.wait_for(inst.proc.wait(), max(0.05, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    inst.kill()
        for inst in self.instances:
            if inst.server:
                inst.server.close()

    def stats(self) -> dict[str, Any]:
        inits = [i.init_ms for i in self.instances if i.init_ms is not None]
        return {
            "function": FUNCTION_NAME,
            "timeout_s": self.timeout,
            "invocations_total": self.total,
            "queued": len(self.dispatcher.pending),
            "init_ms_max": max(inits) if inits else None,
            "instances": [i.stats() for i in self.instances],
            "streams": list(self.streams),
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_rt/stats":
            return web.json_response(self.stats())
        if request.method == "POST" and _INVOKE_RE.match(request.path):
            return await self.invoke(request)
        body = await request.read()
        if len(body) > MAX_REQUEST_BYTES:
            return _lambda_error(413, f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation", "RequestEntityTooLargeException")
        req_id = str(uuid.uuid4())
        event = encode_event(build_event(request, body, req_id))
        if len(event) > MAX_REQUEST_BYTES:
            return _lambda_error(413, f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation", "RequestEntityTooLargeException")
        inv = Invocation(event, request.method, request.path_qs)
        inv.id = req_id
        self.invocations[inv.id] = inv
        self.total += 1
        self.dispatcher.submit(inv)
        relayed = "?"
        try:
            head = await inv.head
            if head.kind == "error":
                relayed = f"502 ({head.reason})"
                return _lambda_error(502, "Internal Server Error", "FunctionError")
            if head.kind == "buffered":
                resp = web.Response(status=head.status, body=head.body)
                self._apply_headers(resp, head, inv)
                relayed = f"{head.status} buffered"
                return resp
            sresp = web.StreamResponse(status=head.status)
            self._apply_headers(sresp, head, inv)
            await sresp.prepare(request)
            while True:
                item = await inv.chunks.get()
                if isinstance(item, bytes):
                    await sresp.write(item)
                elif item is END:
                    await sresp.write_eof()
                    relayed = f"{head.status} stream"
                    return sresp
                else:
                    relayed = f"{head.status} stream, then dropped ({item.reason})"
                    await _drop_connection(request)
                    return sresp
        except asyncio.CancelledError:
            relayed = "client went away"
            raise
        finally:
            inv.abandoned = True
            if inv.done or inv.state == "queued":
                self.invocations.pop(inv.id, None)
            else:
                asyncio.get_running_loop().call_later(max(self.timeout, 1) + 5, self.invocations.pop, inv.id, None)
            if not self.quiet:
                ms = (time.perf_counter() - inv.t_submit) * 1000
                where = f"instance {inv.instance.index}" if inv.instance else "not started"
                gap = f", head->body {inv.head_to_body_ms:.1f} ms" if inv.head_to_body_ms is not None else ""
                log(f"inv {inv.id[:8]} {inv.method} {inv.path} -> {relayed} {ms:.1f} ms ({where}{gap})")

    async def invoke(self, request: web.Request) -> web.Response:
        """The Invoke API: the raw event in, the raw payload (or the error document) out."""
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind != "RequestResponse":
            return _lambda_error(400, f"X-Amz-Invocation-Type {kind} is not emulated", "InvalidParameterValueException")
        body = await request.read()
        if len(body) > MAX_REQUEST_BYTES:
            return _lambda_error(413, f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation", "RequestEntityTooLargeException")
        inv = Invocation(body or b"{}", "INVOKE", request.path, raw=True)
        self.invocations[inv.id] = inv
        self.total += 1
        self.dispatcher.submit(inv)
        headers = {"x-amzn-RequestId": inv.id, "X-Amz-Executed-Version": "$LATEST"}
        payload, failed = b"", ""
        try:
            head = await inv.head
            if head.kind == "buffered":
                payload = head.body
            elif head.kind == "stream":  # a raw streamed answer: gather it
                chunks = bytearray()
                while True:
                    item = await inv.chunks.get()
                    if isinstance(item, bytes):
                        chunks += item
                    elif item is END:
                        break
                    else:
                        failed = item.reason
                        break
                payload = bytes(chunks)
            else:
                failed = head.reason
            if failed:
                headers["X-Amz-Function-Error"] = "Unhandled"
                payload = inv.error_doc or json.dumps({"errorMessage": failed, "errorType": "Runtime.Unknown"}).encode()
            return web.Response(status=200, body=payload, content_type="application/json", headers=headers)
        finally:
            inv.abandoned = True
            if inv.done or inv.state == "queued":
                self.invocations.pop(inv.id, None)
            if not self.quiet:
                ms = (time.perf_counter() - inv.t_submit) * 1000
                where = f"instance {inv.instance.index}" if inv.instance else "not started"
                log(f"inv {inv.id[:8]} invoke -> {'error: ' + failed if failed else 'ok'} {ms:.1f} ms ({where})")

    @staticmethod
    def _apply_headers(resp: web.StreamResponse, head: Head, inv: Invocation) -> None:
        for k, v in head.headers:
            if k.lower() in HOP_BY_HOP:
                continue
            resp.headers.add(k, v)
        for c in head.cookies:
            resp.headers.add("Set-Cookie", c)
        resp.headers["x-amzn-requestid"] = inv.id
        if inv.instance is not None:  # the emulator's own: which instance answered
            resp.headers["x-rt-instance"] = str(inv.instance.index)


async def _main(args: argparse.Namespace) -> None:
    if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        raise SystemExit(f"runtime_api: --binary {args.binary!r} is not an executable file")
    rt = Runtime(args)
    await rt.start()
    app = web.Application(client_max_size=MAX_REQUEST_BYTES * 4)
    app.router.add_route("*", "/{tail:.*}", rt.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    log(f"function URL on http://{args.host}:{port}; {len(rt.instances)} instance(s) of {args.binary}; "
        f"runtime API ports {[i.port for i in rt.instances]}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await rt.stop()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True, help="the Lambda bootstrap executable")
    p.add_argument("--arg", action="append", help="argument for the binary (repeatable)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="Function URL port (0 = free port)")
    p.add_argument("--port-file", help="write the Function URL port here once listening")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60.0, help="function timeout in seconds")
    p.add_argument("--env", action="append", help="KEY=VALUE for the function (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no per-invocation log lines")
    asyncio.run(_main(p.parse_args(argv)))


if __name__ == "__main__":
    main()
