"""The Mini App's dashboard: a trader's figures over a period, against the period before, per
day and per exchange, with the balances of the bot's balance screen.

Two queries on one connection: the trader's accrual lines per (day, exchange) of the period and
the one before it, by rebate_accruals' (user_id, day) index — the totals, the days and the
exchanges' cards are summed from them here — and where the trader stands
(services.balances.read_standing, the same read as the bot's balance screen, so both show the
same figures to the last digit). The exchanges' sync statuses are the same for every trader
and are kept a few seconds (SyncService.statuses reads sync_runs twice per exchange).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from tortoise import Tortoise

from services.balances import BalanceService, read_standing
from services.ledger import ZERO
from services.sync import ExchangeStatus, ExchangeStatusDTO, SyncService

# The periods the dashboard offers, by the number of UTC days they cover ("all": since the
# trader's first accrual).
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
ALL = "all"
PERIODS = (*PERIOD_DAYS, ALL)

_TENTH = Decimal("0.1")


# NamedTuples, not frozen dataclasses: a dashboard makes ~35 of these, and a frozen
# dataclass's __init__ costs several times a tuple's (5% of an answer's time under load).
class PeriodTotals(NamedTuple):
    volume: Decimal
    fee: Decimal
    commission: Decimal  # our gross commission (estimated where not reported yet)
    rebate: Decimal  # the trader's share of it
    estimated: Decimal  # the part of ``rebate`` that is still estimated


class DayPoint(NamedTuple):
    day: date
    volume: Decimal
    rebate: Decimal
    estimated: bool  # some of the day's rebate is still estimated


@dataclass(frozen=True)
class ExchangeCard:
    exchange_id: str
    name: str
    volume: Decimal  # in the period
    rebate: Decimal  # in the period
    last_sync_at: datetime | None
    next_sync_at: datetime | None  # None where no sync is scheduled (paused, CSV, no keys)
    status: ExchangeStatusDTO


@dataclass(frozen=True)
class Dashboard:
    user_id: int
    period: str
    start: date
    end: date
    totals: PeriodTotals
    previous: PeriodTotals | None  # the same number of days before ``start``; None for "all"
    available: Decimal
    held: Decimal
    paid_out: Decimal
    total_earned: Decimal
    estimated_earned: Decimal
    days: tuple[DayPoint, ...]  # every day from start to end, oldest first
    exchanges: tuple[ExchangeCard, ...]


def change(current: Decimal, previous: Decimal | None) -> Decimal | None:
    """Percent change against the previous period, to 0.1; None where there is nothing to
    compare with (no previous period, or it was zero: "+∞%" says nothing)."""
    if previous is None or not previous:
        return None
    return ((current - previous) * 100 / previous).quantize(_TENTH)


def period_bounds(period: str, today: date, first_day: date | None) -> tuple[date, date | None]:
    """(start, start of the previous period or None) of a period ending ``today``."""
    if period == ALL:
        return min(first_day or today, today), None
    if period not in PERIOD_DAYS:
        raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    days = PERIOD_DAYS[period]
    start = today - timedelta(days=days - 1)
    return start, start - timedelta(days=days)


# One line per (day, exchange) of the trader, from the first day read ($2: the previous
# period's start; NULL for all time) to $3, by the (user_id, day) index; the totals, the days
# and the exchanges' cards are summed from these lines here (a few dozen for a month).
_BOOKS = """
SELECT day, exchange_id, coalesce(sum(volume_usdt), 0) AS volume,
       coalesce(sum(fee_usdt), 0) AS fee, sum(gross) AS commission,
       sum(trader_amount) AS rebate,
       coalesce(sum(trader_amount) FILTER (WHERE estimated), 0) AS estimated,
       bool_or(estimated) AS any_estimated
