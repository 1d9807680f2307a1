"""The Mini App's dashboard: a trader's figures over a period, against the period before, per
day and per exchange, with the balances of the bot's balance screen.

One statement (_READ): who asks, where they stand (services.balances' STANDING_SQL, the same
read as the bot's balance screen, so both show the same figures to the last digit), and their
sums per exchange of the period and of the one before it, by rebate_accruals' (user_id, day)
index; the totals and the exchanges' cards are added up from those few rows here. The chart's
days are a read of their own (``days``): the page draws the server's chart, and the dashboard
answer does not carry them. The exchanges' sync statuses are the same for every trader and are
kept a few seconds (SyncService.statuses reads sync_runs twice per exchange).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from services.balances import STANDING_SQL, BalanceService, standing_of
from services.dto import UserDTO
from services.ledger import USDT, ZERO
from services.sync import ExchangeStatus, ExchangeStatusDTO, SyncService
from services.users import USER_COLUMNS, user_of_row

# The periods the dashboard offers, by the number of UTC days they cover ("all": since the
# trader's first accrual).
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
ALL = "all"
PERIODS = (*PERIOD_DAYS, ALL)

_TENTH = Decimal("0.1")


# NamedTuples, not frozen dataclasses: several times cheaper to make (a frozen dataclass sets
# each field through object.__setattr__), and a dashboard is read on every opening of the
# Mini App.
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


class ExchangeCard(NamedTuple):
    exchange_id: str
    name: str
    volume: Decimal  # in the period
    rebate: Decimal  # in the period
    last_sync_at: datetime | None
    next_sync_at: datetime | None  # None where no sync is scheduled (paused, CSV, no keys)
    status: ExchangeStatusDTO


class Dashboard(NamedTuple):
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
    exchanges: tuple[ExchangeCard, ...]


def change(current: Decimal, previous: Decimal | None) -> Decimal | None:
    """Percent change against the previous period, to 0.1; None where there is nothing to
    compare with (no previous period, or it was zero: "+∞%" says nothing)."""
    if previous is None or not previous:
        return None
    return ((current - previous) * 100 / previous).quantize(_TENTH)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")


def period_bounds(period: str, today: date, first_day: date | None) -> tuple[date, date | None]:
    """(start, start of the previous period or None) of a period ending ``today``."""
    if period == ALL:
        return min(first_day or today, today), None
    _check_period(period)
    days = PERIOD_DAYS[period]
    start = today - timedelta(days=days - 1)
    return start, start - timedelta(days=days)


# The five sums of a period, as SQL: ``{when}`` picks the period's days.
_SUMS = ("volume_usdt", "fee_usdt", "gross", "trader_amount")
_PERIOD = ", ".join([f"coalesce(sum({column}) FILTER (WHERE {{when}}), 0)" for column in _SUMS]
                    + ["coalesce(sum(trader_amount) FILTER (WHERE estimated AND ({when})), 0)"])

# The whole dashboard in one statement, by primary key and rebate_accruals' (user_id, day)
# index: who asks (no row: not registered), where they stand (STANDING_SQL) and, per exchange,
# the period's five sums ($6 its first day; NULL for all time), its number of accrual lines,
# the previous period's five sums and the first day with an accrual — one array a column,
# element i of each for exchange i, from the first day read ($4: the previous period's
# start; NULL for all time) to $5. One statement, not three, and sums rather than lines: under
# load each round trip and each decoded value cost the web process more CPU than the rest of
# the answer (bench/bench_miniapp.py). $1 user id, $2 the same as text, $3 asset.
_READ = f"""
SELECT {", ".join(f"u.{column}" for column in USER_COLUMNS)},
       s.available, s.held, s.paid_out, s.earned, s.estimated, s.linked,
       x.exchange, x.sums, x.lines, x.sums_before, x.first_day
FROM users u
CROSS JOIN LATERAL ({STANDING_SQL}) s
CROSS JOIN LATERAL (
    SELECT array_agg(exchange_id) AS exchange, array_agg(sums) AS sums,
           array_agg(lines) AS lines, array_agg(sums_before) AS sums_before,
           min(first_day) AS first_day
    FROM (SELECT exchange_id,
                 ARRAY[{_PERIOD.format(when="$6::date IS NULL OR day >= $6")}] AS sums,
                 count(*) FILTER (WHERE $6::date IS NULL OR day >= $6) AS lines,
                 ARRAY[{_PERIOD.format(when="day < $6")}] AS sums_before,
                 min(day) AS first_day
          FROM rebate_accruals
          WHERE user_id = $1 AND ($4::date IS NULL OR day >= $4) AND day <= $5
          GROUP BY exchange_id) per_exchange
) x
WHERE u.id = $1
"""

# The chart's days: the trader's sums per day from $2 (NULL: all time) to $3.
_DAYS = """
SELECT day, coalesce(sum(volume_usdt), 0) AS volume, sum(trader_amount) AS rebate,
       bool_or(estimated) AS estimated
