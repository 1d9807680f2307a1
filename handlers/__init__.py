"""All routers, in the order the Dispatcher tries them. The fallback is last."""

from __future__ import annotations

from aiogram import Router


def build_routers() -> list[Router]:
    # Imported when the Dispatcher is built, not when this package is: importing a handler
    # module builds its router. A router joins one Dispatcher only, so a process builds one.
    import importlib

    names = [
        "handlers.trader",  # the most updates: first
        "handlers.finance",  # withdrawal cards in the finance chat
        "handlers.admin.exchanges",
        "handlers.admin.rates",
        "handlers.admin.users",
        "handlers.admin.stats",
        "handlers.admin.shares",
        "handlers.admin.broadcast",
        "handlers.admin.strangers",  # after every admin router: what none of them took
        "handlers.fallback",
    ]
    return [importlib.import_module(name).router for name in names]
