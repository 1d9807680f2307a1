"""The rebate engine: turns commission records into ledger entries, and the rates behind it.

For each version (revision) of a commission record whose UID belongs to a verified account it
books ONE entry, keyed ``accrual:{source_key}:r{revision}``, that moves the difference between
what the record is worth now and what was booked for it before:

    exchange receivable  −Δgross   (the exchange owes us the commission)
    trader available     +Δtrader  (gross × share, rounded by ledger.round_money)
    service revenue      +Δservice (the remainder)

The share is the one in force on the record's day: a per-trader rate, else the trader's rate
group (VIP tier), else the exchange default; each has a history, so changes are not retroactive
unless an admin runs ``reaccrue``. Where an exchange reports volume/fees but no commission, the
gross is estimated from the admin's estimate rate and marked estimated; the real commission
arriving later (a new revision) books only the difference (the true-up).

If a downward revision takes back more than the trader still has available (it was paid out),
the shortfall is booked to suspense for an operator instead of breaking the no-negative rule.

Booking is set-based: one transaction per batch of records, a handful of statements per batch.
Batches are serialised by an advisory lock, so two workers can never book the same difference.
"""

from __future__ import annotations

import asyncio
import bisect
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from prometheus_client import Counter
from tortoise import Tortoise

from services.ledger import (
    ZERO,
    AccountRef,
    LegColumn,
    StagedEntries,
    allocate_entry_ids,
    csv_bytes,
    ensure_accounts,
    insert_staged_entries,
    ledger_transaction,
    lock_account_ids,
    round_money,
    split_gross,
    stage_entries,
)
from services.models.ledger import AccountKind
from services.models.rates import ALL, EstimateBasis

REBATES_CALCULATED = Counter(
    "rebate_calculated", "Commission record versions booked by the rebate engine", ["exchange"]
)
REBATE_AMOUNT = Counter(
    "rebate_amount_usd", "Rebate amounts booked, in USDT (increases)", ["exchange", "type"]
)
REBATE_AMOUNT_REVERSED = Counter(
    "rebate_amount_usd_reversed",
    "Rebate amounts taken back by revisions, in USDT (counters cannot go down)",
    ["exchange", "type"],
)

# Any constant: serialises booking transactions across processes (pg_advisory_xact_lock).
ACCRUAL_LOCK_ID = 0x5245_4241_5445  # "REBATE"
EPOCH = date(1970, 1, 1)


def today_utc() -> date:
    return datetime.now(UTC).date()


# --- Rates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareQuote:
    share: Decimal
    source: str  # trader | group | exchange


@dataclass(frozen=True)
class EstimateQuote:
    basis: EstimateBasis
    rate: Decimal


class _History:
    """Values by key, each in force from its valid_from day until the next one."""

    def __init__(self) -> None:
        self._days: dict[Any, list[date]] = defaultdict(list)
        self._values: dict[Any, list[Any]] = defaultdict(list)

    def add(self, key: Any, valid_from: date, value: Any) -> None:
        # Rows arrive ordered by valid_from (ORDER BY in the loaders).
        self._days[key].append(valid_from)
        self._values[key].append(value)

    def has(self, key: Any) -> bool:
        return key in self._days

    def at(self, key: Any, day: date) -> tuple[bool, Any]:
        """(found, value in force on ``day``); value may be None (an ended override)."""
        days = self._days.get(key)
        if not days:
            return False, None
        index = bisect.bisect_right(days, day) - 1
        if index < 0:
            return False, None
        return True, self._values[key][index]


