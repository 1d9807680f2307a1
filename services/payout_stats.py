"""The payout dashboard (seed 000 §4) for the admin screens: what is pending now, what was paid
and what failed in the period against the period before, the daily payouts, the split by way
of payment and how long requests took. The queue itself, with its buttons, is the payout queue
screen's (services/payouts/queue.py); this is its summary.

Readings where the seed leaves one open:
- Pending: every request not final yet (awaiting approval, approved, being paid, sent but not
  confirmed, unknown, an error waiting for finance), whenever it was made.
- Processed: completed in the period (by ``completed_at``), at the gross amount the trader's
  balance gave. Failed: failed in the period (the exchange failed it after accepting; the money
  went back). Rejections by finance are neither: they are decisions, counted apart.
- Success: completed / (completed + failed) in the period; none when neither happened.
- Processing time: from the request to its completion, for the period's completed ones.
- The split is by network for on-chain payouts; internal transfers are one line, and payouts
  finance made by hand another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from tortoise import Tortoise

from services.models import FINAL_STATUSES
from services.stats import Compared, Share, histogram, percent

TREND_DAYS = 30
# (label, upper bound in hours) of the processing-time histogram; the last is open.
TIME_BUCKETS = (("lt_1h", 1), ("1h_4h", 4), ("gt_4h", None))
_TENTH = Decimal("0.1")
_FINAL = [status.value for status in FINAL_STATUSES]

_NOW = """
SELECT count(*) AS pending, coalesce(sum(amount), 0) AS pending_amount,
       count(*) FILTER (WHERE status = 'awaiting_approval') AS awaiting,
       min(created_at) FILTER (WHERE status = 'awaiting_approval') AS oldest_awaiting
FROM withdrawals WHERE status <> ALL($1::text[])
"""
# $1 start, $2 end (exclusive) of a period.
_PERIOD = """
SELECT count(*) FILTER (WHERE status = 'completed' AND completed_at >= $1
                        AND completed_at < $2) AS completed,
       coalesce(sum(amount) FILTER (WHERE status = 'completed' AND completed_at >= $1
                                    AND completed_at < $2), 0) AS completed_amount,
       count(*) FILTER (WHERE status = 'failed' AND updated_at >= $1
                        AND updated_at < $2) AS failed,
       coalesce(sum(amount) FILTER (WHERE status = 'failed' AND updated_at >= $1
                                    AND updated_at < $2), 0) AS failed_amount,
       count(*) FILTER (WHERE status = 'rejected' AND updated_at >= $1
                        AND updated_at < $2) AS rejected
FROM withdrawals WHERE updated_at >= $1 OR completed_at >= $1
"""
_DAILY = """
SELECT (completed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS paid,
       sum(amount) AS amount
FROM withdrawals WHERE status = 'completed' AND completed_at >= $1 AND completed_at < $2
GROUP BY 1
"""
_BY_WAY = """
SELECT CASE WHEN paid_manually THEN 'manual' WHEN method = 'internal' THEN 'internal'
            ELSE coalesce(network_id, 'onchain') END AS way,
       count(*) AS paid, sum(amount) AS amount
FROM withdrawals WHERE status = 'completed' AND completed_at >= $1 AND completed_at < $2
GROUP BY 1 ORDER BY 3 DESC, 1
"""
_DURATIONS = """
SELECT extract(epoch FROM completed_at - created_at) / 3600 AS hours
FROM withdrawals WHERE status = 'completed' AND completed_at >= $1 AND completed_at < $2
"""


@dataclass(frozen=True)
class PeriodPayouts:
    completed: int
    completed_amount: Decimal
    failed: int
    failed_amount: Decimal
    rejected: int

    @property
    def success(self) -> Decimal | None:
        """Percent of the finished payouts that completed, to 0.1; None when none finished."""
        finished = self.completed + self.failed
        return percent(self.completed, finished) if finished else None


@dataclass(frozen=True)
class WayShare:
    way: str  # a network id (USDT-TRC20), "internal", "manual"
    paid: int
    amount: Decimal
    percent: Decimal  # of the period's paid amount


@dataclass(frozen=True)
class PayoutSnapshot:
    start: date
    end: date
    pending: int
    pending_amount: Decimal
    awaiting_approval: int
    oldest_awaiting: datetime | None
    period: PeriodPayouts
    previous: PeriodPayouts
    success_change: Compared | None  # the success rate against the period before
    days: tuple[tuple[date, int, Decimal], ...]  # the last TREND_DAYS days, oldest first
    ways: tuple[WayShare, ...]
    durations: tuple[Share, ...]  # TIME_BUCKETS, percent of the period's completed ones


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class PayoutStats:
    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    async def snapshot(self, today: date, days: int = 7) -> PayoutSnapshot:
        conn = Tortoise.get_connection(self._connection_name)
        start = today - timedelta(days=days - 1)
        t_end = _midnight(today + timedelta(days=1))
        t_start = _midnight(start)
        t_before = t_start - timedelta(days=days)
        [now] = await conn.execute_query_dict(_NOW, [_FINAL])
        period = await self._period(t_start, t_end)
        previous = await self._period(t_before, t_start)
        trend_start = today - timedelta(days=TREND_DAYS - 1)
        daily = {row["day"]: row for row in await conn.execute_query_dict(
            _DAILY, [_midnight(trend_start), t_end])}
        ways = await conn.execute_query_dict(_BY_WAY, [t_start, t_end])
        hours = [Decimal(row["hours"]) for row in
                 await conn.execute_query_dict(_DURATIONS, [t_start, t_end])]
        now_rate, before_rate = period.success, previous.success
        return PayoutSnapshot(
            start=start, end=today,
            pending=now["pending"], pending_amount=Decimal(now["pending_amount"]),
            awaiting_approval=now["awaiting"], oldest_awaiting=now["oldest_awaiting"],
            period=period, previous=previous,
            success_change=None if now_rate is None or before_rate is None
            else Compared(now_rate, before_rate),
            days=tuple(_day(trend_start + timedelta(days=n), daily)
                       for n in range(TREND_DAYS)),
            ways=tuple(WayShare(str(row["way"]), row["paid"], Decimal(row["amount"]),
                                _share(Decimal(row["amount"]), period.completed_amount))
                       for row in ways),
            durations=histogram(hours, TIME_BUCKETS),
        )

    async def _period(self, since: datetime, until: datetime) -> PeriodPayouts:
        conn = Tortoise.get_connection(self._connection_name)
        [row] = await conn.execute_query_dict(_PERIOD, [since, until])
        return PeriodPayouts(row["completed"], Decimal(row["completed_amount"]), row["failed"],
                             Decimal(row["failed_amount"]), row["rejected"])


def _day(day: date, daily: dict[date, dict[str, object]]) -> tuple[date, int, Decimal]:
    row = daily.get(day)
    if row is None:
        return day, 0, Decimal(0)
    return day, int(str(row["paid"])), Decimal(str(row["amount"]))


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (part * 100 / whole).quantize(_TENTH) if whole else Decimal(0)
