"""Lambda shell figures: binary size, cold init, RSS, per-invocation time.

    python3 bench/lambda_bench.py --binary target/lambda/dx-lambda --upstream-port U --out FILE
        [--cold-runs 20] [--n 200] [--warmup 20] [--cpu 0] [--emulator tests/lambda_rt/runtime_api.py]

Runs the binary the way Lambda does, against a minimal Runtime API
(2018-06-01) served by this script on 127.0.0.1, so that every timestamp is
taken right where the runtime talks to it:

* cold init: spawn -> the process's first `GET /runtime/invocation/next`,
  over --cold-runs fresh processes (each killed once it asks for work).
* per invocation: the `/next` answer (a Function URL payload-2.0 event for
  `POST /v1/chat/completions`) is written -> the streamed
  `POST /runtime/invocation/{id}/response` (JSON prelude, 8 NUL bytes, body,
  chunked) has been read to its end. Non-stream and `"stream": true`
  requests, --n each, after --warmup, against the benchmark upstream.
  Measured twice: against a plain server socket ("warm": the kernel's
  delayed ACKs apply, as with most servers), and against one that sets
  TCP_QUICKACK after every read ("warm_quickack"). The two match now that
  the shell's Runtime API client sets TCP_NODELAY (the patched
  vendor/lambda_runtime_api_client); a client without it loses ~40 ms per
  invocation to Nagle + delayed ACK on the plain server, because it writes
  the request head and the first body chunk separately.
* cold init with a state table (--state-table): the same, with
  DX_STATE_TABLE set against a DynamoDB Local that holds a stored catalog
  copy, so that every start also starts loading it (in the background).
* RSS: VmHWM / VmRSS from /proc/<pid>/status after all invocations; CPU-ms
  per invocation from /proc/<pid>/stat utime+stime over the measured ones.

The binary runs pinned to --cpu with a Lambda-like minimal environment (no
proxy variables; AWS_LAMBDA_* as Lambda sets them; DX_MASTER_KEY and
DX_CONFIG for the gateway). With --emulator, tests/lambda_rt/runtime_api.py
is also started once as a cross-check (its reported init time and RSS, and
one request through its Function URL front); any failure there is recorded,
not fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import procstat  # noqa: E402
from httpraw import Conn, ProtocolError, summary  # noqa: E402
from worker_bench import gateway_log  # noqa: E402
from workerd_config import MASTER_KEY, gateway_config  # noqa: E402

API = "/2018-06-01"
RESP_RE = re.compile(rf"^{API}/runtime/invocation/([^/]+)/(response|error)$")
PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
FUNCTION = "dx-gateway"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
URL_ID = "dxbench00000000000000000000000"


def log(msg: str) -> None:
    print(f"[lambda] {msg}", file=sys.stderr, flush=True)


def url_event(body: bytes, request_id: str) -> bytes:
    now = time.time()
    return json.dumps({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/chat/completions",
        "rawQueryString": "",
        "headers": {
            "authorization": f"Bearer {MASTER_KEY}",
            "content-type": "application/json",
            "content-length": str(len(body)),
            "host": f"{URL_ID}.lambda-url.us-east-1.on.aws",
            "user-agent": "dx-bench",
            "x-amzn-trace-id": f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}",
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": f"{URL_ID}.lambda-url.us-east-1.on.aws",
            "domainPrefix": URL_ID,
            "http": {"method": "POST", "path": "/v1/chat/completions", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "dx-bench"},
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }, separators=(",", ":")).encode()


class Invocation:
    def __init__(self, event: bytes, request_id: str):
        self.id = request_id
        self.event = event
        self.t_handed = 0.0
        self.t_post_head: float | None = None
        self.t_prelude: float | None = None
        self.t_first_payload: float | None = None
        self.t_end = 0.0
        self.mode = ""
        self.status: int | None = None
        self.payload = bytearray()
        self.error = ""
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()


class QuickAckProtocol(asyncio.StreamReaderProtocol):
    """Sends the ACK for every segment at once (TCP_QUICKACK after each read)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sock = transport.get_extra_info("socket")
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass
        super().data_received(data)


