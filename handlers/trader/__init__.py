"""The trader's side of the bot, in private chats.

The filters that every trader screen shares are applied once, here, at the parent routers:
``router`` takes private chats only; ``registered`` (every screen but /start) also requires a
registered, unbanned user. aiogram checks a router's filters once for it and all its
sub-routers, so the modules below declare no router-level filters of their own.
"""

from __future__ import annotations

from aiogram import F, Router

from handlers.filters import Registered
from handlers.trader import (
    accounts,
    auto_withdraw,
    balance,
    exchanges,
    existing,
    settings,
    start,
    withdraw,
)

router = Router(name="trader")
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

registered = Router(name="trader.registered")
registered.message.filter(Registered())
registered.callback_query.filter(Registered())

# Most pressed first: menus and the UID flow, then the rest.
registered.include_routers(accounts.router, exchanges.router, balance.router, settings.router)
registered.include_router(existing.router)  # "I already have an account": the check
registered.include_router(withdraw.router)  # /withdraw, the flow and My withdrawals
registered.include_router(auto_withdraw.router)  # the standing order, from the Withdraw screen
router.include_routers(start.router, registered)
