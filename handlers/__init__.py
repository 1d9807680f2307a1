"""All routers, in the order the Dispatcher tries them. The fallback is last."""

from __future__ import annotations

from aiogram import Router


def build_routers() -> list[Router]:
    # Imported here, not at module level, so that every Dispatcher (tests build many) gets
    # routers that were not attached to another one yet.
    import importlib

    names = [
        "handlers.common",
        "handlers.admin.exchanges",
        "handlers.trader.start",
        "handlers.trader.exchanges",
        "handlers.trader.accounts",
        "handlers.trader.balance",
        "handlers.trader.settings",
        "handlers.fallback",
    ]
    return [importlib.import_module(name).router for name in names]