class RuntimeAPI:
    """One execution environment's Runtime API: a fresh one per process.

    quickack=False is a plain server (the kernel's delayed ACKs apply, as they
    would for most servers); quickack=True ACKs every segment immediately.
    """

    def __init__(self, quickack: bool = False) -> None:
        self.quickack = quickack
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        loop = asyncio.get_running_loop()
        self.first_next: asyncio.Future[float] = loop.create_future()
        self.queue: asyncio.Queue[Invocation] = asyncio.Queue()
        self.running: dict[str, Invocation] = {}
        self.protocol_errors: list[str] = []
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=1 << 22, loop=loop)
            cls = QuickAckProtocol if self.quickack else asyncio.StreamReaderProtocol
            return cls(reader, self.conn, loop=loop)

        self.server = await loop.create_server(factory, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening and end every connection handler (some may be parked on /next)."""
        if self.server:
            self.server.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                path = target.split("?", 1)[0]
                if method == "GET" and path == f"{API}/runtime/invocation/next":
                    if not self.first_next.done():
                        self.first_next.set_result(time.perf_counter())
                    await self.skip_body(reader, headers)
                    inv = await self.queue.get()
                    self.running[inv.id] = inv
                    deadline = int(time.time() * 1000) + 60_000
                    writer.write(self.response_bytes(200, inv.event, {
                        "Lambda-Runtime-Aws-Request-Id": inv.id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": ARN,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                    }))
                    await writer.drain()
                    inv.t_handed = time.perf_counter()
                elif method == "POST" and (m := RESP_RE.match(path)):
                    t_head = time.perf_counter()
                    inv = self.running.pop(m.group(1), None)
                    if inv is not None:
                        inv.t_post_head = t_head
                    if inv is None:
                        await self.skip_body(reader, headers)
                        self.protocol_errors.append(f"{method} {path}: unknown request id")
                        writer.write(self.response_bytes(400, b'{"errorType":"InvalidRequestID"}'))
                    elif m.group(2) == "error":
                        body = await self.read_all(reader, headers)
                        inv.error = f"{headers.get('lambda-runtime-function-error-type', '')}: {body[:300]!r}"
                        inv.t_end = time.perf_counter()
                        writer.write(self.response_bytes(202, b'{"status":"OK"}'))
                        inv.done.set_result(None)
                    else:
                        await self.read_response(inv, reader, headers)
                        writer.write(self.response_bytes(202, b'{"status":"OK"}'))
                        inv.done.set_result(None)
                    await writer.drain()
                elif method == "POST" and path == f"{API}/runtime/init/error":
                    body = await self.read_all(reader, headers)
                    self.protocol_errors.append(f"init error: {body[:300]!r}")
                    if not self.first_next.done():
                        self.first_next.set_exception(RuntimeError(f"init error: {body[:300]!r}"))
                    writer.write(self.response_bytes(202, b'{"status":"OK"}'))
                    await writer.drain()
                else:
                    await self.skip_body(reader, headers)
                    self.protocol_errors.append(f"unexpected {method} {path}")
                    writer.write(self.response_bytes(404, b'{"errorType":"NotFound"}'))
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
            self.protocol_errors.append(f"connection: {type(e).__name__}: {e}")
        except asyncio.CancelledError:
            pass  # aclose(): e.g. a killed cold-start process still parked on /next
        finally:
            writer.close()
            if task is not None:
                self.tasks.discard(task)

    @staticmethod
    def response_bytes(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
        reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}[status]
        lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    @staticmethod
    async def chunks(reader: asyncio.StreamReader, headers: dict[str, str]):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers
                    return
                data = await reader.readexactly(size + 2)
                yield data[:-2]
        else:
            n = int(headers.get("content-length", "0") or 0)
            if n:
                yield await reader.readexactly(n)

    async def skip_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
        async for _ in self.chunks(reader, headers):
            pass

    async def read_all(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        out = bytearray()
        async for c in self.chunks(reader, headers):
            out += c
        return bytes(out)

    async def read_response(self, inv: Invocation, reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
        streaming = headers.get("lambda-runtime-function-response-mode", "").lower() == "streaming"
        inv.mode = "streaming" if streaming else "buffered"
        buf = bytearray()
        have_prelude = not streaming
        async for c in self.chunks(reader, headers):
            now = time.perf_counter()
            if not have_prelude:
                buf += c
                i = buf.find(b"\0" * 8)
                if i < 0:
                    continue
                inv.t_prelude = now
                try:
                    inv.status = int(json.loads(bytes(buf[:i])).get("statusCode", 200))
                except ValueError:
                    inv.error = f"bad prelude {bytes(buf[:i])[:200]!r}"
                c = bytes(buf[i + 8:])
                have_prelude = True
            if c:
                if inv.t_first_payload is None:
                    inv.t_first_payload = now
                inv.payload += c
        inv.t_end = time.perf_counter()
        if not streaming:  # a buffered {"statusCode", "body"} answer
            try:
                doc = json.loads(bytes(inv.payload))
                inv.status = int(doc.get("statusCode", 200))
                inv.payload = bytearray(str(doc.get("body", "")).encode())
            except (ValueError, AttributeError):
                inv.status = 200
        elif not have_prelude:
            inv.error = "stream ended before the prelude delimiter"


def proc_cpu_ms(pid: int) -> float:
    return procstat.sched_cpu_ms(pid)


def proc_mem_kb(pid: int) -> dict[str, int]:
    return procstat.mem_kb(pid)


class Bench:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "DX_MASTER_KEY": MASTER_KEY,
            "DX_CONFIG": gateway_config(a.upstream_port),
        }
        self.log_path = a.log
        self.procs: list[asyncio.subprocess.Process] = []

    async def spawn(self, rt: RuntimeAPI, extra_env: dict[str, str] | None = None) -> tuple[asyncio.subprocess.Process, float]:
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{rt.port}", **(extra_env or {}))
        mine = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {self.a.cpu})  # the child inherits the spawning thread's mask
        try:
            with open(self.log_path, "ab") as logf:
                t0 = time.perf_counter()
                proc = await asyncio.create_subprocess_exec(
                    self.a.binary, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        finally:
            os.sched_setaffinity(0, mine)
        self.procs.append(proc)
        return proc, t0

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()

    async def cold_inits(self, extra_env: dict[str, str] | None = None) -> dict:
        times, failures = [], []
        deadline = time.monotonic() + self.a.max_seconds / 3
        for i in range(self.a.cold_runs):
            if time.monotonic() > deadline:
                failures.append(f"stopped after {i} runs (time bound)")
                break
            rt = RuntimeAPI()
            await rt.start()
            proc, t0 = await self.spawn(rt, extra_env)
            try:
                t1 = await asyncio.wait_for(rt.first_next, 5.0)
                times.append((t1 - t0) * 1000)
            except (asyncio.TimeoutError, RuntimeError) as e:
                failures.append(f"run {i}: {type(e).__name__}: {e}; rc={proc.returncode}")
            finally:
                await self.stop(proc)
                await rt.aclose()
        return {"runs": len(times), "init_ms": summary(times), "samples_ms": [round(t, 3) for t in times],
                "failures": failures}

    async def invoke(self, rt: RuntimeAPI, body: bytes) -> Invocation:
        req_id = str(uuid.uuid4())
        inv = Invocation(url_event(body, req_id), req_id)
        rt.queue.put_nowait(inv)
        await asyncio.wait_for(inv.done, 10.0)
        return inv

    async def warm(self, quickack: bool = False) -> dict:
        rt = RuntimeAPI(quickack)
        await rt.start()
        proc, t0 = await self.spawn(rt)
        out: dict = {"pid": proc.pid, "runtime_api_quickack": quickack}
        try:
            t1 = await asyncio.wait_for(rt.first_next, 5.0)
            out["init_ms"] = round((t1 - t0) * 1000, 3)
            bodies = {
                "non_stream": json.dumps({"model": "bench", "messages": PROMPT}).encode(),
                "stream": json.dumps({"model": "bench", "messages": PROMPT, "stream": True}).encode(),
            }
            out["mem_kb_after_init"] = proc_mem_kb(proc.pid)
            deadline = time.monotonic() + self.a.max_seconds / 2
            for kind, body in bodies.items():
                for _ in range(self.a.warmup):
                    await self.invoke(rt, body)
                total, heads, first, modes, statuses, bad = [], [], [], {}, {}, []
                cpu0 = proc_cpu_ms(proc.pid)
                n = 0
                for _ in range(self.a.n):
                    if time.monotonic() > deadline:
                        bad.append("stopped early (time bound)")
                        break
                    inv = await self.invoke(rt, body)
                    n += 1
                    statuses[str(inv.status)] = statuses.get(str(inv.status), 0) + 1
                    modes[inv.mode or "error"] = modes.get(inv.mode or "error", 0) + 1
                    payload = bytes(inv.payload)
                    good = (inv.status == 200 and not inv.error and
                            (payload.rstrip().endswith(b"data: [DONE]") if kind == "stream"
                             else b'"chat.completion"' in payload))
                    if not good:
                        bad.append(f"status {inv.status} {inv.error} {payload[:200]!r}")
                        continue
                    total.append((inv.t_end - inv.t_handed) * 1000)
                    if inv.t_post_head is not None:
                        heads.append((inv.t_post_head - inv.t_handed) * 1000)
                    if inv.t_first_payload is not None:
                        first.append((inv.t_first_payload - inv.t_handed) * 1000)
                cpu1 = proc_cpu_ms(proc.pid)
                out[kind] = {
                    "invocation_ms": summary(total),
                    "response_post_head_ms": summary(heads),
                    "first_payload_byte_ms": summary(first),
                    "cpu_ms_per_invocation": round((cpu1 - cpu0) / max(n, 1), 4),
                    "statuses": statuses,
                    "response_modes": modes,
                    "failures": len(bad),
                    "failure_samples": bad[:5],
                }
            out["mem_kb"] = proc_mem_kb(proc.pid)
            out["protocol_errors"] = rt.protocol_errors[:10]
        finally:
            await self.stop(proc)
            await rt.aclose()
        return out

    def direct_reference(self) -> dict:
        """The same two requests straight to the upstream, from a blocking client in this process."""
        out = {}
        for kind, stream in (("non_stream", False), ("stream", True)):
            conn = Conn("127.0.0.1", self.a.upstream_port)
            body = json.dumps({"model": "gpt-4.1-nano", "messages": PROMPT, **({"stream": True} if stream else {})}).encode()
            times = []
            try:
                for i in range(self.a.warmup + self.a.n):
                    r = conn.request("POST", "/v1/chat/completions",
                                     {"Authorization": "Bearer sk-upstream", "Content-Type": "application/json"}, body)
                    if i >= self.a.warmup and r.status == 200:
                        times.append(r.total_ms)
            except (OSError, ProtocolError) as e:
                out[f"{kind}_error"] = f"{type(e).__name__}: {e}"
            finally:
                conn.close()
            out[kind] = summary(times)
        return out


def emulator_check(a: argparse.Namespace) -> dict:
    """One start of tests/lambda_rt/runtime_api.py: its init figure, RSS, and one request."""
    out: dict = {"script": a.emulator}
    if not os.path.isfile(a.emulator):
        out["error"] = "not found"
        return out
    with tempfile.TemporaryDirectory() as d:
        port_file = os.path.join(d, "port")
        cmd = [sys.executable, a.emulator, "--binary", os.path.abspath(a.binary), "--port", "0",
               "--port-file", port_file, "--instances", "1", "--quiet",
               "--env", f"DX_MASTER_KEY={MASTER_KEY}", "--env", f"DX_CONFIG={gateway_config(a.upstream_port)}"]
        with open(a.log + ".emulator", "ab") as logf:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        try:
            deadline = time.monotonic() + 15
            while not os.path.exists(port_file) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            if not os.path.exists(port_file):
                out["error"] = f"no port file within 15 s (exit code {proc.poll()})"
                return out
            port = int(open(port_file).read().strip())
            conn = Conn("127.0.0.1", port)
            stats = None
            while time.monotonic() < deadline:
                stats = json.loads(conn.request("GET", "/_rt/stats", {}).body)
                if (stats.get("instances") or [{}])[0].get("init_ms") is not None:
                    break
                time.sleep(0.05)
            body = json.dumps({"model": "bench", "messages": PROMPT}).encode()
            r = conn.request("POST", "/v1/chat/completions",
                             {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"}, body)
            out["request_status"] = r.status
            out["request_ok"] = r.status == 200 and b'"chat.completion"' in r.body
            if not out["request_ok"]:
                out["request_body"] = r.body[:300].decode("utf-8", "replace")
            stats = json.loads(conn.request("GET", "/_rt/stats", {}).body)
            conn.close()
            inst = (stats.get("instances") or [{}])[0]
            out.update({k: inst.get(k) for k in ("init_ms", "hwm_kb", "rss_kb", "invocations", "restarts")})
        except (OSError, ProtocolError, ValueError, KeyError, IndexError) as e:
            out["error"] = f"{type(e).__name__}: {e}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out


async def cold_inits_with_state_table(b: Bench, runs: int) -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from harness import start_dynamodb_local  # noqa: E402

    with tempfile.TemporaryDirectory() as d:
        try:
            db = start_dynamodb_local(Path(d))
        except RuntimeError as e:
            return {"runs": 0, "failures": [f"DynamoDB Local: {e}"]}
        try:
            db.create_state_table("dx-bench")
            root = Path(__file__).resolve().parent.parent
            text = (root / "core" / "data" / "catalog.tsv").read_bytes()
            text = text.replace(b"#dx-catalog\t1\t", b"#dx-catalog\t1\tstored ", 1)
            version = db.put_catalog_copy("dx-bench", text)
            out = await b.cold_inits(db.env("dx-bench"))
            out["stored_version"] = version
            return out
        finally:
            assert db.proc is not None
            db.proc.stop()


async def amain(a: argparse.Namespace) -> dict:
    b = Bench(a)
    res: dict = {"binary": a.binary, "binary_bytes": os.path.getsize(a.binary), "cpu": a.cpu}
    try:
        log(f"cold init x{a.cold_runs}")
        res["cold_init"] = await b.cold_inits()
        if a.state_table:
            log(f"cold init x{a.cold_runs} with DX_STATE_TABLE (DynamoDB Local holding a catalog copy)")
            res["cold_init_state_table"] = await cold_inits_with_state_table(b, a.cold_runs)
        log(f"warm invocations: {a.warmup} warm-up + {a.n} measured, non-stream and stream")
        res["warm"] = await b.warm()
        log("again, with a Runtime API that ACKs every segment at once (TCP_QUICKACK)")
        res["warm_quickack"] = await b.warm(quickack=True)
    finally:
        for p in b.procs:
            if p.returncode is None:
                p.kill()
    res["upstream_direct_ms"] = b.direct_reference()
    res["binary_log"] = gateway_log(a.log)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log", default=os.devnull, help="append the binary's stdout/stderr here")
    p.add_argument("--cold-runs", type=int, default=20)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--cpu", type=int, default=0, help="core the binary runs on")
    p.add_argument("--max-seconds", type=float, default=180.0)
    p.add_argument("--emulator", help="also cross-check with this runtime_api.py")
    p.add_argument("--state-table", action="store_true",
                   help="also cold-start with DX_STATE_TABLE set (DynamoDB Local from node_modules, Java)")
    a = p.parse_args()
    res = asyncio.run(amain(a))
    if a.emulator:
        log("cross-check with the Runtime API emulator")
        res["emulator"] = emulator_check(a)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)
    ci, w = res["cold_init"], res["warm"]
    log(f"cold init p50 {ci['init_ms']['p50']:.2f} ms over {ci['runs']} runs; "
        f"invocation p50 {w.get('non_stream', {}).get('invocation_ms', {}).get('p50')} ms; "
        f"VmHWM {w.get('mem_kb', {}).get('VmHWM')} kB")


if __name__ == "__main__":
    main()
