"""Storing one run's rows: the rows, the run's counts and the watermark in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise import Tortoise

from exchanges.base import CommissionRow
from services.commission_store import UpsertCounts, upsert_rows
from services.models import Exchange, RecordOrigin, SyncRun


async def store_rows(
    rows: Sequence[CommissionRow], origin: RecordOrigin, run: SyncRun, now: datetime,
    exchange: Exchange,
) -> UpsertCounts:
    """Rows, the run's counts and the new watermark in one transaction: all or nothing."""
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as connection, connection.transaction():
        counts = await upsert_rows(rows, origin, connection=connection)
        await connection.execute(
            "UPDATE sync_runs SET status = 'ok', records_seen = $2, records_new = $3, "
            "records_changed = $4, finished_at = $5 WHERE id = $1",
            run.id, counts.seen, counts.new, counts.changed, now,
        )
        if origin is RecordOrigin.API:
            await connection.execute(
                "UPDATE sync_state SET watermark = $2, last_success_at = $2, "
                "last_attempt_at = $2, next_due_at = $3 WHERE exchange_id = $1",
                exchange.id, now, now + timedelta(minutes=exchange.sync_interval_minutes),
            )
    return counts