FROM rebate_accruals
WHERE user_id = $1 AND ($2::date IS NULL OR day >= $2) AND day <= $3
GROUP BY day, exchange_id
"""


class DashboardService:
    def __init__(self, balances: BalanceService, sync: SyncService,
                 connection_name: str = "default", *, statuses_ttl: float = 10.0) -> None:
        self._balances = balances
        self._sync = sync
        self._connection_name = connection_name
        # SyncService.statuses() costs two sync_runs queries per exchange (a full backward scan
        # of sync_runs for an exchange that never had a deep re-read) and is the same for every
        # trader: kept this many seconds (0: read every time). Syncs run minutes apart.
        self._statuses_ttl = statuses_ttl
        self._statuses: tuple[float, list[ExchangeStatusDTO]] | None = None
        self._refreshing = asyncio.Lock()

    def _fresh_statuses(self) -> list[ExchangeStatusDTO] | None:
        kept = self._statuses
        if kept is None or time.monotonic() - kept[0] >= self._statuses_ttl:
            return None
        return kept[1]

    async def _sync_statuses(self) -> list[ExchangeStatusDTO]:
        """Every exchange's sync status, ordered by position (at most ``statuses_ttl`` old).
        One refresh at a time: when the copy expires under load, the requests in flight wait
        for the one read instead of each starting its own (~22 queries apiece)."""
        statuses = self._fresh_statuses()
        if statuses is not None:
            return statuses
        async with self._refreshing:
            statuses = self._fresh_statuses()
            if statuses is None:
                read_at = time.monotonic()
                statuses = await self._sync.statuses()
                self._statuses = (read_at, statuses)
            return statuses

    async def dashboard(self, user_id: int, period: str, today: date,
                        now: datetime) -> Dashboard:
        """The trader's dashboard for a period ending ``today`` (a UTC day). ``now`` is not
        read here: the sync line is worded by the caller (services.sync.wording.sync_line)
        from each card's status and the same ``now``."""
        if period not in PERIODS:  # before any query
            raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            if period == ALL:
                lines = await conn.fetch(_BOOKS, user_id, None, today)
                first_day = min((line["day"] for line in lines), default=None)
                start, previous_start = period_bounds(period, today, first_day)
            else:
                start, previous_start = period_bounds(period, today, None)
                lines = await conn.fetch(_BOOKS, user_id, previous_start, today)
            standing = await read_standing(conn, user_id)
        statuses = await self._sync_statuses()
        current = [line for line in lines if line["day"] >= start]
        return Dashboard(
            user_id=user_id, period=period, start=start, end=today,
            totals=_totals(current),
            previous=None if previous_start is None
            else _totals([line for line in lines if line["day"] < start]),
            available=standing.available, held=standing.held, paid_out=standing.paid_out,
            total_earned=standing.earned, estimated_earned=standing.estimated,
            days=_days(start, today, current),
            exchanges=_cards(statuses, current, standing.linked),
        )


def _sum(lines: list[Any], name: str) -> Decimal:
    return sum((line[name] for line in lines), ZERO)


def _totals(lines: list[Any]) -> PeriodTotals:
    """The five sums of the lines, in one pass over them."""
    volume = fee = commission = rebate = estimated = ZERO
    for line in lines:
        volume += line["volume"]
        fee += line["fee"]
        commission += line["commission"]
        rebate += line["rebate"]
        estimated += line["estimated"]
    return PeriodTotals(volume, fee, commission, rebate, estimated)


def _days(start: date, end: date, lines: list[Any]) -> tuple[DayPoint, ...]:
    """Every day of the period, oldest first; a day without accruals is a zero (so the chart
    has a bar per day, not per day with earnings)."""
    by_day: dict[date, list[Any]] = {}
    for line in lines:  # one pass: a day's exchanges summed as they come
        sums = by_day.setdefault(line["day"], [ZERO, ZERO, False])
        sums[0] += line["volume"]
        sums[1] += line["rebate"]
        sums[2] = sums[2] or line["any_estimated"]
    points = []
    day, one_day = start, timedelta(days=1)
    while day <= end:
        found = by_day.get(day)
        points.append(DayPoint(day, ZERO, ZERO, False) if found is None
                      else DayPoint(day, found[0], found[1], found[2]))
        day += one_day
    return tuple(points)


def _scheduled(status: ExchangeStatusDTO) -> bool:
    """Whether the worker syncs this exchange by itself (so a next time means something)."""
    return status.data_source == "api" and status.status not in (
        ExchangeStatus.DISABLED, ExchangeStatus.NOT_CONFIGURED)


def _cards(statuses: list[ExchangeStatusDTO], lines: list[Any],
           linked: frozenset[str]) -> tuple[ExchangeCard, ...]:
    """A card per exchange the trader is linked to or earned on in the period, in the
    exchanges' order."""
    by_exchange: dict[str, list[Any]] = {}
    for line in lines:
        by_exchange.setdefault(line["exchange_id"], []).append(line)
    cards = []
    for status in statuses:
        mine = by_exchange.get(status.exchange_id)
        if mine is None and status.exchange_id not in linked:
            continue
        cards.append(ExchangeCard(
            exchange_id=status.exchange_id, name=status.name,
            volume=_sum(mine or [], "volume"), rebate=_sum(mine or [], "rebate"),
            last_sync_at=status.last_success_at,
            next_sync_at=status.next_due_at if _scheduled(status) else None,
            status=status,
        ))
    return tuple(cards)
