"""Checks the audit log's hash chain (kept by the database: migrations/0007_audit_chain.py).

Each row carries its place (``seq``), the hash of the row before it and its own hash: sha256 of
every field written as ``<length>:<text>``. The check recomputes each hash here, in Python, from
the row as stored, so a row edited behind the append-only trigger's back no longer matches; a
deleted row leaves a gap in the places and a broken link. Rows cut off the end, or a chain
recomputed from an edit onwards, leave no trace in the chain itself: the check is also given the
last head it saw (kept by the caller, outside the database) and reports a chain that no longer
reaches it or holds another row there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise

GENESIS = "0" * 64
# What a broken chain can show: a row changed, rows gone from the middle, a row linked to
# something else, a row written with the trigger off, rows gone from the end, or the chain
# recomputed from some row on (its hash no longer the one seen at that place before).
PROBLEMS = ("edited", "missing", "relinked", "unchained", "truncated", "rewritten")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 5_000

_ROWS = """
SELECT id, seq, prev_hash, row_hash, actor_id, action, object_type, object_id,
       before::text AS before, after::text AS after, created_at
FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2
"""


@dataclass(frozen=True)
class Head:
    """The last row of the chain: its place and hash."""

    seq: int
    row_hash: str

    def dump(self) -> str:
        return f"{self.seq}:{self.row_hash}"

    @classmethod
    def load(cls, text: str | bytes | None) -> Head | None:
        if not text:
            return None
        seq, _, row_hash = (text.decode() if isinstance(text, bytes) else text).partition(":")
        return cls(int(seq), row_hash)


@dataclass(frozen=True)
class ChainReport:
    rows: int  # rows checked
    head: Head | None  # the chain's last row (None: empty)
    broken_at: int | None = None  # the first place where the chain fails
    problem: str | None = None  # one of PROBLEMS
    detail: str = ""  # the row or places concerned, for the operator

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.rows} rows"
        return f"audit chain broken at #{self.broken_at}: {self.problem} ({self.detail})"


def _part(value: object) -> str:
    text = "" if value is None else str(value)
    return f"{len(text)}:{text}"


def row_hash(seq: int, prev_hash: str, row: Any) -> str:
    """The hash the database's trigger gives a row (audit_log_hash), computed independently."""
    microseconds = (row["created_at"] - _EPOCH) // timedelta(microseconds=1)
    message = "".join(_part(value) for value in (
        seq, prev_hash, row["actor_id"], row["action"], row["object_type"], row["object_id"],
        row["before"], row["after"], microseconds))
    return hashlib.sha256(message.encode()).hexdigest()


async def check_chain(last_seen: Head | None = None, *, connection_name: str = "default",
                      batch: int = BATCH) -> ChainReport:
    """Walk the whole chain in order of place; the first failure is reported."""
    client = Tortoise.get_connection(connection_name)
    async with client.acquire_connection() as conn:
        unchained = await conn.fetchval("SELECT min(id) FROM audit_log WHERE seq IS NULL")
        expected, previous, rows = 1, GENESIS, 0
        head: Head | None = None
        while True:
            page = await conn.fetch(_ROWS, expected - 1, batch)
            for row in page:
                problem = _row_problem(row, expected, previous, last_seen)
                if problem is not None:
                    return ChainReport(rows, head, expected, *problem)
                previous, rows = row["row_hash"], rows + 1
                head = Head(row["seq"], row["row_hash"])
                expected += 1
            if len(page) < batch:
                break
    if unchained is not None:  # inserted with the chain's trigger switched off
        return ChainReport(rows, head, expected, "unchained", f"row id {unchained}")
    if last_seen is not None and (head is None or head.seq < last_seen.seq):
        return ChainReport(rows, head, (head.seq + 1) if head else 1, "truncated",
                           f"#{(head.seq + 1) if head else 1}–#{last_seen.seq}")
    return ChainReport(rows, head)


def _row_problem(row: Any, expected: int, previous: str,
                 last_seen: Head | None) -> tuple[str, str] | None:
    """(problem, detail) of a row at place ``expected`` after a row hashed ``previous``."""
    if row["seq"] != expected:
        return "missing", f"#{expected}–#{row['seq'] - 1}"
    if row["prev_hash"] != previous:  # its link is not the hash of the row before
        return "relinked", f"row id {row['id']}"
    if row_hash(expected, previous, row) != row["row_hash"]:
        return "edited", f"row id {row['id']}"
    # A chain recomputed from an edit onwards passes the checks above (the hash has no
    # secret); the head seen before, kept outside the database, does not move with it.
    if (last_seen is not None and expected == last_seen.seq
            and row["row_hash"] != last_seen.row_hash):
        return "rewritten", f"row id {row['id']}"
    return None

