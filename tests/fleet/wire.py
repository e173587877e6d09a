"""Sending bodies for real, with faults applied (shared by every provider face).

Streams are written one event at a time with ``await resp.write()`` (which
drains), so delays between events are visible to the client, and a cut is a
real TCP-level disconnect, not a well-formed short body.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct

from aiohttp import web

from .faults import Fault

GARBAGE_EVENT = b"data: {not json\n\n"


def _garbage_bytes(n: int = 64) -> bytes:
    rnd = random.Random(0xD15EA5E)  # deterministic "random" bytes, never valid UTF-8
    return b"\xff\xfe" + bytes(rnd.randrange(128, 256) for _ in range(n)) + b"\n\n"


async def _flush(request: web.Request) -> None:
    tr = request.transport
    for _ in range(200):
        if tr is None or tr.is_closing() or tr.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)


async def disconnect(request: web.Request, rst: bool = False) -> None:
    """Drop the client connection now, without finishing the HTTP message.

    ``rst=False``: flush what was written, wait a moment (so the peer has read
    it, as when a network path dies a little after the last packet), then
    close (FIN): the client sees the body end early.
    ``rst=True``: the same, then reset (RST) instead of FIN.
    """
    tr = request.transport
    if tr is None:
        return
    await _flush(request)
    await asyncio.sleep(0.1)
    if rst:
        sock = tr.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        tr.abort()
    else:
        tr.close()


async def send_stream(
    request: web.Request,
    events: list[bytes],
    fault: Fault,
    headers: dict[str, str] | None = None,
    content_type: str = "text/event-stream; charset=utf-8",
    status: int = 200,
) -> web.StreamResponse:
    """Write SSE ``events`` (each a complete event incl. its blank line), applying ``fault``."""
    resp = web.StreamResponse(status=status)
    resp.headers["Content-Type"] = content_type
    resp.headers["Cache-Control"] = "no-cache"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    resp.headers.update(fault.extra_headers())
    await resp.prepare(request)
    for i, event in enumerate(events):
        if fault.cut_after is not None and i >= fault.cut_after:
            await disconnect(request)
            return resp
        if fault.reset_after is not None and i >= fault.reset_after:
            await disconnect(request, rst=True)
            return resp
        if fault.garbage_after is not None and i >= fault.garbage_after:
            await resp.write(GARBAGE_EVENT)
            await resp.write(_garbage_bytes())
            await resp.write_eof()
            return resp
        if fault.stall_after is not None and i >= fault.stall_after:
            await asyncio.sleep(fault.stall_ms / 1000)
            await disconnect(request)
            return resp
        if i > 0 and fault.delay_chunks_ms:
            await asyncio.sleep(fault.delay_chunks_ms / 1000)
        await resp.write(event)
    await resp.write_eof()
    return resp


HTML_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>upstream proxy</body></html>"


async def send_not_a_stream(request: web.Request, kind: str, whole: bytes, headers: dict[str, str]) -> web.Response:
    """A stream request answered with one body (``answer=json``) or an HTML page (``answer=html``)."""
    if kind == "html":
        return web.Response(status=200, body=HTML_PAGE, headers={**headers, "Content-Type": "text/html"})
    return web.Response(status=200, body=whole, headers={**headers, "Content-Type": "application/json"})


async def send_body(
    request: web.Request,
    body: bytes,
    fault: Fault,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.StreamResponse:
    """Write a complete (non-stream) body, applying the body-level faults."""
    all_headers = {"Content-Type": content_type, **(headers or {}), **fault.extra_headers()}
    cut = fault.cut_after is not None or fault.reset_after is not None or fault.stall_after is not None
    if fault.garbage_after is not None:
        body = body[: max(1, len(body) // 2)] + _garbage_bytes()
    if not cut:
        return web.Response(status=status, body=body, headers=all_headers)
    resp = web.StreamResponse(status=status, headers=all_headers)
    resp.content_length = len(body)
    await resp.prepare(request)
    await resp.write(body[: len(body) // 2])
    if fault.stall_after is not None:
        await asyncio.sleep(fault.stall_ms / 1000)
    await disconnect(request, rst=fault.reset_after is not None)
    return resp
