"""The exchange dashboard (seed 000 §3) for the admin screens: per exchange its sync status
(OK / Lag / Error / Disabled, services/sync/status.py), the traders who earned there, the
trading volume, our gross commission and our net revenue in the period (the net against the
period before), and the last 24 hours of its sync runs. The exchanges' configuration itself is
the Exchanges screen's (services/exchange_admin.py).

Readings where the seed leaves one open:
- Traders: those with an accrual on that exchange in the period (who traded there), not those
  merely linked. TVV, gross and net come from the accruals by the record's UTC trading day,
  estimated ones included (as in /stats).
- Sync history: the runs started in the last 24 hours, by their outcome (a run still going is
  counted as running).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from tortoise import Tortoise

from services.stats import Compared
from services.sync import ExchangeStatusDTO, SyncService

ZERO = Decimal(0)

# $1 the period's first day, $2 the previous period's first day, $3 the last day.
_FIGURES = """
SELECT exchange_id,
       count(DISTINCT user_id) FILTER (WHERE day >= $1) AS traders,
       coalesce(sum(volume_usdt) FILTER (WHERE day >= $1), 0) AS volume,
       coalesce(sum(gross) FILTER (WHERE day >= $1), 0) AS gross,
       coalesce(sum(service_amount) FILTER (WHERE day >= $1), 0) AS revenue,
       coalesce(sum(service_amount) FILTER (WHERE day < $1), 0) AS prev_revenue
FROM rebate_accruals WHERE day >= $2 AND day <= $3
GROUP BY exchange_id
"""
_RUNS = """
SELECT exchange_id, count(*) FILTER (WHERE status = 'ok') AS ok,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'running') AS running
FROM sync_runs WHERE started_at >= $1 GROUP BY exchange_id
"""


@dataclass(frozen=True)
class ExchangeLine:
    status: ExchangeStatusDTO
    traders: int
    volume: Decimal
    gross: Decimal
    revenue: Compared
    runs_ok: int  # in the last 24 hours
    runs_failed: int
    runs_running: int


@dataclass(frozen=True)
class ExchangeSnapshot:
    start: date
    end: date
    lines: tuple[ExchangeLine, ...]  # every exchange, in the exchanges' order

    @property
    def revenue(self) -> Decimal:
        return sum((line.revenue.now for line in self.lines), ZERO)


class ExchangeStats:
    def __init__(self, sync: SyncService, connection_name: str = "default") -> None:
        self._sync = sync
        self._connection_name = connection_name

    async def snapshot(self, today: date, now: datetime, days: int = 30) -> ExchangeSnapshot:
        conn = Tortoise.get_connection(self._connection_name)
        start = today - timedelta(days=days - 1)
        figures = {row["exchange_id"]: row for row in await conn.execute_query_dict(
            _FIGURES, [start, start - timedelta(days=days), today])}
        runs = {row["exchange_id"]: row for row in await conn.execute_query_dict(
            _RUNS, [now - timedelta(hours=24)])}
        lines = []
        for status in await self._sync.statuses():
            row = figures.get(status.exchange_id, {})
            run = runs.get(status.exchange_id, {})
            lines.append(ExchangeLine(
                status=status, traders=int(row.get("traders", 0)),
                volume=Decimal(row.get("volume", ZERO)), gross=Decimal(row.get("gross", ZERO)),
                revenue=Compared(Decimal(row.get("revenue", ZERO)),
                                 Decimal(row.get("prev_revenue", ZERO))),
                runs_ok=int(run.get("ok", 0)), runs_failed=int(run.get("failed", 0)),
                runs_running=int(run.get("running", 0))))
        return ExchangeSnapshot(start, today, tuple(lines))
