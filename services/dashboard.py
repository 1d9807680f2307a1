"""The Mini App's dashboard: a trader's figures over a period, against the period before, per
day and per exchange, with the balances of the bot's balance screen.

Everything is read from rebate_accruals (what the rebate engine booked) by the (user_id, day)
index: one query for the totals of the period and the one before it, one for the days, one for
the exchanges; the balances are BalanceService.summary's, so the Mini App and the bot show the
same figures to the last digit. The exchanges' sync statuses are the same for every trader and
are kept a few seconds (SyncService.statuses reads sync_runs twice per exchange).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.balances import BalanceService
from services.ledger import ZERO
from services.sync import ExchangeStatus, ExchangeStatusDTO, SyncService

# The periods the dashboard offers, by the number of UTC days they cover ("all": since the
# trader's first accrual).
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
ALL = "all"
PERIODS = (*PERIOD_DAYS, ALL)

_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class PeriodTotals:
    volume: Decimal
    fee: Decimal
    commission: Decimal  # our gross commission (estimated where not reported yet)
    rebate: Decimal  # the trader's share of it
    estimated: Decimal  # the part of ``rebate`` that is still estimated


@dataclass(frozen=True)
class DayPoint:
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


# $1 user, $2 start of the period, $3 the first day read (the previous period's start, or the
# period's start), $4 end. One index range read gives both periods.
_TOTALS = """
SELECT coalesce(sum(volume_usdt) FILTER (WHERE day >= $2), 0) AS volume,
       coalesce(sum(fee_usdt) FILTER (WHERE day >= $2), 0) AS fee,
       coalesce(sum(gross) FILTER (WHERE day >= $2), 0) AS commission,
       coalesce(sum(trader_amount) FILTER (WHERE day >= $2), 0) AS rebate,
       coalesce(sum(trader_amount) FILTER (WHERE day >= $2 AND estimated), 0) AS estimated,
       coalesce(sum(volume_usdt) FILTER (WHERE day < $2), 0) AS prev_volume,
       coalesce(sum(fee_usdt) FILTER (WHERE day < $2), 0) AS prev_fee,
       coalesce(sum(gross) FILTER (WHERE day < $2), 0) AS prev_commission,
       coalesce(sum(trader_amount) FILTER (WHERE day < $2), 0) AS prev_rebate,
       coalesce(sum(trader_amount) FILTER (WHERE day < $2 AND estimated), 0) AS prev_estimated
FROM rebate_accruals
WHERE user_id = $1 AND day >= $3 AND day <= $4
"""
_DAYS = """
SELECT day, coalesce(sum(volume_usdt), 0) AS volume, sum(trader_amount) AS rebate,
       bool_or(estimated) AS estimated
FROM rebate_accruals
WHERE user_id = $1 AND day >= $2 AND day <= $3
GROUP BY day
"""
_EXCHANGES = """
SELECT exchange_id, coalesce(sum(volume_usdt), 0) AS volume, sum(trader_amount) AS rebate
FROM rebate_accruals
WHERE user_id = $1 AND day >= $2 AND day <= $3
GROUP BY exchange_id
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

    async def _sync_statuses(self) -> list[ExchangeStatusDTO]:
        """Every exchange's sync status, ordered by position (at most ``statuses_ttl`` old)."""
        read_at = time.monotonic()
        if self._statuses is None or read_at - self._statuses[0] >= self._statuses_ttl:
            self._statuses = (read_at, await self._sync.statuses())
        return self._statuses[1]

    async def dashboard(self, user_id: int, period: str, today: date,
                        now: datetime) -> Dashboard:
        """The trader's dashboard for a period ending ``today`` (a UTC day). ``now`` is not
        read here: the sync line is worded by the caller (services.sync.wording.sync_line)
        from each card's status and the same ``now``."""
        if period not in PERIODS:  # before any query
            raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            first_day = None
            if period == ALL:
                first_day = await conn.fetchval(
                    "SELECT min(day) FROM rebate_accruals WHERE user_id = $1", user_id)
            start, previous_start = period_bounds(period, today, first_day)
            totals = await conn.fetchrow(_TOTALS, user_id, start, previous_start or start, today)
            day_rows = await conn.fetch(_DAYS, user_id, start, today)
            exchange_rows = await conn.fetch(_EXCHANGES, user_id, start, today)
            linked = {row["exchange_id"] for row in await conn.fetch(
                "SELECT DISTINCT exchange_id FROM exchange_accounts WHERE user_id = $1",
                user_id)}
        summary = await self._balances.summary(user_id)
        statuses = await self._sync_statuses()
        return Dashboard(
            user_id=user_id, period=period, start=start, end=today,
            totals=_totals(totals, ""),
            previous=None if previous_start is None else _totals(totals, "prev_"),
            available=summary.available, held=summary.held, paid_out=summary.paid_out,
            total_earned=summary.total_earned, estimated_earned=summary.estimated_earned,
            days=_days(start, today, {row["day"]: row for row in day_rows}),
            exchanges=_cards(statuses, {row["exchange_id"]: row for row in exchange_rows},
                             linked),
        )


def _totals(row: Mapping[str, Any], prefix: str) -> PeriodTotals:
    return PeriodTotals(volume=row[f"{prefix}volume"], fee=row[f"{prefix}fee"],
                        commission=row[f"{prefix}commission"], rebate=row[f"{prefix}rebate"],
                        estimated=row[f"{prefix}estimated"])


def _days(start: date, end: date,
          rows: Mapping[date, Mapping[str, Any]]) -> tuple[DayPoint, ...]:
    """Every day of the period, oldest first; a day without accruals is a zero (so the chart
    has a bar per day, not per day with earnings)."""
    points = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        row = rows.get(day)
        points.append(DayPoint(day=day, volume=ZERO, rebate=ZERO, estimated=False) if row is None
                      else DayPoint(day=day, volume=row["volume"], rebate=row["rebate"],
                                    estimated=row["estimated"]))
    return tuple(points)


def _scheduled(status: ExchangeStatusDTO) -> bool:
    """Whether the worker syncs this exchange by itself (so a next time means something)."""
    return status.data_source == "api" and status.status not in (
        ExchangeStatus.DISABLED, ExchangeStatus.NOT_CONFIGURED)


def _cards(statuses: list[ExchangeStatusDTO], sums: Mapping[str, Mapping[str, Any]],
           linked: set[str]) -> tuple[ExchangeCard, ...]:
    cards = []
    for status in statuses:
        row = sums.get(status.exchange_id)
        if row is None and status.exchange_id not in linked:
            continue
        cards.append(ExchangeCard(
            exchange_id=status.exchange_id, name=status.name,
            volume=ZERO if row is None else row["volume"],
            rebate=ZERO if row is None else row["rebate"],
            last_sync_at=status.last_success_at,
            next_sync_at=status.next_due_at if _scheduled(status) else None,
            status=status,
        ))
    return tuple(cards)