FROM rebate_accruals
WHERE user_id = $1 AND ($2::date IS NULL OR day >= $2) AND day <= $3
GROUP BY day
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
        self._connection: BaseDBAsyncClient | None = None

    def _client(self) -> BaseDBAsyncClient:
        """The connection read on, looked up once: Tortoise's lookup goes through its context
        (and an import) on every call, a hundredth of a dashboard request's time under load.
        A service lives no longer than the Tortoise set-up it was built after."""
        if self._connection is None:
            self._connection = Tortoise.get_connection(self._connection_name)
        return self._connection

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
        """The trader's dashboard for a period ending ``today`` (a UTC day); LookupError for a
        user we do not know. ``now`` is not read here: the sync line is worded by the caller
        (services.sync.wording.sync_line) from each card's status and the same ``now``."""
        read = await self.read(user_id, period, today)
        if read is None:
            raise LookupError(f"no user {user_id}")
        return read[1]

    async def read(self, user_id: int, period: str,
                   today: date) -> tuple[UserDTO, Dashboard] | None:
        """Who asks and their dashboard for a period ending ``today``, in one statement; None
        for a user we do not know (never started the bot)."""
        _check_period(period)  # before any query
        bounded = period != ALL
        start, previous_start = period_bounds(period, today, None) if bounded else (today, None)
        client = self._client()
        async with client.acquire_connection() as conn:
            row = await conn.fetchrow(_READ, user_id, str(user_id), USDT, previous_start, today,
                                      start if bounded else None)
        if row is None:
            return None
        exchanges = row["exchange"] or []  # NULL: no accruals in the days read
        if not bounded:
            start, previous_start = period_bounds(period, today, row["first_day"])
        standing = standing_of(row)
        statuses = await self._sync_statuses()
        return user_of_row(row), Dashboard(
            user_id=user_id, period=period, start=start, end=today,
            totals=_added(row["sums"] or []),
            previous=None if previous_start is None else _added(row["sums_before"] or []),
            available=standing.available, held=standing.held, paid_out=standing.paid_out,
            total_earned=standing.earned, estimated_earned=standing.estimated,
            exchanges=_cards(statuses, exchanges, row["sums"] or [], row["lines"] or [],
                             standing.linked),
        )

    async def days(self, user_id: int, period: str, today: date) -> tuple[DayPoint, ...]:
        """The chart's points: every day of the period ending ``today``, oldest first ("all":
        from the trader's first accrual)."""
        _check_period(period)
        start = period_bounds(period, today, None)[0] if period != ALL else None
        client = self._client()
        async with client.acquire_connection() as conn:
            rows = await conn.fetch(_DAYS, user_id, start, today)
        if start is None:
            start = period_bounds(ALL, today, min((row["day"] for row in rows), default=None))[0]
        return _days(start, today, rows)


def _added(per_exchange: list[list[Decimal]]) -> PeriodTotals:
    """The five sums of a period added up over the exchanges."""
    volume = fee = commission = rebate = estimated = ZERO
    for sums in per_exchange:
        volume += sums[0]
        fee += sums[1]
        commission += sums[2]
        rebate += sums[3]
        estimated += sums[4]
    return PeriodTotals(volume, fee, commission, rebate, estimated)


def _days(start: date, end: date, rows: list[Any]) -> tuple[DayPoint, ...]:
    """Every day of the period, oldest first; a day without accruals is a zero (so the chart
    has a bar per day, not per day with earnings)."""
    by_day = {row["day"]: row for row in rows}
    points = []
    day, one_day = start, timedelta(days=1)
    while day <= end:
        found = by_day.get(day)
        points.append(DayPoint(day, ZERO, ZERO, False) if found is None
                      else DayPoint(day, found["volume"], found["rebate"], found["estimated"]))
        day += one_day
    return tuple(points)


def _scheduled(status: ExchangeStatusDTO) -> bool:
    """Whether the worker syncs this exchange by itself (so a next time means something)."""
    return status.data_source == "api" and status.status not in (
        ExchangeStatus.DISABLED, ExchangeStatus.NOT_CONFIGURED)


def _cards(statuses: list[ExchangeStatusDTO], exchanges: list[str], sums: list[list[Decimal]],
           lines: list[int], linked: frozenset[str]) -> tuple[ExchangeCard, ...]:
    """A card per exchange the trader is linked to or earned on in the period, in the
    exchanges' order. ``sums`` and ``lines`` are the period's, element i for exchanges[i]."""
    mine = {exchange: sums[i] for i, exchange in enumerate(exchanges) if lines[i]}
    cards = []
    for status in statuses:
        period = mine.get(status.exchange_id)
        if period is None and status.exchange_id not in linked:
            continue
        cards.append(ExchangeCard(
            exchange_id=status.exchange_id, name=status.name,
            volume=ZERO if period is None else period[0],
            rebate=ZERO if period is None else period[3],
            last_sync_at=status.last_success_at,
            next_sync_at=status.next_due_at if _scheduled(status) else None,
            status=status,
        ))
    return tuple(cards)
