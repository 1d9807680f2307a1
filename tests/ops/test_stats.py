"""/stats (issue 14): the executive snapshot equals a recomputation from the records booked,
compared with the 30 days before, with its chart as a PNG photo."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiogram.methods import SendMessage, SendPhoto
from aiogram.types import Chat

from services.formatting import money
from services.rebates import RebateEngine
from services.stats import StatsService
from tests.clock import today
from tests.ledger.helpers import make_trader, put_record
from tests.support.updates import message_update, tg_user

D = Decimal


async def _book() -> list[tuple[str, int, Decimal, Decimal]]:
    """(exchange, days back, volume, commission) booked for two traders and a third only
    in the period before."""
    booked = []
    a, a_uid = await make_trader("okx")
    b, b_uid = await make_trader("bybit")
    c, c_uid = await make_trader("okx")
    for n, back in enumerate(range(0, 60, 4)):
        day = today() - timedelta(days=back)
        for exchange_id, uid in (("okx", a_uid), ("bybit", b_uid)) + (
                (("okx", c_uid),) if back >= 30 else ()):
            volume, commission = D(10_000 + 100 * n), D(4 + n) + D("0.5")
            await put_record(exchange_id, uid, day, commission=commission, volume=volume,
                             fee=D(1))
            booked.append((exchange_id, back, volume, commission))
    await RebateEngine().accrue_all()
    return booked


async def test_the_snapshot_is_the_records_against_the_period_before(db: str) -> None:
    booked = await _book()
    snap = await StatsService().snapshot(today())
    now = [b for b in booked if b[1] < 30]
    before = [b for b in booked if 30 <= b[1] < 60]
    assert snap.volume.now == sum(b[2] for b in now)
    assert snap.volume.before == sum(b[2] for b in before)
    # Our share is 40 % of each commission (the exchanges' default trader share is 60 %).
    expected_revenue = sum(b[3] * D("0.4") for b in now)
    assert abs(snap.revenue.now - expected_revenue) <= D("1e-8") * len(now)
    assert snap.gross == sum(b[3] for b in now)
    assert snap.traders == 3
    assert snap.activation.now == D("66.7")  # two of three traded in the period
    by_exchange = {e: sum(b[3] * D("0.4") for b in now if b[0] == e) for e in ("okx", "bybit")}
    assert {line.exchange_id: line.revenue for line in snap.by_exchange} == by_exchange
    revenues = [line.revenue for line in snap.by_exchange]
    assert revenues == sorted(revenues, reverse=True)
    assert sum(line.revenue for line in snap.by_exchange) == snap.revenue.now
    assert len(snap.days) == 30 and snap.days[-1][0] == today()
    assert sum(day[1] for day in snap.days) == snap.volume.now


async def test_stats_in_the_admin_chat_is_a_photo_with_the_numbers(  # type: ignore[no-untyped-def]
    db: str, dispatcher: Any, bot: Any, settings: Any,
) -> None:
    await _book()
    admin = 900  # an admin from ADMIN_IDS
    await dispatcher.feed_update(bot, message_update(tg_user(admin), "/start"))
    bot.session.clear()
    chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    await dispatcher.feed_update(bot, message_update(tg_user(admin), "/stats", chat))
    [photo] = [call for call in bot.session.calls if isinstance(call, SendPhoto)]
    snap = await StatsService().snapshot(today())
    assert f"Trading volume: <b>{money(snap.volume.now)}</b> USDT" in (photo.caption or "")
    assert "Needs a person: 0 withdrawals" in (photo.caption or "")
    png = photo.photo.data  # type: ignore[union-attr]
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


async def test_stats_without_trading_says_so_without_a_chart(  # type: ignore[no-untyped-def]
    db: str, dispatcher: Any, bot: Any, settings: Any,
) -> None:
    await dispatcher.feed_update(bot, message_update(tg_user(900), "/start"))
    bot.session.clear()
    chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    await dispatcher.feed_update(bot, message_update(tg_user(900), "/stats", chat))
    [sent] = [call for call in bot.session.calls if isinstance(call, SendMessage)]
    assert "no chart" in sent.text