class RateBook:
    """The rates of one booking batch, loaded set-based and resolved in memory."""

    def __init__(self) -> None:
        self.exchange_current: dict[str, Decimal] = {}
        self.exchange_history = _History()
        self.group_shares = _History()  # (group_id, exchange_id | "*") → share | None
        self.members = _History()  # user_id → group_id | None
        self.trader_shares = _History()  # (user_id, exchange_id | "*") → share | None
        self.estimates = _History()  # (exchange_id, product | "*") → EstimateQuote

    @classmethod
    async def load(cls, conn: Any, user_ids: Iterable[int]) -> RateBook:
        users = sorted(set(user_ids))
        book = cls()
        for row in await conn.fetch("SELECT id, trader_share FROM exchanges"):
            book.exchange_current[row["id"]] = row["trader_share"]
        for row in await conn.fetch(
            "SELECT exchange_id, share, valid_from FROM rate_exchange_shares ORDER BY valid_from"
        ):
            book.exchange_history.add(row["exchange_id"], row["valid_from"], row["share"])
        for row in await conn.fetch(
            "SELECT group_id, exchange_id, share, valid_from FROM rate_group_shares "
            "ORDER BY valid_from"
        ):
            book.group_shares.add((row["group_id"], row["exchange_id"]), row["valid_from"],
                                  row["share"])
        for row in await conn.fetch(
            "SELECT user_id, group_id, valid_from FROM rate_group_members "
            "WHERE user_id = ANY($1::bigint[]) ORDER BY valid_from", users,
        ):
            book.members.add(row["user_id"], row["valid_from"], row["group_id"])
        for row in await conn.fetch(
            "SELECT user_id, exchange_id, share, valid_from FROM rate_trader_shares "
            "WHERE user_id = ANY($1::bigint[]) ORDER BY valid_from", users,
        ):
            book.trader_shares.add((row["user_id"], row["exchange_id"]), row["valid_from"],
                                   row["share"])
        for row in await conn.fetch(
            "SELECT exchange_id, product, basis, rate, valid_from FROM rate_estimates "
            "ORDER BY valid_from"
        ):
            book.estimates.add((row["exchange_id"], row["product"]), row["valid_from"],
                               EstimateQuote(EstimateBasis(row["basis"]), row["rate"]))
        return book

    def share_for(self, user_id: int, exchange_id: str, day: date) -> ShareQuote:
        """Per-trader rate, else group rate, else exchange default; in each, a rate for this
        exchange beats one for all exchanges."""
        for key in ((user_id, exchange_id), (user_id, ALL)):
            found, share = self.trader_shares.at(key, day)
            if found and share is not None:
                return ShareQuote(share, "trader")
        _, group_id = self.members.at(user_id, day)
        if group_id is not None:
            for key in ((group_id, exchange_id), (group_id, ALL)):
                found, share = self.group_shares.at(key, day)
                if found and share is not None:
                    return ShareQuote(share, "group")
        found, share = self.exchange_history.at(exchange_id, day)
        if found:
            return ShareQuote(share, "exchange")
        # Never changed through RateService: the configured value has always been in force.
        return ShareQuote(self.exchange_current[exchange_id], "exchange")

    def estimate_for(self, exchange_id: str, product: str, day: date) -> EstimateQuote | None:
        for key in ((exchange_id, product), (exchange_id, ALL)):
            found, quote = self.estimates.at(key, day)
            if found:
                return quote  # type: ignore[no-any-return]
        return None


