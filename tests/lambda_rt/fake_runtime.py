"""A tiny Lambda runtime client (stdlib only) used to test ``runtime_api.py``.

It speaks the Runtime API like a real runtime: long-polls ``/next``, then
answers each Function URL event according to its ``rawPath``:

=========================== ==================================================
``/stream?n=N&delay_ms=D``  streamed response (prelude + 8 NULs), N chunks
                            ``chunk-<i>\\n`` D ms apart; status 201, headers
                            ``content-type: text/plain``, ``x-multi: a``,
                            ``x-multi: b``, cookies ``a=1``, ``b=2``;
                            ``&head_gap_ms=G``: the POST head alone, then the
                            body G ms later (a stalled first chunk)
``/buffered``               buffered JSON response, status 202, base64 body
``/raw-json``               buffered plain JSON (not an HTTP response object)
``/echo-event``             buffered response whose body is the event JSON
``/error``                  reports ``/invocation/{id}/error``
``/trailer-error``          streams 2 chunks, then error trailers
``/data-error``             streams 2 chunks, then lambda_runtime-style error
                            text as a data chunk
``/crash``                  exits the process before answering
``/crash-midstream``        streams 2 chunks, then exits
``/slow?ms=M``              sleeps M ms, then a buffered answer naming the pid
``/hang``                   never answers (for timeouts)
=========================== ==================================================

An Invoke API event (any JSON with an ``"invoke"`` key, not a Function URL
event) is answered by that key: ``echo`` posts ``{"echo": <event>, "pid"}``,
``http-shaped`` posts ``{"statusCode": 201, "body": "..."}`` (to show it is
relayed as it is), ``error`` reports ``/error``, ``crash`` exits.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import time
from urllib.parse import parse_qs

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.rsplit(":", 1)
BASE = "/2018-06-01/runtime"


class Conn:
    """One keep-alive HTTP/1.1 connection to the Runtime API."""

    def __init__(self) -> None:
        self.sock = socket.create_connection((HOST, int(PORT)))
        self.f = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.f.readline().decode()
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = self.f.readline().decode()
            if line in ("\r\n", ""):
                break
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = self.f.read(int(headers.get("content-length", "0")))
        return status, headers, body

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        h = {"Host": API, "User-Agent": "fake-runtime/1", "Content-Length": str(len(body)), **(headers or {})}
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        self.send(head.encode() + body)
        return self.read_response()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def stream_head(req_id: str) -> bytes:
    return (
        f"POST {BASE}/invocation/{req_id}/response HTTP/1.1\r\n"
        f"Host: {API}\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Content-Type: application/vnd.awslambda.http-integration-response\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    ).encode()


PRELUDE = json.dumps({
    "statusCode": 201,
    "headers": {"content-type": "text/plain", "x-multi": ["a", "b"]},
    "cookies": ["a=1", "b=2"],
}).encode()


def handle_invoke(conn: Conn, req_id: str, event: dict) -> None:
    what = event["invoke"]
    if what == "error":
        body = json.dumps({"errorType": "FakeError", "errorMessage": "the invocation broke"}).encode()
        conn.request("POST", f"{BASE}/invocation/{req_id}/error", body, {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
        return
    if what == "crash":
        os._exit(5)
    resp = {"statusCode": 201, "body": "not for a URL"} if what == "http-shaped" else {"echo": event, "pid": os.getpid()}
    conn.request("POST", f"{BASE}/invocation/{req_id}/response", json.dumps(resp).encode(), {"Content-Type": "application/json"})


def handle(conn: Conn, req_id: str, event: dict) -> None:
    if "invoke" in event:
        handle_invoke(conn, req_id, event)
        return
    path = event.get("rawPath", "/")
    q = {k: v[0] for k, v in parse_qs(event.get("rawQueryString", "")).items()}
    if path == "/stream":
        n, delay = int(q.get("n", "3")), int(q.get("delay_ms", "0"))
        gap = int(q.get("head_gap_ms", "0"))
        if gap:
            conn.send(stream_head(req_id))
            time.sleep(gap / 1000)
            conn.send(chunk(PRELUDE) + chunk(b"\0" * 8))
        else:
            conn.send(stream_head(req_id) + chunk(PRELUDE) + chunk(b"\0" * 8))
        for i in range(n):
            if i and delay:
                time.sleep(delay / 1000)
            conn.send(chunk(f"chunk-{i}\n".encode()))
        conn.send(b"0\r\n\r\n")
        conn.read_response()
    elif path in ("/trailer-error", "/data-error", "/crash-midstream"):
        conn.send(stream_head(req_id) + chunk(PRELUDE + b"\0" * 8 + b"chunk-0\n"))
        time.sleep(0.1)
        conn.send(chunk(b"chunk-1\n"))
        time.sleep(0.1)
        if path == "/crash-midstream":
            os._exit(3)
        b64 = base64.b64encode(b"boom").decode()
        if path == "/trailer-error":
            conn.send(f"0\r\nLambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: {b64}\r\n\r\n".encode())
        else:
            conn.send(chunk(f"Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: {b64}\r\n".encode()))
            conn.send(b"0\r\n\r\n")
        conn.read_response()
    elif path == "/error":
        body = json.dumps({"errorType": "FakeError", "errorMessage": "it broke"}).encode()
        conn.request("POST", f"{BASE}/invocation/{req_id}/error", body, {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
    elif path == "/crash":
        os._exit(4)
    elif path == "/hang":
        time.sleep(3600)
    else:
        if path == "/buffered":
            resp = {"statusCode": 202, "headers": {"content-type": "text/plain", "x-kind": "buffered"},
                    "cookies": ["c=3"], "body": base64.b64encode(b"buffered body \xff").decode(), "isBase64Encoded": True}
        elif path == "/raw-json":
            resp = {"hello": "world"}
        elif path == "/slow":
            time.sleep(int(q.get("ms", "100")) / 1000)
            resp = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"pid": os.getpid()})}
        else:  # /echo-event and anything else
            resp = {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "body": json.dumps({"event": event, "pid": os.getpid(), "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "FAKE_"))}})}
        conn.request("POST", f"{BASE}/invocation/{req_id}/response", json.dumps(resp).encode(), {"Content-Type": "application/json"})


def main() -> None:
    if os.environ.get("FAKE_INIT_DELAY_MS"):
        time.sleep(int(os.environ["FAKE_INIT_DELAY_MS"]) / 1000)
    conn = Conn()
    while True:
        status, headers, body = conn.request("GET", f"{BASE}/invocation/next")
        if status != 200:
            print(f"fake runtime: /next answered {status}", file=sys.stderr)
            time.sleep(0.1)
            continue
        for h in ("lambda-runtime-aws-request-id", "lambda-runtime-deadline-ms", "lambda-runtime-invoked-function-arn", "lambda-runtime-trace-id"):
            assert h in headers, f"missing {h}"
        handle(conn, headers["lambda-runtime-aws-request-id"], json.loads(body))


if __name__ == "__main__":
    main()
