"""Exchanges & links: the list, an exchange's card with our tracked link, "I already have an
account" (which starts the check of handlers/trader/existing.py)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery

from handlers import keyboards
from handlers.callbacks import ExchangeAction, ExchangeCB, MenuCB, Screen
from handlers.money import trader_share
from handlers.render import enabled_exchange, show
from handlers.trader import existing
from services.dto import UserDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator
from services.models import Platform
from services.referrals import ReferralService

router = Router(name="trader.exchanges")


@router.callback_query(MenuCB.filter(F.screen == Screen.EXCHANGES))
async def on_exchanges(
    query: CallbackQuery, t: Translator, user: UserDTO, exchanges: ExchangeCatalog,
    events: EventService,
) -> None:
    listed = await exchanges.list()
    await events.record("screen_viewed", user.id, Platform.BOT, screen="exchanges")
    await show(query, t("exchanges.title"), keyboards.exchange_list(t, listed))


@router.callback_query(ExchangeCB.filter(F.action == ExchangeAction.CARD))
async def on_exchange_card(
    query: CallbackQuery, callback_data: ExchangeCB, t: Translator, user: UserDTO,
    exchanges: ExchangeCatalog, referrals: ReferralService, events: EventService,
) -> None:
    exchange = await enabled_exchange(query, exchanges, callback_data.exchange_id, t)
    if exchange is None:
        return
    await events.record("exchange_viewed", user.id, Platform.BOT, exchange=exchange.id)
    url = referrals.tracked_url(exchange.id, user.id)
    text = t("exchange.card", name=exchange.name, share=trader_share(exchange, t.locale), url=url)
    await show(query, text, keyboards.exchange_card(t, exchange, url))


@router.callback_query(ExchangeCB.filter(F.action == ExchangeAction.EXISTING))
async def on_existing_account(
    query: CallbackQuery, callback_data: ExchangeCB, t: Translator, user: UserDTO,
    exchanges: ExchangeCatalog, events: EventService,
) -> None:
    exchange = await enabled_exchange(query, exchanges, callback_data.exchange_id, t)
    if exchange is None:
        return
    await events.record("existing_account_viewed", user.id, Platform.BOT, exchange=exchange.id)
    await existing.show_first_question(query, t, exchange)  # the check (handlers/trader/existing)