class RateService:
    """Admin configuration of shares and estimate rates. Every setter records a value in force
    from ``valid_from`` (default: today, UTC); setting the same key and day again corrects it.
    Records already booked keep their amounts until ``RebateEngine.reaccrue`` is run."""

    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    async def set_exchange_share(
        self, exchange_id: str, share: Decimal, valid_from: date | None = None
    ) -> None:
        _check_share(share)
        if share != share.quantize(Decimal("0.0001")):
            # exchanges.trader_share (the current value shown to traders) has 4 decimals.
            raise ValueError("an exchange default share has at most 4 decimals")
        day = valid_from or today_utc()
        async with ledger_transaction(self._connection_name) as conn:
            current = await conn.fetchval(
                "SELECT trader_share FROM exchanges WHERE id = $1 FOR UPDATE", exchange_id
            )
            if current is None:
                raise ValueError(f"unknown exchange {exchange_id!r}")
            # The first change keeps the old default in force for all earlier days.
            await conn.execute(
                "INSERT INTO rate_exchange_shares (exchange_id, share, valid_from, created_at) "
                "SELECT $1::varchar, $2, $3, now() WHERE NOT EXISTS "
                "(SELECT 1 FROM rate_exchange_shares WHERE exchange_id = $1::varchar)",
                exchange_id, current, EPOCH,
            )
            await self._upsert(conn, "rate_exchange_shares", ("exchange_id",), (exchange_id,),
                               "share", share, day)
            if day <= today_utc():
                await conn.execute(
                    "UPDATE exchanges SET trader_share = $2, updated_at = now() WHERE id = $1",
                    exchange_id, share,
                )

    async def create_group(self, name: str) -> int:
        async with ledger_transaction(self._connection_name) as conn:
            group_id: int = await conn.fetchval(
                "INSERT INTO rate_groups (name, created_at) VALUES ($1, now()) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id", name,
            )
        return group_id

    async def set_group_share(
        self, group_id: int, share: Decimal | None, exchange_id: str = ALL,
        valid_from: date | None = None,
    ) -> None:
        if share is not None:
            _check_share(share)
        async with ledger_transaction(self._connection_name) as conn:
            await self._upsert(conn, "rate_group_shares", ("group_id", "exchange_id"),
                               (group_id, exchange_id), "share", share,
                               valid_from or today_utc())

    async def set_user_group(
        self, user_id: int, group_id: int | None, valid_from: date | None = None
    ) -> None:
        async with ledger_transaction(self._connection_name) as conn:
            await self._upsert(conn, "rate_group_members", ("user_id",), (user_id,),
                               "group_id", group_id, valid_from or today_utc())

    async def set_trader_share(
        self, user_id: int, share: Decimal | None, exchange_id: str = ALL,
        valid_from: date | None = None,
    ) -> None:
        if share is not None:
            _check_share(share)
        async with ledger_transaction(self._connection_name) as conn:
            await self._upsert(conn, "rate_trader_shares", ("user_id", "exchange_id"),
                               (user_id, exchange_id), "share", share, valid_from or today_utc())

    async def set_estimate_rate(
        self, exchange_id: str, basis: EstimateBasis, rate: Decimal, product: str = ALL,
        valid_from: date | None = None,
    ) -> None:
        if rate < 0:
            raise ValueError("an estimate rate cannot be negative")
        async with ledger_transaction(self._connection_name) as conn:
            await conn.execute(
                "INSERT INTO rate_estimates (exchange_id, product, basis, rate, valid_from, "
                "created_at) VALUES ($1, $2, $3, $4, $5, now()) "
                "ON CONFLICT (exchange_id, product, valid_from) "
                "DO UPDATE SET basis = EXCLUDED.basis, rate = EXCLUDED.rate",
                exchange_id, product, basis.value, rate, valid_from or today_utc(),
            )

    async def quote_share(self, user_id: int, exchange_id: str, day: date) -> ShareQuote:
        """The share that would apply to a record of this trader, exchange and day."""
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            book = await RateBook.load(conn, [user_id])
        return book.share_for(user_id, exchange_id, day)

    @staticmethod
    async def _upsert(
        conn: Any, table: str, key_columns: Sequence[str], key: Sequence[Any], value_column: str,
        value: Any, valid_from: date,
    ) -> None:
        # Table and column names come from this module only, never from input.
        columns = [*key_columns, value_column, "valid_from", "created_at"]
        params = ", ".join(f"${i}" for i in range(1, len(key_columns) + 3))
        conflict = ", ".join([*key_columns, "valid_from"])
        await conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({params}, now()) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {value_column} = EXCLUDED.{value_column}",
            *key, value, valid_from,
        )


def _check_share(share: Decimal) -> None:
    if not (0 <= share <= 1) or share != share.quantize(Decimal("0.000001")):
        raise ValueError("a share is a fraction between 0 and 1 with at most 6 decimals")


# --- Booking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordScope:
    """Which commission records a run looks at (None: no restriction)."""

    exchange_id: str | None = None
    uid: str | None = None
    user_id: int | None = None
    since_day: date | None = None
    until_day: date | None = None


