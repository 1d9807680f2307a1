"""The product and payout dashboards of the admin screens (seed 000 §2, §4): each figure against
what the rows put in say, counted here by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.exchange_stats import ExchangeStats
from services.models import (
    AccountStatus,
    Event,
    ExchangeAccount,
    Platform,
    User,
    Withdrawal,
)
from services.payout_stats import PayoutStats
from services.product_stats import ProductStats
from services.rebates import RebateEngine
from tests.ledger.helpers import next_id, put_record

D = Decimal
NOW = datetime.now(UTC)
TODAY = NOW.date()


async def _sql(sql: str, *args: Any) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        await conn.execute(sql, *args)


async def _trader(created: datetime, *, source: str = "organic", role: str = "trader") -> int:
    user_id = next_id()
    await User.create(id=user_id, first_name="t", signup_source=source, role=role)
    await _sql("UPDATE users SET created_at = $1 WHERE id = $2", created, user_id)
    return user_id


async def _event(user_id: int, name: str, platform: Platform, at: datetime,
                 **properties: str) -> None:
    event = await Event.create(name=name, user_id=user_id, platform=platform,
                               properties=properties)
    await _sql("UPDATE events SET created_at = $1 WHERE id = $2", at, event.id)


async def _account(user_id: int, status: AccountStatus, *, first_trade: datetime | None = None,
                   traded_day: Any = None) -> None:
    uid = str(user_id)[-9:]
    await ExchangeAccount.create(user_id=user_id, exchange_id="okx", uid=uid, status=status,
                                 verified_at=NOW - timedelta(days=60)
                                 if status == AccountStatus.VERIFIED else None,
                                 first_trade_at=first_trade)
    if traded_day is not None:
        await put_record("okx", uid, traded_day, commission=D(5), volume=D(1000), fee=D(1))


async def test_the_product_dashboard_counts_what_traders_did(db: str) -> None:
    ago = lambda **kw: NOW - timedelta(**kw)  # noqa: E731
    # The period's cohort: a, b, c (and e, three weeks back); d signed up in the one before.
    a = await _trader(ago(days=5), source="influencer")
    await _event(a, "link_opened", Platform.WEB, ago(days=5))
    await _event(a, "screen_viewed", Platform.BOT, ago(days=4), screen="balance")
    await _event(a, "screen_viewed", Platform.WEBAPP, ago(days=4), screen="history")
    await _account(a, AccountStatus.VERIFIED, first_trade=ago(days=5) + timedelta(hours=2),
                   traded_day=TODAY - timedelta(days=4))
    b = await _trader(ago(days=10))
    await _event(b, "screen_viewed", Platform.BOT, ago(days=9), screen="balance")
    await _account(b, AccountStatus.PENDING)
    c = await _trader(ago(days=3), source="influencer")
    await _event(c, "link_opened", Platform.WEB, ago(days=3))
    this_monday = TODAY - timedelta(days=TODAY.weekday())
    e_signed = datetime.combine(this_monday - timedelta(weeks=3), time(12), UTC)
    e = await _trader(e_signed)
    await _event(e, "screen_viewed", Platform.BOT, e_signed + timedelta(days=8), screen="help")
    d = await _trader(ago(days=40))
    await _account(d, AccountStatus.VERIFIED, first_trade=ago(days=39),
                   traded_day=TODAY - timedelta(days=39))
    await _event(d, "screen_viewed", Platform.BOT, ago(days=5), screen="balance")  # day 35
    await _trader(ago(days=2), role="admin")  # an operator: not a trader anywhere
    await RebateEngine().accrue_all()

    snap = await ProductStats().snapshot(TODAY)

    assert (snap.new_traders.now, snap.new_traders.before) == (4, 1)  # a b c e / d
    assert [(s.key, s.count, s.conversion) for s in snap.funnel] == [
        ("signup", 4, None), ("opened_link", 2, D("50.0")), ("linked", 2, D("50.0")),
        ("traded", 1, D("25.0"))]
    assert (snap.activation.now, snap.activation.before) == (D("25.0"), D("100.0"))
    # D30: d signed up 40 days ago (in the 30 days ending 30 days ago) and came back on day 35.
    assert snap.retention_d30.now == D("100.0") and snap.retention_d30.before == 0
    # Verified accounts per trader with one: a and d, one each; 30 days ago the same two.
    assert snap.exchanges_per_trader.now == D("1.0")
    # Active in the period: a (web, bot, webapp), b (bot), c (web), e (bot), d (bot) = 5.
    assert snap.active_traders == 5
    assert {(s.key, s.count, s.percent) for s in snap.platforms} == {
        ("bot", 4, D("80.0")), ("web", 2, D("40.0")), ("webapp", 1, D("20.0"))}
    assert [(s.key, s.count, s.percent) for s in snap.features] == [
        ("balance", 3, D("60.0")), ("help", 1, D("20.0")), ("history", 1, D("20.0"))]
    assert [(s.key, s.count) for s in snap.sources] == [("influencer", 2), ("organic", 2)]
    # The period's first trades: a's, two hours after signing up (d's was before the period).
    assert [(s.key, s.count) for s in snap.first_trade] == [
        ("lt_1h", 0), ("1h_24h", 1), ("1d_3d", 0), ("3d_7d", 0), ("gt_7d", 0)]
    weeks = {cohort.week_start: cohort for cohort in snap.cohorts}
    assert len(snap.cohorts) == 4 and min(weeks) == this_monday - timedelta(weeks=4)
    e_week = weeks[this_monday - timedelta(weeks=3)]
    # e came back on day 8: D1 and D7 yes; D30 not reached yet (no figure, not a zero).
    assert (e_week.signups, e_week.retention) == (1, (D("100.0"), D("100.0"), None))


async def _withdrawal(status: str, amount: str, *, created: datetime,
                      completed: datetime | None = None, updated: datetime | None = None,
                      network: str | None = "USDT-TRC20", method: str = "onchain",
                      manual: bool = False) -> None:
    row = await Withdrawal.create(
        user_id=1, method=method, status=status, amount=D(amount), fee=D(1),
        net_amount=D(amount) - 1, network_id=network, exchange_id="okx",
        client_id=f"cr{next_id()}", paid_manually=manual)
    await _sql("UPDATE withdrawals SET created_at = $1, completed_at = $2, updated_at = $3 "
               "WHERE id = $4", created, completed, updated or completed or created, row.id)


async def test_the_payout_dashboard_counts_the_requests(db: str) -> None:
    ago = lambda **kw: NOW - timedelta(**kw)  # noqa: E731
    await _withdrawal("awaiting_approval", "600", created=ago(hours=5))
    await _withdrawal("awaiting_approval", "700", created=ago(hours=1))
    await _withdrawal("unknown", "50", created=ago(days=1))
    # This week: three paid (30 min, 2 h and 6 h after the request), one failed, one rejected.
    await _withdrawal("completed", "100", created=ago(days=2), completed=ago(days=2) +
                      timedelta(minutes=30))
    await _withdrawal("completed", "200.5", created=ago(days=3), completed=ago(days=3) +
                      timedelta(hours=2), method="internal", network=None)
    await _withdrawal("completed", "300", created=ago(days=1), completed=ago(days=1) +
                      timedelta(hours=6), manual=True)
    await _withdrawal("failed", "40", created=ago(days=2), updated=ago(days=2))
    await _withdrawal("rejected", "900", created=ago(days=2), updated=ago(days=2))
    # The week before: one paid, one failed.
    await _withdrawal("completed", "10", created=ago(days=9), completed=ago(days=9))
    await _withdrawal("failed", "10", created=ago(days=10), updated=ago(days=10))

    snap = await PayoutStats().snapshot(TODAY)

    assert (snap.pending, snap.pending_amount, snap.awaiting_approval) == (3, D(1350), 2)
    assert snap.oldest_awaiting is not None and ago(hours=6) < snap.oldest_awaiting < ago(hours=4)
    period = snap.period
    assert (period.completed, period.completed_amount) == (3, D("600.5"))
    assert (period.failed, period.failed_amount, period.rejected) == (1, D(40), 1)
    assert period.success == D("75.0") and snap.previous.success == D("50.0")
    assert snap.success_change is not None and snap.success_change.change == D("50.0")
    assert {(w.way, w.paid, w.amount) for w in snap.ways} == {
        ("USDT-TRC20", 1, D(100)), ("internal", 1, D("200.5")), ("manual", 1, D(300))}
    # Of the 600.5 paid: 100 (16.65 %), 200.5 (33.39 %), 300 (49.96 %), each to 0.1.
    assert sorted(w.percent for w in snap.ways) == [D("16.7"), D("33.4"), D("50.0")]
    assert [(s.key, s.count) for s in snap.durations] == [("lt_1h", 1), ("1h_4h", 1),
                                                          ("gt_4h", 1)]
    assert len(snap.days) == 30 and snap.days[-1][0] == TODAY
    assert sum(day[2] for day in snap.days) == D("610.5")  # the 30 days: this week's + 10


async def test_the_exchange_dashboard_sums_each_exchange(db: str, services: Any) -> None:
    for exchange_id, volume, commission, back in (("okx", "1000", "10", 1), ("okx", "500", "4", 2),
                                                  ("bybit", "300", "3", 3),
                                                  ("okx", "700", "5", 40)):
        user_id = next_id()
        uid = str(user_id)[-9:]
        await User.create(id=user_id, first_name="t")
        await ExchangeAccount.create(user_id=user_id, exchange_id=exchange_id, uid=uid,
                                     status=AccountStatus.VERIFIED)
        await put_record(exchange_id, uid, TODAY - timedelta(days=back), commission=D(commission),
                         volume=D(volume), fee=D(1))
    await RebateEngine().accrue_all()
    for status, hours in (("ok", 1), ("failed", 2), ("ok", 30)):
        await _sql("INSERT INTO sync_runs (exchange_id, trigger, status, records_seen, "
                   "records_new, records_changed, started_at) VALUES ('okx', 'cron', $1, 0, 0, "
                   "0, $2)", status, NOW - timedelta(hours=hours))

    snap = await ExchangeStats(services.sync).snapshot(TODAY, NOW)

    lines = {line.status.exchange_id: line for line in snap.lines}
    assert len(lines) == 11  # every exchange, earning or not
    okx, bybit = lines["okx"], lines["bybit"]
    assert (okx.traders, okx.volume, okx.gross) == (2, D(1500), D(14))
    # Our share is 40 % (the traders' default 60 %): 5.6 now, 2 in the 30 days before.
    assert (okx.revenue.now, okx.revenue.before) == (D("5.6"), D(2))
    assert (bybit.traders, bybit.volume, bybit.revenue.now) == (1, D(300), D("1.2"))
    assert (okx.runs_ok, okx.runs_failed, okx.runs_running) == (1, 1, 0)  # the 30 h one: out
    assert lines["kucoin"].traders == 0 and lines["kucoin"].volume == 0
    assert snap.revenue == D("6.8")
