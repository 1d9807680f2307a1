"""Storing commission rows: one set-based, idempotent upsert by source key.

The rows go to PostgreSQL with COPY into a temporary staging table and one INSERT … ON CONFLICT:
a row not seen before is inserted (revision 1); a row whose numbers changed gets them with
revision + 1, after its previous version was copied into commission_revisions; an unchanged row
is left alone. Re-reading an overlapping window therefore changes nothing, and history is never
overwritten silently. A report that lacks the commission (Bybit's volume-only fallback, a CSV
without the column) never erases one already known: the commission, its USDT value and its
rate are kept, while the volume and fee it does carry are taken. This is the hot path of the
sync (bench/bench_ingest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation

import asyncpg
from tortoise import Tortoise

from exchanges.base import CommissionRow
from services.models import RecordOrigin

# The columns a report provides, in COPY order.
COLUMNS = (
    "source_key", "exchange_id", "uid", "day", "product", "volume", "fee", "commission",
    "currency", "rate_to_usdt", "volume_usdt", "fee_usdt", "commission_usdt", "origin",
)
# A record changed when any of these differ (NULL-safe).
VALUE_COLUMNS = (
    "volume", "fee", "commission", "currency", "rate_to_usdt", "volume_usdt", "fee_usdt",
    "commission_usdt",
)


# Kept from the stored record when a report does not carry them (NULL in the new row).
KEPT_WHEN_MISSING = ("commission", "commission_usdt", "rate_to_usdt")


def _incoming(column: str, old: str, new: str) -> str:
    """SQL: the value the upsert stores for ``column`` of an existing record ``old`` given the
    report's row ``new``."""
    if column in KEPT_WHEN_MISSING:
        return f"coalesce({new}.{column}, {old}.{column})"
    return f"{new}.{column}"


def _differs(old: str, new: str) -> str:
    """SQL: storing row ``new`` would change record ``old`` (NULL-safe)."""
    old_values = ", ".join(f"{old}.{c}" for c in VALUE_COLUMNS)
    new_values = ", ".join(_incoming(c, old, new) for c in VALUE_COLUMNS)
    return f"({old_values}) IS DISTINCT FROM ({new_values})"


_CREATE_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS commission_staging (
    source_key varchar(200), exchange_id varchar(16), uid varchar(64), day date,
    product varchar(16), volume numeric(30,8), fee numeric(30,8), commission numeric(30,8),
    currency varchar(16), rate_to_usdt numeric(30,12), volume_usdt numeric(30,8),
    fee_usdt numeric(30,8), commission_usdt numeric(30,8), origin varchar(8)
) ON COMMIT DELETE ROWS
"""

# 1. Keep the previous version of every record whose numbers change.
_ARCHIVE_CHANGED = f"""
INSERT INTO commission_revisions
    (record_id, revision, volume, fee, commission, commission_usdt, origin, created_at)
SELECT r.id, r.revision, r.volume, r.fee, r.commission, r.commission_usdt, r.origin, now()
FROM commission_staging s JOIN commission_records r USING (source_key)
WHERE {_differs("r", "s")}
"""

# 2. Insert the new, update the changed, leave the unchanged; count which was which.
_UPSERT = f"""
WITH upserted AS (
    INSERT INTO commission_records AS r
        ({", ".join(COLUMNS)}, revision, first_seen_at, updated_at)
    SELECT {", ".join(COLUMNS)}, 1, now(), now() FROM commission_staging
    ON CONFLICT (source_key) DO UPDATE SET
        {", ".join(f"{c} = {_incoming(c, 'r', 'EXCLUDED')}" for c in VALUE_COLUMNS)},
        origin = EXCLUDED.origin, revision = r.revision + 1, updated_at = now()
    WHERE {_differs("r", "EXCLUDED")}
    RETURNING r.revision, r.volume_usdt
)
SELECT count(*) FILTER (WHERE revision = 1) AS new,
       count(*) FILTER (WHERE revision > 1) AS changed,
       coalesce(sum(volume_usdt) FILTER (WHERE revision = 1), 0) AS new_volume_usdt
FROM upserted
"""


@dataclass(frozen=True)
class UpsertCounts:
    seen: int
    new: int
    changed: int
    new_volume_usdt: Decimal = Decimal(0)


_EIGHTH = Decimal("0.00000001")
_WIDE = Context(prec=80)  # enough digits for any value the columns can hold


def ledger_usdt(value: Decimal | None) -> Decimal | None:
    """A commission's USDT value as stored: cut to the ledger's 8 decimals, towards zero. The
    NUMERIC(30,8) column would round it half up, and the trader's share taken of a commission
    valued above what the exchange paid came out 1e-8 too high (a coin paid at its daily
    close, tests/sync/test_bybit_true_up.py). A value too large for the column is passed on
    as it is, for the database to refuse."""
    if value is None or not value.is_finite() or -value.as_tuple().exponent <= 8:  # type: ignore[operator]
        return value
    try:
        return value.quantize(_EIGHTH, rounding=ROUND_DOWN, context=_WIDE)
    except InvalidOperation:
        return value


def record(row: CommissionRow, origin: RecordOrigin) -> tuple[object, ...]:
    return (
        row.source_key, row.exchange, row.uid, row.day, row.product, row.volume, row.fee,
        row.commission, row.currency, row.rate_to_usdt, row.volume_usdt, row.fee_usdt,
        ledger_usdt(row.commission_usdt), origin.value,
    )


async def upsert_rows(
    rows: Iterable[CommissionRow], origin: RecordOrigin, *, connection: asyncpg.Connection
) -> UpsertCounts:
    """Upsert within the caller's transaction on ``connection`` (an asyncpg connection).

    ``rows`` may be a generator: COPY consumes it as it goes, so producing (normalising) rows
    on this side overlaps with PostgreSQL ingesting them on the other.
    """
    seen = 0
    keys: set[str] = set()

    def records() -> Iterator[tuple[object, ...]]:
        nonlocal seen
        for row in rows:
            seen += 1
            # A report can list a key twice (overlapping pages): the first one counts.
            if row.source_key not in keys:
                keys.add(row.source_key)
                yield record(row, origin)

    return await upsert_records(records(), connection=connection, seen=lambda: seen)


async def upsert_records(
    records: Iterable[tuple[object, ...]] | AsyncIterable[tuple[object, ...]], *,
    connection: asyncpg.Connection, seen: Callable[[], int],
) -> UpsertCounts:
    """The staging, archive and upsert statements for records built by ``record`` (at most
    one per source key). ``records`` may be an async iterable: COPY then returns to the event
    loop between records (the CSV import, services/sync/csv_imports.py). ``seen`` gives the
    number of rows read once the records are consumed."""
    await connection.execute(_CREATE_STAGING)
    await connection.copy_records_to_table("commission_staging", records=records,
                                           columns=COLUMNS)
    await connection.execute(_ARCHIVE_CHANGED)
    counts = await connection.fetchrow(_UPSERT)
    await connection.execute("DELETE FROM commission_staging")
    return UpsertCounts(seen=seen(), new=counts["new"], changed=counts["changed"],
                        new_volume_usdt=Decimal(counts["new_volume_usdt"]))


async def store_rows(rows: Iterable[CommissionRow], origin: RecordOrigin) -> UpsertCounts:
    """Upsert in a transaction of its own: all rows or none."""
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as connection, connection.transaction():
        return await upsert_rows(rows, origin, connection=connection)
