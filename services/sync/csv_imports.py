"""Affiliate-portal exports imported by an operator: parsed and bounded (exchanges.csv_import),
previewed by a dry run (the same upsert, rolled back), then stored like a sync run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from tortoise import Tortoise

from exchanges.csv_import import CsvRowError, parse_csv
from services.commission_store import upsert_rows
from services.events import EventService
from services.models import Exchange, Platform, RecordOrigin, SyncRun, SyncRunStatus, SyncState
from services.sync.outcomes import CsvImportOutcome
from services.sync.store import store_rows
from services.sync.uids import UidChecks

log = logging.getLogger(__name__)


def _refused(exchange_id: str, dry_run: bool, rows: int, error: Exception) -> CsvImportOutcome:
    """The outcome of a file the database refused (a value the parser let through)."""
    log.error("CSV import of %s refused by the database: %s", exchange_id, error)
    return CsvImportOutcome(exchange_id, dry_run, rows,
                            [CsvRowError(1, "rejected_by_database", str(error)[:200])])


class CsvImports:
    def __init__(self, uids: UidChecks, events: EventService, clock: Callable[[], datetime]):
        self._uids = uids
        self._events = events
        self._now = clock

    async def import_csv(
        self, exchange_id: str, text: str, fmt: str = "generic", *, dry_run: bool,
        actor_id: int | None = None,
    ) -> CsvImportOutcome:
        """Import an affiliate-portal export. A file with any bad row imports nothing; a dry
        run reports what would change (the same upsert, rolled back)."""
        exchange = await Exchange.get_or_none(id=exchange_id)
        if exchange is None:
            raise ValueError(f"unknown exchange {exchange_id!r}")
        now = self._now()
        parsed = parse_csv(text, fmt=fmt, exchange=exchange_id,  # type: ignore[arg-type]
                           today=now.astimezone(UTC).date())
        if parsed.errors:
            return CsvImportOutcome(exchange_id, dry_run, len(parsed.rows), parsed.errors)
        client = Tortoise.get_connection("default")
        if dry_run:
            try:
                async with client.acquire_connection() as connection:
                    transaction = connection.transaction()
                    await transaction.start()
                    try:
                        counts = await upsert_rows(parsed.rows, RecordOrigin.CSV,
                                                   connection=connection)
                    finally:
                        await transaction.rollback()
            except asyncpg.DataError as exc:  # the parser's bounds should make this unreachable
                return _refused(exchange_id, True, len(parsed.rows), exc)
            return CsvImportOutcome(exchange_id, True, len(parsed.rows), [], counts.new,
                                    counts.changed)
        state, _ = await SyncState.get_or_create(exchange_id=exchange_id)
        run = await SyncRun.create(exchange_id=exchange_id, trigger="csv")
        try:
            counts = await store_rows(parsed.rows, RecordOrigin.CSV, run, now, exchange)
        except asyncpg.DataError as exc:  # as above; the run must not stay "running"
            run.status = SyncRunStatus.FAILED
            run.error_class = "bad_csv"
            run.error = str(exc)[:2000]
            run.finished_at = self._now()
            await run.save()
            return _refused(exchange_id, False, len(parsed.rows), exc)
        if exchange.data_source == "csv":
            # For a CSV-only exchange the import is its sync.
            await SyncState.filter(exchange_id=exchange_id).update(
                last_success_at=now, last_attempt_at=now,
                next_due_at=now + timedelta(minutes=exchange.sync_interval_minutes),
            )
        await self._uids.verify(exchange, None)
        await self._uids.detect_first_trades(exchange)
        await self._events.record("csv_imported", actor_id, Platform.BOT, exchange=exchange_id,
                                  rows=len(parsed.rows), new=counts.new, changed=counts.changed)
        return CsvImportOutcome(exchange_id, False, len(parsed.rows), [], counts.new,
                                counts.changed)