@dataclass
class AccrualBatch:
    scanned: int = 0  # records looked at
    booked: int = 0  # record versions booked (with or without a ledger entry)
    entries: int = 0  # ledger entries written
    waiting: int = 0  # records that cannot be valued yet (no commission and no estimate rate)
    last_id: int = 0  # keyset cursor: pass as after_id for the next batch
    done: bool = True  # no more records after last_id
    shortfall: Decimal = ZERO  # clawbacks booked to suspense (trader had already withdrawn)


@dataclass
class AccrualTotals:
    batches: int = 0
    scanned: int = 0
    booked: int = 0
    entries: int = 0
    waiting: int = 0
    shortfall: Decimal = ZERO

    def add(self, batch: AccrualBatch) -> None:
        self.batches += 1
        self.scanned += batch.scanned
        self.booked += batch.booked
        self.entries += batch.entries
        self.waiting += batch.waiting
        self.shortfall += batch.shortfall


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


@dataclass(frozen=True)
class _Booking:
    record: Any
    user_id: int
    exchange_id: str
    gross: Decimal
    trader: Decimal
    service: Decimal
    share: ShareQuote
    estimated: bool


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


def _value_all(records: Sequence[Any], rates: RateBook) -> list[_Booking]:
    return [b for b in (_value(r, rates) for r in records) if b is not None]


def _render(
    bookings: Sequence[_Booking], key_prefix: str, account_ids: dict[AccountRef, int],
    entry_ids: Sequence[int], batch: AccrualBatch,
) -> tuple[StagedEntries | None, _AccrualRows]:
    """The batch's entries (unless a booking takes money back: those are built under the
    account locks) and its accrual rows, ready to COPY."""
    clawback = any(b.trader < (b.record["booked_trader"] or ZERO) for b in bookings)
    entries = None if clawback else _stage(bookings, key_prefix, account_ids, entry_ids, None,
                                           batch)
    return entries, _accrual_rows(bookings)


def _stage(
    bookings: Sequence[_Booking], key_prefix: str, account_ids: dict[AccountRef, int],
    entry_ids: Sequence[int], available: dict[int, Decimal] | None, batch: AccrualBatch,
) -> StagedEntries:
    """The batch's ledger entries, one per booking that moves money. ``available``: trader
    balances as of the account locks, moved along as the batch books, so a clawback never takes
    more than the trader has (the rest goes to suspense); None when no booking takes money
    back."""
    revenue, suspense = AccountRef.service_revenue(), AccountRef.suspense()
    traders = {user_id: AccountRef.trader_available(user_id)
               for user_id in {b.user_id for b in bookings}}
    receivables = {exchange_id: AccountRef.receivable(exchange_id)
                   for exchange_id in {b.exchange_id for b in bookings}}
    kind = key_prefix.split(":")[0]
    keys: list[str] = []
    memos: list[str] = []
    receivable_col: list[AccountRef] = []
    trader_col: list[AccountRef] = []
    gross_amounts: list[Decimal] = []
    trader_amounts: list[Decimal] = []
    suspense_amounts: list[Decimal] = []
    service_amounts: list[Decimal] = []
    for b in bookings:
        r = b.record
        d_gross = b.gross - (r["booked_gross"] or ZERO)
        d_trader = b.trader - (r["booked_trader"] or ZERO)
        d_service = b.service - (r["booked_service"] or ZERO)
        to_trader = d_trader
        if available is not None:
            to_trader = max(d_trader, -available[b.user_id])
            available[b.user_id] += to_trader
        elif d_trader < 0:
            raise AssertionError("a clawback needs the balances under the lock")
        to_suspense = d_trader - to_trader
        batch.shortfall -= to_suspense
        if not (d_gross or to_trader or to_suspense or d_service):
            continue
        keys.append(f"{key_prefix}:{r['source_key']}:r{r['revision']}")
        memos.append(f"record {r['id']} r{r['revision']}")
        receivable_col.append(receivables[b.exchange_id])
        trader_col.append(traders[b.user_id])
        gross_amounts.append(-d_gross)
        trader_amounts.append(to_trader)
        suspense_amounts.append(to_suspense)
        service_amounts.append(d_service)
    return stage_entries(
        kind=kind, keys=keys, memos=memos, account_ids=account_ids, entry_ids=entry_ids, legs=(
            LegColumn(receivable_col, gross_amounts),
            LegColumn(trader_col, trader_amounts),
            LegColumn([suspense] * len(keys), suspense_amounts),
            LegColumn([revenue] * len(keys), service_amounts),
        ),
    )


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


