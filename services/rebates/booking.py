"""The booking walk: batches of records read, valued and written under the booking lock."""

from __future__ import annotations

import asyncio
import io
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import asyncpg
from tortoise import Tortoise

from services.ledger import (
    AccountRef,
    StagedEntries,
    allocate_entry_ids,
    ensure_accounts,
    insert_staged_entries,
    ledger_transaction,
    lock_account_ids,
)
from services.models.ledger import AccountKind
from services.rebates.metrics import _count
from services.rebates.rendering import (
    _NEW_COLUMNS,
    _REVISED_COLUMNS,
    _AccrualRows,
    _render,
    _stage,
)
from services.rebates.runs import AccrualBatch, AccrualTotals, RecordScope
from services.rebates.shares import RateBook
from services.rebates.valuation import _Booking, _value_all

# Any constant: serialises booking transactions across processes (pg_advisory_xact_lock).
ACCRUAL_LOCK_ID = 0x5245_4241_5445  # "REBATE"


# "b.record_id > $1" repeats the keyset bound on the joined side, so each batch reads the
# booked rows from the cursor on instead of from the start (without it a full walk is O(n²)).
_SELECT = """
SELECT r.id, r.source_key, r.exchange_id, r.day, r.product, r.revision,
       r.volume_usdt, r.fee_usdt, r.commission_usdt, a.user_id,
       b.revision AS booked_revision, b.gross AS booked_gross,
       b.trader_amount AS booked_trader, b.service_amount AS booked_service
FROM commission_records r
JOIN exchange_accounts a ON a.exchange_id = r.exchange_id AND a.uid = r.uid
LEFT JOIN rebate_accruals b ON b.record_id = r.id AND b.record_id > $1
WHERE r.id > $1 AND a.status = 'verified'
  AND ($3::text IS NULL OR r.exchange_id = $3)
  AND ($4::text IS NULL OR r.uid = $4)
  AND ($5::bigint IS NULL OR a.user_id = $5)
  AND ($6::date IS NULL OR r.day >= $6)
  AND ($7::date IS NULL OR r.day <= $7)
  AND {condition}
ORDER BY r.id
LIMIT $2
"""
# New records and new revisions.
_SELECT_PENDING = _SELECT.format(condition="(b.id IS NULL OR b.revision < r.revision)")
# Everything already booked (an admin re-accrual re-values it with today's rate tables).
_SELECT_BOOKED = _SELECT.format(condition="b.id IS NOT NULL")


