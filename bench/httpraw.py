"""A minimal blocking HTTP/1.1 keep-alive client that times each phase.

Enough HTTP for the benchmarks (Content-Length or chunked bodies, no
redirects, no TLS) and nothing in the way of the clock: one socket, one
sendall, recv into a buffer. Times are time.perf_counter() seconds.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field


@dataclass
class Timed:
    status: int
    headers: dict[str, str]
    body: bytes
    t_send: float                # just before sendall
    t_first_byte: float          # first byte of the response (status line)
    t_first_body: float | None   # first byte of the body (None: empty body)
    t_end: float                 # last byte of the body
    chunks: int = 0              # number of recv() calls that carried body bytes
    body_recvs: list[float] = field(default_factory=list)
    # (body bytes decoded so far, time of the recv that completed them), per chunk
    marks: list[tuple[int, float]] = field(default_factory=list)

    @property
    def ttfb_ms(self) -> float:
        return (self.t_first_byte - self.t_send) * 1000

    @property
    def ttfb_body_ms(self) -> float:
        return ((self.t_first_body or self.t_end) - self.t_send) * 1000

    def until_ms(self, offset: int) -> float | None:
        """send -> the recv that delivered body byte ``offset``."""
        for length, t in self.marks:
            if length > offset:
                return (t - self.t_send) * 1000
        return None

    @property
    def total_ms(self) -> float:
        return (self.t_end - self.t_send) * 1000


class ProtocolError(Exception):
    pass


class Conn:
    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ProtocolError("connection closed mid-response")
        return data

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Timed:
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

        t_send = time.perf_counter()
        self.sock.sendall(raw)
        buf = self.buf
        t_first = None
        while b"\r\n\r\n" not in buf:
            data = self._recv()
            if t_first is None:
                t_first = time.perf_counter()
            buf += data
        if t_first is None:  # leftover bytes from a previous response (should not happen)
            t_first = time.perf_counter()
        head, _, rest = buf.partition(b"\r\n\r\n")
        status_line, *hlines = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split(" ", 2)[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {status_line!r}") from None
        hdrs: dict[str, str] = {}
        for line in hlines:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()

        out = bytearray()
        marks: list[tuple[int, float]] = []
        t_first_body = time.perf_counter() if rest else None
        recvs = [t_first_body] if rest else []
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            # Parse chunks out of `rest`, reading more as needed.
            while True:
                while b"\r\n" not in rest:
                    rest += self._more(recvs)
                    t_first_body = t_first_body or recvs[0]
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    while not (rest.startswith(b"\r\n") or b"\r\n\r\n" in rest):
                        rest += self._more(recvs)
                    rest = rest[2:] if rest.startswith(b"\r\n") else rest.partition(b"\r\n\r\n")[2]
                    break
                while len(rest) < size + 2:
                    rest += self._more(recvs)
                    t_first_body = t_first_body or recvs[0]
                out += rest[:size]
                marks.append((len(out), recvs[-1] if recvs else t_first_body))
                rest = rest[size + 2:]
            self.buf = rest
        else:
            n = int(hdrs.get("content-length", "0") or 0)
            while len(rest) < n:
                rest += self._more(recvs)
                t_first_body = t_first_body or recvs[0]
            out += rest[:n]
            marks.append((len(out), recvs[-1] if recvs else t_first_body))
            self.buf = rest[n:]
        t_end = time.perf_counter()
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return Timed(status, hdrs, bytes(out), t_send, t_first, t_first_body if out else None, t_end,
                     chunks=len(recvs), body_recvs=recvs, marks=marks)

    def _more(self, recvs: list[float]) -> bytes:
        data = self._recv()
        recvs.append(time.perf_counter())
        return data


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    import math
    i = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[i - 1]


def summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {
        "n": len(s),
        "min": round(s[0], 4) if s else float("nan"),
        "p50": round(percentile(s, 50), 4),
        "p90": round(percentile(s, 90), 4),
        "p99": round(percentile(s, 99), 4),
        "max": round(s[-1], 4) if s else float("nan"),
        "mean": round(sum(s) / len(s), 4) if s else float("nan"),
    }
