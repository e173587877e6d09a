"""Telemetry receivers: an OTLP/HTTP collector (``/v1/traces``,
``/v1/metrics``) and a webhook endpoint, under ``/sink/<mode>/...``.

``mode`` picks the behaviour: ``ok`` answers 200 ``{}``; ``fail`` answers
500; ``hang`` holds the request for 30 s before answering. Every request is
recorded by the fleet's log like any other, and its exact bytes by
``GET /_fleet/sink`` (``[{"path", "headers", "raw"}]``: a signature is
checked over the bytes sent).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

NAME = "sink"
PREFIX = "/sink"
SINK_LOG = web.AppKey("sink_log", list)


async def receive(request: web.Request) -> web.Response:
    mode = request.match_info["mode"]
    raw = await request.read()
    request.app[SINK_LOG].append({
        "path": request.path,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "raw": raw.decode("utf-8", "replace"),
    })
    if mode == "fail":
        return web.json_response({"error": "sink says no"}, status=500)
    if mode == "hang":
        await asyncio.sleep(30)
    return web.json_response({})


async def sink_log(request: web.Request) -> web.Response:
    return web.json_response(request.app[SINK_LOG])


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app[SINK_LOG] = []
    app.router.add_post(prefix + "/{mode}/{tail:.*}", receive)
    app.router.add_get("/_fleet/sink", sink_log)
