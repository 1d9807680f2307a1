"""services/dashboard.py: a trader's dashboard over 7/30/90 days and all time equals an
independent recomputation from the commission records stored, the previous period and the
change, every day present, and another trader's money never counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import cast

import pytest

from bot.app import Services
from services.dashboard import Dashboard, DashboardService, PeriodTotals, change
from services.models import AccountStatus, EstimateBasis, ExchangeAccount
from services.rebates import RateService, RebateEngine
from services.sync import ExchangeStatusDTO, SyncService
from tests.ledger.helpers import make_trader, next_id, put_record

D = Decimal
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHARE = D("0.6")  # every seeded exchange's default trader share
FEE_RATE = D("0.3")  # bybit's estimate rate on fees (its records here report no commission)
TOLERANCE = D("1e-8")


def _cut(value: Decimal) -> Decimal:
    return value.quantize(D("0.00000001"), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Row:
    """A record as stored, with what the trader should get for it, computed here."""

    user_id: int
    exchange_id: str
    day: date
    volume: Decimal | None
    fee: Decimal | None
    gross: Decimal
    rebate: Decimal
    estimated: bool


async def _book(user_id: int, uid: str, exchange_id: str, day: date, n: int,
                product: str = "spot") -> Row:
    volume = None if n % 7 == 3 else D(1000 + n * 37) + D("0.125")
    fee = None if volume is None else (volume * D("0.0008")).quantize(D("0.00000001"))
    if exchange_id == "bybit":  # no commission reported: estimated from the fee
        fee = fee or D("1.5")
        commission = None
        gross = _cut(fee * FEE_RATE)
    else:
        commission = D(3 + n) + D("0.33333333")
        gross = commission
    await put_record(exchange_id, uid, day, commission=commission, volume=volume, fee=fee,
                     product=product)
    return Row(user_id, exchange_id, day, volume, fee, gross, _cut(gross * SHARE),
               commission is None)


@pytest.fixture
async def booked(db: str) -> dict[str, object]:
    return await book_two_traders()


async def book_two_traders() -> dict[str, object]:
    """Trader A on okx and bybit (and a pending UID on mexc), over 200 days with gaps; trader B
    on okx on the same days."""
    await RateService().set_estimate_rate("bybit", EstimateBasis.FEE, FEE_RATE,
                                          valid_from=TODAY - timedelta(days=400))
    a, a_uid = await make_trader("okx")
    await ExchangeAccount.create(user_id=a, exchange_id="bybit", uid=a_uid,
                                 status=AccountStatus.VERIFIED)
    await ExchangeAccount.create(user_id=a, exchange_id="mexc", uid=a_uid,
                                 status=AccountStatus.PENDING)
    b, b_uid = await make_trader("okx")
    rows: list[Row] = []
    for n, back in enumerate(range(0, 200, 3)):  # every third day: days without accruals
        day = TODAY - timedelta(days=back)
        rows.append(await _book(a, a_uid, "okx", day, n))
        rows.append(await _book(a, a_uid, "okx", day, n + 1, "futures"))
        if back % 2 == 0:
            rows.append(await _book(a, a_uid, "bybit", day, n))
        rows.append(await _book(b, b_uid, "okx", day, n + 5))
    await RebateEngine().accrue_all()
    return {"a": a, "b": b, "rows": rows}


def _expected(rows: list[Row], user_id: int, start: date, end: date) -> PeriodTotals:
    mine = [r for r in rows if r.user_id == user_id and start <= r.day <= end]
    return PeriodTotals(
        volume=sum((r.volume or D(0) for r in mine), D(0)),
        fee=sum((r.fee or D(0) for r in mine), D(0)),
        commission=sum((r.gross for r in mine), D(0)),
        rebate=sum((r.rebate for r in mine), D(0)),
        estimated=sum((r.rebate for r in mine if r.estimated), D(0)),
    )


def _assert_close(actual: PeriodTotals, expected: PeriodTotals) -> None:
    for name in ("volume", "fee", "commission", "rebate", "estimated"):
        difference = abs(getattr(actual, name) - getattr(expected, name))
        assert difference <= TOLERANCE, (name, getattr(actual, name), getattr(expected, name))


def _service(services: Services) -> DashboardService:
    return DashboardService(services.balances, services.sync)


async def _dashboard(services: Services, user_id: int, period: str) -> Dashboard:
    return await _service(services).dashboard(user_id, period, TODAY, NOW)


@pytest.mark.parametrize("period, days", [("7d", 7), ("30d", 30), ("90d", 90)])
async def test_a_period_and_the_one_before_equal_the_records(
    booked: dict[str, object], services: Services, period: str, days: int
) -> None:
    a, rows = booked["a"], booked["rows"]
    assert isinstance(a, int) and isinstance(rows, list)
    dashboard = await _dashboard(services, a, period)
    start = TODAY - timedelta(days=days - 1)
    assert (dashboard.period, dashboard.start, dashboard.end) == (period, start, TODAY)
    _assert_close(dashboard.totals, _expected(rows, a, start, TODAY))
    assert dashboard.previous is not None
    previous = _expected(rows, a, start - timedelta(days=days), start - timedelta(days=1))
    _assert_close(dashboard.previous, previous)
    assert dashboard.totals.rebate > 0 and dashboard.previous.rebate > 0
    assert change(dashboard.totals.rebate, dashboard.previous.rebate) == (
        (dashboard.totals.rebate - previous.rebate) * 100 / previous.rebate
    ).quantize(D("0.1"))


async def test_all_time_starts_at_the_first_accrual(
    booked: dict[str, object], services: Services
) -> None:
    a, rows = booked["a"], booked["rows"]
    assert isinstance(a, int) and isinstance(rows, list)
    dashboard = await _dashboard(services, a, "all")
    first = min(r.day for r in rows if r.user_id == a)
    assert (dashboard.start, dashboard.end, dashboard.previous) == (first, TODAY, None)
    _assert_close(dashboard.totals, _expected(rows, a, first, TODAY))
    days = await _service(services).days(a, "all", TODAY)
    assert len(days) == (TODAY - first).days + 1 and days[0].day == first
    # All time is all there is: the balance screen's total, to the last digit.
    assert dashboard.totals.rebate == dashboard.total_earned
    assert dashboard.totals.estimated == dashboard.estimated_earned


async def test_every_day_is_there_oldest_first_and_zero_without_accruals(
    booked: dict[str, object], services: Services
) -> None:
    a, rows = booked["a"], booked["rows"]
    assert isinstance(a, int) and isinstance(rows, list)
    days = await _service(services).days(a, "30d", TODAY)
    assert [p.day for p in days] == [TODAY - timedelta(days=29 - n) for n in range(30)]
    for point in days:
        mine = [r for r in rows if r.user_id == a and r.day == point.day]
        assert point.rebate == sum((r.rebate for r in mine), D(0))
        assert point.volume == sum((r.volume or D(0) for r in mine), D(0))
        assert point.estimated == any(r.estimated for r in mine)
    empty = [p for p in days if not p.rebate]
    assert empty and all(p.volume == 0 and not p.estimated for p in empty)
    assert any(p.estimated for p in days)  # bybit's estimated days


async def test_exchanges_are_the_linked_ones_in_catalog_order(
    booked: dict[str, object], services: Services
) -> None:
    a, rows = booked["a"], booked["rows"]
    assert isinstance(a, int) and isinstance(rows, list)
    dashboard = await _dashboard(services, a, "7d")
    statuses = {s.exchange_id: s for s in await services.sync.statuses()}
    order = list(statuses)
    cards = {card.exchange_id: card for card in dashboard.exchanges}
    assert set(cards) == {"okx", "bybit", "mexc"}  # mexc: a pending UID, nothing earned
    assert [c.exchange_id for c in dashboard.exchanges] == sorted(cards, key=order.index)
    start = dashboard.start
    for exchange_id, card in cards.items():
        mine = [r for r in rows if r.user_id == a and r.exchange_id == exchange_id
                and start <= r.day <= TODAY]
        assert card.rebate == sum((r.rebate for r in mine), D(0))
        assert card.volume == sum((r.volume or D(0) for r in mine), D(0))
        assert card.name == statuses[exchange_id].name
        assert card.status == statuses[exchange_id]
        assert card.last_sync_at == statuses[exchange_id].last_success_at
    assert cards["mexc"].rebate == 0 and cards["mexc"].volume == 0


async def test_balances_are_the_balance_screens(
    booked: dict[str, object], services: Services
) -> None:
    a = booked["a"]
    assert isinstance(a, int)
    dashboard = await _dashboard(services, a, "30d")
    summary = await services.balances.summary(a)
    assert (dashboard.available, dashboard.held, dashboard.paid_out, dashboard.total_earned,
            dashboard.estimated_earned) == (summary.available, summary.held, summary.paid_out,
                                            summary.total_earned, summary.estimated_earned)
    assert dashboard.available == summary.total_earned  # nothing withdrawn here


async def test_another_traders_money_is_never_counted(
    booked: dict[str, object], services: Services
) -> None:
    a, b, rows = booked["a"], booked["b"], booked["rows"]
    assert isinstance(a, int) and isinstance(b, int) and isinstance(rows, list)
    for period in ("7d", "all"):
        theirs = await _dashboard(services, b, period)
        _assert_close(theirs.totals, _expected(rows, b, theirs.start, TODAY))
        assert [c.exchange_id for c in theirs.exchanges] == ["okx"]
    mine = await _dashboard(services, a, "all")
    both = _expected(rows, a, mine.start, TODAY).rebate + _expected(
        rows, b, mine.start, TODAY).rebate
    assert mine.totals.rebate < both


async def test_a_trader_without_accruals_sees_zeros(db: str, services: Services) -> None:
    user_id, _ = await make_trader("okx", verified=False)
    everything = await _dashboard(services, user_id, "all")
    assert (everything.start, everything.previous) == (TODAY, None)
    assert [(p.day, p.rebate) for p in await _service(services).days(user_id, "all", TODAY)] \
        == [(TODAY, 0)]
    week = await _dashboard(services, user_id, "7d")
    assert week.totals == week.previous == PeriodTotals(D(0), D(0), D(0), D(0), D(0))
    assert len(await _service(services).days(user_id, "7d", TODAY)) == 7
    assert [c.exchange_id for c in week.exchanges] == ["okx"]


async def test_a_card_is_for_an_exchange_linked_or_earned_on_in_the_period(
    db: str, services: Services
) -> None:
    """An exchange the trader earned on only before the period, and is no longer linked to,
    has no card; earned on in the period, it has one even when no longer linked. Its money
    counts in the previous period either way, and an unknown user has no dashboard."""
    user_id, uid = await make_trader("okx")
    await ExchangeAccount.create(user_id=user_id, exchange_id="mexc", uid=uid,
                                 status=AccountStatus.VERIFIED)
    before = await _book(user_id, uid, "okx", TODAY - timedelta(days=10), 1)
    now = await _book(user_id, uid, "mexc", TODAY - timedelta(days=1), 2)
    await RebateEngine().accrue_all()
    await ExchangeAccount.filter(user_id=user_id).delete()
    week = await _dashboard(services, user_id, "7d")
    assert now.rebate > 0 and before.rebate > 0
    assert [(c.exchange_id, c.rebate) for c in week.exchanges] == [("mexc", now.rebate)]
    assert week.previous is not None and week.previous.rebate == before.rebate
    assert (week.totals.rebate, week.totals.estimated) == (now.rebate, 0)
    everything = await _dashboard(services, user_id, "all")
    assert {c.exchange_id for c in everything.exchanges} == {"okx", "mexc"}
    assert (everything.start, everything.totals.rebate) == (before.day,
                                                            before.rebate + now.rebate)
    assert await _service(services).read(next_id(), "7d", TODAY) is None
    with pytest.raises(LookupError):
        await _dashboard(services, next_id(), "7d")


async def test_an_unknown_period_is_refused(db: str, services: Services) -> None:
    with pytest.raises(ValueError, match="unknown period"):
        await _dashboard(services, 1, "14d")


def test_change_is_a_percent_to_a_tenth() -> None:
    assert change(D(110), D(100)) == D("10.0")
    assert change(D(1), D(3)) == D("-66.7")
    assert change(D(5), D(5)) == D("0.0")
    assert change(D(5), D(0)) is None
    assert change(D(5), None) is None


class _CountingSync:
    """SyncService.statuses, counted (the dashboard keeps them ``statuses_ttl`` seconds)."""

    def __init__(self, sync: SyncService) -> None:
        self.calls = 0
        self._sync = sync

    async def statuses(self) -> list[ExchangeStatusDTO]:
        self.calls += 1
        return await self._sync.statuses()


async def test_sync_statuses_are_read_once_per_ttl(
    booked: dict[str, object], services: Services
) -> None:
    a = booked["a"]
    assert isinstance(a, int)
    counting = _CountingSync(services.sync)
    kept = DashboardService(services.balances, cast(SyncService, counting), statuses_ttl=60)
    first = await kept.dashboard(a, "7d", TODAY, NOW)
    assert await kept.dashboard(a, "30d", TODAY, NOW) and counting.calls == 1
    fresh = DashboardService(services.balances, cast(SyncService, counting), statuses_ttl=0)
    await fresh.dashboard(a, "7d", TODAY, NOW)
    await fresh.dashboard(a, "7d", TODAY, NOW)
    assert counting.calls == 3
    assert [c.status for c in first.exchanges] == [
        c.status for c in (await fresh.dashboard(a, "7d", TODAY, NOW)).exchanges]
