"""Affiliate-portal exports imported by an operator: parsed and bounded (exchanges.csv_import),
previewed by a dry run (the same upsert, rolled back), then stored like a sync run.

An import runs in the bot's web process, where CPU work that holds the interpreter delays every
trader's reply. A small file is parsed in a thread. A large one is parsed in a worker process:
in a thread its ~1 long-lived object per row makes the collector's full passes take a few
hundred ms, during which no thread runs (measured on a 9 MB file: 200-400 ms stalls). It comes
back as pickled batches of plain tuples, unpacked one batch at a time. Either way COPY takes
the rows a batch at a time, returning to the loop in between.

A caller may follow the work through `on_progress` (the admin chat shows it for large files):
plain numbers, nothing about how they are shown.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial

import asyncpg
from tortoise import Tortoise

from exchanges.base import CommissionRow
from exchanges.csv_import import (
    CsvRowError,
    exit_with_parent,
    parse_csv,
    parse_csv_packed,
    unpack_errors,
    unpack_rows,
)
from services.commission_store import UpsertCounts, record, upsert_records
from services.events import EventService
from services.models import Exchange, Platform, RecordOrigin, SyncRun, SyncRunStatus, SyncState
from services.sync.outcomes import CsvImportOutcome
from services.sync.uids import UidChecks

log = logging.getLogger(__name__)

# Files up to this many characters are parsed in a thread (~0.3 s and ~15,000 rows for 1 MB):
# cheaper than the trip to the worker process, and too few rows to matter to the collector.
IN_THREAD_CHARS = 1024 * 1024
# Rows (and errors) per batch. Encoding a batch for COPY holds the loop ~5 ms; after each one
# the import sleeps `BATCH_PAUSE`: with the database on the same few cores, a loop that only
# yields (sleep(0)) still keeps a core busy, and traders' Redis and PostgreSQL round trips then
# wait for a scheduler slice each (measured on 2 cores: +50 ms a reply; with the pause, +10 ms,
# for a ~20% longer COPY).
BATCH_ROWS = 250
BATCH_PAUSE = 0.001

# Stages told to `on_progress(stage, done, total)`. PARSE counts characters of the text: 0 before
# and all after, since a file is parsed in one piece (in a worker, nothing comes back before the
# end). STORE counts rows handed to COPY, after every batch, and all once the statements after
# COPY have run too.
PARSE = "parse"
STORE = "store"
Progress = Callable[[str, int, int], Awaitable[None]]
"""Told how an import advances. It is awaited between two batches of COPY, inside the import's
transaction: it must return at once (start slow work, do not wait for it) and not raise."""

_parser: ProcessPoolExecutor | None = None


def _parser_pool() -> ProcessPoolExecutor:
    """One worker process, started by the first large import and kept for the next ones.
    "spawn": forking a process that runs threads and an event loop is not safe."""
    global _parser
    if _parser is None:
        _parser = ProcessPoolExecutor(max_workers=1,
                                      mp_context=multiprocessing.get_context("spawn"),
                                      initializer=exit_with_parent)
    return _parser


def shutdown_parser() -> None:
    """Stop the worker process, if one was started (for a shutdown hook; a later large import
    starts a new one)."""
    global _parser
    pool, _parser = _parser, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class _Parsed:
    rows: int
    errors: list[CsvRowError]
    batches: list[Iterable[CommissionRow]]  # each iterated once; empty when errors


async def _parse(text: str, fmt: str, exchange_id: str, today: date) -> _Parsed:
    if len(text) <= IN_THREAD_CHARS:
        result = await asyncio.to_thread(parse_csv, text, fmt=fmt,  # type: ignore[arg-type]
                                         exchange=exchange_id, today=today)
        rows = [] if result.errors else result.rows
        return _Parsed(len(result.rows), result.errors,
                       [rows[start:start + BATCH_ROWS]
                        for start in range(0, len(rows), BATCH_ROWS)])
    global _parser
    pool = _parser_pool()
    job = partial(parse_csv_packed, text, fmt=fmt, exchange=exchange_id,  # type: ignore[arg-type]
                  today=today, batch_rows=BATCH_ROWS)
    try:
        packed = await asyncio.get_running_loop().run_in_executor(pool, job)
    except BrokenProcessPool:
        # The worker died (killed, out of memory): this import fails, the next one starts a
        # new worker.
        if _parser is pool:
            _parser = None
        pool.shutdown(wait=False)
        raise
    errors: list[CsvRowError] = []
    for batch in packed.error_batches:  # a file of bad lines has as many errors as lines
        errors.extend(unpack_errors(batch))
        await asyncio.sleep(0)
    return _Parsed(packed.rows, errors, [unpack_rows(batch) for batch in packed.row_batches])


async def _upsert_batches(
    batches: Sequence[Iterable[CommissionRow]], connection: asyncpg.Connection, rows: int,
    on_progress: Progress | None,
) -> UpsertCounts:
    """commission_store.upsert_rows' statements (upsert_records), COPY fed by an async generator
    that returns to the loop after every batch. upsert_rows gives COPY a plain iterable, which
    asyncpg encodes to the end without returning to the loop (1.4 s for a 9 MB file); calling
    it once per batch instead is quadratic (every batch's archive step scans all the records
    written so far: 14 s for that file). Rows from the worker are built as COPY asks for them
    and dropped right after, so they never pile up in the collector's old generation. The
    parser refuses a source key twice, so, unlike upsert_rows, nothing is deduplicated here."""
    seen = 0

    async def records() -> AsyncIterator[tuple[object, ...]]:
        nonlocal seen
        for batch in batches:
            for row in batch:
                seen += 1
                yield record(row, RecordOrigin.CSV)
            if on_progress is not None:
                await on_progress(STORE, seen, rows)
            await asyncio.sleep(BATCH_PAUSE)

    counts = await upsert_records(records(), connection=connection, seen=lambda: seen)
    if on_progress is not None:
        await on_progress(STORE, rows, rows)
    return counts


async def _store_run(
    batches: Sequence[Iterable[CommissionRow]], rows: int, run: SyncRun, now: datetime,
    on_progress: Progress | None,
) -> UpsertCounts:
    """The rows and the run's counts in one transaction (services.sync.store.store_rows, the
    rows in batches)."""
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as connection, connection.transaction():
        counts = await _upsert_batches(batches, connection, rows, on_progress)
        await connection.execute(
            "UPDATE sync_runs SET status = 'ok', records_seen = $2, records_new = $3, "
            "records_changed = $4, finished_at = $5 WHERE id = $1",
            run.id, counts.seen, counts.new, counts.changed, now,
        )
    return counts


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
        actor_id: int | None = None, on_progress: Progress | None = None,
    ) -> CsvImportOutcome:
        """Import an affiliate-portal export. A file with any bad row imports nothing; a dry
        run reports what would change (the same upsert, rolled back). `on_progress` is told
        how the parse and the upsert advance (see `Progress`)."""
        exchange = await Exchange.get_or_none(id=exchange_id)
        if exchange is None:
            raise ValueError(f"unknown exchange {exchange_id!r}")
        now = self._now()
        if on_progress is not None:
            await on_progress(PARSE, 0, len(text))
        parsed = await _parse(text, fmt, exchange_id, now.astimezone(UTC).date())
        if on_progress is not None:
            await on_progress(PARSE, len(text), len(text))
        if parsed.errors:
            return CsvImportOutcome(exchange_id, dry_run, parsed.rows, parsed.errors)
        client = Tortoise.get_connection("default")
        if dry_run:
            try:
                async with client.acquire_connection() as connection:
                    transaction = connection.transaction()
                    await transaction.start()
                    try:
                        counts = await _upsert_batches(parsed.batches, connection,
                                                       parsed.rows, on_progress)
                    finally:
                        await transaction.rollback()
            except asyncpg.DataError as exc:  # the parser's bounds should make this unreachable
                return _refused(exchange_id, True, parsed.rows, exc)
            return CsvImportOutcome(exchange_id, True, parsed.rows, [], counts.new,
                                    counts.changed)
        state, _ = await SyncState.get_or_create(exchange_id=exchange_id)
        run = await SyncRun.create(exchange_id=exchange_id, trigger="csv")
        try:
            counts = await _store_run(parsed.batches, parsed.rows, run, now, on_progress)
        except asyncpg.DataError as exc:  # as above; the run must not stay "running"
            run.status = SyncRunStatus.FAILED
            run.error_class = "bad_csv"
            run.error = str(exc)[:2000]
            run.finished_at = self._now()
            await run.save()
            return _refused(exchange_id, False, parsed.rows, exc)
        if exchange.data_source == "csv":
            # For a CSV-only exchange the import is its sync.
            await SyncState.filter(exchange_id=exchange_id).update(
                last_success_at=now, last_attempt_at=now,
                next_due_at=now + timedelta(minutes=exchange.sync_interval_minutes),
            )
        await self._uids.verify(exchange, None)
        await self._uids.detect_first_trades(exchange)
        await self._events.record("csv_imported", actor_id, Platform.BOT, exchange=exchange_id,
                                  rows=parsed.rows, new=counts.new, changed=counts.changed)
        return CsvImportOutcome(exchange_id, False, parsed.rows, [], counts.new,
                                counts.changed)
