"""The executive snapshot (seed 000 §1) for the admin chat's /stats: trading volume, traders,
net revenue and activation over a period against the period before, revenue by exchange, the
daily series its chart draws, and what needs a person now (pending withdrawals, alerts).

Readings where the seed leaves one open:
- TVV and net revenue come from the accruals (the volume and our share of each booked
  commission record, estimated ones included), by the record's UTC trading day.
- Users: traders registered by the period's end; the comparison is the new ones in the period
  against the new ones in the period before.
- Activation: traders with any accrual in the period, of the traders registered by its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tortoise import Tortoise

ZERO = Decimal(0)
TOP_EXCHANGES = 5

_PERIOD = """
SELECT coalesce(sum(volume_usdt) FILTER (WHERE day >= $1), 0) AS volume,
       coalesce(sum(volume_usdt) FILTER (WHERE day < $1), 0) AS prev_volume,
       coalesce(sum(service_amount) FILTER (WHERE day >= $1), 0) AS revenue,
       coalesce(sum(service_amount) FILTER (WHERE day < $1), 0) AS prev_revenue,
       coalesce(sum(gross) FILTER (WHERE day >= $1), 0) AS gross,
       count(DISTINCT user_id) FILTER (WHERE day >= $1) AS active,
       count(DISTINCT user_id) FILTER (WHERE day < $1) AS prev_active
FROM rebate_accruals WHERE day >= $2 AND day <= $3
"""
_USERS = """
SELECT count(*) FILTER (WHERE created_at < $3) AS total,
       count(*) FILTER (WHERE created_at < $1) AS prev_total,
       count(*) FILTER (WHERE created_at >= $1 AND created_at < $3) AS new,
       count(*) FILTER (WHERE created_at >= $2 AND created_at < $1) AS prev_new
FROM users WHERE role = 'trader'
"""
_DAYS = """
SELECT day, sum(volume_usdt) AS volume, sum(service_amount) AS revenue
FROM rebate_accruals WHERE day >= $1 AND day <= $2 GROUP BY day ORDER BY day
"""
_BY_EXCHANGE = """
SELECT a.exchange_id, e.name, sum(a.service_amount) AS revenue
FROM rebate_accruals a JOIN exchanges e ON e.id = a.exchange_id
WHERE a.day >= $1 AND a.day <= $2 GROUP BY a.exchange_id, e.name ORDER BY revenue DESC
"""


@dataclass(frozen=True)
class Compared:
    now: Decimal
    before: Decimal

    @property
    def change(self) -> Decimal | None:
        """Percent against the period before, to 0.1; None where that was zero."""
        if not self.before:
            return None
        return ((self.now - self.before) * 100 / self.before).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class ExchangeRevenue:
    exchange_id: str
    name: str
    revenue: Decimal
    share: Decimal  # percent of the period's net revenue


@dataclass(frozen=True)
class Snapshot:
    start: date
    end: date
    volume: Compared
    revenue: Compared
    gross: Decimal
    traders: int
    new_traders: Compared
    activation: Compared  # percent
    by_exchange: tuple[ExchangeRevenue, ...]  # the top ones, then "others" as one line
    days: tuple[tuple[date, Decimal, Decimal], ...]  # (day, volume, net revenue), every day
    pending_withdrawals: int
    alerts_firing: int


def percent(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1")) if whole else ZERO


@dataclass(frozen=True)
class Share:
    """A part of a whole, for the dashboards' splits and histograms."""

    key: str  # a code the page words: a screen, platform, source, network, bucket
    count: int
    percent: Decimal  # of the whole the dashboard names for it


def histogram(hours: list[Decimal],
              buckets: tuple[tuple[str, int | None], ...]) -> tuple[Share, ...]:
    """Durations in hours counted into ``buckets`` ((label, upper bound), the last open)."""
    counts = dict.fromkeys((label for label, _ in buckets), 0)
    for value in hours:
        label = next(label for label, bound in buckets if bound is None or value < bound)
        counts[label] += 1
    return tuple(Share(label, count, percent(count, len(hours)))
                 for label, count in counts.items())


class StatsService:
    async def snapshot(self, today: date, days: int = 30) -> Snapshot:
        start = today - timedelta(days=days - 1)
        previous = start - timedelta(days=days)
        after_end = today + timedelta(days=1)
        conn = Tortoise.get_connection("default")
        [row] = await conn.execute_query_dict(_PERIOD, [start, previous, today])
        [users] = await conn.execute_query_dict(_USERS, [start, previous, after_end])
        day_rows = {r["day"]: r for r in await conn.execute_query_dict(_DAYS, [start, today])}
        exchanges = await conn.execute_query_dict(_BY_EXCHANGE, [start, today])
        [queue] = await conn.execute_query_dict(
            "SELECT (SELECT count(*) FROM withdrawals WHERE status = 'awaiting_approval') AS "
            "pending, (SELECT count(*) FROM alert_states WHERE firing) AS alerts", [])
        revenue = Decimal(row["revenue"])
        return Snapshot(
            start=start, end=today,
            volume=Compared(Decimal(row["volume"]), Decimal(row["prev_volume"])),
            revenue=Compared(revenue, Decimal(row["prev_revenue"])),
            gross=Decimal(row["gross"]),
            traders=users["total"],
            new_traders=Compared(Decimal(users["new"]), Decimal(users["prev_new"])),
            activation=Compared(percent(row["active"], users["total"]),
                                percent(row["prev_active"], users["prev_total"])),
            by_exchange=_top(exchanges, revenue),
            days=tuple((day, Decimal(day_rows[day]["volume"] or 0) if day in day_rows else ZERO,
                        Decimal(day_rows[day]["revenue"]) if day in day_rows else ZERO)
                       for day in (start + timedelta(days=n) for n in range(days))),
            pending_withdrawals=queue["pending"], alerts_firing=queue["alerts"],
        )


def _top(rows: list[dict[str, object]], total: Decimal) -> tuple[ExchangeRevenue, ...]:
    def line(exchange_id: str, name: str, revenue: Decimal) -> ExchangeRevenue:
        share = (revenue * 100 / total).quantize(Decimal("0.1")) if total else ZERO
        return ExchangeRevenue(exchange_id, name, revenue, share)

    top = [line(str(r["exchange_id"]), str(r["name"]), Decimal(str(r["revenue"])))
           for r in rows[:TOP_EXCHANGES]]
    rest = sum((Decimal(str(r["revenue"])) for r in rows[TOP_EXCHANGES:]), ZERO)
    if rest:
        top.append(line("", "", rest))  # "others": worded by the caller
    return tuple(top)
