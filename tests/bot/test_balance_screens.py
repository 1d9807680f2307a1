"""Balance and history as the trader sees them, after real records were stored and accrued:
the numbers shown equal an independent recomputation from the raw commission records."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from exchanges.base import make_row
from handlers.callbacks import HistoryCB, MenuCB, Screen
from handlers.money import money
from services.commission_store import store_rows
from services.models import AccountStatus, ExchangeAccount, RecordOrigin
from services.rebates import RebateEngine
from tests.support.updates import callback_update, message_update, tg_user

TRADER = 777_001
DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(12)]


async def feed(dispatcher, bot, update) -> str:  # type: ignore[no-untyped-def]
    bot.session.clear()
    await dispatcher.feed_update(bot, update)
    return "\n".join(bot.session.texts())


async def test_balance_and_history_trace_the_records(db, dispatcher, bot) -> None:  # type: ignore[no-untyped-def]
    user = tg_user(TRADER)
    await feed(dispatcher, bot, message_update(user, "/start"))
    balance_screen = MenuCB(screen=Screen.BALANCE).pack()
    empty = await feed(dispatcher, bot, callback_update(user, balance_screen))
    assert "no earnings yet" in empty

    await ExchangeAccount.create(user_id=TRADER, exchange_id="okx", uid="55500011",
                                 status=AccountStatus.VERIFIED)
    rows = [
        make_row("okx", "55500011", day, product, volume=Decimal(1000 + n * 37),
                 fee=Decimal(1000 + n * 37) * Decimal("0.0008"),
                 commission=Decimal(1000 + n * 37) * Decimal("0.0008") * Decimal("0.4"))
        for n, (day, product) in enumerate((d, p) for d in DAYS for p in ("spot", "futures"))
    ]
    await store_rows(rows, RecordOrigin.API)
    await RebateEngine().accrue_all()

    # Independently: 60% of each record's commission, cut to 8 decimals.
    expected = sum(((r.commission or Decimal(0)) * Decimal("0.6")).quantize(
        Decimal("0.00000001"), rounding=ROUND_DOWN) for r in rows)
    balance = await feed(dispatcher, bot, callback_update(user, balance_screen))
    assert f"Total earned: {money(expected)} USDT" in balance
    assert f"Available: <b>{money(expected)} USDT</b>" in balance
    assert "• OKX: earned" in balance and "last sync" in balance

    history = await feed(dispatcher, bot, callback_update(user, HistoryCB(page=1).pack()))
    assert "page 1 of 2" in history  # 12 days, 8 lines a page
    assert f"your rebate <b>{money(expected)} USDT</b>" in history
    newest = DAYS[-1].isoformat()
    assert history.index(newest) < history.index(DAYS[-2].isoformat())
    assert "→ your 60% =" in history

    older = await feed(dispatcher, bot, callback_update(user, HistoryCB(page=2).pack()))
    assert "page 2 of 2" in older and DAYS[0].isoformat() in older