class RebateEngine:
    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    async def accrue_pending(
        self, *, limit: int = 5000, after_id: int = 0, scope: RecordScope | None = None
    ) -> AccrualBatch:
        """Book up to ``limit`` new or revised records with id > ``after_id`` (one
        transaction). Idempotent: running it twice books nothing the second time."""
        return await self._run_batch(_SELECT_PENDING, "accrual", limit, after_id,
                                     scope or RecordScope())

    async def accrue_all(
        self, *, batch_size: int = 5000, scope: RecordScope | None = None
    ) -> AccrualTotals:
        """accrue_pending over the whole scope, batch after batch (a keyset walk by id)."""
        return await self._walk(_SELECT_PENDING, "accrual", batch_size, scope or RecordScope())

    async def accrue_account(self, exchange_id: str, uid: str) -> AccrualTotals:
        """Book what waited for this account (call it when the account becomes verified)."""
        return await self.accrue_all(scope=RecordScope(exchange_id=exchange_id, uid=uid))

    async def reaccrue(
        self, run_key: str, *, scope: RecordScope | None = None, batch_size: int = 5000
    ) -> AccrualTotals:
        """Admin re-accrual: re-value booked records in scope with the rates in force on their
        days now, booking only the differences (keys ``reaccrual:{run_key}:…``, so re-running
        the same run books nothing)."""
        if not run_key or ":" in run_key:
            raise ValueError("run_key must be a non-empty name without ':'")
        return await self._walk(_SELECT_BOOKED, f"reaccrual:{run_key}", batch_size,
                                scope or RecordScope())

    async def _walk(
        self, select: str, key_prefix: str, batch_size: int, scope: RecordScope
    ) -> AccrualTotals:
        """Batch after batch, pipelined: while one batch is written (under the booking lock),
        the next one is read and valued on a second connection. The writer re-checks under the
        lock that nothing it read has been booked since (_write); if it has, that batch is redone
        the slow way, read under the lock."""
        totals = AccrualTotals()
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as reader:

            async def read_ahead(after_id: int) -> _Prepared:
                async with reader.transaction():
                    await reader.execute("SET LOCAL plan_cache_mode = force_custom_plan")
                    return await _prepare(reader, select, key_prefix, batch_size, after_id,
                                          scope)

            pending: asyncio.Future[_Prepared] | None = asyncio.ensure_future(read_ahead(0))
            try:
                while pending is not None:
                    prepared = await pending
                    pending = None
                    if not prepared.batch.done:
                        pending = asyncio.ensure_future(read_ahead(prepared.batch.last_id))
                    batch = await self._write_prepared(prepared)
                    if batch is None:  # stale: redo under the lock, read ahead from its end
                        if pending is not None:
                            await pending
                        batch = await self._run_batch(select, key_prefix, batch_size,
                                                      prepared.after_id, scope)
                        pending = None if batch.done else asyncio.ensure_future(
                            read_ahead(batch.last_id))
                    totals.add(batch)
            finally:
                if pending is not None:
                    with suppress(Exception):
                        await pending
        return totals

    async def _run_batch(
        self, select: str, key_prefix: str, limit: int, after_id: int, scope: RecordScope
    ) -> AccrualBatch:
        """Read, value and book one batch in one transaction, all under the booking lock."""
        async with ledger_transaction(self._connection_name) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", ACCRUAL_LOCK_ID)
            # A generic plan of the selection cannot use the cursor value and walks the whole
            # table each batch; plan it for the actual parameters.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            prepared = await _prepare(conn, select, key_prefix, limit, after_id, scope)
            await _write(conn, prepared, verify=False)
        _count(prepared.bookings)
        return prepared.batch

    async def _write_prepared(self, prepared: _Prepared) -> AccrualBatch | None:
        """Book a batch read outside the lock; None (and nothing written) if it is stale."""
        try:
            async with ledger_transaction(self._connection_name) as conn:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", ACCRUAL_LOCK_ID)
                await _write(conn, prepared, verify=True)
        except _StaleBatch:
            return None  # the transaction rolled back: nothing of the batch was written
        _count(prepared.bookings)
        return prepared.batch


class _StaleBatch(Exception):
    """A batch read outside the lock was booked (in part) by someone else before its write."""


@dataclass
class _Prepared:
    """A batch read and valued, with everything the writer needs rendered ahead (the entries
    too, unless a record takes money back: then its legs depend on balances read under the
    account locks, and they are built there)."""

    after_id: int
    key_prefix: str
    batch: AccrualBatch
    bookings: list[_Booking]
    account_ids: dict[AccountRef, int]
    entry_ids: list[int]  # drawn ahead, one per booking (the most entries it can need)
    entries: StagedEntries | None
    accruals: _AccrualRows


async def _prepare(
    conn: Any, select: str, key_prefix: str, limit: int, after_id: int, scope: RecordScope
) -> _Prepared:
    records = await conn.fetch(
        select, after_id, limit, scope.exchange_id, scope.uid, scope.user_id,
        scope.since_day, scope.until_day,
    )
    batch = AccrualBatch(scanned=len(records), done=len(records) < limit,
                         last_id=records[-1]["id"] if records else after_id)
    bookings: list[_Booking] = []
    account_ids: dict[AccountRef, int] = {}
    if records:
        rates = await RateBook.load(conn, (r["user_id"] for r in records))
        # Valuing and rendering a batch is pure CPU work (about 0.1 s per 5000 records). It runs
        # in a thread so that, while the next batch is prepared, the event loop still answers
        # the writer's statements at once instead of after the whole batch.
        bookings = await asyncio.to_thread(_value_all, records, rates)
    batch.waiting = len(records) - len(bookings)
    batch.booked = len(bookings)
    if bookings:
        refs = {AccountRef.service_revenue(), AccountRef.suspense()}
        refs.update(AccountRef.trader_available(user_id)
                    for user_id in {b.user_id for b in bookings})
        refs.update(AccountRef.receivable(exchange_id)
                    for exchange_id in {b.exchange_id for b in bookings})
        account_ids = await ensure_accounts(conn, refs)
    entry_ids = await allocate_entry_ids(conn, len(bookings))
    entries, accruals = await asyncio.to_thread(_render, bookings, key_prefix, account_ids,
                                                entry_ids, batch)
    return _Prepared(after_id=after_id, key_prefix=key_prefix, batch=batch, bookings=bookings,
                     account_ids=account_ids, entry_ids=entry_ids, entries=entries,
                     accruals=accruals)


