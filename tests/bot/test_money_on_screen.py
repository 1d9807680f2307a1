"""Money and times as a trader reads them: numbers in the reader's language (Babel), never
rounded away; fee and volume totals that say when some days had none; sync times that read
"just now"; a pending account that promises nothing it cannot; the language by its name."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from aiogram import Dispatcher

from bot.app import Services
from exchanges.base import make_row
from handlers.callbacks import HistoryCB, LanguageCB, MenuCB, Screen
from handlers.money import money, percent
from handlers.trader.balance import render_balance
from services.balances import BalanceSummary
from services.commission_store import store_rows
from services.i18n import Catalog
from services.models import AccountStatus, Exchange, ExchangeAccount, RecordOrigin, SyncState
from services.rebates import RebateEngine
from services.sync import ExchangeStatus, ExchangeStatusDTO
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

_user_ids = itertools.count(43_000)
NBSP = "\xa0"  # Russian groups thousands with a no-break space
DAY = date(2026, 11, 3)


async def send(dp: Dispatcher, bot: MockedBot, update) -> str:  # type: ignore[no-untyped-def]
    bot.session.clear()
    await dp.feed_update(bot, update)
    return "\n".join(bot.session.texts())


def test_amounts_are_written_in_the_readers_language_and_never_rounded_away() -> None:
    assert money(Decimal("2750"), "ru") == f"2{NBSP}750,00"
    assert money(Decimal("2750"), "en") == "2,750.00"
    assert money(Decimal("0.00000123"), "en") == "0.00000123"  # not 0.00
    assert money(Decimal("0.00000123"), "ru") == "0,00000123"
    assert money(Decimal("1234567.1"), "ru") == f"1{NBSP}234{NBSP}567,10"
    assert money(Decimal("12.30000000")) == "12.30"
    assert money(None, "ru") == "—"
    assert (percent(Decimal("62.50"), "ru"), percent(Decimal("60.00"), "en")) == ("62,5", "60")


async def _accrued(trader_id: int) -> None:
    """OKX: 5,000 USDT of commission on a day (the trader's 60% is 3,000); MEXC: a dust amount
    and no fee reported (the trader's 60% is 0.00000123)."""
    for exchange_id, uid in (("okx", "55500011"), ("mexc", "66600011")):
        await ExchangeAccount.create(user_id=trader_id, exchange_id=exchange_id, uid=uid,
                                     status=AccountStatus.VERIFIED)
    await store_rows([
        make_row("okx", "55500011", DAY, "futures", volume=Decimal("6250000"),
                 fee=Decimal("12500"), commission=Decimal("5000")),
        make_row("mexc", "66600011", DAY, "spot", volume=Decimal("10"), fee=None,
                 commission=Decimal("0.00000205")),
    ], RecordOrigin.API)
    await RebateEngine().accrue_all()


async def test_balance_and_history_in_russian(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "ru")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await _accrued(trader.id)

    balance = await send(dispatcher, bot,
                         callback_update(trader, MenuCB(screen=Screen.BALANCE).pack()))
    assert f"Доступно: <b>3{NBSP}000,00000123 USDT</b>" in balance
    assert f"• OKX: заработано 3{NBSP}000,00 USDT" in balance
    assert "• MEXC: заработано 0,00000123 USDT" in balance
    assert "3,000" not in balance and "0.00" not in balance

    history = await send(dispatcher, bot, callback_update(trader, HistoryCB(page=1).pack()))
    assert f"объём 6{NBSP}250{NBSP}000,00 → комиссия 12{NBSP}500,00" in history
    assert "комиссия — →" in history  # MEXC reported no fee that day
    assert f"ваш кэшбэк <b>3{NBSP}000,00000123 USDT</b>" in history
    assert "Комиссии биржи учтены только за дни, когда биржа их сообщила" in history


async def test_totals_say_nothing_extra_when_every_day_had_fees(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await ExchangeAccount.create(user_id=trader.id, exchange_id="okx", uid="55500012",
                                 status=AccountStatus.VERIFIED)
    await store_rows([make_row("okx", "55500012", DAY, "spot", volume=Decimal("1000"),
                               fee=Decimal("1"), commission=Decimal("0.4"))], RecordOrigin.API)
    await RebateEngine().accrue_all()
    history = await send(dispatcher, bot, callback_update(trader, HistoryCB(page=1).pack()))
    assert "fees 1.00" in history and "only the days" not in history


async def test_a_pending_account_promises_no_earnings_and_no_unknown_sync(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await ExchangeAccount.create(user_id=trader.id, exchange_id="okx", uid="12345678",
                                 status=AccountStatus.PENDING)
    await ExchangeAccount.create(user_id=trader.id, exchange_id="mexc", uid="87654321",
                                 status=AccountStatus.REJECTED, reject_reason="not_found")
    balance = await send(dispatcher, bot,
                         callback_update(trader, MenuCB(screen=Screen.BALANCE).pack()))
    assert "• OKX: UID pending check — rebates start once it is verified" in balance
    assert "• MEXC: UID rejected — see My accounts" in balance
    assert "earned —" not in balance and "— USDT" not in balance
    assert "not yet" not in balance
    assert "last sync: none yet" in balance  # OKX has not synced in this test


async def test_a_sync_a_moment_ago_reads_just_now(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await ExchangeAccount.create(user_id=trader.id, exchange_id="okx", uid="12345679",
                                 status=AccountStatus.PENDING)
    now = datetime.now(UTC)
    await SyncState.update_or_create(
        exchange_id="okx",
        defaults={"last_success_at": now - timedelta(seconds=20),
                  "next_due_at": now + timedelta(hours=4)})
    balance = await send(dispatcher, bot,
                         callback_update(trader, MenuCB(screen=Screen.BALANCE).pack()))
    # ", next in 4 h" follows where the exchange has API credentials (the unit test below).
    assert "last sync just now" in balance
    assert "0 min" not in balance


def _status(**changes: object) -> ExchangeStatusDTO:
    fields: dict[str, object] = {
        "exchange_id": "okx", "name": "OKX", "status": ExchangeStatus.OK,
        "last_success_at": None, "next_due_at": None, "last_error": None, **changes}
    return ExchangeStatusDTO(**fields)  # type: ignore[arg-type]


def test_sync_lines_say_only_what_is_known(i18n: Catalog) -> None:
    t = i18n.translator("en")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    summary = BalanceSummary(user_id=1, asset="USDT", available=Decimal(0), held=Decimal(0),
                             paid_out=Decimal(0), total_earned=Decimal(0),
                             estimated_earned=Decimal(0), per_exchange=())
    from services.dto import AccountDTO

    account = AccountDTO(id=1, exchange_id="okx", exchange_name="OKX", uid="1",
                         status=AccountStatus.VERIFIED, reject_reason=None, created_at=now,
                         verified_at=now)

    def line(status: ExchangeStatusDTO) -> str:
        return render_balance(t, summary, [account], {"okx": status}, now).splitlines()[-1]

    assert line(_status(last_success_at=now - timedelta(seconds=59),
                        next_due_at=now - timedelta(minutes=1))) == (
        "    last sync just now, next soon")  # overdue: the worker takes it at its next tick
    assert line(_status(last_success_at=now - timedelta(minutes=5),
                        next_due_at=now + timedelta(seconds=30))) == (
        "    last sync 5 min ago, next soon")  # not "in 0 min"
    assert line(_status(status=ExchangeStatus.DISABLED,
                        last_success_at=now)) == "    syncing is paused"
    # No API credentials: the worker does not sync it, so no "next" is promised.
    assert line(_status(status="not_configured")) == "    last sync: none yet"
    assert line(_status(status="not_configured", last_success_at=now - timedelta(hours=2),
                        next_due_at=now + timedelta(hours=2))) == "    last sync 2 h ago"
    assert line(_status(data_source="csv", last_success_at=now - timedelta(hours=3),
                        next_due_at=now + timedelta(hours=1))) == (
        "    from the exchange's report: last imported 3 h ago")
    assert line(_status(data_source="csv")) == "    from the exchange's report: none imported yet"


async def test_settings_name_the_current_language(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await send(dispatcher, bot, message_update(trader, "/start"))
    text = await send(dispatcher, bot,
                      callback_update(trader, MenuCB(screen=Screen.SETTINGS).pack()))
    assert "Language: English" in text
    text = await send(dispatcher, bot, callback_update(trader, LanguageCB(locale="ru").pack()))
    assert "Язык: Русский" in text and "Сохранено." in text


async def test_a_fractional_share_is_written_the_russian_way(
    db: str, dispatcher: Dispatcher, bot: MockedBot, services: Services
) -> None:
    await Exchange.filter(id="okx").update(trader_share=Decimal("0.625"))
    services.exchanges.forget_cache()
    trader = tg_user(next(_user_ids), "ru")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await send(dispatcher, bot, callback_update(trader, MenuCB(screen=Screen.EXCHANGES).pack()))
    (listing,) = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    labels = [b.text for row in listing.reply_markup.inline_keyboard for b in row]  # type: ignore[attr-defined]
    assert "OKX · 62,5%" in labels
