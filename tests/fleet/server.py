"""The fake LLM provider fleet: one local HTTP server, one "face" per provider.

Run::

    python tests/fleet/server.py --port 0 --port-file /tmp/fleet.port

or import it: ``build_app()`` returns the aiohttp application and
``FleetThread`` runs it on a background thread.

Faces (each its own module, mounted under its prefix):

* ``/openai``  -> ``openai_face`` (``POST /openai/v1/chat/completions``,
  ``GET /openai/v1/models``), base URL ``http://127.0.0.1:<port>/openai/v1``
* ``/gemini``, ``/vertex``, ``/oauth2/token`` -> ``gemini_face`` (Google AI
  Studio, Vertex AI, Google's service-account token endpoint)
* ``/bedrock`` -> ``bedrock_face`` (``POST /bedrock/model/{modelId}/converse``
  and ``/converse-stream``, SigV4-verified), endpoint ``http://127.0.0.1:<port>/bedrock``
* ``/anthropic`` -> ``anthropic_face`` (``POST /anthropic/v1/messages``,
  ``.../messages/count_tokens``), base URL ``http://127.0.0.1:<port>/anthropic``;
  the same module serves Claude on Vertex AI under ``/vertex`` (``:rawPredict``)
* ``/azure``   -> ``azure_face`` (Azure OpenAI deployments and Foundry), base ``…/azure``
* ``/cohere``  -> ``cohere_face`` (Chat v2), base ``…/cohere``
* ``/ollama``  -> ``ollama_face`` (``/api/chat``, NDJSON), base ``…/ollama``
* ``/jina``, ``/voyage`` -> ``rerank_faces`` (``/v1/rerank``; Cohere's ``/v2/rerank``
  is mounted by ``cohere_face``; embeddings endpoints: ``embed_faces``)
* ``/catalog`` -> ``catalog_face`` (models.dev ``api.json`` and LiteLLM's price
  map, as published by ``PUT /_fleet/catalog/<source>``)

A new face (anthropic, gemini, bedrock, ...) is a module with ``NAME``,
``PREFIX`` and ``register(app, prefix)``, added to ``FACES`` below; it reuses
``faults`` (model-string grammar), ``fixtures`` (recorded bodies) and ``wire``
(streaming with faults).

Behaviour is chosen by the upstream ``model`` string in the request, so
concurrent tests never interfere (full grammar in ``faults.py``)::

    <plain name>                          generated answer ("Echo: <last user text>",
                                          tool calls, n, stream, usage ...)
    replay:<fixture-stem>                 recorded fixture (.sse / .chunks.jsonl when
                                          streaming, .json otherwise; error-*-NNN.json
                                          is sent with status NNN)
    fault:<k=v,...>[|<model>]             faults around the inner model's answer:
                                          status= body= retry_after= retry_after_ms=
                                          delay_headers_ms= delay_chunks_ms= cut_after=
                                          reset_after= garbage_after= stall_after= stall_ms=

Every request (except ``/_fleet/*``) is recorded: method, path, query, headers
(lower-cased), parsed JSON body.  Control endpoints:

* ``GET  /_fleet/health``                   -> ``{"ok": true}``
* ``GET  /_fleet/requests[?model=<m>]``     -> recorded requests (newest last),
  only those whose ``body.model == m`` when given (faces whose model is in
  the URL, like Gemini's, record it as the entry's ``model``)
* ``POST /_fleet/reset``                    -> clears the log
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

if __package__ in (None, ""):  # run as a script: make "fleet" importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "fleet"

from fleet import anthropic_face, bedrock_face, gemini_face, openai_face  # noqa: E402
from fleet import azure_face, catalog_face, cohere_face, ollama_face, rerank_faces, sink_face  # noqa: E402

FACES = [openai_face, gemini_face, bedrock_face, anthropic_face]
FACES += [azure_face, cohere_face, ollama_face, catalog_face, sink_face, rerank_faces]

LOG_KEY = web.AppKey("fleet_log", list)
MAX_RAW = 64 * 1024


@web.middleware
async def record_requests(request: web.Request, handler):
    if not request.path.startswith("/_fleet/"):
        raw = await request.read()
        body: Any = None
        entry: dict[str, Any] = {}
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            entry["raw"] = raw[:MAX_RAW].decode("utf-8", "replace")
        headers: dict[str, str] = {}
        for k, v in request.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        log = request.app[LOG_KEY]
        entry.update(
            seq=len(log) + 1,
            time=time.time(),
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=headers,
            body=body,
            body_bytes=len(raw),
        )
        log.append(entry)
        # Faces whose body does not name the model (Vertex AI) set entry["model"].
        request["fleet_entry"] = entry
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "faces": [f.NAME for f in FACES]})


async def list_requests(request: web.Request) -> web.Response:
    model = request.query.get("model")
    out = request.app[LOG_KEY]
    if model is not None:
        out = [
            r for r in out
            if r.get("model") == model or (isinstance(r.get("body"), dict) and r["body"].get("model") == model)
        ]
    return web.json_response(out)


async def reset(request: web.Request) -> web.Response:
    request.app[LOG_KEY].clear()
    return web.json_response({"ok": True})


async def fallback_404(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": {"message": f"fleet: no face serves {request.method} {request.path}", "type": "invalid_request_error", "param": None, "code": None}},
        status=404,
    )


def build_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[record_requests])
    app[LOG_KEY] = []
    app.router.add_get("/_fleet/health", health)
    app.router.add_get("/_fleet/requests", list_requests)
    app.router.add_post("/_fleet/reset", reset)
    for face in FACES:
        face.register(app, face.PREFIX)
    app.router.add_route("*", "/{tail:.*}", fallback_404)
    return app


async def start(host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(build_app(), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, bound


class FleetThread:
    """Run the fleet on a background thread (for in-process use)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._want_port = port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner, self.port = self._loop.run_until_complete(start(self.host, self._want_port))
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())

    def start(self) -> "FleetThread":
        self._thread.start()
        self._ready.wait(10)
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


async def _main(args: argparse.Namespace) -> None:
    runner, port = await start(args.host, args.port)
    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"fleet: listening on http://{args.host}:{port} (faces: {', '.join(f.PREFIX for f in FACES)})", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--port-file", help="write the bound port here once listening")
    asyncio.run(_main(p.parse_args(argv)))


if __name__ == "__main__":
    main()
