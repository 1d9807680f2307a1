"""The COPY fast path: column-wise batches of entries staged as CSV and bulk-inserted."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from services.ledger.entries import AccountRef, LockedAccount, content_hash, validate_legs
from services.ledger.errors import IdempotencyConflict


@dataclass(frozen=True)
class LegColumn:
    """One leg position of a column-wise batch of entries: the account of each entry in this
    position and its amount (zero: the entry has no leg here)."""

    accounts: Sequence[AccountRef]
    amounts: Sequence[Decimal]


async def allocate_entry_ids(conn: Any, count: int) -> list[int]:
    """``count`` fresh entry ids. Ids drawn but never used (a batch found stale, or entries
    that turned out to move nothing) are gaps in the sequence, nothing more."""
    if count <= 0:
        return []
    rows = await conn.fetch(
        "SELECT nextval('ledger_entries_id_seq') FROM generate_series(1, $1)", count
    )
    return [row[0] for row in rows]


@dataclass(frozen=True)
class StagedEntries:
    """A validated, hashed batch of entries of one kind with their ids, rendered as the CSV of
    its entry rows and of its posting rows (see stage_entries)."""

    count: int
    entries_csv: bytes  # id, idempotency_key, kind, content_hash, memo, actor
    postings_csv: bytes  # entry_id, account_id, amount


_ENTRY_COLUMNS = ["id", "idempotency_key", "kind", "content_hash", "memo", "actor"]
_POSTING_COLUMNS = ["entry_id", "account_id", "amount"]


def stage_entries(
    *, kind: str, keys: Sequence[str], memos: Sequence[str], legs: Sequence[LegColumn],
    account_ids: Mapping[AccountRef, int], entry_ids: Sequence[int], actor: str = "system",
) -> StagedEntries:
    """The client half of insert_entry_columns (pure Python, no database): validate each entry
    exactly as EntrySpec.validate, hash it exactly as EntrySpec.content_hash, give it the next
    id of ``entry_ids`` (at least as many as keys), and render entries and postings as CSV."""
    if len(entry_ids) < len(keys):
        raise ValueError(f"{len(keys)} entries but only {len(entry_ids)} ids")
    columns = [(column.accounts, column.amounts) for column in legs]
    ids = {ref: account_ids[ref] for column in legs for ref in set(column.accounts)}
    entry_rows: list[tuple[Any, ...]] = []
    posting_rows: list[tuple[int, int, Decimal]] = []
    for i, key in enumerate(keys):
        entry_id = entry_ids[i]
        nonzero: list[tuple[AccountRef, Decimal]] = []
        for accounts, amounts in columns:
            account, amount = accounts[i], amounts[i]
            if amount:
                nonzero.append((account, amount))
        validate_legs(key, nonzero)
        entry_rows.append((entry_id, key, kind, content_hash(kind, nonzero), memos[i], actor))
        posting_rows.extend((entry_id, ids[account], amount) for account, amount in nonzero)
    return StagedEntries(count=len(entry_rows), entries_csv=csv_bytes(entry_rows),
                         postings_csv=csv_bytes(posting_rows))


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as CSV for COPY … (FORMAT csv): None is written empty (NULL), Decimals exactly."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


async def insert_staged_entries(conn: Any, staged: StagedEntries) -> int:
    """The database half of insert_entry_columns. The accounts must be locked already.

    The usual case, no key used before, is two COPYs straight into the ledger tables (the
    database's bulk insert path; the ledger's triggers check them as any insert). If a key
    exists, that attempt is undone (a savepoint) and the batch goes through staging tables
    instead: new keys are inserted, existing ones are replays whose content must match."""
    if not staged.count:
        return 0
    try:
        async with conn.transaction():  # a savepoint
            await _copy(conn, "ledger_entries", staged.entries_csv, _ENTRY_COLUMNS)
            await _copy(conn, "ledger_postings", staged.postings_csv, _POSTING_COLUMNS)
        return staged.count
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "ledger_entries_idempotency_key_key":
            raise
    await conn.execute(_REPLAY_STAGE_SQL)
    await _copy(conn, "ledger_entry_stage", staged.entries_csv, _ENTRY_COLUMNS)
    await _copy(conn, "ledger_posting_stage", staged.postings_csv, _POSTING_COLUMNS)
    inserted: int = await conn.fetchval(_INSERT_NEW_STAGED_SQL)
    # Replays (or a key twice in the batch): every stored hash must match its content.
    conflict = await conn.fetchval(
        "SELECT s.idempotency_key FROM ledger_entry_stage s "
        "JOIN ledger_entries e ON e.idempotency_key = s.idempotency_key "
        "WHERE e.content_hash <> s.content_hash LIMIT 1"
    )
    if conflict is not None:
        raise IdempotencyConflict(conflict)
    return inserted


async def _copy(conn: Any, table: str, data: bytes, columns: list[str]) -> None:
    await conn.copy_to_table(table, source=io.BytesIO(data), columns=columns, format="csv",
                             force_not_null=columns)


_REPLAY_STAGE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS ledger_entry_stage (id bigint, idempotency_key text,
    kind text, content_hash text, memo text, actor text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS ledger_posting_stage (entry_id bigint, account_id bigint,
    amount numeric) ON COMMIT DELETE ROWS;
DELETE FROM ledger_entry_stage;
DELETE FROM ledger_posting_stage;
"""
# Only entries inserted now (not replays) get their postings.
_INSERT_NEW_STAGED_SQL = """
WITH ins AS (
    INSERT INTO ledger_entries (id, idempotency_key, kind, content_hash, memo, actor)
    SELECT id, idempotency_key, kind, content_hash, memo, actor FROM ledger_entry_stage
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), posted AS (
    INSERT INTO ledger_postings (entry_id, account_id, amount)
    SELECT entry_id, account_id, amount FROM ledger_posting_stage
    WHERE entry_id IN (SELECT id FROM ins)
)
SELECT count(*) FROM ins
"""


async def insert_entry_columns(
    conn: Any, *, kind: str, keys: Sequence[str], memos: Sequence[str],
    legs: Sequence[LegColumn], accounts: Mapping[AccountRef, LockedAccount],
    actor: str = "system",
) -> int:
    """insert_entries for a large batch of entries of one kind, given column-wise: the same
    validation, the same content hashes, the same replay rule, but written by bulk COPY. The
    accounts must be locked already. Returns the number of entries written now (the others
    were replays with the same content; different content raises IdempotencyConflict)."""
    staged = stage_entries(kind=kind, keys=keys, memos=memos, legs=legs, actor=actor,
                           account_ids={ref: locked.id for ref, locked in accounts.items()},
                           entry_ids=await allocate_entry_ids(conn, len(keys)))
    return await insert_staged_entries(conn, staged)
