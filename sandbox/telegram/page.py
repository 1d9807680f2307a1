"""Serves the browser chat page (static HTML/CSS/JS, no build step, no CDN)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).with_name("static")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/stub/")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", to_index)
    app.router.add_get("/stub", to_index)
    app.router.add_get("/stub/", index)
    app.router.add_static("/stub/static/", STATIC_DIR)
