"""The catalog sources face: stands in for ``https://models.dev/api.json`` and
LiteLLM's ``model_prices_and_context_window.json`` (raw.githubusercontent.com)
for the gateway's scheduled catalog refresh.

Mounted under ``/catalog``:

* ``GET /catalog/models.dev/api.json``
* ``GET /catalog/litellm/model_prices_and_context_window.json``

Nothing is published until a test says what to serve (the fleet has no build
step; the tests make ``api.json`` from ``data/models.dev`` with
``tools/catalog-gen --api-json``)::

    PUT /_fleet/catalog/models.dev[?status=NNN]   body: the bytes to serve
    PUT /_fleet/catalog/litellm[?status=NNN]

Unpublished sources answer 404, like a wrong URL would. Fetches are recorded
in ``/_fleet/requests`` like every other request.
"""

from __future__ import annotations

from aiohttp import web

NAME = "catalog"
PREFIX = "/catalog"

SOURCES = {
    "models.dev": "/models.dev/api.json",
    "litellm": "/litellm/model_prices_and_context_window.json",
}
PUBLISHED = web.AppKey("catalog_published", dict)


def serve(source: str):
    async def handler(request: web.Request) -> web.Response:
        published = request.app[PUBLISHED].get(source)
        if published is None:
            return web.Response(status=404, text=f"fleet: nothing published for {source}")
        status, body = published
        return web.Response(status=status, body=body, content_type="application/json")

    return handler


async def publish(request: web.Request) -> web.Response:
    source = request.match_info["source"]
    if source not in SOURCES:
        return web.json_response({"error": f"unknown source {source}; one of {sorted(SOURCES)}"}, status=400)
    status = int(request.query.get("status", "200"))
    request.app[PUBLISHED][source] = (status, await request.read())
    return web.json_response({"ok": True, "source": source, "status": status})


def register(app: web.Application, prefix: str = PREFIX) -> None:
    app[PUBLISHED] = {}
    for source, path in SOURCES.items():
        app.router.add_get(prefix + path, serve(source))
    app.router.add_put("/_fleet/catalog/{source}", publish)