async def _write(conn: Any, prepared: _Prepared, *, verify: bool) -> None:
    """Book a prepared batch. Runs under the booking lock.

    The per-record totals are stored first, and only where the stored state is still the one
    the batch was valued on: a new record's row must not exist yet (the unique record_id), a
    revised record's row must still hold the totals read. So a batch read outside the lock
    (``verify``) that someone booked meanwhile raises _StaleBatch, and its transaction rolls
    back before any ledger entry is written. (Read under the lock, the same mismatch cannot
    happen and would be a bug.)"""
    if not prepared.bookings:
        return
    await _store_accruals(conn, prepared, verify=verify)
    accounts = await lock_account_ids(conn, prepared.account_ids)
    entries = prepared.entries
    if entries is None:
        available = {int(ref.owner): locked.balance for ref, locked in accounts.items()
                     if ref.kind is AccountKind.TRADER_AVAILABLE}
        entries = _stage(prepared.bookings, prepared.key_prefix, prepared.account_ids,
                         prepared.entry_ids, available, prepared.batch)
    prepared.batch.entries = await insert_staged_entries(conn, entries)


async def _store_accruals(conn: Any, prepared: _Prepared, *, verify: bool) -> None:
    rows = prepared.accruals
    if rows.new_count:
        try:  # straight into the table: the database's bulk insert path
            await conn.copy_to_table(
                "rebate_accruals", source=io.BytesIO(rows.new_csv), columns=_NEW_COLUMNS,
                format="csv", force_not_null=["exchange_id", "product", "share_source"])
        except asyncpg.UniqueViolationError as exc:
            if verify and exc.constraint_name == "rebate_accruals_record_id_key":
                raise _StaleBatch from exc
            raise
    if rows.revised_count:
        await conn.execute(_REVISED_STAGE)
        await conn.copy_to_table(
            "rebate_accrual_stage", source=io.BytesIO(rows.revised_csv),
            columns=_REVISED_COLUMNS, format="csv",
            force_not_null=["exchange_id", "product", "share_source"])
        updated = await conn.fetchval(_UPDATE_REVISED, prepared.after_id,
                                      prepared.batch.last_id)
        if updated != rows.revised_count:
            if verify:
                raise _StaleBatch
            raise RuntimeError(f"rebate accruals: updated {updated} of {rows.revised_count}")


_REVISED_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS rebate_accrual_stage (record_id bigint, user_id bigint,
    exchange_id text, day date, product text, revision int, volume_usdt numeric,
    fee_usdt numeric, gross numeric, trader_amount numeric, service_amount numeric,
    share numeric, share_source text, estimated bool, booked_revision int,
    booked_gross numeric, booked_trader numeric, booked_service numeric)
    ON COMMIT DELETE ROWS;
DELETE FROM rebate_accrual_stage
"""
# Only rows that still hold the totals the batch was valued on. The batch's records have ids
# in ($1, $2]; the bound keeps the lookups to that range of the index.
_UPDATE_REVISED = """
WITH updated AS (
    UPDATE rebate_accruals b SET revision = u.revision, volume_usdt = u.volume_usdt,
        fee_usdt = u.fee_usdt, gross = u.gross, trader_amount = u.trader_amount,
        service_amount = u.service_amount, share = u.share, share_source = u.share_source,
        estimated = u.estimated, updated_at = now()
    FROM rebate_accrual_stage u
    WHERE b.record_id = u.record_id AND b.record_id > $1 AND b.record_id <= $2
      AND (b.revision, b.gross, b.trader_amount, b.service_amount)
          = (u.booked_revision, u.booked_gross, u.booked_trader, u.booked_service)
    RETURNING 1
)
SELECT count(*) FROM updated
"""
