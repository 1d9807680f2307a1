"""Builds the stub's aiohttp application and runs it in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from . import bot_api, page, user_api, webapp
from .bot_api import STATE_KEY
from .state import StubState
from .webhook import WebhookDeliverer

_DELIVERER_KEY: web.AppKey[asyncio.Task[None]] = web.AppKey("telegram_stub_webhook", asyncio.Task)


async def _webhook_worker(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    state.closing = False
    # Keep the task on the app so it is neither garbage-collected nor left running.
    app[_DELIVERER_KEY] = asyncio.create_task(WebhookDeliverer(state).run())
    yield
    task = app[_DELIVERER_KEY]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _wake_long_polls(app: web.Application) -> None:
    """On shutdown, end pending getUpdates / page polls now rather than at their timeout."""
    state = app[STATE_KEY]
    state.closing = True
    state.update_arrived.fire()
    state.changed.fire()
    state.callback_answered.fire()


def create_stub_app(state: StubState) -> web.Application:
    # Multipart uploads from the bot or the page may exceed aiohttp's 1 MiB default.
    app = web.Application(client_max_size=50 * 1024 * 1024)
    app[STATE_KEY] = state
    bot_api.add_routes(app)
    user_api.add_routes(app)
    page.add_routes(app)
    webapp.add_routes(app)
    app.cleanup_ctx.append(_webhook_worker)
    app.on_shutdown.append(_wake_long_polls)
    return app


@contextlib.asynccontextmanager
async def run_stub(state: StubState, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the stub on ``host:port`` (0 = any free port); yields its base URL."""
    runner = web.AppRunner(create_stub_app(state), shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        yield f"http://{host}:{bound_port}"
    finally:
        await runner.cleanup()
