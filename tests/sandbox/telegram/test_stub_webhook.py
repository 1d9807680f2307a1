"""Webhook mode: the stub POSTs updates to the bot's aiohttp app with the secret header."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from sandbox.telegram import StubClient, StubState

from .conftest import ALICE, make_router

SECRET = "s3cret-token_1"


@contextlib.asynccontextmanager
async def serve_webhook(
    bot: Bot, *, in_background: bool, seen_secrets: list[str]
) -> AsyncIterator[str]:
    """The bot's side: aiogram's webhook handler on a free local port."""
    dispatcher = Dispatcher()
    dispatcher.include_router(make_router())

    @web.middleware
    async def remember_secret(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen_secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""))
        return await handler(request)

    app = web.Application(middlewares=[remember_secret])
    SimpleRequestHandler(
        dispatcher, bot, handle_in_background=in_background, secret_token=SECRET
    ).register(app, path="/webhook")
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("in_background", [True, False], ids=["background", "reply-in-response"])
async def test_webhook_delivers_updates_with_secret_header(
    stub_bot: Bot, stub_client: StubClient, stub_state: StubState, in_background: bool
) -> None:
    seen: list[str] = []
    async with serve_webhook(stub_bot, in_background=in_background, seen_secrets=seen) as url:
        await stub_bot.set_webhook(url, secret_token=SECRET)
        with pytest.raises(TelegramConflictError):
            await stub_bot.get_updates()
        await stub_client.send(ALICE, ALICE, "/start from_webhook")
        reply = await stub_client.wait_for_bot_message(ALICE, "Hello")
        assert reply["text"] == "Hello Alice, payload=from_webhook"
        assert seen == [SECRET]
        info = await stub_bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        await stub_bot.delete_webhook()
        await stub_bot.set_webhook(url, secret_token=SECRET)
        await stub_client.send(ALICE, ALICE, "/respond")
        await stub_client.wait_for_bot_message(ALICE, "sent via the webhook response")
        await stub_bot.delete_webhook()
    # With handle_in_background=False aiogram puts a returned method into the webhook's
    # HTTP response; in the background mode it makes a separate request.
    vias = [c.via for c in stub_state.calls_to("sendMessage")]
    assert vias == ["http", "http" if in_background else "webhook-response"]


async def test_webhook_failures_are_retried(
    stub_bot: Bot, stub_client: StubClient, stub_state: StubState
) -> None:
    seen: list[str] = []
    async with serve_webhook(stub_bot, in_background=True, seen_secrets=seen) as url:
        await stub_bot.set_webhook(url, secret_token="wrong-secret")
        await stub_client.send(ALICE, ALICE, "hello")
        for _ in range(100):  # the bot rejects the secret with 401; the stub keeps retrying
            if len(seen) >= 2:
                break
            await asyncio.sleep(0.02)
        info = await stub_bot.get_webhook_info()
        assert info.pending_update_count == 1
        assert info.last_error_message is not None and "401" in info.last_error_message

        await stub_bot.set_webhook(url, secret_token=SECRET)
        reply = await stub_client.wait_for_bot_message(ALICE, "echo")
        assert reply["text"] == "echo: hello"
        await stub_bot.delete_webhook()