@dataclass(frozen=True)
class _AccrualRows:
    """What is booked per record after a batch, as CSV: new records' rows for rebate_accruals,
    and revised records' rows with the totals read before (for the conditional update)."""

    new_count: int
    new_csv: bytes
    revised_count: int
    revised_csv: bytes


_NEW_COLUMNS = [
    "record_id", "user_id", "exchange_id", "day", "product", "revision", "volume_usdt",
    "fee_usdt", "gross", "trader_amount", "service_amount", "share", "share_source", "estimated",
]
_REVISED_COLUMNS = [*_NEW_COLUMNS, "booked_revision", "booked_gross", "booked_trader",
                    "booked_service"]
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


def _accrual_rows(bookings: Sequence[_Booking]) -> _AccrualRows:
    new: list[tuple[Any, ...]] = []
    revised: list[tuple[Any, ...]] = []
    for b in bookings:
        r = b.record
        row = (r["id"], b.user_id, b.exchange_id, r["day"], r["product"], r["revision"],
               r["volume_usdt"], r["fee_usdt"], b.gross, b.trader, b.service, b.share.share,
               b.share.source, b.estimated)
        if r["booked_revision"] is None:
            new.append(row)
        else:
            revised.append((*row, r["booked_revision"], r["booked_gross"], r["booked_trader"],
                            r["booked_service"]))
    return _AccrualRows(new_count=len(new), new_csv=csv_bytes(new),
                        revised_count=len(revised), revised_csv=csv_bytes(revised))


def _value(record: Any, rates: RateBook) -> _Booking | None:
    """What a record version is worth now, or None if it cannot be valued yet."""
    exchange_id: str = record["exchange_id"]
    day: date = record["day"]
    gross: Decimal | None = record["commission_usdt"]
    estimated = gross is None
    if gross is None:
        quote = rates.estimate_for(exchange_id, record["product"], day)
        if quote is None:
            return None
        base = record["fee_usdt"] if quote.basis is EstimateBasis.FEE else record["volume_usdt"]
        if base is None:
            return None
        # Estimates follow the same rounding rule: cut toward zero, never overstated.
        gross = round_money(base * quote.rate)
    share = rates.share_for(record["user_id"], exchange_id, day)
    trader, service = split_gross(gross, share.share)
    return _Booking(record=record, user_id=record["user_id"], exchange_id=exchange_id,
                    gross=gross, trader=trader, service=service, share=share,
                    estimated=estimated)


def _count(bookings: Sequence[_Booking]) -> None:
    """Export what a committed batch booked (differences; decreases go to *_reversed)."""
    per_exchange: dict[str, int] = defaultdict(int)
    amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for b in bookings:
        r = b.record
        per_exchange[b.exchange_id] += 1
        amounts[(b.exchange_id, "gross")] += b.gross - (r["booked_gross"] or ZERO)
        amounts[(b.exchange_id, "trader")] += b.trader - (r["booked_trader"] or ZERO)
        amounts[(b.exchange_id, "service")] += b.service - (r["booked_service"] or ZERO)
    for exchange_id, count in per_exchange.items():
        REBATES_CALCULATED.labels(exchange=exchange_id).inc(count)
    for (exchange_id, kind), amount in amounts.items():
        if amount > 0:
            REBATE_AMOUNT.labels(exchange=exchange_id, type=kind).inc(float(amount))
        elif amount < 0:
            REBATE_AMOUNT_REVERSED.labels(exchange=exchange_id, type=kind).inc(float(-amount))
